// The obsync binary backing up vaults from obsync-fake-server into S3 with DynamoDB state and
// Secrets Manager credentials, all served by moto_server on loopback (issue #5).
#include <chrono>
#include <random>
#include <thread>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/cli_aws_fixture.hpp"

namespace obsync::cli_aws {
namespace {

using namespace std::chrono_literals;

TEST_F(CliAwsTest, CompleteThenIncrementalBackupToS3WithDynamoDbState) {
    start();
    make_corpus();
    std::mt19937_64 rng(9);
    write_file(corpus / "Attachments/video.mp4",
               as_chars(test::random_bytes(rng, 20 << 20)));  // multipart: three 8 MiB parts
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();

    const CliResult first = obsync(s3_sync());
    ASSERT_EQ(first.code, 0) << first.err;
    const auto summary = first.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(summary.at("destination").as_string(), "s3://" + k_bucket + "/backup");
    EXPECT_EQ(summary.at("created").as_int64(), 12);
    expect_s3_mirrors_corpus(probe);
    EXPECT_EQ(probe.get("backup/Hello.md").headers["content-type"], "text/markdown; charset=utf-8");
    EXPECT_EQ(probe.get("backup/Board.canvas").headers["content-type"], "application/json");
    EXPECT_EQ(probe.get("backup/Attachments/photo.png").headers["content-type"], "image/png");
    S3Object video = probe.get("backup/Attachments/video.mp4");
    EXPECT_NE(video.headers["etag"].find("-3"), std::string::npos) << "not a multipart upload";

    // Edits, a deletion and a new folder on the server: the incremental run mirrors them.
    write_file(work.path() / "new.md", "brand new");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "New folder", "--folder"});
    server->admin("inject",
                  {"--vault", "Vault", "--password", k_vault_password, "--path",
                   "New folder/new ü.md", "--content-file", (work.path() / "new.md").string()});
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Hello.md", "--content-file", (work.path() / "new.md").string()});
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Notes/n0.md", "--deleted"});
    write_file(corpus / "New folder/new ü.md", "brand new");
    write_file(corpus / "Hello.md", "brand new");
    fs::remove(corpus / "Notes/n0.md");
    const CliResult incremental = obsync(s3_sync());
    ASSERT_EQ(incremental.code, 0) << incremental.err;
    const auto changed = incremental.json().at("vaults").as_array().at(0).as_object();
    EXPECT_FALSE(changed.at("complete").as_bool());
    EXPECT_EQ(changed.at("created").as_int64(), 1);
    EXPECT_EQ(changed.at("updated").as_int64(), 1);
    EXPECT_EQ(changed.at("deleted").as_int64(), 1);
    expect_s3_mirrors_corpus(probe);

    // The state is gone (another table state, say): a --full resync uploads nothing again,
    // because every object's content-hash already matches.
    const CliResult resync =
        obsync("sync Vault --dest s3://" + k_bucket + "/backup --state sqlite://" +
               (work.path() / "other.db").string() + " --full --json");
    ASSERT_EQ(resync.code, 0) << resync.err;
    const auto again = resync.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(again.at("created").as_int64() + again.at("updated").as_int64(), 0);
    EXPECT_EQ(again.at("bytes").as_int64(), 0);
    expect_s3_mirrors_corpus(probe);
}

TEST_F(CliAwsTest, AllVaultsGoUnderTheirNames) {
    start();
    make_corpus();
    seed("Work");
    seed("Private");
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    const CliResult run = obsync("sync --all --dest s3://" + k_bucket + "/all --json");
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(probe.get("all/Work/Hello.md").body, "# Hello\n");
    EXPECT_EQ(probe.get("all/Private/Hello.md").body, "# Hello\n");
}

