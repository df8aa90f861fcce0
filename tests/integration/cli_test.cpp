// The obsync binary against the real obsync-fake-server: complete and incremental backups, the
// failure cases of issue #4 (hostile paths, corrupted blobs, wrong passwords, dropped
// connections, kill -9), exit codes, and that no secret reaches stdout or stderr.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/cli_fixture.hpp"
#include "support/cli_runner.hpp"
#include "support/fake_server_process.hpp"
#include "support/files.hpp"
#include "support/test_util.hpp"

namespace obsync {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::read_file;
using test::shell_quote;
using test::write_file;
using namespace std::chrono_literals;
using test::CliTest;
using test::k_account_password;
using test::k_vault_password;

// Files and folders below `root` with their contents (folders as "<dir>"), without obsync's own
// lock and marker (ROOT/.obsync, see sink/local_claim.hpp).
std::map<std::string, std::string> tree(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        const std::string relative = fs::relative(it->path(), root).string();
        if (it.depth() == 0 && relative == ".obsync") {
            it.disable_recursion_pending();
            continue;
        }
        out[relative] = it->is_directory() ? "<dir>" : read_file(it->path());
    }
    return out;
}

TEST_F(CliTest, CompleteThenIncrementalBackupIsIdenticalWithMtimes) {
    start();
    make_corpus();
    seed();
    const CliResult first = obsync(sync_args());
    ASSERT_EQ(first.code, 0) << first.err;
    const auto summary = first.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(summary.at("created").as_int64(), 10);
    EXPECT_TRUE(summary.at("complete").as_bool());
    EXPECT_EQ(tree(corpus), tree(dest));
    const auto source_mtime = fs::last_write_time(corpus / "Hello.md");
    const auto copy_mtime = fs::last_write_time(dest / "Hello.md");
    EXPECT_LT(std::chrono::abs(source_mtime - copy_mtime), 1ms);

    // Nothing changed: nothing is downloaded.
    const CliResult again = obsync(sync_args());
    ASSERT_EQ(again.code, 0) << again.err;
    const auto none = again.json().at("vaults").as_array().at(0).as_object();
    EXPECT_FALSE(none.at("complete").as_bool());
    EXPECT_EQ(none.at("created").as_int64() + none.at("updated").as_int64(), 0);

    // Changes on the server: a new file, an edit, a deletion.
    write_file(work.path() / "new.md", "brand new");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "New/new.md", "--content-file", (work.path() / "new.md").string()});
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Hello.md", "--content-file", (work.path() / "new.md").string()});
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Notes/n0.md", "--deleted"});
    const CliResult incremental = obsync(sync_args());
    ASSERT_EQ(incremental.code, 0) << incremental.err;
    const auto changed = incremental.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(changed.at("created").as_int64(), 1);
    EXPECT_EQ(changed.at("updated").as_int64(), 1);
    EXPECT_EQ(changed.at("deleted").as_int64(), 1);
    EXPECT_EQ(read_file(dest / "New/new.md"), "brand new");
    EXPECT_EQ(read_file(dest / "Hello.md"), "brand new");
    EXPECT_FALSE(fs::exists(dest / "Notes/n0.md"));

    const CliResult status = obsync("status --json");
    ASSERT_EQ(status.code, 0);
    const auto backup = status.json().at("backups").as_array().at(0).as_object();
    EXPECT_EQ(backup.at("files").as_int64(), 10);
    EXPECT_EQ(backup.at("last_result").as_string(), "ok");
}

