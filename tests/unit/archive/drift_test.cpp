#include "archive/drift.hpp"

#include <tuple>

#include <gtest/gtest.h>

namespace obsync::archive {
namespace {

const std::string k_a(64, 'a');
const std::string k_b(64, 'b');
const std::string k_c(64, 'c');

obsidian::RemoteRecord file(std::int64_t uid, const std::string& path, const std::string& hash) {
    obsidian::RemoteRecord r;
    r.uid = uid;
    r.path = path;
    r.hash = hash;
    r.size = 100;
    return r;
}

obsidian::RemoteRecord folder(std::int64_t uid, const std::string& path) {
    obsidian::RemoteRecord r;
    r.uid = uid;
    r.path = path;
    r.folder = true;
    return r;
}

MeasuredEntry entry(const std::string& path, std::optional<std::string> recorded,
                    std::uint64_t size = 10) {
    MeasuredEntry m;
    m.entry.path = path;
    m.entry.size = size;
    m.entry.recorded.content_hash = std::move(recorded);
    m.entry.described = true;
    return m;
}

MeasuredEntry folder_entry(const std::string& path) {
    MeasuredEntry m;
    m.entry.path = path;
    m.entry.folder = true;
    return m;
}

sync::FileState known(const std::string& path, const std::string& hash, std::int64_t size = 10) {
    sync::FileState s;
    s.path = path;
    s.hash = hash;
    s.size = size;
    return s;
}

struct Fixture {
    std::vector<obsidian::RemoteRecord> server;
    std::vector<MeasuredEntry> backup;
    std::vector<sync::FileState> state;
    std::vector<sync::RefusedRecord> refused;
    std::optional<std::vector<obsidian::RemoteRecord>> since_backup;
    sync::PathFilter filter{{}};
    bool s3 = true;
    bool server_sizes = false;

    DriftResult run() const {
        DriftInput input;
        input.server = &server;
        input.backup = &backup;
        input.state = &state;
        input.refused = &refused;
        input.since_backup = since_backup ? &*since_backup : nullptr;
        input.filter = &filter;
        input.destination_records_hash = s3;
        input.server_sizes = server_sizes;
        return compare(input);
    }

    std::vector<std::pair<std::string, DriftKind>> kinds() const {
        std::vector<std::pair<std::string, DriftKind>> out;
        for (const Drift& d : run().drift) {
            out.emplace_back(d.path, d.kind);
        }
        return out;
    }
};

using Kinds = std::vector<std::pair<std::string, DriftKind>>;

TEST(Drift, AnIdenticalBackupHasNoDrift) {
    Fixture f;
    f.server = {folder(1, "notes"), file(2, "notes/a.md", k_a), file(3, "b.md", k_b)};
    f.backup = {folder_entry("notes"), entry("notes/a.md", k_a), entry("b.md", k_b)};
    f.state = {known("notes/a.md", k_a), known("b.md", k_b)};
    const DriftResult result = f.run();
    EXPECT_TRUE(result.drift.empty());
    EXPECT_EQ(result.server_files, 2);
    EXPECT_EQ(result.server_folders, 1);
}

TEST(Drift, AServerFileTheBackupLacksIsMissing) {
    Fixture f;
    f.server = {file(1, "a.md", k_a)};
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::missing}}));
}

TEST(Drift, AServerFolderIsMissingOnlyWhenNothingOfItIsInTheBackup) {
    Fixture f;
    f.server = {folder(1, "empty"), folder(2, "full"), file(3, "full/x.md", k_a)};
    // "full" has no entry of its own (S3 keeps no marker for it), but its file implies it.
    f.backup = {entry("full/x.md", k_a)};
    EXPECT_EQ(f.kinds(), (Kinds{{"empty", DriftKind::missing}}));
}

TEST(Drift, AFileTheServerLacksIsExtra) {
    Fixture f;
    f.server = {file(1, "a.md", k_a)};
    f.backup = {entry("a.md", k_a), entry("old.md", k_b)};
    EXPECT_EQ(f.kinds(), (Kinds{{"old.md", DriftKind::extra}}));
}

