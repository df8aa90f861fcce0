#include "backup/verify.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>

#include "archive/encrypted_reader.hpp"
#include "archive/hash_files.hpp"
#include "backup/vault_choice.hpp"
#include "obsidian/api.hpp"
#include "obsidian/sync_session.hpp"
#include "sink/backup_marker.hpp"
#include "sync/deadline.hpp"
#include "sync/path_filter.hpp"
#include "util/error.hpp"
#include "util/parallel.hpp"
#include "util/run_coro.hpp"

namespace obsync::backup {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// How many of `files` a deep share of `percent` reads: rounded up, so that 1 % a day of a small
// backup still reads a file a day.
std::size_t deep_sample_size(std::size_t files, int percent) {
    const auto p = static_cast<std::size_t>(std::clamp(percent, 0, 100));
    return (files * p + 99) / 100;
}

bool past(const std::optional<Clock::time_point>& deadline) {
    return deadline && Clock::now() >= *deadline;
}

// What measuring one backup found besides the entries.
struct Measured {
    std::vector<archive::MeasuredEntry> entries;
    std::int64_t skipped = 0;
};

}  // namespace

void end_by(VerifyRequest& request, Clock::time_point end, milliseconds margin) {
    request.stop_at = end - margin;
    request.cut_at = end - margin / 2;
}

std::int64_t VaultVerification::count(archive::DriftKind kind) const {
    return std::count_if(drift.begin(), drift.end(),
                         [kind](const archive::Drift& d) { return d.kind == kind; });
}

std::int64_t VaultVerification::pending() const {
    return std::count_if(drift.begin(), drift.end(),
                         [](const archive::Drift& d) { return d.pending; });
}

bool VerifyReport::ok() const {
    return !error && std::all_of(vaults.begin(), vaults.end(),
                                 [](const VaultVerification& v) { return v.ok(); });
}

VerifyService::VerifyService(asio::io_context& io, net::HttpClient& http, Account& account,
                             KeyCache& keys)
    : m_io(io), m_http(http), m_account(account), m_keys(keys) {}

VerifyReport VerifyService::run(const VerifyRequest& request, Storage& storage) {
    const auto started = Clock::now();
    VerifyReport report;
    try {
        sync::PathFilter::check_globs(request.excludes);
        VaultChoice choice = choose_vaults(m_account, request.vault);
        for (const obsidian::VaultInfo& vault : choice.chosen) {
            if (past(request.stop_at)) {
                VaultVerification skipped;
                skipped.id = vault.id;
                skipped.name = vault.name;
                skipped.stopped_early = true;
                report.vaults.push_back(std::move(skipped));
                continue;
            }
            const std::string folder =
                request.folder_per_vault ? choice.folders[vault.id] : std::string();
            report.vaults.push_back(verify_vault(vault, choice.token, folder, request, storage));
        }
    } catch (const Error& e) {
        report.error = failure_of(e);
    }
    report.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    return report;
}