TEST_F(CliTest, HostilePathIsRefusedAndTheRestApplied) {
    start();
    make_corpus();
    seed();
    for (const char* hostile : {"../escape.md", "/etc/obsync-evil", "a//b.md", "x\\0y.md"}) {
        server->admin("inject",
                      {"--vault", "Vault", "--password", k_vault_password, "--path", hostile});
    }
    const CliResult result = obsync(sync_args());
    EXPECT_EQ(result.code, 1) << result.err;
    const auto summary = result.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(summary.at("failed").as_int64(), 0);
    EXPECT_EQ(summary.at("created").as_int64(), 10);
    const auto& refused = summary.at("refused").as_array();
    ASSERT_EQ(refused.size(), 4U);
    std::int64_t last_refused = 0;
    for (const auto& r : refused) {
        EXPECT_NE(r.at("reason").as_string().find("refused"), std::string::npos);
        last_refused = std::max(last_refused, r.at("uid").as_int64());
    }
    EXPECT_FALSE(fs::exists(work.path() / "escape.md"));
    EXPECT_FALSE(fs::exists("/etc/obsync-evil"));
    EXPECT_EQ(tree(corpus), tree(dest));
    // Refused for good: the cursor passes them (the next run does not read them again), yet every
    // run reports them and exits 1, because the backup lacks those files.
    EXPECT_GE(summary.at("cursor").as_int64(), last_refused);
    const CliResult again = obsync(sync_args());
    EXPECT_EQ(again.code, 1) << again.err;
    const auto second = again.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(second.at("refused").as_array().size(), 4U);
    EXPECT_EQ(second.at("created").as_int64(), 0);
    EXPECT_EQ(second.at("unchanged").as_int64(), 0);  // nothing re-read: the cursor moved
    const CliResult status = obsync("status --json");
    ASSERT_EQ(status.code, 0) << status.err;
    const auto backup = status.json().at("backups").as_array().at(0).as_object();
    EXPECT_EQ(backup.at("refused").as_array().size(), 4U);
    EXPECT_EQ(backup.at("last_result").as_string(), "failed");
    const CliResult text = obsync("status");
    EXPECT_NE(text.out.find("4 record(s) refused"), std::string::npos) << text.out;
    // A complete run meets them again: they stay recorded.
    EXPECT_EQ(obsync(sync_args("--full")).code, 1);
    const auto after_full = obsync("status --json").json().at("backups").as_array().at(0);
    EXPECT_EQ(after_full.at("refused").as_array().size(), 4U);
}

TEST_F(CliTest, ExcludeSilencesARefusedPath) {
    start();
    make_corpus();
    seed();
    server->admin("inject",
                  {"--vault", "Vault", "--password", k_vault_password, "--path", "tab\there.md"});
    EXPECT_EQ(obsync(sync_args()).code, 1);
    // Excluded, the refused path is no longer this backup's business: reported neither in the
    // first run nor after one that recorded it.
    const CliResult quiet = obsync(sync_args() + " --exclude 'tab*'");
    EXPECT_EQ(quiet.code, 0) << quiet.err;
    EXPECT_TRUE(quiet.json().at("vaults").as_array().at(0).at("refused").as_array().empty());
    EXPECT_EQ(obsync(sync_args() + " --exclude '**'").code, 0);
}

// The lock belongs to the folder, not to the path as typed or to a state database: one run goes
// through a symbolic link, each keeps its own state, and still exactly one of them syncs. (Before,
// both ran, and the second removed the first one's temp files: "No such file or directory".)
TEST_F(CliTest, TwoRunsThroughASymlinkWithTwoStateDatabasesExactlyOneSyncs) {
    start({"--latency-ms", "20"});
    make_corpus(150);
    seed();
    ASSERT_EQ(obsync("login").code, 0);
    fs::create_directories(dest);
    const fs::path alias = work.path() / "alias";
    fs::create_directory_symlink(dest, alias);
    const std::string base = "env " + env() + " " + OBSYNC_BINARY + " sync Vault --concurrency 1 ";
    const auto results = test::run_shell_concurrently(
        {base + "--dest " + shell_quote(dest.string()) + " --state sqlite://" +
             shell_quote((work.path() / "one.db").string()),
         base + "--dest " + shell_quote(alias.string()) + " --state sqlite://" +
             shell_quote((work.path() / "two.db").string())},
        work.path());
    ASSERT_TRUE((results[0].code == 0) != (results[1].code == 0))
        << results[0].err << results[1].err;
    const test::CliResult& loser = results[0].code == 0 ? results[1] : results[0];
    EXPECT_EQ(loser.code, 1);
    EXPECT_NE(loser.err.find("is being written by another run"), std::string::npos) << loser.err;
    EXPECT_EQ(tree(corpus), tree(dest));
}

