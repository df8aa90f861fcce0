// obsync restore end to end (issue #14): backups the obsync binary wrote from obsync-fake-server
// into moto's S3 (a versioned bucket for --at) or a local folder, read back into folders.
#include <chrono>
#include <set>
#include <thread>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/cli_restore_fixture.hpp"
#include "util/clock.hpp"

namespace obsync::cli_aws {
namespace {

using namespace std::chrono_literals;

class CliRestoreTest : public CliRestoreFixture {
public:
    // Longer than 16 bytes, like real prefixes: a string that short lives inside its object and
    // would hide a use after free (or a double free) of a key built from it.
    const std::string prefix = "obsidian/vault-backups-daily";
    const std::string backup = "s3://" + k_bucket + "/" + prefix;

    void sync_to_s3() {
        const CliResult run = obsync("sync Vault --dest " + backup + " --json");
        ASSERT_EQ(run.code, 0) << run.err;
    }

    CliResult restore(const std::string& args) { return obsync("restore " + args); }
};

TEST_F(CliRestoreTest, RestoresTheVaultAsItWasAtEachOfThreeMoments) {
    start();
    make_corpus();
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    probe.enable_versioning(k_bucket);

    sync_to_s3();
    const fs::path first = keep("first");
    const std::string at_first = moment();

    // Changed, created (in a new folder), deleted.
    inject("Hello.md", "# Hello again\n");
    inject_folder("Later");
    inject("Later/new.md", "created after the first backup");
    remove("Notes/n1.md");
    sync_to_s3();
    const fs::path second = keep("second");
    const std::string at_second = moment();

    // Deleted, and a key deleted before created again.
    remove("Board.canvas");
    remove("Attachments/photo.png");
    inject("Notes/n1.md", "reborn");
    sync_to_s3();
    const fs::path third = keep("third");
    const std::string at_third = moment();

    const std::vector<std::pair<std::string, fs::path>> moments = {
        {at_first, first}, {at_second, second}, {at_third, third}};
    for (const auto& [at, tree] : moments) {
        const fs::path out = work.path() / ("at-" + at);
        const CliResult run = restore("--from " + backup + " --to " + shell_quote(out.string()) +
                                      " --at " + at + " --json");
        ASSERT_EQ(run.code, 0) << at << run.err;
        EXPECT_EQ(tree_of(out), tree_of(tree)) << "restored --at " << at;
        const auto summary = run.json();
        EXPECT_EQ(summary.at("unverified").as_int64(), 0);
        EXPECT_EQ(summary.at("at").as_string(), iso8601_utc(*parse_iso8601_utc(at)));
    }

    // Without --at: the current backup, each file with the mtime the vault recorded for it.
    const fs::path now = work.path() / "now";
    const CliResult latest = restore("--from " + backup + " --to " + now.string() + " --json");
    ASSERT_EQ(latest.code, 0) << latest.err;
    EXPECT_EQ(tree_of(now), tree_of(third));
    for (const auto& [path, content] : tree_of(now)) {
        if (content) {
            const S3Object object = probe.get(prefix + "/" + path);
            EXPECT_EQ(std::to_string(mtime_ms(now / path)), object.headers.at("x-amz-meta-mtime"))
                << path;
        }
    }

    // An age instead of a time: a minute ago nothing was backed up yet.
    const CliResult before = restore("--from " + backup + " --to " +
                                     (work.path() / "before").string() + " --at -1d --json");
    ASSERT_EQ(before.code, 0) << before.err;
    EXPECT_EQ(before.json().at("written").as_int64(), 0);

    // One file's history, newest first: re-created, deleted, the first version.
    const CliResult versions = restore("--from " + backup + " --list-versions Notes/n1.md --json");
    ASSERT_EQ(versions.code, 0) << versions.err;
    const boost::json::object listed = versions.json();
    const auto& list = listed.at("versions").as_array();
    ASSERT_EQ(list.size(), 3U) << versions.out;
    EXPECT_TRUE(list[0].at("latest").as_bool());
    EXPECT_EQ(list[0].at("content_hash").as_string(), crypto::sha256_hex(as_bytes("reborn")));
    EXPECT_EQ(list[0].at("size").as_int64(), 6);
    EXPECT_TRUE(list[1].at("deleted").as_bool());
    EXPECT_EQ(list[2].at("content_hash").as_string(),
              crypto::sha256_hex(as_bytes(read_file(first / "Notes/n1.md"))));
    const CliResult text = restore("--from " + backup + " --list-versions Notes/n1.md");
    ASSERT_EQ(text.code, 0) << text.err;
    EXPECT_NE(text.out.find("deleted"), std::string::npos) << text.out;
    EXPECT_EQ(restore("--from " + backup + " --list-versions Nope.md").code, 3);
}

TEST_F(CliRestoreTest, AtNeedsAVersionedBucketAndAnS3Backup) {
    start();
    make_corpus();
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    sync_to_s3();
    const CliResult unversioned =
        restore("--from " + backup + " --to " + (work.path() / "out").string() + " --at -1h");
    EXPECT_EQ(unversioned.code, 4) << unversioned.err;
    EXPECT_NE(unversioned.err.find("has no versioning"), std::string::npos) << unversioned.err;
    EXPECT_FALSE(fs::exists(work.path() / "out"));
    EXPECT_EQ(restore("--from " + backup + " --to x --at yesterday").code, 4);
    EXPECT_EQ(restore("--from " + backup + " --to x --at 2999-01-01T00:00:00Z").code, 4);
}

TEST_F(CliRestoreTest, PathsDryRunsOverwritesAndTamperedObjects) {
    start();
    make_corpus();
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    sync_to_s3();
    const auto everything = tree_of(corpus);

    // --path: a folder and a file, nothing else.
    const fs::path part = work.path() / "part";
    const CliResult some = restore("--from " + backup + " --to " + part.string() +
                                   " --path Notes/ --path /Hello.md --json");
    ASSERT_EQ(some.code, 0) << some.err;
    std::map<std::string, std::optional<std::string>> wanted;
    for (const auto& [path, content] : everything) {
        if (path == "Hello.md" || path == "Notes" || path.starts_with("Notes/")) {
            wanted[path] = content;
        }
    }
    EXPECT_EQ(tree_of(part), wanted);
    EXPECT_EQ(restore("--from " + backup + " --to " + part.string() + " --path Nope").code, 3);
    EXPECT_EQ(restore("--from " + backup + " --to " + part.string() + " --path ../etc").code, 4);

    // --dry-run lists and writes nothing, not even the folder.
    const fs::path dry = work.path() / "dry";
    const CliResult plan =
        restore("--from " + backup + " --to " + dry.string() + " --dry-run --json");
    ASSERT_EQ(plan.code, 0) << plan.err;
    EXPECT_FALSE(fs::exists(dry));
    std::set<std::string> planned;
    const boost::json::object planned_json = plan.json();
    for (const auto& step : planned_json.at("plan").as_array()) {
        planned.insert(std::string(step.at("path").as_string()));
    }
    std::set<std::string> all;
    for (const auto& [path, content] : everything) {
        all.insert(path);
    }
    EXPECT_EQ(planned, all);

    // A folder with a different Hello.md: refused as a whole, nothing written or removed.
    const fs::path busy = work.path() / "busy";
    write_file(busy / "Hello.md", "my own edits");
    write_file(busy / "mine.txt", "not in the backup");
    const auto before = tree_of(busy);
    const CliResult refused = restore("--from " + backup + " --to " + busy.string() + " --json");
    EXPECT_EQ(refused.code, 1) << refused.err;
    ASSERT_EQ(refused.json().at("conflicts").as_array().size(), 1U);
    EXPECT_EQ(refused.json().at("conflicts").as_array()[0].at("path").as_string(), "Hello.md");
    EXPECT_EQ(tree_of(busy), before);
    const CliResult text = restore("--from " + backup + " --to " + busy.string());
    EXPECT_EQ(text.code, 1);
    EXPECT_NE(text.err.find("--overwrite"), std::string::npos) << text.err;

    const CliResult overwritten =
        restore("--from " + backup + " --to " + busy.string() + " --overwrite --json");
    ASSERT_EQ(overwritten.code, 0) << overwritten.err;
    EXPECT_EQ(overwritten.json().at("replaced").as_int64(), 1);
    auto expected = everything;
    expected["mine.txt"] = "not in the backup";
    EXPECT_EQ(tree_of(busy), expected);

    // Again: everything is there already, nothing is downloaded.
    const CliResult again = restore("--from " + backup + " --to " + busy.string() + " --json");
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(again.json().at("written").as_int64(), 0);
    EXPECT_EQ(again.json().at("bytes").as_int64(), 0);

    // An object whose bytes no longer match the hash recorded with them is reported, not written.
    const S3Object original = probe.get(prefix + "/Notes/n2.md");
    probe.put(prefix + "/Notes/n2.md", "tampered",
              {{"x-amz-meta-content-hash", original.headers.at("x-amz-meta-content-hash")},
               {"x-amz-meta-mtime", original.headers.at("x-amz-meta-mtime")}});
    const fs::path checked = work.path() / "checked";
    const CliResult tampered =
        restore("--from " + backup + " --to " + checked.string() + " --json");
    EXPECT_EQ(tampered.code, 1) << tampered.err;
    const boost::json::object report = tampered.json();
    const auto& failures = report.at("failures").as_array();
    ASSERT_EQ(failures.size(), 1U) << tampered.out;
    EXPECT_EQ(failures[0].at("path").as_string(), "Notes/n2.md");
    EXPECT_FALSE(fs::exists(checked / "Notes/n2.md"));
    EXPECT_TRUE(fs::exists(checked / "Notes/n3.md"));
}

TEST_F(CliRestoreTest, LargeFilesComeBackInRangesNowAndAtAMoment) {
    start();
    make_corpus();
    std::mt19937_64 rng(21);
    write_file(corpus / "Attachments/talk.mp4", as_chars(test::random_bytes(rng, 40 << 20)));
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    probe.enable_versioning(k_bucket);
    sync_to_s3();
    const std::string at = moment();
    for (const std::string& when : {std::string(), " --at " + at}) {
        const fs::path out = work.path() / (when.empty() ? "now" : "then");
        const CliResult run = restore("--from " + backup + " --to " + out.string() + when);
        ASSERT_EQ(run.code, 0) << run.err;
        EXPECT_EQ(tree_of(out), tree_of(corpus)) << when;
    }
}

TEST_F(CliRestoreTest, KilledMidwayThenRerunCompletes) {
    start();
    make_corpus(false, 1500);
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    sync_to_s3();
    const fs::path out = work.path() / "out";
    const std::string command = "exec env -u AWS_SESSION_TOKEN " + env() + " " + OBSYNC_BINARY +
                                " restore --from " + backup + " --to " + out.string() +
                                " --concurrency 1 >/dev/null 2>&1";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
        _exit(127);
    }
    const auto count = [&]() {
        std::size_t n = 0;
        std::error_code ec;
        for (auto it = fs::recursive_directory_iterator(out, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            n += it->is_regular_file() ? 1 : 0;
        }
        return n;
    };
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    while (count() < 100 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(5ms);
    }
    ASSERT_EQ(waitpid(pid, nullptr, WNOHANG), 0) << "the restore finished before it was killed";
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    const std::size_t done = count();
    ASSERT_LT(done, 1500U) << "killed too late to test anything";

    const CliResult rerun = restore("--from " + backup + " --to " + out.string() + " --json");
    ASSERT_EQ(rerun.code, 0) << rerun.err;
    const auto summary = rerun.json();
    EXPECT_GE(summary.at("identical").as_int64(), 100);
    EXPECT_LT(summary.at("written").as_int64(), 1506);
    EXPECT_EQ(tree_of(out), tree_of(corpus));  // no temp file left behind either
}

TEST_F(CliRestoreTest, LocalBackupsAreCheckedAgainstTheirSavedState) {
    start();
    make_corpus();
    seed();
    const fs::path local = work.path() / "local-backup";
    const CliResult sync = obsync("sync Vault --dest " + local.string());
    ASSERT_EQ(sync.code, 0) << sync.err;

    const fs::path out = work.path() / "out";
    const CliResult run = restore("--from " + local.string() + " --to " + out.string() + " --json");
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.json().at("unverified").as_int64(), 0);
    EXPECT_EQ(tree_of(out), tree_of(corpus));
    EXPECT_EQ(mtime_ms(out / "Hello.md"), mtime_ms(local / "Hello.md"));