VaultVerification VerifyService::verify_vault(const obsidian::VaultInfo& vault,
                                              const std::string& token, const std::string& folder,
                                              const VerifyRequest& request, Storage& storage) {
    const auto started = Clock::now();
    const sync::Deadline deadline(request.stop_at, request.cut_at);
    VaultVerification v;
    v.id = vault.id;
    v.name = vault.name;
    // Not (fully) verified in time: reported without drift.
    const auto stopped = [&]() {
        v.stopped_early = true;
        v.drift.clear();
        v.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
        return v;
    };
    try {
        v.destination = storage.destination(folder);
        const bool s3 = storage.s3_destination();
        // The backup's marker comes first: it names the vault, and the layout decides how the
        // vault is unlocked (an encrypted backup is verified without the password).
        // A local backup never made is an empty one: everything is missing.
        std::unique_ptr<archive::BackupReader> reader;
        std::optional<std::string> marker;
        if (s3 || std::filesystem::is_directory(v.destination)) {
            if (deadline.stopping()) {
                return stopped();
            }
            // A local reader knows the hashes the state recorded (Storage finds the state by
            // the folder's marker; a marker of another vault is refused below).
            // Named: g++ 12 destroys a temporary inside a co_await expression twice.
            const std::optional<std::int64_t> now;
            run_coro(m_io, [&]() -> asio::awaitable<void> {
                reader = co_await storage.open_reader(folder, now);
                marker = co_await reader->marker();
            }());
        }
        const sink::BackupMarker found =
            marker ? sink::parse_backup_marker(*marker) : sink::BackupMarker{};
        if (!found.vault_id.empty() && found.vault_id != vault.id) {
            throw Error(ErrorKind::config, v.destination + " holds the backup of vault " +
                                               found.vault_id + ", not of " + vault.id);
        }
        const bool encrypted = found.encrypted.has_value();
        const crypto::VaultCipher* key = nullptr;  // an encrypted backup's, for --deep
        std::optional<crypto::VaultCipher> keyhash_only;
        if (encrypted) {
            key = unlock_encrypted(vault, token, *found.encrypted, request, v.destination);
            keyhash_only.emplace(crypto::VaultCipher::keyhash_only(
                found.encrypted->keyhash,
                crypto::encryption_version_from_int(found.encrypted->encryption_version)));
        }
        // An encrypted backup is compared in the terms it keeps: a keyhash-only session hands
        // the server's records over with their encoded paths and hashes, as its state has them.
        const crypto::VaultCipher& cipher =
            encrypted ? *keyhash_only
                      : unlock_vault(m_io, m_http, m_account, m_keys, vault, token, false);
        const obsidian::SessionTarget target{vault.host, vault.id, token};
        obsidian::SessionOptions options;
        options.cut_at = deadline.cut_at();  // what is in flight then is abandoned
        // Named: g++ 12 destroys a temporary inside a co_await expression twice.
        const asio::any_io_executor executor = m_io.get_executor();

        // The server's files now: a snapshot, and nothing downloaded.
        if (deadline.stopping()) {
            return stopped();
        }
        obsidian::ChangeSet snapshot;
        try {
            run_coro(m_io, [&]() -> asio::awaitable<void> {
                auto session =
                    co_await obsidian::SyncSession::connect(executor, target, cipher, options);
                snapshot = co_await session->init(0, true);
                co_await session->close();
            }());
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::network && deadline.cut()) {
                return stopped();  // cut_at closed the session
            }
            throw;
        }

        // A dry-run store: reads what exists, creates nothing, refuses every write.
        auto state = storage.open_state(sync::StateScope{vault.id, v.destination}, true);
        sync::StateSnapshot saved;
        run_coro(m_io, [&]() -> asio::awaitable<void> { saved = co_await state->load(); }());

        Measured measured;
        if (reader) {
            if (deadline.stopping()) {
                return stopped();
            }
            if (encrypted) {
                // Listed without the key: encoded paths, blob sizes, encoded hashes.
                reader = storage.encrypted_reader(std::move(reader), nullptr);
            }
            std::vector<archive::ArchivedEntry> listed;
            run_coro(m_io, [&]() -> asio::awaitable<void> { listed = co_await reader->list(); }());
            measured.skipped = static_cast<std::int64_t>(reader->skipped().size());
            if (encrypted && s3) {
                v.heads = static_cast<std::int64_t>(listed.size());  // the listing HEADs each
            }
            for (archive::ArchivedEntry& entry : listed) {
                measured.entries.push_back({std::move(entry), std::nullopt, std::nullopt});
            }
            std::vector<std::size_t> files;
            for (std::size_t i = 0; i < measured.entries.size(); ++i) {
                if (!measured.entries[i].entry.folder) {
                    files.push_back(i);
                }
            }
            v.files = static_cast<std::int64_t>(files.size());
            if (deadline.stopping()) {
                return stopped();
            }
            if (s3 || encrypted) {
                measure_sampled(*reader, measured.entries, files, request, encrypted, key, v);
            } else {
                measure_local(v.destination, measured.entries, files, request, v);
            }
        }
        if (v.stopped_early) {
            return stopped();
        }

        const sync::PathFilter filter(request.excludes);
        archive::DriftInput input;
        input.server = &snapshot.records;
        input.backup = &measured.entries;
        input.state = &saved.files;
        input.refused = &saved.refused;
        input.filter = &filter;
        // An encrypted backup keeps each entry's hash beside it, local or not, and the blobs
        // as the server sizes them.
        input.destination_records_hash = s3 || encrypted;
        input.server_sizes = encrypted;
        archive::DriftResult result = archive::compare(input);

        // Pending drift: the server changed the path after the backup's cursor. Asked only when
        // there is drift to explain and the cursor is not initial (before a first complete
        // backup every record is "after" it). One session takes one init (the server answers a
        // second with an error), so this is a second session; opened after the snapshot, so
        // every change the snapshot shows is among the records it returns.
        if (!result.drift.empty() && !saved.cursor.initial) {
            if (deadline.stopping()) {
                return stopped();  // pending or not is unknown: no alarm on a guess
            }
            obsidian::ChangeSet since;
            try {
                run_coro(m_io, [&]() -> asio::awaitable<void> {
                    auto session =
                        co_await obsidian::SyncSession::connect(executor, target, cipher, options);
                    since = co_await session->init(saved.cursor.version, false);
                    co_await session->close();
                }());
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::network && deadline.cut()) {
                    return stopped();
                }
                throw;
            }
            input.since_backup = &since.records;
            result = archive::compare(input);
        }
        v.drift = std::move(result.drift);
        if (key != nullptr) {
            // With the key, the paths are shown as the vault has them; without, only the
            // encoded ones are known.
            for (archive::Drift& d : v.drift) {
                try {
                    d.path = key->decode(d.path);
                } catch (const Error&) {
                    // not an encoded path the key made: shown as it is
                }
            }
            std::sort(
                v.drift.begin(), v.drift.end(),
                [](const archive::Drift& a, const archive::Drift& b) { return a.path < b.path; });
        }
        v.server_files = result.server_files;
        v.undecryptable = result.undecryptable;
        v.unsafe = result.unsafe;
        v.refused = result.refused;
        v.skipped = measured.skipped;
    } catch (const Error& e) {
        v.error = failure_of(e);
    }
    v.duration = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    return v;
}