TEST_F(CliTest, DestinationsInsideOrAroundAnotherBackupAreRefused) {
    start();
    make_corpus();
    seed();
    seed("Other");
    ASSERT_EQ(obsync(sync_args()).code, 0);
    const auto before = tree(dest);

    const CliResult inside =
        obsync("sync Vault --dest " + shell_quote((dest / "Notes" / "inner").string()));
    EXPECT_EQ(inside.code, 4) << inside.err;
    EXPECT_NE(inside.err.find("lies inside the backup at " + dest.string()), std::string::npos)
        << inside.err;
    EXPECT_FALSE(fs::exists(dest / "Notes" / "inner")) << "a refused run creates nothing";

    const CliResult around = obsync("sync Vault --dest " + shell_quote(work.path().string()));
    EXPECT_EQ(around.code, 4) << around.err;
    EXPECT_NE(around.err.find("contains another backup, at " + dest.string()), std::string::npos)
        << around.err;

    const CliResult shared = obsync("sync Other --dest " + shell_quote(dest.string()));
    EXPECT_EQ(shared.code, 4) << shared.err;
    EXPECT_NE(shared.err.find("holds the backup of vault \"Vault\""), std::string::npos)
        << shared.err;
    EXPECT_EQ(tree(dest), before);
    EXPECT_FALSE(fs::exists(work.path() / ".obsync"));
}

// A local folder cannot mark a file as written by this backup: only the state can. A file the
// state never listed is someone else's, and --full keeps it.
TEST_F(CliTest, FullKeepsFilesThisBackupDidNotWrite) {
    start();
    make_corpus();
    seed();
    write_file(dest / "mine-not-obsync.txt", "the user's own file");
    ASSERT_EQ(obsync(sync_args()).code, 0);
    const CliResult full = obsync(sync_args("--full"));
    ASSERT_EQ(full.code, 0) << full.err;
    EXPECT_EQ(full.json().at("vaults").as_array().at(0).at("foreign_kept").as_int64(), 1);
    EXPECT_EQ(read_file(dest / "mine-not-obsync.txt"), "the user's own file");
}

// The bytes a terminal could act on: every C0 control but the newline, and DEL.
std::string control_bytes_in(const std::string& text) {
    std::string found;
    for (const char c : text) {
        const auto b = static_cast<unsigned char>(c);
        if ((b < 0x20 && b != '\n') || b == 0x7f) {
            std::array<char, 8> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02x", b);
            found += hex.data();
        }
    }
    return found;
}

TEST_F(CliTest, ServerTextNeverReachesTheTerminalRaw) {
    start();
    make_corpus(1);
    seed();
    const std::string long_name = std::string(300, 'h') + std::string(300, 't') + ".md";
    for (const std::string& hostile :
         {std::string("esc\x1b]0;pwned\a.md"), std::string("bell\a.md"),
          std::string("tab\there.md"), std::string("bad\xff.md"), std::string("del\x7f.md"),
          long_name}) {
        server->admin("inject",
                      {"--vault", "Vault", "--password", k_vault_password, "--path", hostile});
    }

    // Text output: escaped, and the long name shortened around "…".
    const CliResult text = obsync("sync Vault --dest " + shell_quote(dest.string()));
    EXPECT_EQ(text.code, 1) << text.err;
    EXPECT_EQ(control_bytes_in(text.out + text.err), "") << text.err;
    for (const char* shown : {R"(esc\e]0;pwned\a.md)", R"(bell\a.md)", R"(tab\there.md)",
                              R"(bad\xff.md)", R"(del\x7f.md)"}) {
        EXPECT_NE(text.err.find(shown), std::string::npos) << shown << " in\n" << text.err;
    }
    EXPECT_EQ(text.err.find(long_name), std::string::npos) << text.err;
    EXPECT_NE(text.err.find(std::string(59, 'h') + "\u2026" + std::string(57, 't') + ".md"),
              std::string::npos)
        << text.err;

    // JSON output: valid UTF-8 JSON (Boost.JSON rejects invalid UTF-8), exact bytes in path_hex.
    const CliResult json = obsync(sync_args());
    EXPECT_EQ(json.code, 1) << json.err;
    EXPECT_EQ(control_bytes_in(json.out + json.err), "") << json.err;
    // Refused for good: listed under "refused", in every run.
    const auto refused = json.json().at("vaults").as_array().at(0).as_object().at("refused");
    std::map<std::string, boost::json::object> by_path;
    for (const auto& e : refused.as_array()) {
        by_path[std::string(e.as_object().at("path").as_string())] = e.as_object();
    }
    EXPECT_TRUE(by_path.contains("esc\x1b]0;pwned\a.md"));
    EXPECT_TRUE(by_path.contains("tab\there.md"));
    EXPECT_TRUE(by_path.contains("del\x7f.md"));
    ASSERT_TRUE(by_path.contains("bad\uFFFD.md"));
    EXPECT_EQ(by_path["bad\uFFFD.md"].at("path_hex").as_string(), "626164ff2e6d64");
    EXPECT_FALSE(by_path["tab\there.md"].contains("path_hex"));
    // Another JSON reader agrees.
    write_file(work.path() / "out.json", json.out);
    EXPECT_EQ(std::system(("python3 -c 'import json,sys; json.load(sys.stdin)' < " +
                           shell_quote((work.path() / "out.json").string()))
                              .c_str()),
              0);

    // A long name that can be written shows shortened in a text dry run.
    const std::string deep = std::string(150, 'd') + "/" + std::string(150, 'e') + "/" +
                             std::string(150, 'f') + "/" + std::string(150, 'g') + ".md";
    write_file(work.path() / "deep.md", "deep");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path", deep,
                             "--content-file", (work.path() / "deep.md").string()});
    const CliResult plan =
        obsync("sync Vault --dry-run --dest " + shell_quote((work.path() / "elsewhere").string()));
    EXPECT_EQ(control_bytes_in(plan.out + plan.err), "") << plan.err;
    EXPECT_EQ(plan.out.find(deep), std::string::npos);
    EXPECT_NE(plan.out.find("create  " + std::string(59, 'd') + "\u2026"), std::string::npos)
        << plan.out;
}

