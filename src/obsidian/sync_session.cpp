#include "obsidian/sync_session.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "crypto/vault_cipher.hpp"
#include "net/websocket_client.hpp"
#include "obsidian/vault.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"
#include "util/json.hpp"

namespace obsync::obsidian {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view k_push_context = "sync server push";

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

bool is_sha256_hex(std::string_view s) {
    return s.size() == 64 && is_lower_hex(s);
}

std::string op_of(const boost::json::object& message) {
    const auto* op = message.if_contains("op");
    return op != nullptr && op->is_string() ? std::string(op->get_string()) : std::string();
}

// A push whose structure is broken fails the session (Error{protocol}); one whose path or hash
// cannot be decrypted is returned with `error` set, so that one bad record does not hide others.
RemoteRecord decode_push(const boost::json::object& push, const crypto::VaultCipher& cipher) {
    RemoteRecord record;
    record.uid = json::get_int(push, "uid", k_push_context);
    const std::string path_hex = json::get_string(push, "path", k_push_context);
    const std::string hash_hex =
        json::get_optional_string(push, "hash", k_push_context).value_or("");
    record.size = json::get_optional_int(push, "size", k_push_context).value_or(0);
    record.ctime = json::get_optional_int(push, "ctime", k_push_context).value_or(0);
    record.mtime = json::get_optional_int(push, "mtime", k_push_context).value_or(0);
    record.folder = json::get_bool(push, "folder", k_push_context, false);
    record.deleted = json::get_bool(push, "deleted", k_push_context, false);
    record.device = json::get_optional_string(push, "device", k_push_context).value_or("");
    if (record.size < 0) {
        throw Error(ErrorKind::protocol, "sync server push: negative size");
    }
    if (!cipher.has_key()) {
        // Keyhash only (an encrypted-at-rest backup): the record keeps its encoded path and hash,
        // which stand for the plaintext ones everywhere downstream. Their form is all that can be
        // checked here (lowercase hex of the lengths encode() gives: a live file's hash encodes a
        // SHA-256 hex digest); the restore that holds the password checks the rest.
        const std::size_t encoded_hash = crypto::encoded_hex_size(cipher.version(), 64);
        const bool path_ok = is_lower_hex(path_hex) &&
                             path_hex.size() > crypto::encoded_hex_size(cipher.version(), 0);
        // A folder or a deletion carries no hash ("" from the official client), and a file whose
        // hash is "" is taken as the keyed session takes it (its GCM tag still guards it).
        const bool hash_ok =
            hash_hex.empty() || (is_lower_hex(hash_hex) && hash_hex.size() == encoded_hash);
        if (!path_ok || !hash_ok) {
            record.error = "the encoded path or hash of record " + std::to_string(record.uid) +
                           " does not have the form of an encoded value";
            return record;
        }
        record.path = path_hex;
        record.hash = hash_hex;
        return record;
    }
    try {
        record.path = cipher.decode(path_hex);
        if (!hash_hex.empty()) {
            record.hash = cipher.decode(hash_hex);
            if (!is_sha256_hex(record.hash)) {
                throw Error(ErrorKind::crypto, "the decrypted hash is not a SHA-256 hex digest");
            }
        }
    } catch (const Error& e) {
        record.path.clear();
        record.hash.clear();
        record.error = "cannot decrypt the path or hash of record " + std::to_string(record.uid) +
                       ": " + e.what();
    }
    return record;
}

}  // namespace

struct SyncSession::Impl : std::enable_shared_from_this<Impl> {
    std::unique_ptr<net::WebSocketClient> ws;
    const crypto::VaultCipher& cipher;
    SessionTarget target;
    SessionOptions options;
    asio::steady_timer watchdog_timer;
    asio::steady_timer cut_timer;  // SessionOptions::cut_at

    Clock::time_point last_message = Clock::now();
    Clock::time_point request_progress = Clock::now();
    Clock::time_point last_ping = Clock::now();
    bool reading = false;
    bool in_request = false;
    bool in_callback = false;  // the caller's code runs (on_sent, on_piece), not the server's
    bool broken = false;
    bool closed = false;
    std::vector<RemoteRecord> live;

    Impl(std::unique_ptr<net::WebSocketClient> socket, const crypto::VaultCipher& c,
         SessionTarget t, SessionOptions o, const asio::any_io_executor& executor)
        : ws(std::move(socket)),
          cipher(c),
          target(std::move(t)),
          options(std::move(o)),
          watchdog_timer(executor),
          cut_timer(executor) {}

