#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "util/bytes.hpp"

namespace obsync::crypto {
class VaultCipher;
}

namespace obsync::obsidian {

// A server record (§4.3 push), with path and hash decrypted.
struct RemoteRecord {
    std::int64_t uid = 0;
    // The decoded vault path; empty when `error` is set. With a keyhash-only cipher
    // (VaultCipher::has_key() false), the encoded path and hash as the server sent them (hex).
    std::string path;
    std::string hash;  // lowercase hex SHA-256 of the plaintext; empty for folders and deletions
    std::int64_t size = 0;  // encrypted size in bytes (0 for empty files, folders, deletions)
    std::int64_t ctime = 0;
    std::int64_t mtime = 0;  // milliseconds since the epoch
    bool folder = false;
    bool deleted = false;
    std::string device;
    // Set when the path or hash could not be decoded (wrong key, tampering, bad hex). The record
    // is kept, so the caller can report it and must not move its cursor past it.
    std::string error;
};

// Records received between `init` and `ready`.
struct ChangeSet {
    std::vector<RemoteRecord> records;  // ascending uid
    std::int64_t version = 0;           // the version to resume from once all are applied
    std::int64_t per_file_max = 0;
};

struct SessionOptions {
    std::string device = "obsync";
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds ping_after{std::chrono::seconds(10)};       // idle → {"op":"ping"}
    std::chrono::milliseconds silence_limit{std::chrono::seconds(120)};   // nothing → give up
    std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};  // no reply → give up
    // A caller's deadline: at this time the connection is closed whatever it is doing (connect,
    // init, a pull), and what was in flight fails with Error{network}. Once `close()` returns or
    // the session is destroyed, nothing of it waits for this time any more.
    std::optional<std::chrono::steady_clock::time_point> cut_at;
};

struct SessionTarget {
    std::string host;  // VaultInfo::host
    std::string vault_id;
    std::string token;  // secret
};

// One WebSocket session with the sync server (§4): `init`, then one request at a time. Errors
// are obsync::Error: `not_found` (vault gone, file data gone), `auth` (token, key or
// subscription refused), `network` (connection lost, timeouts; retryable with a new session),
// `protocol` (the server broke the protocol). After any error the session is unusable.
class SyncSession {
public:
    // No defaulted class-type parameters on coroutines: g++ 12 destroys such a temporary twice
    // when it appears inside a co_await expression. Pass options explicitly.
    static boost::asio::awaitable<std::unique_ptr<SyncSession>> connect(
        boost::asio::any_io_executor executor, SessionTarget target,
        const crypto::VaultCipher& cipher, SessionOptions options);

    SyncSession(const SyncSession&) = delete;
    SyncSession& operator=(const SyncSession&) = delete;
    ~SyncSession();

    // Sends `init` and collects every push until `ready` (§4.2). With initial=true the server
    // sends a snapshot (latest live record per path); otherwise every record after `version`.
    boost::asio::awaitable<ChangeSet> init(std::int64_t version, bool initial);

    struct PullResult {
        std::uint64_t size = 0;
        std::uint64_t pieces = 0;
    };
    // Receives each binary frame of a pull; awaited before the next frame is read, so a slow
    // destination slows the download instead of buffering it.
    using PieceHandler = std::function<boost::asio::awaitable<void>(ByteView)>;

    // Downloads the encrypted blob of record `uid`, handing each binary frame to `on_piece` as it
    // arrives (nothing is buffered whole). Checks the piece count and the announced size.
    boost::asio::awaitable<PullResult> pull(std::int64_t uid, const PieceHandler& on_piece);

    // Runs once the pull request is on its way and before its reply is read: work that the
    // round trip can hide (the engine opens the destination file and commits the previous one
    // there). If it throws, the reply is left unread and the session is no longer usable.
    using SentHandler = std::function<boost::asio::awaitable<void>()>;
    boost::asio::awaitable<PullResult> pull(std::int64_t uid, const PieceHandler& on_piece,
                                            SentHandler on_sent);

    // Pushes that arrived outside `init` (live changes from other devices), oldest first.
    std::vector<RemoteRecord> take_live_changes();

    boost::asio::awaitable<void> close();

private:
    struct Impl;
    explicit SyncSession(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> m_impl;
};

}  // namespace obsync::obsidian
