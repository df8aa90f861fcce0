// obsync verify of an S3 backup (issue #14): the obsync binary against obsync-fake-server and
// moto_server. A fresh backup verifies clean; an object deleted behind its back is missing, bytes
// tampered with under their metadata are found only by --deep, a file the server changed since
// is stale, an object the server never had is extra; --deep=PERCENT reads that share.
#include <set>

#include <gtest/gtest.h>

#include "support/cli_aws_fixture.hpp"
#include "support/verify_json.hpp"

namespace obsync {
namespace {

using cli_aws::AwsProbe;
using cli_aws::k_bucket;
using cli_aws::k_table;
using cli_aws::k_vault_password;
using test::CliResult;
using test::write_file;

class CliVerifyS3Test : public cli_aws::CliAwsTest {
public:
    static std::string verify(const std::string& extra = "") {
        return "verify Vault --dest s3://" + k_bucket + "/backup --state dynamodb://" + k_table +
               " --json " + extra;
    }

    void backup() {
        start();
        make_corpus(/*ascii_only=*/true);
        seed();
        AwsProbe probe(keys);
        probe.create_bucket(k_bucket);
        init_table();
        const CliResult synced =
            obsync("sync Vault --dest s3://" + k_bucket + "/backup --state dynamodb://" + k_table);
        ASSERT_EQ(synced.code, 0) << synced.err;
    }
};

constexpr std::int64_t k_corpus_files = 11;

TEST_F(CliVerifyS3Test, AFreshBackupVerifiesCleanAndVerifyWritesNothing) {
    backup();
    AwsProbe probe(keys);
    const std::vector<std::string> before = probe.keys("backup", /*with_meta=*/true);

    const CliResult shallow = obsync(verify());
    ASSERT_EQ(shallow.code, 0) << shallow.err;
    const auto vault = test::verified_vault(shallow);
    EXPECT_TRUE(shallow.json().at("ok").as_bool());
    EXPECT_TRUE(vault.at("ok").as_bool());
    EXPECT_TRUE(vault.at("drift").as_array().empty());
    EXPECT_EQ(vault.at("files").as_int64(), k_corpus_files);
    EXPECT_EQ(vault.at("checked_deep").as_int64(), 0);
    EXPECT_EQ(vault.at("heads").as_int64(), k_corpus_files);
    EXPECT_EQ(vault.at("counts").at("missing").as_int64(), 0);

    const CliResult deep = obsync(verify("--deep"));
    ASSERT_EQ(deep.code, 0) << deep.err;
    EXPECT_EQ(test::verified_vault(deep).at("checked_deep").as_int64(), k_corpus_files);
    EXPECT_EQ(test::verified_vault(deep).at("heads").as_int64(), 0);

    // Text output: a summary line, no drift lines.
    const CliResult text =
        obsync("verify Vault --dest s3://" + k_bucket + "/backup --state dynamodb://" + k_table);
    EXPECT_EQ(text.code, 0) << text.err;
    EXPECT_EQ(text.out, "");
    EXPECT_NE(text.err.find("the backup equals the server"), std::string::npos) << text.err;

    // No lock, no marker, no upload record: the prefix is as the sync left it.
    EXPECT_EQ(probe.keys("backup", /*with_meta=*/true), before);
}

TEST_F(CliVerifyS3Test, FindsMissingTamperedStaleAndExtraObjects) {
    backup();
    AwsProbe probe(keys);
    // Deleted behind its back.
    aws::AwsRequest remove;
    remove.operation = "DeleteObject";
    remove.method = "DELETE";
    remove.path = "/" + k_bucket + "/backup/Notes/n0.md";
    probe.call(remove);
    // Other bytes of the same length under the same metadata: only reading them tells.
    cli_aws::S3Object original = probe.get("backup/Notes/n1.md");
    net::Headers metadata;
    for (const auto& [name, value] : original.headers) {
        if (name.starts_with("x-amz-meta-")) {
            metadata.emplace_back(name, value);
        }
    }
    probe.put("backup/Notes/n1.md", std::string(original.body.size(), 'X'), metadata);
    // The server moves on.
    write_file(work.path() / "new.md", "edited since the backup");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Hello.md", "--content-file", (work.path() / "new.md").string()});
    // Something the server never had.
    probe.put("backup/stray.md", "not from the vault");

    const CliResult shallow = obsync(verify());
    EXPECT_EQ(shallow.code, 1) << shallow.err;
    EXPECT_FALSE(shallow.json().at("ok").as_bool());
    const auto found = test::verified_vault(shallow);
    EXPECT_EQ(test::drift_of(found),
              (std::set<std::string>{"missing Notes/n0.md", "stale Hello.md", "extra stray.md"}));
    EXPECT_EQ(found.at("counts").at("corrupt").as_int64(), 0);

    const CliResult deep = obsync(verify("--deep"));
    EXPECT_EQ(deep.code, 1) << deep.err;
    EXPECT_EQ(test::drift_of(test::verified_vault(deep)),
              (std::set<std::string>{"missing Notes/n0.md", "corrupt Notes/n1.md", "stale Hello.md",
                                     "extra stray.md"}));

    // Text: one line per path on stdout.
    const CliResult text = obsync("verify Vault --deep --dest s3://" + k_bucket +
                                  "/backup --state dynamodb://" + k_table);
    EXPECT_EQ(text.code, 1);
    EXPECT_NE(text.out.find("missing  Notes/n0.md  (not in the backup)\n"), std::string::npos)
        << text.out;
    EXPECT_NE(text.out.find("corrupt  Notes/n1.md  (the bytes hash to "), std::string::npos);
    EXPECT_NE(text.err.find("4 path(s) differ (1 missing, 1 extra, 1 stale, 1 corrupt)"),
              std::string::npos)
        << text.err;
}

TEST_F(CliVerifyS3Test, DeepPercentReadsThatShareRoundedUp) {
    backup();
    const CliResult half = obsync(verify("--deep=50"));
    ASSERT_EQ(half.code, 0) << half.err;
    const auto vault = test::verified_vault(half);
    // 11 files: 50 % is 5.5, rounded up to 6 read; the other 5 get a HEAD.
    EXPECT_EQ(vault.at("checked_deep").as_int64(), 6);
    EXPECT_EQ(vault.at("heads").as_int64(), 5);
    const CliResult one = obsync(verify("--deep=1"));
    ASSERT_EQ(one.code, 0) << one.err;
    EXPECT_EQ(test::verified_vault(one).at("checked_deep").as_int64(),
              1);  // 1 % of a small backup: one
}

TEST_F(CliVerifyS3Test, UsageErrorsExitFourBeforeAnySignIn) {
    start();
    for (const std::string& bad : {std::string("--deep=0"), std::string("--deep=101"),
                                   std::string("--deep=half"), std::string("--exclude '['")}) {
        const CliResult result = obsync(verify(bad));
        EXPECT_EQ(result.code, 4) << bad << ": " << result.err;
    }
    EXPECT_EQ(obsync("verify --dest s3://" + k_bucket + "/backup").code, 4);  // no VAULT, no --all
}

TEST_F(CliVerifyS3Test, AnUnknownVaultExitsThree) {
    backup();
    const CliResult result =
        obsync("verify Nope --dest s3://" + k_bucket + "/backup --state dynamodb://" + k_table);
    EXPECT_EQ(result.code, 3) << result.err;
}

}  // namespace
}  // namespace obsync
