// obsync restore and verify of encrypted-at-rest backups end to end (issue #15): what
// `sync --encrypted` kept of obsync-fake-server's vault in moto's S3 (a versioned bucket for
// --at) or a local folder comes back as the vault with the password, every GCM tag and hash
// checked; verify compares it with the server without the password, and decrypts with it.
#include <chrono>
#include <set>
#include <thread>

#include <sys/stat.h>

#include "backup/account.hpp"
#include "backup/storage.hpp"
#include "backup/token_cache.hpp"
#include "backup/verify.hpp"
#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "support/cli_restore_fixture.hpp"
#include "support/verify_json.hpp"
#include "util/clock.hpp"

namespace obsync::cli_aws {
namespace {

using namespace std::chrono_literals;

const std::string k_wrong_password = "wrong horse battery";

class CliEncryptedRestoreTest : public CliRestoreFixture {
public:
    // Longer than 16 bytes, like real prefixes (see cli_restore_test.cpp).
    const std::string prefix = "obsidian/encrypted-vault-backups";
    const std::string backup = "s3://" + k_bucket + "/" + prefix;

    // Every test backs up the fixture's corpus.
    void SetUp() override {
        CliRestoreFixture::SetUp();
        start();
        make_corpus();
        seed();
    }

    // The account's credentials and no vault password.
    std::string account_only() const {
        return "OBSIDIAN_EMAIL=alice@example.com OBSIDIAN_PASSWORD=" +
               shell_quote(k_account_password);
    }

    void sync_encrypted(const std::string& dest) {
        const CliResult run = obsync("sync Vault --encrypted --dest " + dest + " --json");
        ASSERT_EQ(run.code, 0) << run.err;
    }

    // The vault's key, from the password and the salt the manifest records.
    static crypto::VaultCipher cipher_of(const std::string& manifest) {
        const boost::json::object doc = boost::json::parse(manifest).as_object();
        const auto& encryption = doc.at("encryption").as_object();
        return crypto::VaultCipher::from_password(
            k_vault_password, encryption.at("salt").as_string(), crypto::EncryptionVersion::v3);
    }

    std::string entry_key(const crypto::VaultCipher& c, const std::string& path) const {
        return prefix + "/e/" + crypto::sha256_hex(as_bytes(c.encode(path)));
    }

    CliResult restore(const std::string& args, const std::string& extra_env = "",
                      bool obsidian_credentials = true) {
        return obsync("restore " + args, extra_env, obsidian_credentials);
    }
};

TEST_F(CliEncryptedRestoreTest, RestoresTheLatestBackupAndAnEarlierMomentWithTheirMtimes) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    probe.enable_versioning(k_bucket);

    sync_encrypted(backup);
    const fs::path first = keep("first");
    const std::string at_first = moment();

    inject("Hello.md", "# Hello again, changed\n");
    inject("Later/new.md", "created after the first backup");
    remove("Notes/n1.md");
    sync_encrypted(backup);
    const fs::path second = keep("second");

    const crypto::VaultCipher c = cipher_of(probe.get(prefix + "/.obsync/backup.json").body);

    // As it was at the first moment: the vault of then, decrypted.
    const fs::path then = work.path() / "then";
    const CliResult earlier = restore("--from " + backup + " --to " + shell_quote(then.string()) +
                                      " --at " + at_first + " --json");
    ASSERT_EQ(earlier.code, 0) << earlier.err;
    EXPECT_EQ(tree_of(then), tree_of(first));
    EXPECT_EQ(earlier.json().at("unverified").as_int64(), 0) << earlier.out;

    // Now, with the password on the command line rather than in the environment.
    const fs::path now = work.path() / "now";
    const CliResult latest = restore("--from " + backup + " --to " + shell_quote(now.string()) +
                                         " --password " + shell_quote(k_vault_password) + " --json",
                                     account_only(), false);
    ASSERT_EQ(latest.code, 0) << latest.err;
    EXPECT_EQ(tree_of(now), tree_of(second));
    const boost::json::object summary = latest.json();
    EXPECT_EQ(summary.at("unverified").as_int64(), 0);
    EXPECT_TRUE(summary.at("skipped").as_array().empty()) << latest.out;
    EXPECT_TRUE(summary.at("failures").as_array().empty()) << latest.out;
    for (const auto& [path, content] : tree_of(now)) {
        if (content) {
            const S3Object object = probe.get(entry_key(c, path));
            EXPECT_EQ(std::to_string(mtime_ms(now / path)), object.headers.at("x-amz-meta-mtime"))
                << path;
        }
    }

