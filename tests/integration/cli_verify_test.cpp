// obsync verify of a local folder backup (issue #14), the obsync binary against
// obsync-fake-server: a fresh backup verifies clean and verify writes nothing; a deleted file is
// missing, bytes tampered with are corrupt (every local file is hashed, --deep or not), a file
// the server changed since is stale, a file the server never had is extra; what the server
// changed after the backup's cursor is marked pending; --all and --exclude verify what sync wrote
// with them.
#include <chrono>
#include <map>
#include <set>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "support/cli_fixture.hpp"
#include "support/verify_json.hpp"

namespace obsync {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::k_vault_password;
using test::read_file;
using test::shell_quote;
using test::write_file;

constexpr std::int64_t k_corpus_files = 10;  // CliTest::make_corpus()

// Every entry below `root` (obsync's own folder included) with its size and mtime.
std::map<std::string, std::string> snapshot(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        const auto mtime = entry.last_write_time().time_since_epoch().count();
        out[fs::relative(entry.path(), root).string()] =
            (entry.is_directory() ? std::string("<dir>") : std::to_string(entry.file_size())) +
            "@" + std::to_string(mtime);
    }
    return out;
}

class CliVerifyTest : public test::CliTest {
public:
    std::string verify(const std::string& extra = "") const {
        return "verify Vault --dest " + shell_quote(dest.string()) + " --json " + extra;
    }

    void backup(const std::string& extra = "") {
        start();
        make_corpus();
        seed();
        const CliResult synced = obsync(sync_args(extra));
        ASSERT_EQ(synced.code, 0) << synced.err;
    }
};

TEST_F(CliVerifyTest, AFreshBackupVerifiesCleanAndVerifyWritesNothing) {
    backup();
    const auto before = snapshot(dest);
    const fs::path state_db = work.path() / "state/obsync/state.db";
    const auto state_before = fs::last_write_time(state_db);
    const auto state_size = fs::file_size(state_db);

    const CliResult result = obsync(verify());
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_TRUE(result.json().at("ok").as_bool());
    const auto vault = test::verified_vault(result);
    EXPECT_TRUE(vault.at("drift").as_array().empty());
    EXPECT_EQ(vault.at("files").as_int64(), k_corpus_files);
    EXPECT_EQ(vault.at("checked_deep").as_int64(), k_corpus_files);  // local: always every file
    EXPECT_GT(vault.at("bytes_hashed").as_int64(), 3 << 20);
    EXPECT_EQ(vault.at("heads").as_int64(), 0);
    EXPECT_EQ(vault.at("destination").as_string(), fs::absolute(dest).lexically_normal().string());

    // Neither the backup (no lock, no marker) nor the state changed. (SQLite in WAL mode makes
    // and removes its -wal and -shm files beside the database even to read it.)
    EXPECT_EQ(snapshot(dest), before);
    EXPECT_EQ(fs::last_write_time(state_db), state_before);
    EXPECT_EQ(fs::file_size(state_db), state_size);
}

TEST_F(CliVerifyTest, FindsMissingTamperedStaleAndExtraFiles) {
    backup();
    fs::remove(dest / "Notes/n0.md");
    const std::string original = read_file(dest / "Notes/n1.md");
    write_file(dest / "Notes/n1.md", std::string(original.size(), 'X'));
    write_file(work.path() / "new.md", "edited since the backup");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Hello.md", "--content-file", (work.path() / "new.md").string()});
    write_file(dest / "stray.md", "not from the vault");
    fs::create_directories(dest / "Stray folder");

    const CliResult result = obsync(verify());
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_FALSE(result.json().at("ok").as_bool());
    const auto vault = test::verified_vault(result);
    EXPECT_EQ(test::drift_of(vault),
              (std::set<std::string>{"missing Notes/n0.md", "corrupt Notes/n1.md", "stale Hello.md",
                                     "extra stray.md", "extra Stray folder"}));
    EXPECT_EQ(vault.at("counts").at("extra").as_int64(), 2);

    const CliResult text = obsync("verify Vault --dest " + shell_quote(dest.string()));
    EXPECT_EQ(text.code, 1);
    EXPECT_NE(text.out.find("stale  Hello.md  (backup has "), std::string::npos) << text.out;
    EXPECT_NE(text.err.find("5 path(s) differ (1 missing, 2 extra, 1 stale, 1 corrupt)"),
              std::string::npos)
        << text.err;

    // A complete sync brings back the missing file and the server's version; it never reads
    // bytes it has (the tampered file stays) nor removes what it did not write: verify agrees.
    ASSERT_EQ(obsync(sync_args("--full")).code, 0);
    EXPECT_EQ(
        test::drift_of(test::verified_vault(obsync(verify()))),
        (std::set<std::string>{"corrupt Notes/n1.md", "extra stray.md", "extra Stray folder"}));
}