TEST_F(CliTest, VaultNamesAreEscapedInTextAndValidInJson) {
    start();
    make_corpus(1);
    seed("Evil\x1b[2J\u202Egnp.exe");
    const CliResult text = obsync("vaults");
    ASSERT_EQ(text.code, 0) << text.err;
    EXPECT_EQ(control_bytes_in(text.out + text.err), "");
    EXPECT_NE(text.out.find(R"(Evil\e[2J\u{202E}gnp.exe)"), std::string::npos) << text.out;
    const CliResult json = obsync("vaults --json");
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_EQ(control_bytes_in(json.out), "");
    EXPECT_EQ(json.out.find("\u202E"), std::string::npos) << "bidi override left raw";
    EXPECT_EQ(json.json().at("vaults").as_array().at(0).as_object().at("name").as_string(),
              "Evil\x1b[2J\u202Egnp.exe");
}

TEST_F(CliTest, ProgressLineKeepsALongEscapedVaultNameWhole) {
    start();
    make_corpus(1);
    // 110 control characters: 440 bytes once escaped, more than the old 256-byte line buffer.
    const std::string name = std::string(110, '\x01') + "Vault";
    seed(name);
    const CliResult result =
        obsync("sync " + shell_quote(name) + " --dest " + shell_quote(dest.string()));
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_EQ(control_bytes_in(result.err), "");
    std::string shown;
    for (int i = 0; i < 110; ++i) {
        shown += "\\x01";
    }
    shown += "Vault: ";
    // Progress lines ("NAME: 6/6 files, ...") and the summary line, each whole.
    EXPECT_NE(result.err.find(shown + "6/6 files, "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find(shown + "created 6"), std::string::npos) << result.err;
}

TEST_F(CliTest, NamesThatMayNotRestoreElsewhereAreWrittenWithOneWarning) {
    start();
    make_corpus(1);
    seed();
    write_file(work.path() / "x.md", "x");
    for (const char* name : {"Readme.md", "README.md", "nul.txt", "a:b.md"}) {
        server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path", name,
                                 "--content-file", (work.path() / "x.md").string()});
    }
    const CliResult text = obsync("sync Vault --dest " + shell_quote(dest.string()));
    ASSERT_EQ(text.code, 0) << text.err;
    EXPECT_TRUE(fs::exists(dest / "nul.txt"));
    EXPECT_TRUE(fs::exists(dest / "a:b.md"));
    EXPECT_NE(text.err.find("warning: 4 names may not restore on Windows or macOS:\n"),
              std::string::npos)
        << text.err;
    EXPECT_NE(text.err.find("  Readme.md: one name with \"README.md\""), std::string::npos)
        << text.err;

    const CliResult json = obsync(sync_args("--full"));
    ASSERT_EQ(json.code, 0) << json.err;
    const auto portability =
        json.json().at("vaults").as_array().at(0).as_object().at("portability").as_array();
    EXPECT_EQ(portability.size(), 4U);
}