    // A rerun finds everything there: nothing downloaded again.
    const CliResult again =
        restore("--from " + backup + " --to " + shell_quote(now.string()) + " --json");
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_EQ(again.json().at("written").as_int64(), 0);

    // One file's history, under its vault path.
    const CliResult versions = restore("--from " + backup + " --list-versions Hello.md --json");
    ASSERT_EQ(versions.code, 0) << versions.err;
    const boost::json::object listed = versions.json();
    const auto& list = listed.at("versions").as_array();
    ASSERT_EQ(list.size(), 2U) << versions.out;
    EXPECT_EQ(list[0].at("content_hash").as_string(),
              crypto::sha256_hex(as_bytes("# Hello again, changed\n")));
    EXPECT_EQ(list[0].at("size").as_int64(), 23);
    EXPECT_EQ(list[1].at("content_hash").as_string(),
              crypto::sha256_hex(as_bytes(read_file(first / "Hello.md"))));
    EXPECT_EQ(restore("--from " + backup + " --list-versions Nope.md").code, 3);
}

TEST_F(CliEncryptedRestoreTest, AWrongOrMissingPasswordWritesNothing) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    sync_encrypted(backup);
    const fs::path out = work.path() / "out";

    const CliResult wrong = restore("--from " + backup + " --to " + out.string() + " --password " +
                                    shell_quote(k_wrong_password));
    EXPECT_EQ(wrong.code, 2) << wrong.err;
    EXPECT_NE(wrong.err.find("the password does not open"), std::string::npos) << wrong.err;
    EXPECT_EQ(wrong.err.find(k_wrong_password), std::string::npos) << wrong.err;
    EXPECT_EQ(wrong.out.find(k_wrong_password), std::string::npos) << wrong.out;
    EXPECT_FALSE(fs::exists(out));

    const CliResult wrong_json =
        restore("--from " + backup + " --to " + out.string() + " --dry-run --json --password " +
                shell_quote(k_wrong_password));
    EXPECT_EQ(wrong_json.code, 2);
    EXPECT_EQ(wrong_json.json().at("kind").as_string(), "auth");
    EXPECT_EQ(wrong_json.out.find(k_wrong_password), std::string::npos) << wrong_json.out;

    const CliResult none = restore("--from " + backup + " --to " + out.string(), "", false);
    EXPECT_EQ(none.code, 2) << none.err;
    EXPECT_NE(none.err.find("--password"), std::string::npos) << none.err;
    EXPECT_FALSE(fs::exists(out));
}