TEST(Drift, AFolderIsExtraOnlyWhenTheServerHasNothingThere) {
    Fixture f;
    // "implied" holds a server file without a folder record of its own: the local sink made it.
    f.server = {file(1, "implied/a.md", k_a)};
    f.backup = {folder_entry("implied"), entry("implied/a.md", k_a), folder_entry("gone")};
    EXPECT_EQ(f.kinds(), (Kinds{{"gone", DriftKind::extra}}));
}

TEST(Drift, AServerDeletionMeansAbsent) {
    Fixture f;
    obsidian::RemoteRecord deleted = file(2, "a.md", "");
    deleted.deleted = true;
    f.server = {file(1, "a.md", k_a), deleted};
    f.backup = {entry("a.md", k_a)};
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::extra}}));
    // ... and a deleted path the backup lacks too is no drift at all.
    f.backup.clear();
    EXPECT_TRUE(f.kinds().empty());
}

TEST(Drift, TheNewestRecordOfAPathDecidesWhateverTheOrder) {
    Fixture f;
    f.server = {file(5, "a.md", k_b), file(3, "a.md", k_a)};
    f.backup = {entry("a.md", k_b)};
    EXPECT_TRUE(f.kinds().empty());
}

TEST(Drift, BytesThatDoNotHashToTheRecordedHashAreCorrupt) {
    Fixture f;
    f.server = {file(1, "a.md", k_a)};
    MeasuredEntry tampered = entry("a.md", k_a);
    tampered.actual_hash = k_c;
    f.backup = {tampered};
    const DriftResult result = f.run();
    ASSERT_EQ(result.drift.size(), 1u);
    EXPECT_EQ(result.drift[0].kind, DriftKind::corrupt);
    EXPECT_EQ(result.drift[0].detail, "the bytes hash to cccccccccccc, recorded aaaaaaaaaaaa");
}

TEST(Drift, CorruptIsDecidedBeforeStale) {
    Fixture f;
    f.server = {file(1, "a.md", k_b)};  // the server moved on, and the old bytes were tampered
    MeasuredEntry tampered = entry("a.md", k_a);
    tampered.actual_hash = k_c;
    f.backup = {tampered};
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::corrupt}}));
}

TEST(Drift, AnS3ObjectWithoutContentHashIsCorrupt) {
    Fixture f;
    f.server = {file(1, "a.md", k_a)};
    f.backup = {entry("a.md", std::nullopt)};
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::corrupt}}));
}

TEST(Drift, ALocalFileTheStateDoesNotKnowIsJudgedByItsBytes) {
    Fixture f;
    f.s3 = false;
    f.server = {file(1, "a.md", k_a), file(2, "b.md", k_a)};
    MeasuredEntry same = entry("a.md", std::nullopt);
    same.actual_hash = k_a;
    MeasuredEntry other = entry("b.md", std::nullopt);
    other.actual_hash = k_b;
    f.backup = {same, other};
    EXPECT_EQ(f.kinds(), (Kinds{{"b.md", DriftKind::stale}}));
}

TEST(Drift, WithoutReadingASizeOtherThanTheStatesIsCorrupt) {
    Fixture f;
    f.server = {file(1, "a.md", k_a), file(2, "b.md", k_b)};
    f.backup = {entry("a.md", k_a, 11), entry("b.md", k_b, 10)};
    f.state = {known("a.md", k_a, 10), known("b.md", k_b, 10)};
    const DriftResult result = f.run();
    ASSERT_EQ(result.drift.size(), 1u);
    EXPECT_EQ(result.drift[0].path, "a.md");
    EXPECT_EQ(result.drift[0].kind, DriftKind::corrupt);
    EXPECT_EQ(result.drift[0].detail, "size 11, the state recorded 10");
}

TEST(Drift, AnEncryptedBackupsBlobOfAnotherSizeThanTheServersIsCorrupt) {
    Fixture f;
    f.server_sizes = true;  // blobs as the server keeps them: file() records 100 bytes
    f.server = {file(1, "a.md", k_a), file(2, "b.md", k_b), file(3, "c.md", k_c)};
    // b.md: cut short with its hash intact; c.md: an older version, so stale whatever its size.
    f.backup = {entry("a.md", k_a, 100), entry("b.md", k_b, 99), entry("c.md", k_a, 99)};
    const DriftResult result = f.run();
    EXPECT_EQ(f.kinds(), (Kinds{{"b.md", DriftKind::corrupt}, {"c.md", DriftKind::stale}}));
    EXPECT_EQ(result.drift[0].detail, "size 99, the server's blob has 100");
    f.server_sizes = false;  // plaintext: the server's size is the blob's, never the file's
    EXPECT_EQ(f.kinds(), (Kinds{{"c.md", DriftKind::stale}}));
}

