#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "archive/reader.hpp"
#include "sync/sink.hpp"
#include "sync/state_store.hpp"

namespace obsync::aws {
class AwsClient;
}

namespace obsync::crypto {
class VaultCipher;
}

namespace obsync::backup {

// Where backups go and where their state lives, as the command line names them.
struct StorageOptions {
    std::string dest;                   // a folder, or s3://BUCKET[/PREFIX]
    std::optional<std::string> state;   // sqlite://PATH | dynamodb://TABLE; default local SQLite
    std::string sse;                    // "", "AES256" or "aws:kms" (S3 only)
    std::string sse_kms_key_id;         // with aws:kms
    std::string sync_time;              // ISO-8601 UTC of the run, stored with every S3 object
    std::filesystem::path sqlite_file;  // the local state when `state` names none
};

// Opens sinks and state stores for one run. The AWS client is `shared` (a warm Lambda function
// keeps one for all its invocations), or made on first use, so a local backup never needs AWS
// settings. Throws Error{config} on malformed options.
class Storage {
public:
    Storage(boost::asio::io_context& io, StorageOptions options, aws::AwsClient* shared = nullptr);
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    ~Storage();

    // The destination of one vault: DEST itself, or DEST/<folder> with --all; `encrypted`, in
    // the encrypted-at-rest layout (sink/encrypted_sink.hpp).
    std::unique_ptr<sync::Sink> open_sink(const std::string& folder, bool encrypted = false);
    // The destination of one vault as the state names it (Sink::describe()): opens nothing.
    std::string destination(const std::string& folder);
    // Whether DEST is an S3 prefix (else a local folder).
    bool s3_destination() const;
    // The state of one backup. A dry run gets a store that reads (without creating anything) and
    // refuses every write.
    std::unique_ptr<sync::StateStore> open_state(const sync::StateScope& scope, bool dry_run);

    // The backup at DEST (or DEST/<folder>) read back, now or as it was at `at_ms` (S3 with
    // versioning only). A local folder's reader knows the hashes its saved state recorded (found
    // by the vault id of the folder's marker), or at the root of a `sync --all` destination those
    // of each vault's backup below it; without a marker or a state it knows none.
    boost::asio::awaitable<std::unique_ptr<archive::BackupReader>> open_reader(
        std::string folder, std::optional<std::int64_t> at_ms);

    // An encrypted backup (sync --encrypted; its marker says so) read through `raw`, the reader
    // open_reader gave for it, as the vault it holds: with `cipher` (the vault's key) under the
    // plaintext paths, without (nullptr) under the encoded ones (archive/encrypted_reader.hpp).
    std::unique_ptr<archive::BackupReader> encrypted_reader(
        std::unique_ptr<archive::BackupReader> raw, const crypto::VaultCipher* cipher) const;

    // Whether the state lives in the local SQLite database (`status` and `reset` read it).
    bool local_state() const noexcept { return !m_dynamodb_table.has_value(); }

    // Creates the DynamoDB state table if it is missing (obsync state-init).
    void init_state_table();

    aws::AwsClient& aws();

private:
    // Adds the hashes the saved state of the local backup at `root` recorded (found by the vault
    // id of its marker), each path prefixed with `prefix`. Nothing without a marker or a state.
    boost::asio::awaitable<void> add_recorded_hashes(const std::filesystem::path& root,
                                                     const std::string& prefix,
                                                     std::map<std::string, std::string>& hashes);

    boost::asio::io_context& m_io;
    StorageOptions m_options;
    std::filesystem::path m_sqlite_file;
    std::optional<std::string> m_dynamodb_table;
    aws::AwsClient* m_shared_aws = nullptr;
    std::unique_ptr<aws::AwsClient> m_aws;
};

}  // namespace obsync::backup
