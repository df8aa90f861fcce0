// obsync sync --encrypted end to end (issue #15): the server's ciphertext kept in moto's S3 (and
// DynamoDB) or a local folder, with no plaintext name or content anywhere in the backup.
#include <set>

#include "crypto/vault_cipher.hpp"
#include "support/cli_aws_fixture.hpp"

namespace obsync::cli_aws {
namespace {

// Names and contents no ciphertext, hex or hash can contain by chance.
const std::vector<std::string> k_secret_names = {"Zanzibar", "Quetzalcoatl", "Marmalade",
                                                 "treasure-map", "canvasboard"};
const std::vector<std::string> k_secret_contents = {"under the old oak tree", "PLUTONIUM-RECIPE",
                                                    "xylophone sonata"};

class CliEncryptedTest : public CliAwsTest {
public:
    const std::string prefix = "obsidian/encrypted-backups";
    const std::string backup = "s3://" + k_bucket + "/" + prefix;

    // Every test backs up the same vault of distinctive names and contents.
    void SetUp() override {
        CliAwsTest::SetUp();
        start();
        make_secret_corpus();
        seed();
    }

    void make_secret_corpus() {
        write_file(corpus / "Zanzibar/Quetzalcoatl.md", "# Treasure\nunder the old oak tree\n");
        write_file(corpus / "Zanzibar/deeper/Marmalade recipe.md", "PLUTONIUM-RECIPE: 3 oranges");
        write_file(corpus / "treasure-map.canvasboard", R"({"song":"xylophone sonata"})");
        write_file(corpus / "Empty Marmalade.md", "");
        fs::create_directories(corpus / "Quetzalcoatl empty folder");
    }

    // The vault's key, from the password and the salt its manifest records (the keyhash the
    // manifest records proves that salt right: see the first test).
    static crypto::VaultCipher cipher_of(const boost::json::object& manifest) {
        const auto& encryption = manifest.at("encryption").as_object();
        return crypto::VaultCipher::from_password(
            k_vault_password, encryption.at("salt").as_string(), crypto::EncryptionVersion::v3);
    }

    static boost::json::object parse(const std::string& text) {
        return boost::json::parse(text).as_object();
    }

    CliResult sync(const std::string& extra = "") {
        return obsync("sync Vault --encrypted --dest " + backup + " --state dynamodb://" + k_table +
                      " --json " + extra);
    }

    // Fails the test when `text` (a key, a body, a header, a state item) holds any plaintext.
    static void expect_no_plaintext(const std::string& text, const std::string& where) {
        for (const std::string& secret : k_secret_names) {
            EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << where;
        }
        for (const std::string& secret : k_secret_contents) {
            EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << where;
        }
        EXPECT_EQ(text.find(k_vault_password), std::string::npos) << where;
    }

    std::string entry_key(const crypto::VaultCipher& c, const std::string& path) {
        return prefix + "/e/" + crypto::sha256_hex(as_bytes(c.encode(path)));
    }
};

TEST_F(CliEncryptedTest, KeepsTheServersCiphertextAndNoPlaintextAnywhere) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();

    const CliResult first = sync();
    ASSERT_EQ(first.code, 0) << first.err;
    const boost::json::object summary = first.json();
    const auto& vault = summary.at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(vault.at("created").as_int64(), 4) << first.out;  // files; folders are not counted

    // The manifest: vault, layout, version, salt and keyhash; never the password or the key.
    const boost::json::object manifest = parse(probe.get(prefix + "/.obsync/backup.json").body);
    EXPECT_EQ(manifest.at("format").as_int64(), 2);
    EXPECT_EQ(manifest.at("layout").as_string(), "encrypted");
    EXPECT_EQ(manifest.at("vault_name").as_string(), "Vault");
    const auto& encryption = manifest.at("encryption").as_object();
    EXPECT_EQ(encryption.at("version").as_int64(), 3);
    EXPECT_FALSE(encryption.at("managed").as_bool());
    const crypto::VaultCipher c = cipher_of(manifest);
    EXPECT_EQ(encryption.at("keyhash").as_string(), c.keyhash());