void VerifyService::measure_local(const std::string& root,
                                  std::vector<archive::MeasuredEntry>& entries,
                                  const std::vector<std::size_t>& files,
                                  const VerifyRequest& request, VaultVerification& v) {
    // Every file, always: reading a local file costs little, and the folder keeps no hash of its
    // own that could be checked instead.
    std::vector<std::string> paths;
    paths.reserve(files.size());
    for (const std::size_t i : files) {
        paths.push_back(entries[i].entry.path);
    }
    const std::vector<archive::FileHash> hashed =
        archive::hash_files(root, paths, request.hash_threads);
    for (std::size_t k = 0; k < files.size(); ++k) {
        archive::MeasuredEntry& m = entries[files[k]];
        m.actual_hash = hashed[k].hash;
        m.read_error = hashed[k].error;
        v.bytes_hashed += static_cast<std::int64_t>(hashed[k].bytes);
    }
    v.checked_deep = static_cast<std::int64_t>(files.size());
}

const crypto::VaultCipher* VerifyService::unlock_encrypted(const obsidian::VaultInfo& vault,
                                                           const std::string& token,
                                                           const sync::EncryptedLayout& layout,
                                                           const VerifyRequest& request,
                                                           const std::string& destination) {
    if (!request.excludes.empty()) {
        throw Error(ErrorKind::config,
                    "--exclude cannot apply to an encrypted backup: its paths stay encrypted, so "
                    "no pattern can match them");
    }
    // Only a deep share needs the password, so only then is one looked for.
    const bool password =
        request.deep_percent > 0 &&
        (vault.managed() ||
         m_account.credentials().password_for_vault(vault.id, vault.name).has_value());
    if (request.deep_percent > 0 && !password && request.deep_requires_password) {
        throw Error(ErrorKind::auth,
                    destination +
                        " is an encrypted backup: --deep decrypts its files and needs the "
                        "password of vault \"" +
                        vault.name +
                        "\" (--password or OBSIDIAN_VAULT_PASSWORD); without --deep, verify "
                        "checks it without (presence, sizes, encrypted hashes)");
    }
    if (password) {
        // Checked with the server like any key; then against the backup's.
        // The derived key (encrypted=false): the deep share decrypts with it.
        const crypto::VaultCipher& key =
            unlock_vault(m_io, m_http, m_account, m_keys, vault, token, false);
        if (key.keyhash() != layout.keyhash) {
            throw Error(ErrorKind::auth,
                        destination + " was backed up with another key of vault \"" + vault.name +
                            "\" (its password changed since): a new backup goes into a new "
                            "destination");
        }
        return &key;
    }
    // The manifest's keyhash, which the server must still take: a vault whose password changed
    // has new encoded paths and hashes that no entry of this backup can match.
    obsidian::Api api(m_http, m_account.api_url());
    try {
        run_coro(m_io, api.check_access(token, vault, layout.keyhash));
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::auth) {
            throw;
        }
        throw Error(ErrorKind::auth, "the server no longer accepts the key " + destination +
                                         " was backed up with (the password of vault \"" +
                                         vault.name +
                                         "\" changed since): a new backup goes into a new "
                                         "destination");
    }
    return nullptr;
}