TEST(Drift, ReadBytesThatCheckOutOutrankTheStatesSize) {
    Fixture f;
    f.server = {file(1, "a.md", k_a)};
    MeasuredEntry read = entry("a.md", k_a, 11);
    read.actual_hash = k_a;
    f.backup = {read};
    f.state = {known("a.md", k_a, 10)};
    EXPECT_TRUE(f.kinds().empty());
}

TEST(Drift, AnUnreadableFileIsCorrupt) {
    Fixture f;
    f.server = {file(1, "a.md", k_a)};
    MeasuredEntry gone = entry("a.md", k_a);
    gone.read_error = "No such file or directory";
    f.backup = {gone};
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::corrupt}}));
}

TEST(Drift, ARecordedHashOtherThanTheServersIsStale) {
    Fixture f;
    f.server = {file(1, "a.md", k_b)};
    f.backup = {entry("a.md", k_a)};
    const DriftResult result = f.run();
    ASSERT_EQ(result.drift.size(), 1u);
    EXPECT_EQ(result.drift[0].kind, DriftKind::stale);
    EXPECT_EQ(result.drift[0].detail, "backup has aaaaaaaaaaaa, the server bbbbbbbbbbbb");
}

TEST(Drift, AMeasuredHashOutranksTheRecordedOneForStaleness) {
    Fixture f;
    f.s3 = false;
    f.server = {file(1, "a.md", k_b)};
    // Local: the state never recorded this file, its bytes are the server's old version.
    MeasuredEntry old = entry("a.md", std::nullopt);
    old.actual_hash = k_a;
    f.backup = {old};
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::stale}}));
}

TEST(Drift, KindMismatchesAreReported) {
    Fixture f;
    f.server = {folder(1, "was-file"), file(2, "was-folder", k_a)};
    f.backup = {entry("was-file", k_a), folder_entry("was-folder")};
    EXPECT_EQ(f.kinds(),
              (Kinds{{"was-file", DriftKind::stale}, {"was-folder", DriftKind::missing}}));
}

TEST(Drift, UndecryptableAndUnsafeServerRecordsAreCountedNotDrift) {
    Fixture f;
    obsidian::RemoteRecord broken;
    broken.uid = 1;
    broken.error = "cannot decrypt the path";
    f.server = {broken, file(2, "../escape.md", k_a), file(3, "a//b.md", k_a),
                file(4, "ok.md", k_a)};
    f.backup = {entry("ok.md", k_a)};
    const DriftResult result = f.run();
    EXPECT_TRUE(result.drift.empty());
    EXPECT_EQ(result.undecryptable, 1);
    EXPECT_EQ(result.unsafe, 2);
    EXPECT_EQ(result.server_files, 1);
}

TEST(Drift, ExcludedPathsAreNeitherSidesBusiness) {
    Fixture f;
    f.filter = sync::PathFilter({".obsidian", "*.pdf"});
    f.server = {folder(1, ".obsidian"), file(2, ".obsidian/app.json", k_a), file(3, "x.pdf", k_a),
                file(4, "a.md", k_a)};
    f.backup = {entry("a.md", k_a), entry("old.pdf", k_b)};
    const DriftResult result = f.run();
    EXPECT_TRUE(result.drift.empty());
    EXPECT_EQ(result.excluded, 3);
}