    // Closes the connection at cut_at. The timer holds no reference: a session discarded before
    // then cancels it (and its Impl may already be gone when the cancellation is delivered).
    void arm_cut(const std::shared_ptr<Impl>& self) {
        if (!options.cut_at) {
            return;
        }
        cut_timer.expires_at(*options.cut_at);
        cut_timer.async_wait(
            [weak = std::weak_ptr<Impl>(self)](const boost::system::error_code& ec) {
                if (ec) {
                    return;
                }
                if (const auto impl = weak.lock()) {
                    impl->ws->abort("the sync session was cut at the caller's deadline");
                }
            });
    }

    void ensure_usable() const {
        if (broken || closed) {
            throw Error(ErrorKind::network, "the sync session is closed after an earlier error");
        }
    }

    asio::awaitable<void> send(const boost::json::object& message) {
        co_await ws->write_text(boost::json::serialize(message));
    }

    asio::awaitable<net::WsMessage> next_message() {
        reading = true;
        net::WsMessage message;
        try {
            message = co_await ws->read();
        } catch (...) {
            reading = false;
            throw;
        }
        reading = false;
        last_message = Clock::now();
        co_return message;
    }

    // Routes pushes, pongs and readies as the official client does (§4.3). Returns true when the
    // message was consumed that way.
    bool route_unsolicited(const boost::json::object& message) {
        const std::string op = op_of(message);
        if (op == "pong" || op == "ready") {
            return true;
        }
        if (op == "push") {
            live.push_back(decode_push(message, cipher));
            return true;
        }
        return false;
    }

    // The text reply to the outstanding request; anything else that is not routable fails.
    asio::awaitable<boost::json::object> reply(std::string_view request) {
        for (;;) {
            const net::WsMessage message = co_await next_message();
            if (message.binary) {
                throw Error(ErrorKind::protocol,
                            "sync server sent a binary frame while a reply to " +
                                std::string(request) + " was expected");
            }
            auto object = json::parse_object(message.data, "sync server message");
            if (!route_unsolicited(object)) {
                request_progress = Clock::now();
                co_return object;
            }
        }
    }

    // Pauses the request timeout while the caller's callback runs: a slow destination (an S3
    // part on a slow uplink) is not the server failing to answer.
    class CallbackScope {
    public:
        explicit CallbackScope(Impl& impl) : m_impl(impl) { m_impl.in_callback = true; }
        CallbackScope(const CallbackScope&) = delete;
        CallbackScope& operator=(const CallbackScope&) = delete;
        ~CallbackScope() {
            m_impl.in_callback = false;
            m_impl.request_progress = Clock::now();
        }

    private:
        Impl& m_impl;
    };

