#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "archive/drift.hpp"
#include "backup/account.hpp"
#include "backup/key_cache.hpp"
#include "backup/report.hpp"
#include "backup/storage.hpp"
#include "net/http_client.hpp"
#include "obsidian/vault.hpp"
#include "sync/sink.hpp"

namespace obsync::backup {

// What to verify and how deeply.
struct VerifyRequest {
    std::optional<std::string> vault;  // id or exact name; nothing = every vault of the account
    bool folder_per_vault = false;     // DEST/<vault folder>, as BackupRequest::folder_per_vault
    // S3: the share of the files (0-100) downloaded and hashed, chosen at random per run; the
    // others are checked by their metadata (one HEAD each). A local folder is always hashed whole.
    // An encrypted backup (S3 or local): the share decrypted, which needs the vault's password.
    int deep_percent = 0;
    // An encrypted backup and no vault password: the deep share is refused (Error{auth} naming
    // --password: the command line, where --deep was asked for) or, false, skipped (a scheduled
    // verify: presence, sizes and encoded hashes are still checked).
    bool deep_requires_password = false;
    std::vector<std::string> excludes;  // --exclude globs, as the backup was made with
    int s3_in_flight = 16;              // HEADs and GETs at once
    unsigned hash_threads = 0;          // local hashing; 0 = one per core (at most 8)
    // A host's deadline (the Lambda invocation's end less its margin): no vault starts after it,
    // and within a vault no snapshot, listing, measuring, HEAD or deep read does. Such a vault is
    // reported stopped_early, without drift (what was not checked is not known to differ).
    std::optional<std::chrono::steady_clock::time_point> stop_at;
    // At cut_at the sessions with the sync server still at work (the snapshot, the changes since
    // the backup) are closed (SessionOptions::cut_at); the vault is then stopped_early too.
    // Unset or earlier than stop_at: stop_at (sync::Deadline). See end_by.
    std::optional<std::chrono::steady_clock::time_point> cut_at;
};

// A verify's deadline for a host that must answer by `end`, keeping `margin` for the answer, as
// a sync's (end_by in backup/service.hpp): nothing new from end - margin (stop_at), the sessions
// in flight cut at end - margin / 2 (cut_at).
void end_by(VerifyRequest& request, std::chrono::steady_clock::time_point end,
            std::chrono::milliseconds margin);

// One vault verified: what differs, and what it took to find out.
struct VaultVerification {
    std::string id;
    std::string name;
    std::string destination;
    std::int64_t files = 0;         // files in the backup (checked one way or another)
    std::int64_t checked_deep = 0;  // files whose bytes were read and hashed
    std::int64_t bytes_hashed = 0;  // bytes read (local) or downloaded (S3)
    std::int64_t heads = 0;         // S3 HEADs
    std::int64_t server_files = 0;
    std::int64_t undecryptable = 0;  // server records the backup refuses too: not drift
    std::int64_t unsafe = 0;
    std::int64_t refused = 0;  // live server paths the backup refused for good: not drift
    std::int64_t skipped = 0;  // names at the destination no vault path can have: not drift
    // Sorted by path; an entry is `pending` when the server changed its path after the backup's
    // cursor (the next backup fixes it by itself).
    std::vector<archive::Drift> drift;
    std::optional<Failure> error;
    bool stopped_early = false;  // the deadline came first: not (fully) verified
    std::chrono::milliseconds duration{0};

    std::int64_t count(archive::DriftKind kind) const;
    std::int64_t pending() const;  // drift entries marked pending
    // The backup equals the server.
    bool ok() const { return !error && !stopped_early && drift.empty(); }
};

struct VerifyReport {
    std::vector<VaultVerification> vaults;
    std::optional<Failure> error;  // before any vault: sign-in, vault list, unknown vault
    std::chrono::milliseconds duration{0};

    bool ok() const;
};

// obsync verify and the Lambda function's {"action":"verify"}: compares, for each vault, the
// server's current files (a fresh snapshot, no downloads), the destination's contents and the
// saved state (archive::compare). An encrypted backup (its manifest says so) is compared under
// its encoded paths and hashes, with a keyhash-only session and no password; a deep share is
// decrypted with the vault's password, which it then needs. When there is drift and the saved
// cursor is not initial, a second session asks for the records after the cursor, to mark the drift
// the next backup fixes by itself (pending). Writes nothing anywhere: no marker, no lock, no lease,
// no state. Failures are values, as in BackupService.
class VerifyService {
public:
    VerifyService(boost::asio::io_context& io, net::HttpClient& http, Account& account,
                  KeyCache& keys);

    VerifyReport run(const VerifyRequest& request, Storage& storage);

private:
    VaultVerification verify_vault(const obsidian::VaultInfo& vault, const std::string& token,
                                   const std::string& folder, const VerifyRequest& request,
                                   Storage& storage);
    // Hashes every file of a local backup (threads).
    void measure_local(const std::string& root, std::vector<archive::MeasuredEntry>& entries,
                       const std::vector<std::size_t>& files, const VerifyRequest& request,
                       VaultVerification& v);
    // HEADs the files of an S3 backup (where the listing did not describe them), and reads and
    // hashes the deep sample; an encrypted backup's (local or S3) decrypted with `key`, none
    // without it. Drops what was deleted since the listing (it is then missing).
    void measure_sampled(archive::BackupReader& reader,
                         std::vector<archive::MeasuredEntry>& entries,
                         const std::vector<std::size_t>& files, const VerifyRequest& request,
                         bool encrypted, const crypto::VaultCipher* key, VaultVerification& v);
    // An encrypted backup (its manifest `layout`): the vault's key when a deep share reads its
    // files and a password is at hand (checked with the server and against the manifest), else
    // nullptr once the server still takes the manifest's keyhash. Error{auth} when it does not,
    // or a deep share has no password and deep_requires_password; Error{config} for --exclude
    // (no pattern matches an encoded path).
    const crypto::VaultCipher* unlock_encrypted(const obsidian::VaultInfo& vault,
                                                const std::string& token,
                                                const sync::EncryptedLayout& layout,
                                                const VerifyRequest& request,
                                                const std::string& destination);

    boost::asio::io_context& m_io;
    net::HttpClient& m_http;
    Account& m_account;
    KeyCache& m_keys;
};

}  // namespace obsync::backup