TEST_F(CliEncryptedRestoreTest, ALocalEncryptedBackupRestoresAndPathsArePlaintext) {
    const fs::path local = work.path() / "local-backup";
    sync_encrypted(local.string());

    const fs::path out = work.path() / "out";
    const CliResult run = restore("--from " + local.string() + " --to " + out.string() + " --json");
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(run.json().at("unverified").as_int64(), 0);
    EXPECT_EQ(tree_of(out), tree_of(corpus));
    const crypto::VaultCipher c = cipher_of(read_file(local / ".obsync/backup.json"));
    const fs::path sidecar =
        local / "e" / (crypto::sha256_hex(as_bytes(c.encode("Hello.md"))) + ".json");
    EXPECT_EQ(mtime_ms(out / "Hello.md"),
              boost::json::parse(read_file(sidecar)).at("mtime").as_int64());

    // --path names vault paths, as in a plaintext backup; --dry-run writes nothing.
    const fs::path part = work.path() / "part";
    const CliResult plan = restore("--from " + local.string() + " --to " + part.string() +
                                   " --path Notes/ --path Hello.md --dry-run --json");
    ASSERT_EQ(plan.code, 0) << plan.err;
    EXPECT_FALSE(fs::exists(part));
    std::set<std::string> planned;
    const boost::json::object planned_json = plan.json();
    for (const auto& step : planned_json.at("plan").as_array()) {
        planned.insert(std::string(step.at("path").as_string()));
    }
    std::set<std::string> wanted;
    for (const auto& [path, content] : tree_of(corpus)) {
        if (path == "Hello.md" || path == "Notes" || path.starts_with("Notes/")) {
            wanted.insert(path);
        }
    }
    EXPECT_EQ(planned, wanted);
    const CliResult some = restore("--from " + local.string() + " --to " + part.string() +
                                   " --path Notes/ --path Hello.md --json");
    ASSERT_EQ(some.code, 0) << some.err;
    EXPECT_EQ(tree_of(part).size(), wanted.size());
    EXPECT_EQ(restore("--from " + local.string() + " --to " + part.string() + " --path Nope").code,
              3);

    // A plaintext backup takes no password: one given is said to be unused, and harmless.
    const fs::path plain = work.path() / "plain-backup";
    ASSERT_EQ(obsync("sync Vault --dest " + plain.string()).code, 0);
    const fs::path plain_out = work.path() / "plain-out";
    const CliResult ignored = restore("--from " + plain.string() + " --to " + plain_out.string() +
                                      " --password " + shell_quote(k_wrong_password));
    ASSERT_EQ(ignored.code, 0) << ignored.err;
    EXPECT_NE(ignored.err.find("--password is not used"), std::string::npos) << ignored.err;
    EXPECT_EQ(tree_of(plain_out), tree_of(corpus));

    // The root of a `sync --all` destination with an encrypted backup below it: refused, never
    // restored as blobs.
    const fs::path all = work.path() / "all";
    ASSERT_EQ(obsync("sync --all --encrypted --dest " + all.string()).code, 0);
    const CliResult root =
        restore("--from " + all.string() + " --to " + (work.path() / "root-out").string());
    EXPECT_EQ(root.code, 4) << root.err;
    EXPECT_NE(root.err.find("is an encrypted backup"), std::string::npos) << root.err;
    EXPECT_FALSE(fs::exists(work.path() / "root-out"));
}

TEST_F(CliEncryptedRestoreTest, ATamperedObjectIsRefusedByRestoreAndFoundByVerifyDeep) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    sync_encrypted(backup);
    const crypto::VaultCipher c = cipher_of(probe.get(prefix + "/.obsync/backup.json").body);

    // One byte of a body flipped, its metadata kept.
    const std::string key = entry_key(c, "Notes/n2.md");
    S3Object original = probe.get(key);
    net::Headers metadata;
    for (const auto& [name, value] : original.headers) {
        if (name.starts_with("x-amz-meta-")) {
            metadata.emplace_back(name, value);
        }
    }
    std::string flipped = original.body;
    flipped[20] = static_cast<char>(flipped[20] ^ 0x40);
    probe.put(key, flipped, metadata);

    const fs::path out = work.path() / "out";
    const CliResult tampered = restore("--from " + backup + " --to " + out.string() + " --json");
    EXPECT_EQ(tampered.code, 1) << tampered.err;
    const boost::json::object report = tampered.json();
    const auto& failures = report.at("failures").as_array();
    ASSERT_EQ(failures.size(), 1U) << tampered.out;
    EXPECT_EQ(failures[0].at("path").as_string(), "Notes/n2.md");
    EXPECT_EQ(failures[0].at("kind").as_string(), "crypto");
    EXPECT_FALSE(fs::exists(out / "Notes/n2.md"));
    EXPECT_EQ(read_file(out / "Notes/n3.md"), read_file(corpus / "Notes/n3.md"));
    EXPECT_EQ(read_file(out / "Attachments/photo.png"),
              read_file(corpus / "Attachments/photo.png"));

    // Verify without the password cannot see it (same size, same recorded hash)...
    const std::string verify = "verify Vault --dest " + backup + " --json";
    const CliResult shallow = obsync(verify, account_only(), false);
    EXPECT_EQ(shallow.code, 0) << shallow.err;
    // ... --deep can, and says it needs the password...
    const CliResult keyless = obsync(verify + " --deep", account_only(), false);
    EXPECT_EQ(keyless.code, 2) << keyless.err;
    const boost::json::object refused = test::verified_vault(keyless);
    EXPECT_NE(
        refused.at("error").as_string().find("--deep decrypts its files and needs the password"),
        std::string::npos)
        << keyless.out;
    // ... and with it decrypts every file: the tag fails, reported under the vault path.
    const CliResult deep = obsync(verify + " --deep --password " + shell_quote(k_vault_password),
                                  account_only(), false);
    EXPECT_EQ(deep.code, 1) << deep.err;
    const auto vault = test::verified_vault(deep);
    EXPECT_EQ(test::drift_of(vault), (std::set<std::string>{"corrupt Notes/n2.md"})) << deep.out;
    EXPECT_EQ(vault.at("checked_deep").as_int64(), vault.at("files").as_int64());
}