void VerifyService::measure_sampled(archive::BackupReader& reader,
                                    std::vector<archive::MeasuredEntry>& entries,
                                    const std::vector<std::size_t>& files,
                                    const VerifyRequest& request, bool encrypted,
                                    const crypto::VaultCipher* key, VaultVerification& v) {
    // The deep sample: a different random share each run, so that 1 % a day reads nearly every
    // file within a year (kopia's --verify-files-percent). An encrypted backup read without its
    // key has nothing to read for: its bytes hash to nothing recorded.
    std::vector<std::size_t> order = files;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(std::random_device{}()));
    const std::size_t deep =
        encrypted && key == nullptr ? 0 : deep_sample_size(order.size(), request.deep_percent);
    std::vector<bool> gone(entries.size(), false);
    const std::function<asio::awaitable<void>(std::size_t)> job =
        [&](std::size_t k) -> asio::awaitable<void> {
        archive::MeasuredEntry& m = entries[order[k]];
        if (past(request.stop_at)) {
            v.stopped_early = true;
            co_return;
        }
        try {
            if (k < deep && encrypted) {
                // Every GCM tag checked, and the plaintext hashed; the result in the encoded
                // terms the comparison uses: the recorded hash when the plaintext is the one it
                // stands for.
                archive::HashedRead read = co_await archive::read_decrypted(reader, m.entry, *key);
                m.entry.recorded = std::move(read.recorded);
                m.entry.described = true;
                const std::optional<std::string>& recorded = m.entry.recorded.content_hash;
                m.actual_hash = recorded && key->decode(*recorded) == read.hash
                                    ? *recorded
                                    : key->encode(read.hash);
                v.bytes_hashed += static_cast<std::int64_t>(read.bytes);
                ++v.checked_deep;
            } else if (k < deep) {
                archive::HashedRead read = co_await archive::read_hashed(reader, m.entry);
                m.entry.recorded = std::move(read.recorded);
                m.entry.described = true;
                m.actual_hash = std::move(read.hash);
                v.bytes_hashed += static_cast<std::int64_t>(read.bytes);
                ++v.checked_deep;
            } else if (!m.entry.described) {
                ++v.heads;
                co_await reader.describe(m.entry);
            }
        } catch (const Error& e) {
            if (e.kind() == ErrorKind::crypto || e.kind() == ErrorKind::bad_input) {
                // A blob or hash that does not decrypt: changed behind the backup's back.
                m.read_error = e.what();
                ++v.checked_deep;
            } else if (e.kind() == ErrorKind::not_found) {
                gone[order[k]] = true;  // deleted since the listing: missing
            } else {
                throw;
            }
        }
    };
    run_coro(m_io, for_each_parallel(order.size(), request.s3_in_flight, job));
    std::size_t kept = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        if (gone[i]) {
            continue;
        }
        if (kept != i) {
            entries[kept] = std::move(entries[i]);  // never onto itself: that empties it
        }
        ++kept;
    }
    entries.resize(kept);
}

}  // namespace obsync::backup