TEST_F(CliTest, SymlinkInsideTheDestinationIsNeverFollowed) {
    start();
    make_corpus();
    seed();
    const fs::path outside = work.path() / "outside";
    fs::create_directories(outside);
    fs::create_directories(dest);
    fs::create_directory_symlink(outside, dest / "Notes");
    const CliResult result = obsync(sync_args());
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_TRUE(fs::is_empty(outside));
}

TEST_F(CliTest, CorruptedBlobIsReportedOthersApplied) {
    start();
    make_corpus();
    seed();
    server->admin("corrupt",
                  {"--vault", "Vault", "--password", k_vault_password, "--path", "Notes/n1.md"});
    const CliResult result = obsync(sync_args());
    EXPECT_EQ(result.code, 1) << result.err;
    const auto summary = result.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(summary.at("failed").as_int64(), 1);
    EXPECT_EQ(summary.at("errors").as_array().at(0).as_object().at("path").as_string(),
              "Notes/n1.md");
    EXPECT_FALSE(fs::exists(dest / "Notes/n1.md"));
    EXPECT_TRUE(fs::exists(dest / "Notes/n2.md"));
    // Still failing on the next run: the cursor did not move past it.
    const CliResult rerun = obsync(sync_args());
    EXPECT_EQ(rerun.code, 1);
    EXPECT_EQ(rerun.json().at("vaults").as_array().at(0).as_object().at("created").as_int64(), 0);
}

TEST_F(CliTest, WrongVaultPasswordExits2AndWritesNothing) {
    start();
    make_corpus();
    seed();
    const CliResult result = obsync(sync_args(), "OBSIDIAN_VAULT_PASSWORD=not-it");
    EXPECT_EQ(result.code, 2);
    EXPECT_NE(result.err.find("not accepted"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dest));
    // Nor a half-made state entry: the password is checked before the state is opened.
    const CliResult status = obsync("status --json");
    ASSERT_EQ(status.code, 0) << status.err;
    EXPECT_EQ(status.json().at("backups").as_array().size(), 0U) << status.out;
}

TEST_F(CliTest, ExitCodesForLoginUsageAndMissingVault) {
    start();
    make_corpus();
    seed();
    EXPECT_EQ(obsync("vaults", "OBSIDIAN_PASSWORD=wrong").code, 2);
    EXPECT_EQ(obsync("sync Nope --dest " + shell_quote(dest.string())).code, 3);
    EXPECT_EQ(obsync("sync --dest x").code, 4);
    EXPECT_EQ(obsync("sync Vault").code, 4);
    EXPECT_EQ(obsync("frobnicate").code, 4);
}

TEST_F(CliTest, StatusOfAnUnknownVaultExits3AndSaysSo) {
    start();
    make_corpus(1);
    seed();
    ASSERT_EQ(obsync(sync_args()).code, 0);
    const CliResult unknown = obsync("status Nope");
    EXPECT_EQ(unknown.code, 3);
    EXPECT_NE(unknown.err.find("\"Nope\""), std::string::npos) << unknown.err;
    EXPECT_EQ(obsync("status Vault").code, 0);
}

// Every case fails on the command line alone: no sign-in is attempted (the API URL points at a
// closed port, which would be a network failure, exit 1) and no state entry is made.
TEST_F(CliTest, BadDestinationIsAUsageErrorBeforeAnySignIn) {
    start();
    const fs::path file = work.path() / "a-file";
    write_file(file, "not a folder");
    const std::string no_api = "OBSIDIAN_API_URL=http://127.0.0.1:1";
    for (const std::string& bad :
         {shell_quote(file.string()), std::string("''"), std::string("s3://"),
          std::string("s3://Not_A_Bucket/x"), std::string("s3://bucket/../up")}) {
        const CliResult result = obsync("sync Vault --dest " + bad, no_api);
        EXPECT_EQ(result.code, 4) << bad << ": " << result.err;
        EXPECT_NE(result.err.find("--dest"), std::string::npos) << bad << ": " << result.err;
    }
    EXPECT_EQ(read_file(file), "not a folder");
    const CliResult status = obsync("status --json");
    EXPECT_EQ(status.json().at("backups").as_array().size(), 0U) << status.out;
}