TEST_F(CliAwsTest, CredentialsComeFromSecretsManager) {
    start();
    make_corpus();
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    const std::string secret = boost::json::serialize(
        boost::json::object{{"email", "alice@example.com"},
                            {"password", k_account_password},
                            {"vaults", {{"Vault", {{"password", k_vault_password}}}}}});
    probe.create_secret("obsync/credentials", secret);
    const CliResult run =
        obsync("sync Vault --dest s3://" + k_bucket + "/backup --json",
               "OBSYNC_SECRET_ID=obsync/credentials", /*obsidian_credentials=*/false);
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(probe.get("backup/Hello.md").body, "# Hello\n");

    const CliResult missing = obsync("sync Vault --dest s3://" + k_bucket + "/backup",
                                     "OBSYNC_SECRET_ID=obsync/nope", false);
    EXPECT_EQ(missing.code, 4);
    EXPECT_NE(missing.err.find("obsync/nope"), std::string::npos) << missing.err;
}

// moto 5.2's verifier also recomputes signatures wrongly when a query value holds '/' (boto3's
// ListObjectsV2 with Prefix="a/" is refused too), so the checked flow backs up to the bucket root.
TEST_F(CliAwsTest, WholeFlowWithMotoSignatureChecksOn) {
    start();
    make_corpus(/*ascii_only=*/true);
    seed();
    {
        AwsProbe setup;
        setup.create_bucket(k_bucket);
        setup.create_secret("obsync/credentials",
                            boost::json::serialize(boost::json::object{
                                {"email", "alice@example.com"},
                                {"password", k_account_password},
                                {"vaults", {{"Vault", {{"password", k_vault_password}}}}}}));
    }
    keys = moto().enable_auth({"s3:*", "dynamodb:*", "secretsmanager:GetSecretValue"});
    init_table();
    const CliResult run = obsync(s3_sync("", ""), "OBSYNC_SECRET_ID=obsync/credentials", false);
    ASSERT_EQ(run.code, 0) << run.err;
    AwsProbe probe(keys);
    expect_s3_mirrors_corpus(probe, "");

    // The same flow with a wrong secret key is refused by moto's signature check.
    test::AwsTestKeys good = keys;
    keys.secret_access_key = "wrong" + good.secret_access_key;
    const CliResult refused = obsync(s3_sync("", ""), "OBSYNC_SECRET_ID=obsync/credentials", false);
    EXPECT_EQ(refused.code, 4) << refused.err;
    EXPECT_NE(refused.err.find("SignatureDoesNotMatch"), std::string::npos) << refused.err;
}

TEST_F(CliAwsTest, AccessDeniedAndMissingBucketFailClearlyAndKeepTheCursor) {
    start();
    make_corpus();
    seed();
    const CliResult missing = obsync("sync Vault --dest s3://no-such-bucket/x --json");
    EXPECT_EQ(missing.code, 4) << missing.err;
    EXPECT_NE(missing.err.find("no-such-bucket"), std::string::npos) << missing.err;
    EXPECT_NE(missing.err.find("NoSuchBucket"), std::string::npos) << missing.err;

    {
        AwsProbe setup;
        setup.create_bucket(k_bucket);
    }
    keys = moto().enable_auth({"dynamodb:*"});  // no S3 permission at all
    const CliResult denied = obsync("sync Vault --dest s3://" + k_bucket + " --json");
    EXPECT_EQ(denied.code, 4) << denied.err;
    EXPECT_NE(denied.err.find("AccessDenied"), std::string::npos) << denied.err;

    const CliResult status = obsync("status --json");
    ASSERT_EQ(status.code, 0) << status.err;
    const auto listing = status.json();
    // The destination is refused before the state is touched: whatever the state shows, it
    // claims nothing was backed up.
    for (const auto& backup : listing.at("backups").as_array()) {
        EXPECT_EQ(backup.at("cursor").as_int64(), 0);
        EXPECT_EQ(backup.at("files").as_int64(), 0);
        EXPECT_NE(backup.as_object().if_contains("last_result")
                      ? backup.at("last_result").as_string()
                      : "failed",
                  "ok");
    }
}