    // Every entry of the vault is one flat object named from its encoded path, nothing else.
    std::set<std::string> expected;
    for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
        expected.insert(
            entry_key(c, fs::relative(entry.path(), corpus).string()).substr(prefix.size() + 1));
    }
    const std::vector<std::string> listed = probe.keys(prefix);
    EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), expected);

    // Each object is the server's blob: it decrypts, with the vault's key, to the file; its
    // metadata holds the encoded path and hash, and no extension or plaintext size.
    for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
        const std::string rel = fs::relative(entry.path(), corpus).string();
        S3Object object = probe.get(entry_key(c, rel));
        EXPECT_EQ(object.headers["x-amz-meta-epath"], c.encode(rel)) << rel;
        EXPECT_EQ(object.headers["content-type"], "application/octet-stream") << rel;
        if (entry.is_directory()) {
            EXPECT_EQ(object.headers["x-amz-meta-kind"], "folder") << rel;
            EXPECT_TRUE(object.body.empty()) << rel;
            continue;
        }
        const std::string content = read_file(entry.path());
        EXPECT_EQ(to_string(c.decrypt_content(as_bytes(object.body))), content) << rel;
        EXPECT_EQ(c.decode(object.headers["x-amz-meta-content-hash"]),
                  crypto::sha256_hex(as_bytes(content)))
            << rel;
        EXPECT_EQ(object.body.size(), content.empty() ? 0 : content.size() + 28) << rel;
    }

    // No key, body or metadata anywhere under the prefix holds plaintext (the manifest and lock
    // under .obsync/ included), nor does the state in DynamoDB.
    for (const std::string& key : probe.keys(prefix, true)) {
        expect_no_plaintext(key, "key " + key);
        S3Object object = probe.get(prefix + "/" + key);
        expect_no_plaintext(object.body, "body of " + key);
        for (const auto& [name, value] : object.headers) {
            expect_no_plaintext(name + ": " + value, "header of " + key);
        }
    }
    const auto items = probe.dynamodb("Scan", {{"TableName", k_table}});
    expect_no_plaintext(boost::json::serialize(items), "the DynamoDB state");
    // Nor what the run printed: its JSON summary and its log.
    expect_no_plaintext(first.out + first.err, "the run's output");
    EXPECT_EQ((first.out + first.err).find(c.keyhash()), std::string::npos);
}

TEST_F(CliEncryptedTest, AnIncrementalRunUpdatesAndRemovesEntries) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    init_table();
    ASSERT_EQ(sync().code, 0);
    const crypto::VaultCipher c = cipher_of(parse(probe.get(prefix + "/.obsync/backup.json").body));

    const fs::path file = work.path() / "inject.tmp";
    write_file(file, "moved the treasure");
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "Zanzibar/Quetzalcoatl.md", "--content-file", file.string()});
    server->admin("inject", {"--vault", "Vault", "--password", k_vault_password, "--path",
                             "treasure-map.canvasboard", "--deleted"});
    const CliResult second = sync();
    ASSERT_EQ(second.code, 0) << second.err;
    const boost::json::object second_summary = second.json();
    const auto& vault = second_summary.at("vaults").as_array().at(0).as_object();
    EXPECT_FALSE(vault.at("complete").as_bool());
    EXPECT_EQ(vault.at("updated").as_int64(), 1);
    EXPECT_EQ(vault.at("deleted").as_int64(), 1);

    const S3Object changed = probe.get(entry_key(c, "Zanzibar/Quetzalcoatl.md"));
    EXPECT_EQ(to_string(c.decrypt_content(as_bytes(changed.body))), "moved the treasure");
    const std::vector<std::string> listed = probe.keys(prefix);
    const std::string gone = entry_key(c, "treasure-map.canvasboard").substr(prefix.size() + 1);
    EXPECT_EQ(std::count(listed.begin(), listed.end(), gone), 0);
    EXPECT_EQ(listed.size(), 6U);

    // A complete run over the same objects downloads nothing again: the encoded hashes match.
    const CliResult full = sync("--full");
    ASSERT_EQ(full.code, 0) << full.err;
    const boost::json::object full_summary = full.json();
    const auto& again = full_summary.at("vaults").as_array().at(0).as_object();
    EXPECT_EQ(again.at("created").as_int64() + again.at("updated").as_int64(), 0) << full.out;
    EXPECT_EQ(again.at("deleted").as_int64(), 0);
    EXPECT_EQ(probe.keys(prefix).size(), 6U);
}