TEST_F(CliTest, UnknownCommandAndNonNumbersAreExplained) {
    start();
    const CliResult unknown = obsync("frobnicate");
    EXPECT_EQ(unknown.code, 4);
    EXPECT_NE(unknown.err.find("unknown command \"frobnicate\""), std::string::npos) << unknown.err;
    for (const char* command : {"login", "logout", "vaults", "sync", "status", "reset", "totp"}) {
        EXPECT_NE(unknown.err.find(command), std::string::npos) << command << ": " << unknown.err;
    }
    const CliResult none = obsync("");
    EXPECT_EQ(none.code, 4);
    EXPECT_NE(none.err.find("state-init"), std::string::npos) << none.err;

    const CliResult nan = obsync(sync_args("--concurrency abc"));
    EXPECT_EQ(nan.code, 4);
    EXPECT_NE(nan.err.find("\"abc\" is not a number"), std::string::npos) << nan.err;
    const CliResult big = obsync(sync_args("--concurrency 99"));
    EXPECT_EQ(big.code, 4);
    EXPECT_NE(big.err.find("from 1 to 16"), std::string::npos) << big.err;
}

TEST_F(CliTest, MalformedExcludeGlobIsAUsageError) {
    start();
    const CliResult result =
        obsync(sync_args("--exclude '*.pdf' --exclude '['"), "OBSIDIAN_API_URL=http://127.0.0.1:1");
    EXPECT_EQ(result.code, 4) << result.err;
    EXPECT_NE(result.err.find("--exclude \"[\""), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(dest));
}

TEST_F(CliTest, StateFileInAMissingFolderIsAUsageError) {
    start();
    const fs::path missing = work.path() / "no-such-folder";
    const CliResult result =
        obsync(sync_args("--state " + shell_quote("sqlite://" + (missing / "state.db").string())),
               "OBSIDIAN_API_URL=http://127.0.0.1:1");
    EXPECT_EQ(result.code, 4) << result.err;
    EXPECT_NE(result.err.find("does not exist"), std::string::npos) << result.err;
    EXPECT_FALSE(fs::exists(missing));
}

TEST_F(CliTest, CorruptOrEmptyTokenFileMeansSignInAgain) {
    start();
    make_corpus(1);
    seed();
    const fs::path token = work.path() / "config/obsync/token.json";
    for (const std::string& junk : {std::string("{\"tok"), std::string(""), std::string("[]")}) {
        write_file(token, junk);
        const CliResult listed = obsync("vaults --json");
        EXPECT_EQ(listed.code, 0) << listed.err;
        EXPECT_NE(listed.err.find("warning"), std::string::npos) << listed.err;
        EXPECT_NE(listed.err.find(token.string()), std::string::npos) << listed.err;
        EXPECT_NE(read_file(token).find("\"token\""), std::string::npos);
    }
    // Without credentials a corrupt token is simply no login.
    write_file(token, "garbage");
    EXPECT_EQ(obsync("vaults", "OBSIDIAN_EMAIL= OBSIDIAN_PASSWORD=").code, 2);
    // Logout always works, and removes the file.
    const CliResult logout = obsync("logout");
    EXPECT_EQ(logout.code, 0) << logout.err;
    EXPECT_FALSE(fs::exists(token));
}

TEST_F(CliTest, ExpiredTokenIsReplacedByAFreshLogin) {
    start({"--token-ttl", "1"});
    make_corpus(1);
    seed();
    ASSERT_EQ(obsync("login").code, 0);
    const std::string saved = read_file(work.path() / "config/obsync/token.json");
    std::this_thread::sleep_for(1500ms);
    const CliResult listed = obsync("vaults --json");
    EXPECT_EQ(listed.code, 0) << listed.err;
    EXPECT_NE(read_file(work.path() / "config/obsync/token.json"), saved);
    // Without credentials an expired token is a login problem.
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(obsync("vaults", "OBSIDIAN_EMAIL= OBSIDIAN_PASSWORD=").code, 2);
}