TEST_F(CliAwsTest, TwoRunsRaceForOneVaultExactlyOneSyncs) {
    start({"--latency-ms", "20"});
    make_corpus(false, 150);
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();
    ASSERT_EQ(obsync("login").code, 0);  // one saved token, so the two runs do not race on it
    const std::string command = "env -u AWS_SESSION_TOKEN " + env() + " " + OBSYNC_BINARY + " " +
                                s3_sync("--concurrency 1");
    const auto results = test::run_shell_concurrently({command, command}, work.path());
    EXPECT_TRUE((results[0].code == 0) != (results[1].code == 0))
        << results[0].code << " " << results[1].code;
    const std::string& loser_err = results[0].code == 0 ? results[1].err : results[0].err;
    EXPECT_NE(loser_err.find("by another run"), std::string::npos) << loser_err;
    expect_s3_mirrors_corpus(probe);
}

// Each run keeps its state in its own table, so their leases never meet: only the lock object
// under the prefix keeps them apart. Without it, one aborted the other's multipart upload and a
// slower run overwrote a newer version with an older one.
TEST_F(CliAwsTest, TwoRunsWithTwoStateTablesOnOnePrefixExactlyOneSyncs) {
    start({"--latency-ms", "20"});
    make_corpus(false, 150);
    std::mt19937_64 rng(11);
    write_file(corpus / "Attachments/video.mp4", as_chars(test::random_bytes(rng, 17 << 20)));
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();
    init_table("obsync-state-2");
    ASSERT_EQ(obsync("login").code, 0);
    const std::string base = "env -u AWS_SESSION_TOKEN " + env() + " " + OBSYNC_BINARY +
                             " sync Vault --dest s3://" + k_bucket + "/backup --concurrency 1 ";
    const auto results = test::run_shell_concurrently(
        {base + "--state dynamodb://" + k_table, base + "--state dynamodb://obsync-state-2"},
        work.path());
    ASSERT_TRUE((results[0].code == 0) != (results[1].code == 0))
        << results[0].err << results[1].err;
    const test::CliResult& loser = results[0].code == 0 ? results[1] : results[0];
    EXPECT_EQ(loser.code, 1);
    EXPECT_NE(loser.err.find("is being written by another run"), std::string::npos) << loser.err;
    expect_s3_mirrors_corpus(probe);
    EXPECT_EQ(probe.keys("backup", true).size(), probe.keys("backup").size() + 1)
        << "the lock is released and no upload record is left; only the marker stays";
    // The loser's table has nothing yet; its own run now finds every object in place.
    const std::string loser_table = results[0].code == 0 ? "obsync-state-2" : k_table;
    const CliResult rerun = obsync("sync Vault --dest s3://" + k_bucket +
                                   "/backup --json --state dynamodb://" + loser_table);
    ASSERT_EQ(rerun.code, 0) << rerun.err;
    EXPECT_EQ(rerun.json().at("vaults").as_array().at(0).at("bytes").as_int64(), 0);
    expect_s3_mirrors_corpus(probe);
}

// --full removes what the snapshot lacks, but only what this backup wrote: another program's
// objects at the bucket root stay; an object this backup marked as its own (its state lost) goes.
TEST_F(CliAwsTest, FullAtTheBucketRootRemovesOnlyWhatThisBackupWrote) {
    start();
    make_corpus();
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();
    probe.put("other-app/data.json", "{}", {{"content-type", "application/json"}});
    probe.put("stray.md", "from an older run", {{"x-amz-meta-vault-id", vault_id()}});
    probe.put("lookalike.md", "same metadata, other vault",
              {{"x-amz-meta-vault-id", "another-vault-id"}});
    const CliResult full = obsync(s3_sync("--full", ""));
    ASSERT_EQ(full.code, 0) << full.err;
    const auto summary = full.json().at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(summary.at("foreign_kept").as_int64(), 2);
    const auto all = probe.keys("");
    EXPECT_NE(std::find(all.begin(), all.end(), "other-app/data.json"), all.end());
    EXPECT_NE(std::find(all.begin(), all.end(), "lookalike.md"), all.end());
    EXPECT_EQ(std::find(all.begin(), all.end(), "stray.md"), all.end());
    EXPECT_EQ(probe.get("Hello.md").body, "# Hello\n");
}