TEST(Drift, AServerPathTheBackupRefusedIsCountedNotDrift) {
    Fixture f;
    f.s3 = false;
    // "Aux.md": a name the destination cannot hold; "a.md" is fine; "gone.md" was refused once
    // and the server has since deleted it (nothing to count).
    obsidian::RemoteRecord deleted = file(5, "gone.md", "");
    deleted.deleted = true;
    f.server = {file(1, "dir/Aux.md", k_a), file(2, "a.md", k_a), file(4, "gone.md", k_b), deleted};
    MeasuredEntry a = entry("a.md", std::nullopt);
    a.actual_hash = k_a;
    f.backup = {folder_entry("dir"), a};
    f.refused = {{"dir/Aux.md", 1, "a name the destination cannot hold"},
                 {"gone.md", 4, "a name the destination cannot hold"},
                 {"", 3, "cannot decrypt the path"}};
    const DriftResult result = f.run();
    EXPECT_TRUE(result.drift.empty());  // nor is "dir" extra: the refused path implies it
    EXPECT_EQ(result.refused, 1);
    EXPECT_EQ(result.server_files, 1);
    // Without the refusals it would be missing forever.
    f.refused.clear();
    EXPECT_EQ(f.kinds(), (Kinds{{"dir/Aux.md", DriftKind::missing}}));
}

TEST(Drift, ABackupEntryAtARefusedPathIsNotExtra) {
    Fixture f;
    f.server = {file(1, "x.md", k_a)};
    f.backup = {entry("x.md", k_b)};
    f.refused = {{"x.md", 1, "refused"}};
    const DriftResult result = f.run();
    EXPECT_TRUE(result.drift.empty());
    EXPECT_EQ(result.refused, 1);
}

TEST(Drift, DriftThatTheServerChangedSinceTheBackupIsPending) {
    Fixture f;
    // After the backup's cursor: "edited.md" changed, "deleted.md" deleted, "new.md" created.
    // "lost.md" and "tampered.md" went wrong behind the backup's back.
    obsidian::RemoteRecord deletion = file(12, "deleted.md", "");
    deletion.deleted = true;
    f.server = {file(10, "edited.md", k_b), file(11, "new.md", k_a), file(3, "lost.md", k_a),
                file(4, "tampered.md", k_a)};
    MeasuredEntry tampered = entry("tampered.md", k_a);
    tampered.actual_hash = k_c;
    f.backup = {entry("edited.md", k_a), entry("deleted.md", k_a), tampered};
    f.since_backup = std::vector<obsidian::RemoteRecord>{file(10, "edited.md", k_b),
                                                         file(11, "new.md", k_a), deletion};
    const DriftResult result = f.run();
    std::vector<std::tuple<std::string, DriftKind, bool>> got;
    for (const Drift& d : result.drift) {
        got.emplace_back(d.path, d.kind, d.pending);
    }
    EXPECT_EQ(got, (std::vector<std::tuple<std::string, DriftKind, bool>>{
                       {"deleted.md", DriftKind::extra, true},
                       {"edited.md", DriftKind::stale, true},
                       {"lost.md", DriftKind::missing, false},
                       {"new.md", DriftKind::missing, true},
                       {"tampered.md", DriftKind::corrupt, false}}));
    EXPECT_EQ(result.pending(), 3);
    // An initial cursor: nothing to compare with, nothing pending.
    f.since_backup.reset();
    EXPECT_EQ(f.run().pending(), 0);
}

TEST(Drift, TheListIsSortedByPathWithOneKindPerPath) {
    Fixture f;
    f.server = {file(1, "c.md", k_a), file(2, "a.md", k_a), file(3, "d.md", k_b)};
    MeasuredEntry tampered = entry("d.md", k_a);
    tampered.actual_hash = k_c;
    f.backup = {entry("b.md", k_a), entry("c.md", k_b), tampered};
    const DriftResult result = f.run();
    EXPECT_EQ(f.kinds(), (Kinds{{"a.md", DriftKind::missing},
                                {"b.md", DriftKind::extra},
                                {"c.md", DriftKind::stale},
                                {"d.md", DriftKind::corrupt}}));
    EXPECT_EQ(result.count(DriftKind::missing), 1);
    EXPECT_EQ(result.count(DriftKind::corrupt), 1);
}

TEST(Drift, KindNames) {
    EXPECT_EQ(to_string(DriftKind::missing), "missing");
    EXPECT_EQ(to_string(DriftKind::extra), "extra");
    EXPECT_EQ(to_string(DriftKind::stale), "stale");
    EXPECT_EQ(to_string(DriftKind::corrupt), "corrupt");
}

}  // namespace
}  // namespace obsync::archive