TEST_F(CliTest, DryRunWritesNothing) {
    start();
    make_corpus();
    seed();
    const CliResult result = obsync(sync_args("--dry-run"));
    ASSERT_EQ(result.code, 0) << result.err;
    const auto summary = result.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(summary.at("created").as_int64(), 10);
    EXPECT_GE(summary.at("plan").as_array().size(), 10U);
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_EQ(obsync("status --json").json().at("backups").as_array().size(), 0U);
}

TEST_F(CliTest, AllVaultsGoToTheirOwnFolders) {
    start();
    make_corpus(2);
    seed("One");
    seed("Two");
    const CliResult result = obsync("sync --all --dest " + shell_quote(dest.string()) + " --json");
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_EQ(tree(corpus), tree(dest / "One"));
    EXPECT_EQ(tree(corpus), tree(dest / "Two"));

    // A vault whose password is unknown fails alone: the others are still backed up, exit 1.
    server->seed({"--owner", "alice@example.com", "--vault", "Locked", "--password",
                  "another password", "--encryption-version", "3", corpus.string()});
    write_file(corpus / "Two-only.md", "x");
    server->admin("inject", {"--vault", "Two", "--password", k_vault_password, "--path",
                             "Two-only.md", "--content-file", (corpus / "Two-only.md").string()});
    const CliResult partial = obsync("sync --all --dest " + shell_quote(dest.string()) + " --json");
    EXPECT_EQ(partial.code, 1) << partial.err;
    const auto vaults = partial.json().at("vaults").as_array();
    EXPECT_EQ(vaults.size(), 3U);
    int failed = 0;
    for (const auto& v : vaults) {
        failed += v.as_object().at("ok").as_bool() ? 0 : 1;
    }
    EXPECT_EQ(failed, 1);
    EXPECT_EQ(read_file(dest / "Two" / "Two-only.md"), "x");
    EXPECT_FALSE(fs::exists(dest / "Locked" / "Hello.md"));
}

// With --all a vault's name becomes a folder only if it is a safe one: a name with control
// characters (or ".obsync") is stored under the vault's id instead.
TEST_F(CliTest, AllVaultsWithAnUnsafeNameGoUnderTheirId) {
    start();
    make_corpus(1);
    seed("Bad\x1b[2Jname");
    seed(".obsync");
    const CliResult result = obsync("sync --all --dest " + shell_quote(dest.string()) + " --json");
    ASSERT_EQ(result.code, 0) << result.err;
    const auto listed = obsync("vaults --json").json();
    for (const auto& v : listed.at("vaults").as_array()) {
        const std::string id(v.at("id").as_string());
        EXPECT_EQ(tree(corpus), tree(dest / id)) << v.at("name").as_string();
    }
    EXPECT_FALSE(fs::exists(dest / "Bad\x1b[2Jname"));
    EXPECT_FALSE(fs::exists(dest / ".obsync" / "Hello.md"));
}

TEST_F(CliTest, DroppedConnectionMidPullIsRetried) {
    start({"--drop-after", "40", "--piece-size", "65536"});
    make_corpus();
    seed();
    const CliResult result = obsync(sync_args("--concurrency 1"));
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_EQ(tree(corpus), tree(dest));
}

// The first connection is cut after its 5th frame: while the change list (one push per record)
// is still arriving. The run reconnects and asks again, as it does for a cut pull.
TEST_F(CliTest, DroppedConnectionWhileTheChangeListArrivesIsRetried) {
    start({"--drop-after", "5"});
    make_corpus(20);
    seed();
    const CliResult result = obsync(sync_args("--concurrency 1"));
    ASSERT_EQ(result.code, 0) << result.err;
    EXPECT_EQ(tree(corpus), tree(dest));
}

TEST_F(CliTest, KillNineThenRerunFinishesWithoutRedownloading) {
    // ~600 pulls at 25 ms each on one session: about 15 s, so the kill lands mid-run.
    start({"--latency-ms", "25"});
    make_corpus(600);
    seed();
    const std::string command = "exec env " + env() + " " + OBSYNC_BINARY + " " +
                                sync_args("--concurrency 1") + " >/dev/null 2>&1";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
        _exit(127);
    }
    std::this_thread::sleep_for(4000ms);  // past at least one 2 s checkpoint, before the end
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    const auto partial = tree(dest);
    const CliResult rerun = obsync(sync_args());
    ASSERT_EQ(rerun.code, 0) << rerun.err;
    EXPECT_EQ(tree(corpus), tree(dest));
    const auto summary = rerun.json().at("vaults").as_array().at(0).as_object();
    const std::int64_t downloaded =
        summary.at("created").as_int64() + summary.at("updated").as_int64();
    EXPECT_GT(summary.at("unchanged").as_int64(), 0) << "the checkpoint kept nothing";
    EXPECT_LT(downloaded, 606) << "everything was downloaded again";
    EXPECT_GT(partial.size(), 0U);
}

}  // namespace
}  // namespace obsync

