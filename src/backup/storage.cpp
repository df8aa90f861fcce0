#include "backup/storage.hpp"

#include <filesystem>
#include <map>
#include <system_error>

#include "archive/encrypted_reader.hpp"
#include "archive/readers.hpp"
#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "sink/backup_marker.hpp"
#include "sink/encrypted_sink.hpp"
#include "sink/local_dir.hpp"
#include "sink/s3_sink.hpp"
#include "state/dynamodb_store.hpp"
#include "state/sqlite_store.hpp"
#include "util/error.hpp"
#include "util/run_coro.hpp"

namespace obsync::backup {

namespace asio = boost::asio;

namespace {

bool starts_with(const std::string& text, std::string_view prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

bool is_s3(const std::string& dest) {
    return starts_with(dest, "s3://");
}

// A dry run reads what exists and writes nothing, not even a new empty state.
class DryRunState final : public sync::StateStore {
public:
    explicit DryRunState(std::unique_ptr<sync::StateStore> inner) : m_inner(std::move(inner)) {}

    asio::awaitable<sync::StateSnapshot> load() override {
        if (!m_inner) {
            co_return sync::StateSnapshot{};
        }
        co_return co_await m_inner->load();
    }
    asio::awaitable<void> commit(const sync::Checkpoint&) override { co_return refuse(); }
    asio::awaitable<void> set_vault_name(std::string_view) override { co_return refuse(); }
    asio::awaitable<void> record_run(const sync::RunRecord&) override { co_return refuse(); }
    asio::awaitable<void> reset() override { co_return refuse(); }
    asio::awaitable<bool> acquire_lease(std::string_view, std::chrono::seconds) override {
        co_return true;
    }
    asio::awaitable<void> renew_lease(std::string_view, std::chrono::seconds) override {
        co_return;
    }
    asio::awaitable<void> release_lease(std::string_view) override { co_return; }

private:
    static void refuse() { throw Error(ErrorKind::storage, "a dry run writes no state"); }

    std::unique_ptr<sync::StateStore> m_inner;
};

}  // namespace

Storage::Storage(asio::io_context& io, StorageOptions options, aws::AwsClient* shared)
    : m_io(io), m_options(std::move(options)), m_shared_aws(shared) {
    m_sqlite_file = m_options.sqlite_file;
    if (m_options.state) {
        const std::string& state = *m_options.state;
        if (starts_with(state, "sqlite://")) {
            m_sqlite_file = state.substr(9);
            if (m_sqlite_file.empty()) {
                throw Error(ErrorKind::config, "--state sqlite://PATH needs a file path");
            }
            // The default database's folder is ours to create; a folder the user named and that
            // is missing is more likely a typo than a wish.
            const std::filesystem::path parent = m_sqlite_file.parent_path();
            if (!parent.empty() && !std::filesystem::is_directory(parent)) {
                throw Error(ErrorKind::config, "--state " + state + ": the folder " +
                                                   parent.string() + " does not exist");
            }
        } else if (starts_with(state, "dynamodb://")) {
            m_dynamodb_table = state::parse_dynamodb_url(state);
        } else {
            throw Error(ErrorKind::config,
                        "--state must be sqlite://PATH or dynamodb://TABLE, not \"" + state + "\"");
        }
    }
    if (!m_options.dest.empty() && is_s3(m_options.dest)) {
        try {
            (void)aws::parse_s3_location(m_options.dest);  // a malformed URL fails before any login
        } catch (const Error& e) {
            throw Error(ErrorKind::config, std::string("--dest: ") + e.what());
        }
        if (!m_options.sse.empty() && m_options.sse != "AES256" && m_options.sse != "aws:kms") {
            throw Error(ErrorKind::config, "--sse must be AES256 or aws:kms");
        }
        if (!m_options.sse_kms_key_id.empty() && m_options.sse != "aws:kms") {
            throw Error(ErrorKind::config, "--sse-kms-key-id needs --sse aws:kms");
        }
    } else {
        if (!m_options.sse.empty() || !m_options.sse_kms_key_id.empty()) {
            throw Error(ErrorKind::config, "--sse applies to s3:// destinations only");
        }
        std::error_code ec;
        if (!m_options.dest.empty() && std::filesystem::exists(m_options.dest, ec) &&
            !std::filesystem::is_directory(m_options.dest, ec)) {
            throw Error(ErrorKind::config,
                        "--dest " + m_options.dest + " exists and is not a folder");
        }
    }
}

Storage::~Storage() = default;

aws::AwsClient& Storage::aws() {
    if (m_shared_aws != nullptr) {
        return *m_shared_aws;
    }
    if (!m_aws) {
        m_aws = std::make_unique<aws::AwsClient>(m_io.get_executor(),
                                                 aws::AwsEnvironment::from_environment());
    }
    return *m_aws;
}

std::unique_ptr<sync::Sink> Storage::open_sink(const std::string& folder, bool encrypted) {
    if (!is_s3(m_options.dest)) {
        std::filesystem::path root = m_options.dest;
        if (!folder.empty()) {
            root /= folder;
        }
        auto local = sink::open_local_dir(root);
        return encrypted ? sink::make_encrypted_sink(std::move(local), true) : std::move(local);
    }
    sink::S3SinkOptions options;
    options.location = aws::parse_s3_location(m_options.dest);
    if (!folder.empty()) {
        options.location.prefix =
            options.location.prefix.empty() ? folder : options.location.prefix + "/" + folder;
    }
    options.sse = m_options.sse;
    options.sse_kms_key_id = m_options.sse_kms_key_id;
    options.sync_time = m_options.sync_time;
    auto s3 = sink::open_s3_sink(aws(), options);
    return encrypted ? sink::make_encrypted_sink(std::move(s3), false) : std::move(s3);
}

std::string Storage::destination(const std::string& folder) {
    // A sink is cheap to make and touches nothing until it is claimed; its describe() is the one
    // spelling of a destination, so the state scope of verify is the scope sync wrote.
    return open_sink(folder)->describe();
}

bool Storage::s3_destination() const {
    return is_s3(m_options.dest);
}

asio::awaitable<std::unique_ptr<archive::BackupReader>> Storage::open_reader(
    std::string folder, std::optional<std::int64_t> at_ms) {
    if (is_s3(m_options.dest)) {
        aws::S3Location location = aws::parse_s3_location(m_options.dest);
        if (!folder.empty()) {
            location.prefix = location.prefix.empty() ? folder : location.prefix + "/" + folder;
        }
        co_return archive::open_s3_reader(aws(), std::move(location), at_ms);
    }
    if (at_ms) {
        throw Error(ErrorKind::config,
                    "a local backup folder keeps no earlier versions: --at needs an S3 backup in "
                    "a bucket with versioning");
    }
    std::filesystem::path root = m_options.dest;
    if (!folder.empty()) {
        root /= folder;
    }
    // The backup's own hashes; at the root of a `sync --all` destination, those of each vault's
    // backup one folder below, their paths prefixed with that folder. (Every string argument is
    // named: g++ 12 destroys a temporary inside a co_await expression twice.)
    std::map<std::string, std::string> hashes;
    const std::string top;
    co_await add_recorded_hashes(root, top, hashes);
    std::error_code ec;
    if (hashes.empty() && std::filesystem::is_directory(root, ec)) {
        for (const auto& sub : std::filesystem::directory_iterator(root, ec)) {
            if (sub.is_directory(ec) && !sub.is_symlink(ec)) {
                const std::string below = sub.path().filename().string() + "/";
                co_await add_recorded_hashes(sub.path(), below, hashes);
            }
        }
    }
    co_return archive::open_local_reader(root, std::move(hashes));
}

std::unique_ptr<archive::BackupReader> Storage::encrypted_reader(
    std::unique_ptr<archive::BackupReader> raw, const crypto::VaultCipher* cipher) const {
    return archive::open_encrypted_reader(std::move(raw), cipher,
                                          s3_destination()
                                              ? archive::EncryptedMetadata::object_metadata
                                              : archive::EncryptedMetadata::sidecars);
}

asio::awaitable<void> Storage::add_recorded_hashes(const std::filesystem::path& root,
                                                   const std::string& prefix,
                                                   std::map<std::string, std::string>& hashes) {
    const std::unique_ptr<archive::BackupReader> bare = archive::open_local_reader(root, {});
    const std::optional<std::string> document = co_await bare->marker();
    if (!document) {
        co_return;
    }
    const sink::BackupMarker marker = sink::parse_backup_marker(*document);
    // An encrypted backup's state names encoded paths, no file of the folder: its sidecars
    // keep the hashes (open_encrypted_reader).
    if (marker.vault_id.empty() || marker.encrypted) {
        co_return;
    }
    const std::unique_ptr<sync::StateStore> state =
        open_state(sync::StateScope{marker.vault_id, bare->describe()}, /*dry_run=*/true);
    const sync::StateSnapshot snapshot = co_await state->load();
    for (const sync::FileState& file : snapshot.files) {
        if (!file.folder) {
            hashes.emplace(prefix + file.path, file.hash);
        }
    }
}

std::unique_ptr<sync::StateStore> Storage::open_state(const sync::StateScope& scope, bool dry_run) {
    std::unique_ptr<sync::StateStore> store;
    if (m_dynamodb_table) {
        state::DynamoStateOptions options;
        options.table = *m_dynamodb_table;
        options.scope = scope;
        store = state::open_dynamodb_state(aws(), options);
    } else if (!dry_run) {
        store = state::open_sqlite_state(m_sqlite_file, scope);
    } else {
        // Opening the database would create it: look first.
        for (const auto& existing : state::list_sqlite_scopes(m_sqlite_file)) {
            if (existing.vault_id == scope.vault_id && existing.destination == scope.destination) {
                store = state::open_sqlite_state(m_sqlite_file, scope);
                break;
            }
        }
    }
    if (dry_run) {
        return std::make_unique<DryRunState>(std::move(store));
    }
    return store;
}

void Storage::init_state_table() {
    if (!m_dynamodb_table) {
        throw Error(ErrorKind::config, "state-init needs --state dynamodb://TABLE");
    }
    run_coro(m_io, state::create_dynamodb_state_table(aws(), *m_dynamodb_table));
}

}  // namespace obsync::backup