TEST_F(CliVerifyTest, WhatTheServerChangedSinceTheBackupIsPendingWhatWentWrongIsNot) {
    backup();
    // Behind the backup's back: a file deleted at the destination.
    fs::remove(dest / "Notes/n0.md");
    // On the server, after the backup: a note edited, another deleted.
    write_file(work.path() / "new.md", "edited since the backup");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Hello.md", "--content-file", (work.path() / "new.md").string()});
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Notes/n2.md", "--deleted"});

    const CliResult result = obsync(verify());
    EXPECT_EQ(result.code, 1) << result.err;  // still drift: the backup is not the server now
    const auto vault = test::verified_vault(result);
    std::set<std::string> pending;
    for (const auto& d : vault.at("drift").as_array()) {
        if (d.at("pending").as_bool()) {
            pending.insert(std::string(d.at("path").as_string()));
        }
    }
    EXPECT_EQ(test::drift_of(vault), (std::set<std::string>{"missing Notes/n0.md", "stale Hello.md",
                                                            "extra Notes/n2.md"}));
    EXPECT_EQ(pending, (std::set<std::string>{"Hello.md", "Notes/n2.md"}));
    EXPECT_EQ(vault.at("pending").as_int64(), 2);
    EXPECT_EQ(vault.at("refused").as_int64(), 0);

    const CliResult text = obsync("verify Vault --dest " + shell_quote(dest.string()));
    EXPECT_EQ(text.code, 1);
    EXPECT_NE(text.out.find(
                  "  (pending: changed on the server since the last backup)\nmissing  Notes/n0.md"),
              std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find("missing  Notes/n0.md  (not in the backup)\n"), std::string::npos)
        << text.out;
    EXPECT_NE(text.err.find("3 path(s) differ (1 missing, 1 extra, 1 stale, 0 corrupt), 2 of them "
                            "pending (changed on the server since the last backup)"),
              std::string::npos)
        << text.err;

    // The next backup fixes the pending ones by itself; the missing file needs a complete one.
    ASSERT_EQ(obsync(sync_args()).code, 0);
    const auto after = test::verified_vault(obsync(verify()));
    EXPECT_EQ(test::drift_of(after), (std::set<std::string>{"missing Notes/n0.md"}));
    EXPECT_EQ(after.at("pending").as_int64(), 0);
}

TEST_F(CliVerifyTest, ABackupNeverMadeIsAllMissingAndStaysUnmade) {
    start();
    make_corpus();
    seed();
    const CliResult result = obsync(verify());
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_EQ(test::verified_vault(result).at("counts").at("missing").as_int64(),
              17);  // 10 files, 7 folders
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_FALSE(fs::exists(work.path() / "state/obsync/state.db"));  // no state made either
}

TEST_F(CliVerifyTest, AllAndExcludeVerifyWhatSyncWroteWithThem) {
    start();
    make_corpus();
    seed();
    seed("Second");
    const std::string all = " --all --dest " + shell_quote(dest.string()) + " --json";
    ASSERT_EQ(obsync("sync" + all + " --exclude .obsidian").code, 0);
    const CliResult verified = obsync("verify" + all + " --exclude .obsidian");
    ASSERT_EQ(verified.code, 0) << verified.err;
    const boost::json::array vaults = verified.json().at("vaults").as_array();
    ASSERT_EQ(vaults.size(), 2U);
    for (const auto& v : vaults) {
        EXPECT_EQ(
            v.at("destination").as_string(),
            fs::absolute(dest / std::string(v.at("name").as_string())).lexically_normal().string());
    }
    // Without the exclude, what it left out is missing.
    const CliResult strict = obsync("verify" + all);
    EXPECT_EQ(strict.code, 1);
    const boost::json::array strict_vaults = strict.json().at("vaults").as_array();
    for (const auto& v : strict_vaults) {
        EXPECT_EQ(test::drift_of(v.as_object()),
                  (std::set<std::string>{"missing .obsidian", "missing .obsidian/app.json"}));
    }
}

TEST_F(CliVerifyTest, AWrongVaultPasswordExitsTwo) {
    backup();
    const CliResult result = obsync(verify(), "OBSIDIAN_VAULT_PASSWORD=wrong-password");
    EXPECT_EQ(result.code, 2) << result.err;
}

}  // namespace
}  // namespace obsync