TEST_F(CliEncryptedRestoreTest, VerifyWithoutThePasswordFindsMissingAndStaleEntries) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    sync_encrypted(backup);
    const crypto::VaultCipher c = cipher_of(probe.get(prefix + "/.obsync/backup.json").body);
    const std::string verify = "verify Vault --dest " + backup + " --json";

    const CliResult clean = obsync(verify, account_only(), false);
    ASSERT_EQ(clean.code, 0) << clean.err;
    const auto fresh = test::verified_vault(clean);
    EXPECT_TRUE(fresh.at("drift").as_array().empty()) << clean.out;
    EXPECT_EQ(fresh.at("files").as_int64(), 11);

    // An entry deleted behind the backup's back, and a note the server changed since.
    aws::AwsRequest gone;
    gone.operation = "DeleteObject";
    gone.method = "DELETE";
    gone.path = "/" + k_bucket + "/" + entry_key(c, "Notes/n0.md");
    probe.call(gone);
    inject("Hello.md", "edited since the backup");

    const CliResult found = obsync(verify, account_only(), false);
    EXPECT_EQ(found.code, 1) << found.err;
    const auto vault = test::verified_vault(found);
    // Without the key, only the encoded paths are known.
    EXPECT_EQ(test::drift_of(vault), (std::set<std::string>{"missing " + c.encode("Notes/n0.md"),
                                                            "stale " + c.encode("Hello.md")}))
        << found.out;
    for (const auto& d : vault.at("drift").as_array()) {
        EXPECT_EQ(d.at("pending").as_bool(), d.at("kind").as_string() == "stale") << found.out;
    }
    // With the password, the same drift under the vault's paths.
    const CliResult named = obsync(verify + " --deep", "", true);
    EXPECT_EQ(named.code, 1) << named.err;
    EXPECT_EQ(test::drift_of(test::verified_vault(named)),
              (std::set<std::string>{"missing Notes/n0.md", "stale Hello.md"}))
        << named.out;
    // No pattern can match an encoded path.
    EXPECT_EQ(obsync(verify + " --exclude '*.md'", account_only(), false).code, 4);
}

TEST_F(CliEncryptedRestoreTest, AScheduledDeepShareWithoutThePasswordIsSkipped) {
    AwsProbe probe;  // exports moto's AWS_* for the storage below
    probe.create_bucket(k_bucket);
    sync_encrypted(backup);

    // The service as the Lambda function calls it, with the account and no vault password: a
    // deep share it cannot decrypt is skipped, the rest checked.
    boost::asio::io_context io;
    net::HttpClient http(io.get_executor());
    backup::Credentials credentials;
    credentials.email = "alice@example.com";
    credentials.password = k_account_password;
    backup::FixedCredentials source(credentials);
    backup::MemoryTokenCache tokens;
    backup::Account account(io, http, server->api_url(), source, tokens);
    backup::KeyCache key_cache;
    backup::StorageOptions options;
    options.dest = backup;
    options.sqlite_file = work.path() / "verify-state.db";
    backup::Storage storage(io, options);
    backup::VerifyService service(io, http, account, key_cache);
    backup::VerifyRequest request;
    request.vault = "Vault";
    request.deep_percent = 100;
    const backup::VerifyReport skipped = service.run(request, storage);
    ASSERT_EQ(skipped.vaults.size(), 1U);
    const backup::VaultVerification& v = skipped.vaults[0];
    EXPECT_FALSE(v.error) << v.error->message;
    EXPECT_TRUE(v.ok());
    EXPECT_EQ(v.files, 11);
    EXPECT_EQ(v.checked_deep, 0);

    request.deep_requires_password = true;  // the command line's --deep
    const backup::VerifyReport refused = service.run(request, storage);
    ASSERT_TRUE(refused.vaults.at(0).error);
    EXPECT_EQ(refused.vaults[0].error->kind, ErrorKind::auth);
}

}  // namespace
}  // namespace obsync::cli_aws