    // Bytes changed behind the backup's back (same size): caught by the state's hash.
    write_file(local / "Notes/n0.md", std::string(300, 'x'));
    const fs::path second = work.path() / "second";
    const CliResult checked =
        restore("--from " + local.string() + " --to " + second.string() + " --json");
    EXPECT_EQ(checked.code, 1) << checked.err;
    EXPECT_EQ(checked.json().at("failures").as_array().at(0).at("path").as_string(), "Notes/n0.md");
    EXPECT_FALSE(fs::exists(second / "Notes/n0.md"));

    EXPECT_EQ(restore("--from " + local.string() + " --to " + second.string() + " --at -1d").code,
              4);

    // The root of a `sync --all` destination: each vault's files checked against its own state,
    // its .obsync folder left out.
    const fs::path all = work.path() / "all-backups";
    ASSERT_EQ(obsync("sync --all --dest " + all.string()).code, 0);
    const fs::path everything = work.path() / "everything";
    const CliResult whole =
        restore("--from " + all.string() + " --to " + everything.string() + " --json");
    ASSERT_EQ(whole.code, 0) << whole.err;
    EXPECT_EQ(whole.json().at("unverified").as_int64(), 0);
    EXPECT_EQ(tree_of(everything / "Vault"), tree_of(corpus));
    EXPECT_FALSE(fs::exists(everything / "Vault/.obsync"));
    // Into the backup itself, or a folder inside it: refused before anything is read.
    EXPECT_EQ(restore("--from " + local.string() + " --to " + local.string()).code, 4);
    EXPECT_EQ(restore("--from " + local.string() + " --to " + (local / "Notes").string()).code, 4);
}

}  // namespace
}  // namespace obsync::cli_aws