namespace obsync {
namespace {

// --log-format json: stderr carries one JSON log record per line (the Lambda function's
// records), and nothing else; a vault that fails says its kind and that a retry cannot help.
TEST_F(CliTest, LogFormatJsonWritesOneRecordPerLine) {
    start();
    make_corpus(2);
    seed("One");
    seed("Two");
    server->seed({"--owner", "alice@example.com", "--vault", "Locked", "--password",
                  "another password", "--encryption-version", "3", corpus.string()});
    const CliResult result =
        obsync("sync --all --dest " + shell_quote(dest.string()) + " --log-format json");
    EXPECT_EQ(result.code, 1) << result.err;
    EXPECT_EQ(tree(corpus), tree(dest / "One"));
    std::istringstream lines(result.err);
    std::string line;
    int finished = 0;
    int failed = 0;
    while (std::getline(lines, line)) {
        const auto record = boost::json::parse(line).as_object();
        EXPECT_TRUE(record.contains("timestamp")) << line;
        EXPECT_TRUE(record.contains("level")) << line;
        EXPECT_EQ(record.at("service").as_string(), "obsync") << line;
        const std::string message(record.at("message").as_string());
        if (message == "vault sync finished") {
            ++finished;
            EXPECT_GT(record.at("created").as_int64(), 0) << line;
        } else if (message == "vault sync failed") {
            ++failed;
            EXPECT_EQ(record.at("vault_name").as_string(), "Locked") << line;
            EXPECT_EQ(record.at("retryable").as_bool(), false) << line;
        }
    }
    EXPECT_EQ(finished, 2) << result.err;
    EXPECT_EQ(failed, 1) << result.err;

    const CliResult bad =
        obsync("sync One --dest " + shell_quote(dest.string()) + " --log-format yaml");
    EXPECT_EQ(bad.code, 4);
}

}  // namespace
}  // namespace obsync

namespace obsync {
namespace {

// --time-limit: the run stops in time, says so (exit 5, "stopped_early"), keeps what it did, and
// the next run finishes without fetching a committed file again.
TEST_F(CliTest, TimeLimitStopsTheRunAndTheNextOneFinishes) {
    const fs::path pulls = work.path() / "pulls.log";
    start({"--pull-latency-ms", "150", "--pull-log", pulls.string()});
    make_corpus(30);
    seed();
    const auto began = std::chrono::steady_clock::now();
    const CliResult stopped = obsync(sync_args("--concurrency 1 --time-limit 3s"));
    const auto took = std::chrono::steady_clock::now() - began;
    ASSERT_EQ(stopped.code, 5) << stopped.err;
    EXPECT_LT(took, std::chrono::milliseconds(3500));  // the limit, and the process exit
    const auto summary = stopped.json();
    EXPECT_TRUE(summary.at("stopped_early").as_bool());
    const auto& vault = summary.at("vaults").as_array().at(0).as_object();
    EXPECT_TRUE(vault.at("stopped_early").as_bool());
    const std::int64_t left = vault.at("not_attempted").as_int64();
    EXPECT_GT(left, 0);
    const std::int64_t done = vault.at("created").as_int64();
    EXPECT_GT(done, 0);

    const auto pulls_before = read_file(pulls);
    const CliResult finished = obsync(sync_args());
    ASSERT_EQ(finished.code, 0) << finished.err;
    EXPECT_EQ(tree(corpus), tree(dest));
    // The second run pulled only what the first left.
    const std::string second = read_file(pulls).substr(pulls_before.size());
    const auto lines = std::count(second.begin(), second.end(), '\n');
    EXPECT_LE(lines, left) << second;
}

}  // namespace
}  // namespace obsync