TEST_F(CliAwsTest, DestinationsInsideOrAroundAnotherBackupAreRefused) {
    start();
    make_corpus();
    seed();
    seed("Other");
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();
    ASSERT_EQ(obsync(s3_sync("", "/outer")).code, 0);
    const auto before = probe.keys("outer", true);

    const CliResult inside = obsync(s3_sync("", "/outer/inner"));
    EXPECT_EQ(inside.code, 4) << inside.err;
    EXPECT_NE(inside.err.find("lies inside the backup at s3://" + k_bucket + "/outer"),
              std::string::npos)
        << inside.err;
    const CliResult around = obsync(s3_sync("", ""));
    EXPECT_EQ(around.code, 4) << around.err;
    EXPECT_NE(around.err.find("contains another backup"), std::string::npos) << around.err;
    const CliResult shared =
        obsync("sync Other --dest s3://" + k_bucket + "/outer --state dynamodb://" + k_table);
    EXPECT_EQ(shared.code, 4) << shared.err;
    EXPECT_NE(shared.err.find("holds the backup of"), std::string::npos) << shared.err;
    // Nothing of the refused runs landed, and the backup is untouched.
    EXPECT_EQ(probe.keys("outer", true), before);
    EXPECT_EQ(probe.keys("", true).size(), before.size());
}

TEST_F(CliAwsTest, KillNineThenRerunResumesFromDynamoDbState) {
    start({"--latency-ms", "25"});
    make_corpus(false, 400);
    seed();
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();
    const std::string command = "exec env -u AWS_SESSION_TOKEN " + env() + " " + OBSYNC_BINARY +
                                " " + s3_sync("--concurrency 1") + " >/dev/null 2>&1";
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command.c_str(), nullptr);
        _exit(127);
    }
    std::this_thread::sleep_for(4000ms);  // past at least one 2 s checkpoint, before the end
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    // The bucket and the table are shared by hosts, so the dead run's lock and lease hold until
    // they expire, whatever its pid (docs/sync-engine.md).
    const CliResult early = obsync(s3_sync());
    EXPECT_EQ(early.code, 1) << early.err;
    EXPECT_NE(early.err.find("is being written by another run"), std::string::npos) << early.err;
    // Let them expire (120 s) without waiting: the lock's and the lease's expiry put in the past.
    const std::string lock = "backup/.obsync/lock";
    const std::string owner = probe.get(lock).headers["x-amz-meta-owner"];
    probe.put(lock, "", {{"x-amz-meta-owner", owner}, {"x-amz-meta-expires-ms", "1"}});
    const auto items = probe.dynamodb("Scan", {{"TableName", k_table}});
    for (const auto& item : items.at("Items").as_array()) {
        const auto& sort_key = item.at("item").at("S").as_string();
        if (sort_key.starts_with("LEASE#")) {
            probe.dynamodb("UpdateItem",
                           {{"TableName", k_table},
                            {"Key", {{"vault_id", item.at("vault_id")}, {"item", item.at("item")}}},
                            {"UpdateExpression", "SET expires_ms = :past"},
                            {"ExpressionAttributeValues", {{":past", {{"N", "1"}}}}}});
        }
    }
    const CliResult rerun = obsync(s3_sync());
    ASSERT_EQ(rerun.code, 0) << rerun.err;
    const auto summary = rerun.json().at("vaults").as_array().at(0).as_object();
    EXPECT_GT(summary.at("unchanged").as_int64(), 0) << "the checkpoint kept nothing";
    EXPECT_LT(summary.at("created").as_int64() + summary.at("updated").as_int64(), 406);
    expect_s3_mirrors_corpus(probe);
}

}  // namespace
}  // namespace obsync::cli_aws