    static asio::awaitable<void> watchdog(std::shared_ptr<Impl> self) {
        const auto shortest = std::min(
            {self->options.ping_after, self->options.silence_limit, self->options.request_timeout});
        const auto tick = std::clamp<std::chrono::milliseconds>(
            shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
        while (!self->closed && !self->broken) {
            self->watchdog_timer.expires_after(tick);
            co_await self->watchdog_timer.async_wait(asio::as_tuple(asio::use_awaitable));
            if (self->closed || self->broken) {
                break;
            }
            const auto now = Clock::now();
            if (self->in_request && !self->in_callback &&
                now - self->request_progress > self->options.request_timeout) {
                self->ws->abort("the sync server did not answer within " +
                                std::to_string(self->options.request_timeout.count()) + " ms");
                break;
            }
            if (self->reading && now - self->last_message > self->options.silence_limit) {
                self->ws->abort("the sync server sent nothing for " +
                                std::to_string(self->options.silence_limit.count()) + " ms");
                break;
            }
            const bool idle = now - self->last_message > self->options.ping_after;
            if (self->reading && idle && now - self->last_ping > self->options.ping_after) {
                self->last_ping = now;
                try {
                    co_await self->ws->write_text(R"({"op":"ping"})");
                } catch (const Error&) {
                    // The pending read reports the broken connection.
                }
            }
        }
    }

    asio::awaitable<ChangeSet> do_init(std::int64_t version, bool initial) {
        boost::json::object init;
        init["op"] = "init";
        init["token"] = target.token;
        init["id"] = target.vault_id;
        init["keyhash"] = cipher.keyhash();
        init["version"] = version;
        init["initial"] = initial;
        init["device"] = options.device;
        init["encryption_version"] = crypto::to_int(cipher.version());
        co_await send(init);

        ChangeSet changes;
        changes.version = version;
        // The first reply must be text and say res:"ok" (§4.2); pongs are ignored.
        for (;;) {
            const net::WsMessage message = co_await next_message();
            if (message.binary) {
                throw Error(ErrorKind::protocol, "sync server returned binary data to init");
            }
            const auto reply = json::parse_object(message.data, "sync server init reply");
            if (op_of(reply) == "pong") {
                continue;
            }
            const auto res = json::get_optional_string(reply, "res", "sync server init reply");
            const auto status =
                json::get_optional_string(reply, "status", "sync server init reply");
            if (res == "ok") {
                const auto max =
                    json::get_optional_int(reply, "perFileMax", "sync server init reply");
                if (max && *max < 0) {
                    throw Error(ErrorKind::protocol, "sync server init reply: negative perFileMax");
                }
                changes.per_file_max = max.value_or(208666624);
                break;
            }
            if (res == "err" || status == "err") {
                const std::string msg =
                    json::get_optional_string(reply, "msg", "sync server init reply").value_or("");
                if (contains(msg, "Vault not found")) {
                    throw Error(ErrorKind::not_found,
                                "the vault no longer exists on the server (" + msg + ")");
                }
                if (contains(msg, "subscription") && contains(msg, "expired")) {
                    throw Error(ErrorKind::auth,
                                "the Obsidian Sync subscription has expired (" + msg + ")");
                }
                throw Error(ErrorKind::auth, "the sync server refused the session: " + msg);
            }
            throw Error(ErrorKind::protocol, "sync server did not respond to the init request");
        }
        // Pushes in ascending uid order, then ready (§4.2, §4.7).
        for (;;) {
            request_progress = Clock::now();
            const net::WsMessage message = co_await next_message();
            if (message.binary) {
                throw Error(ErrorKind::protocol, "sync server sent a binary frame before ready");
            }
            const auto object = json::parse_object(message.data, "sync server message");
            const std::string op = op_of(object);
            if (op == "pong") {
                continue;
            }
            if (op == "ready") {
                const auto ready = json::get_optional_int(object, "version", "sync server ready");
                changes.version = std::max(changes.version, ready.value_or(0));
                co_return changes;
            }
            if (op != "push") {
                throw Error(ErrorKind::protocol,
                            "sync server sent an unexpected message before ready");
            }
            RemoteRecord record = decode_push(object, cipher);
            if (!changes.records.empty() && record.uid <= changes.records.back().uid) {
                throw Error(ErrorKind::protocol, "sync server sent records out of uid order");
            }
            changes.version = std::max(changes.version, record.uid);
            changes.records.push_back(std::move(record));
        }
    }

    asio::awaitable<PullResult> do_pull(std::int64_t uid, const PieceHandler& on_piece,
                                        const SentHandler& on_sent, bool& clean_failure) {
        boost::json::object pull;
        pull["op"] = "pull";
        pull["uid"] = uid;
        co_await send(pull);
        if (on_sent) {
            const CallbackScope scope(*this);
            co_await on_sent();
        }
        const std::string what = "pull of record " + std::to_string(uid);
        const auto header = co_await reply(what);
        if (json::is_truthy(header.if_contains("err"))) {
            clean_failure = true;
            const auto* err = header.if_contains("err");
            throw Error(ErrorKind::not_found,
                        what + " failed: " +
                            (err->is_string() ? std::string(err->get_string())
                                              : boost::json::serialize(*err)));
        }
        if (json::get_bool(header, "deleted", what, false)) {
            clean_failure = true;
            throw Error(ErrorKind::not_found, what + ": the server has no data (deleted)");
        }
        const std::int64_t size = json::get_int(header, "size", what);
        const std::int64_t pieces = json::get_int(header, "pieces", what);
        if (size < 0 || pieces < 0 || (pieces == 0 && size != 0) || pieces > size) {
            throw Error(ErrorKind::protocol, what + ": inconsistent size " + std::to_string(size) +
                                                 " and piece count " + std::to_string(pieces));
        }
        PullResult result{static_cast<std::uint64_t>(size), static_cast<std::uint64_t>(pieces)};
        std::uint64_t received = 0;
        for (std::int64_t i = 0; i < pieces;) {
            const net::WsMessage message = co_await next_message();
            if (!message.binary) {
                const auto object = json::parse_object(message.data, "sync server message");
                if (!route_unsolicited(object)) {
                    throw Error(ErrorKind::protocol,
                                what + ": unexpected text message between pieces");
                }
                continue;
            }
            request_progress = Clock::now();
            received += message.data.size();
            if (received > result.size) {
                throw Error(ErrorKind::protocol, what + ": pieces exceed the announced size of " +
                                                     std::to_string(size) + " bytes");
            }
            {
                const CallbackScope scope(*this);
                co_await on_piece(as_bytes(message.data));
            }
            ++i;
        }
        if (received != result.size) {
            throw Error(ErrorKind::protocol, what + ": received " + std::to_string(received) +
                                                 " bytes, " + std::to_string(size) + " announced");
        }
        co_return result;
    }
};

SyncSession::SyncSession(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

SyncSession::~SyncSession() {
    m_impl->closed = true;
    try {
        m_impl->watchdog_timer.cancel();
        m_impl->cut_timer.cancel();
        if (m_impl->ws->is_open()) {
            m_impl->ws->abort("the sync session was discarded");
        }
    } catch (...) {
        // Nothing useful to do while discarding a session; the watchdog ends on `closed`.
    }
}

asio::awaitable<std::unique_ptr<SyncSession>> SyncSession::connect(
    asio::any_io_executor executor, SessionTarget target, const crypto::VaultCipher& cipher,
    SessionOptions options) {
    net::WsOptions ws_options;
    ws_options.connect_timeout = options.connect_timeout;
    if (options.cut_at) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(*options.cut_at - Clock::now());
        if (left <= std::chrono::milliseconds::zero()) {
            throw Error(ErrorKind::network,
                        "the caller's deadline passed before the sync server was reached");
        }
        ws_options.connect_timeout = std::min(ws_options.connect_timeout, left);
    }
    auto ws = co_await net::WebSocketClient::connect(executor, sync_url(target.host), ws_options);
    auto impl = std::make_shared<Impl>(std::move(ws), cipher, std::move(target), std::move(options),
                                       executor);
    asio::co_spawn(executor, Impl::watchdog(impl), asio::detached);
    impl->arm_cut(impl);
    co_return std::unique_ptr<SyncSession>(new SyncSession(std::move(impl)));
}

asio::awaitable<ChangeSet> SyncSession::init(std::int64_t version, bool initial) {
    m_impl->ensure_usable();
    m_impl->in_request = true;
    m_impl->request_progress = Clock::now();
    try {
        ChangeSet changes = co_await m_impl->do_init(version, initial);
        m_impl->in_request = false;
        co_return changes;
    } catch (...) {
        m_impl->in_request = false;
        m_impl->broken = true;
        throw;
    }
}

asio::awaitable<SyncSession::PullResult> SyncSession::pull(std::int64_t uid,
                                                           const PieceHandler& on_piece) {
    SentHandler nothing;
    co_return co_await pull(uid, on_piece, std::move(nothing));
}

asio::awaitable<SyncSession::PullResult> SyncSession::pull(std::int64_t uid,
                                                           const PieceHandler& on_piece,
                                                           SentHandler on_sent) {
    m_impl->ensure_usable();
    m_impl->in_request = true;
    m_impl->request_progress = Clock::now();
    bool clean_failure = false;
    try {
        const PullResult result = co_await m_impl->do_pull(uid, on_piece, on_sent, clean_failure);
        m_impl->in_request = false;
        co_return result;
    } catch (...) {
        m_impl->in_request = false;
        // A refusal by the server leaves the session in step; anything else may not.
        m_impl->broken = m_impl->broken || !clean_failure;
        throw;
    }
}

std::vector<RemoteRecord> SyncSession::take_live_changes() {
    return std::exchange(m_impl->live, {});
}

asio::awaitable<void> SyncSession::close() {
    if (m_impl->closed) {
        co_return;
    }
    m_impl->closed = true;
    m_impl->watchdog_timer.cancel();
    // The close handshake is bounded by cut_at too: the timer is cancelled only after it.
    co_await m_impl->ws->close();
    m_impl->cut_timer.cancel();
}

}  // namespace obsync::obsidian