TEST_F(CliEncryptedTest, ALocalFolderHoldsOnlyCiphertextAndSidecars) {
    const fs::path dest = work.path() / "local-backup";
    const CliResult run = obsync("sync Vault --encrypted --dest " + dest.string() + " --json");
    ASSERT_EQ(run.code, 0) << run.err;
    const crypto::VaultCipher c = cipher_of(parse(read_file(dest / ".obsync" / "backup.json")));
    int bodies = 0;
    int sidecars = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dest)) {
        const std::string rel = fs::relative(entry.path(), dest).string();
        expect_no_plaintext(rel, "name " + rel);
        if (entry.is_regular_file()) {
            expect_no_plaintext(read_file(entry.path()), "file " + rel);
            (rel.ends_with(".json") ? sidecars : bodies) += rel.starts_with("e/") ? 1 : 0;
        }
    }
    EXPECT_EQ(bodies, 7);  // 4 files and 3 folders, flat under e/
    EXPECT_EQ(sidecars, 7);
    // Nor does the local state database.
    for (const auto& entry : fs::recursive_directory_iterator(work.path() / "state")) {
        if (entry.is_regular_file()) {
            expect_no_plaintext(read_file(entry.path()), entry.path().string());
        }
    }
    const std::string body = read_file(
        dest / "e" / crypto::sha256_hex(as_bytes(c.encode("Zanzibar/deeper/Marmalade recipe.md"))));
    EXPECT_EQ(to_string(c.decrypt_content(as_bytes(body))), "PLUTONIUM-RECIPE: 3 oranges");
}

// The layout is the same for every encryption version and for a managed vault (whose key the
// account holds); the manifest says which, and the blobs decrypt with that version's key.
TEST_F(CliEncryptedTest, VersionZeroAndManagedVaultsKeepTheirOwnCiphertext) {
    const std::string managed_password = "6113761f8929d1c8527f80414030f6df";
    server->seed({"--owner", "alice@example.com", "--vault", "Old", "--password", k_vault_password,
                  "--encryption-version", "0", corpus.string()});
    server->seed({"--owner", "alice@example.com", "--vault", "Team", "--password", managed_password,
                  "--encryption-version", "3", "--managed", corpus.string()});
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    struct Case {
        std::string vault;
        std::string password;
        int version;
        bool managed;
    };
    for (const Case& v :
         {Case{"Old", k_vault_password, 0, false}, Case{"Team", managed_password, 3, true}}) {
        const std::string where = prefix + "-" + v.vault;
        const CliResult run =
            obsync("sync " + v.vault + " --encrypted --dest s3://" + k_bucket + "/" + where);
        ASSERT_EQ(run.code, 0) << v.vault << ": " << run.err;
        const boost::json::object manifest = parse(probe.get(where + "/.obsync/backup.json").body);
        const auto& encryption = manifest.at("encryption").as_object();
        EXPECT_EQ(encryption.at("version").as_int64(), v.version) << v.vault;
        EXPECT_EQ(encryption.at("managed").as_bool(), v.managed) << v.vault;
        const crypto::VaultCipher c =
            crypto::VaultCipher::from_password(v.password, encryption.at("salt").as_string(),
                                               crypto::encryption_version_from_int(v.version));
        EXPECT_EQ(encryption.at("keyhash").as_string(), c.keyhash()) << v.vault;
        const std::string rel = "Zanzibar/deeper/Marmalade recipe.md";
        const S3Object object =
            probe.get(where + "/e/" + crypto::sha256_hex(as_bytes(c.encode(rel))));
        EXPECT_EQ(to_string(c.decrypt_content(as_bytes(object.body))), read_file(corpus / rel))
            << v.vault;
        for (const std::string& key : probe.keys(where, true)) {
            expect_no_plaintext(key + probe.get(where + "/" + key).body, v.vault + " " + key);
        }
    }
}

TEST_F(CliEncryptedTest, OneDestinationKeepsOneLayout) {
    AwsProbe probe;
    probe.create_bucket(k_bucket);
    ASSERT_EQ(obsync("sync Vault --dest " + backup + " --json").code, 0);
    const std::size_t before = probe.keys(prefix).size();
    const CliResult mixed = obsync("sync Vault --encrypted --dest " + backup + " --json");
    EXPECT_EQ(mixed.code, 4) << mixed.err;
    EXPECT_NE(mixed.err.find("plaintext backup"), std::string::npos) << mixed.err;
    EXPECT_EQ(probe.keys(prefix).size(), before);

    const std::string other = "s3://" + k_bucket + "/other";
    ASSERT_EQ(obsync("sync Vault --encrypted --dest " + other + " --json").code, 0);
    const CliResult plain = obsync("sync Vault --dest " + other + " --json");
    EXPECT_EQ(plain.code, 4) << plain.err;
    EXPECT_NE(plain.err.find("--encrypted"), std::string::npos) << plain.err;

    const CliResult excluded =
        obsync("sync Vault --encrypted --exclude '*.md' --dest " + other + " --json");
    EXPECT_EQ(excluded.code, 4) << excluded.err;
}

}  // namespace
}  // namespace obsync::cli_aws
