#include "sync_ws.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <system_error>

#include <boost/json/serialize.hpp>

#include "upload.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace obsync::fake {
namespace {

// Per-encrypted-file overhead (§3.3): the client checks perFileMax against plaintext sizes, so
// a file of exactly perFileMax bytes arrives 28 bytes larger.
constexpr std::uint64_t k_blob_overhead = 28;
// A client cannot need more pieces than bytes; this bound only stops absurd counts.
constexpr std::int64_t k_max_pieces = 1 << 20;
// Names the message in protocol errors about its fields, never the message itself (it may be an
// init carrying a token).
constexpr std::string_view k_context = "Invalid message";

std::string text(const boost::json::object& object) {
    return boost::json::serialize(object);
}

OutFrame text_frame(std::string message) {
    OutFrame frame;
    frame.text = std::move(message);
    return frame;
}

SyncOutput reply(const boost::json::object& object, std::string log) {
    SyncOutput out;
    out.reply.push_back(text_frame(text(object)));
    out.log = std::move(log);
    return out;
}

SyncOutput error_reply(std::string_view message, std::string log) {
    return reply({{"err", message}}, std::move(log) + ": " + std::string(message));
}

// The server's own failures, as opposed to a client message the protocol does not allow.
std::string internal_error(const std::exception& error) {
    return std::string("Internal error: ") + error.what();
}

// §4.2: an init failure is {"res":"err","msg":...}; the connection is then closed.
SyncOutput init_refusal(std::string_view message) {
    SyncOutput out = reply({{"res", "err"}, {"msg", message}}, "ws init refused: ");
    out.log += message;
    out.close = true;
    return out;
}

}  // namespace

std::string push_message(const Record& record) {
    return text(boost::json::object{{"op", "push"},
                                    {"path", record.path},
                                    {"hash", record.hash},
                                    {"size", record.size},
                                    {"ctime", record.ctime},
                                    {"mtime", record.mtime},
                                    {"folder", record.folder},
                                    {"deleted", record.deleted},
                                    {"device", record.device},
                                    {"user", record.user_id},
                                    {"uid", record.uid}});
}

SyncSession::SyncSession(Store& store, const ServerOptions& options)
    : m_store(store), m_options(options) {}

SyncSession::~SyncSession() = default;

// A client message the protocol does not allow (malformed JSON, a field of the wrong type) gets
// an error reply naming the problem; storage failures (a locked or full disk) get one too, never
// a crash. Either way an upload in progress is discarded: its next piece can no longer be told
// apart from a stray frame.
SyncOutput SyncSession::on_text(std::string_view message) {
    try {
        return handle_text(message);
    } catch (const Error& e) {
        return failure(e.kind() == ErrorKind::protocol ? e.what() : internal_error(e), "ws text");
    } catch (const std::exception& e) {
        return failure(internal_error(e), "ws text");
    }
}

SyncOutput SyncSession::on_binary(ByteView data) {
    try {
        return handle_binary(data);
    } catch (const Error& e) {
        return failure(e.kind() == ErrorKind::protocol ? e.what() : internal_error(e), "ws binary");
    } catch (const std::exception& e) {
        return failure(internal_error(e), "ws binary");
    }
}

SyncOutput SyncSession::failure(const std::string& message, std::string log) {
    m_upload.reset();
    if (m_vault_id.empty()) {
        return init_refusal(message);
    }
    return error_reply(message, std::move(log));
}

SyncOutput SyncSession::handle_text(std::string_view message) {
    if (m_vault_id.empty()) {
        return init(message);
    }
    const boost::json::object request = json::parse_object(message, k_context);
    const std::string op = json::get_optional_string(request, "op", k_context).value_or("");
    if (op == "ping") {
        // Pings come from a timer, outside the request queue (§4.3), so one may arrive between
        // the pieces of an upload; the client ignores pongs, so answering cannot confuse it.
        return reply({{"op", "pong"}}, "ws ping");
    }
    if (m_upload) {
        // Otherwise the client sends nothing but pieces until its upload is acknowledged (§4.4).
        m_upload.reset();
        return error_reply("Expected a binary frame: upload discarded.", "ws push");
    }
    if (op == "pull") {
        const auto uid = json::get_optional_int(request, "uid", k_context);
        if (!uid) {
            return error_reply("File not found", "ws pull");
        }
        return pull(*uid);
    }
    if (op == "push") {
        return push(request);
    }
    return error_reply("Unknown op", "ws " + op.substr(0, 32));
}

SyncOutput SyncSession::handle_binary(ByteView data) {
    if (m_vault_id.empty()) {
        return init_refusal("Expected init.");
    }
    if (!m_upload) {
        return error_reply("Unexpected binary frame.", "ws binary");
    }
    try {
        m_upload->append(data);
    } catch (const Error& e) {
        m_upload.reset();
        return error_reply(e.what(), "ws push piece");
    }
    if (!m_upload->complete()) {
        return reply({{"res", "next"}},
                     "ws push piece " + std::to_string(m_upload->pieces_received()));
    }
    const std::unique_ptr<PendingUpload> upload = std::move(m_upload);
    try {
        Record record = upload->finish();
        return commit(std::move(record), &upload->file());
    } catch (const Error& e) {
        return error_reply(e.what(), "ws push");
    }
}

SyncOutput SyncSession::init(std::string_view message) {
    const boost::json::object request = json::parse_object(message, k_context);
    if (json::get_optional_string(request, "op", k_context) != "init") {
        return init_refusal("Expected init.");
    }
    if (m_options.refuse_init) {
        return init_refusal(*m_options.refuse_init);
    }
    const auto user = m_store.accounts().user_for_token(
        json::get_optional_string(request, "token", k_context).value_or(""),
        m_options.token_ttl_seconds);
    if (!user) {
        return init_refusal("Not logged in.");
    }
    const auto vault =
        m_store.find_vault(json::get_optional_string(request, "id", k_context).value_or(""));
    if (!vault || !m_store.can_access(*vault, user->id)) {
        return init_refusal("Vault not found.");
    }
    if (!keyhash_matches(*vault,
                         json::get_optional_string(request, "keyhash", k_context).value_or(""))) {
        return init_refusal("Invalid encryption key.");
    }
    const std::int64_t version = std::max<std::int64_t>(
        0, json::get_optional_int(request, "version", k_context).value_or(0));
    const bool initial = json::get_bool(request, "initial", k_context, false);

    // §4.2: ok first, then the pushes in ascending uid, then ready.
    SyncOutput out =
        reply({{"res", "ok"}, {"perFileMax", m_options.per_file_max}, {"userId", user->id}}, {});
    // max_uid first: should `seed` or `inject` append in between, ready still covers every
    // push sent, so the client's version never skips a record.
    std::int64_t latest = std::max(version, m_store.max_uid(vault->id));
    const std::vector<Record> records = m_store.records_after(vault->id, version, initial);
    for (const Record& record : records) {
        out.reply.push_back(text_frame(push_message(record)));
        latest = std::max(latest, record.uid);
    }
    out.reply.push_back(text_frame(text({{"op", "ready"}, {"version", latest}})));
    out.log = "ws init vault=" + vault->id + " version=" + std::to_string(version) +
              (initial ? " initial" : "") + " -> " + std::to_string(records.size()) +
              " pushes, ready " + std::to_string(latest);
    // Joined only now: a storage failure above still gets an init refusal.
    m_vault_id = vault->id;
    m_user_id = user->id;
    m_device = json::get_optional_string(request, "device", k_context).value_or("");
    return out;
}

SyncOutput SyncSession::pull(std::int64_t uid) {
    const std::string log = "ws pull uid=" + std::to_string(uid);
    if (m_options.pull_log) {
        // For tests that count what a client downloads (a rerun must not fetch a file again).
        std::ofstream(*m_options.pull_log, std::ios::app) << uid << '\n';
    }
    SyncOutput out = pull_reply(uid, log);
    out.delay = m_options.pull_latency;
    return out;
}

SyncOutput SyncSession::pull_reply(std::int64_t uid, const std::string& log) {
    const auto record = m_store.find_record(m_vault_id, uid);
    if (!record) {
        return error_reply("File not found", log);
    }
    if (record->deleted || record->folder) {
        return reply({{"size", 0}, {"pieces", 0}, {"deleted", record->deleted}}, log);
    }
    const std::filesystem::path blob = m_store.blob_path(m_vault_id, uid);
    std::error_code ec;
    const std::uint64_t size = std::filesystem::file_size(blob, ec);
    if (ec) {
        return error_reply("File not found", log);
    }
    const std::uint64_t piece = m_options.piece_size;
    const std::uint64_t pieces = (size + piece - 1) / piece;
    SyncOutput out =
        reply({{"size", size}, {"pieces", pieces}, {"deleted", false}},
              log + " -> " + std::to_string(size) + " bytes in " + std::to_string(pieces));
    for (std::uint64_t offset = 0; offset < size; offset += piece) {
        OutFrame frame;
        frame.kind = OutFrame::Kind::blob_piece;
        frame.file = blob;
        frame.offset = offset;
        frame.length = std::min(piece, size - offset);
        out.reply.push_back(std::move(frame));
    }
    return out;
}

SyncOutput SyncSession::push(const boost::json::object& request) {
    Record record;
    const auto path = json::get_optional_string(request, "path", k_context);
    if (!path) {
        return error_reply("Invalid push: path is required.", "ws push");
    }
    record.path = *path;
    record.hash = json::get_optional_string(request, "hash", k_context).value_or("");
    record.ctime = json::get_optional_int(request, "ctime", k_context).value_or(0);
    record.mtime = json::get_optional_int(request, "mtime", k_context).value_or(0);
    record.folder = json::get_bool(request, "folder", k_context, false);
    record.deleted = json::get_bool(request, "deleted", k_context, false);
    record.device = m_device;
    record.user_id = m_user_id;
    if (record.folder || record.deleted) {
        return commit(std::move(record), nullptr);  // §7 WebSocket 5: no data follows
    }
    const std::int64_t size = json::get_optional_int(request, "size", k_context).value_or(0);
    const std::int64_t pieces = json::get_optional_int(request, "pieces", k_context).value_or(0);
    const std::uint64_t max_bytes = m_options.per_file_max + k_blob_overhead;
    if (size < 0 || pieces < 0 || pieces > k_max_pieces) {
        return error_reply("Invalid push: bad size or pieces.", "ws push");
    }
    if (static_cast<std::uint64_t>(size) > max_bytes) {
        return error_reply("File too large.", "ws push");
    }
    try {
        auto upload = std::make_unique<PendingUpload>(m_store.new_blob_file(m_vault_id),
                                                      std::move(record), pieces, max_bytes);
        if (pieces == 0) {
            // An empty file: nothing follows, the record is complete now.
            Record empty = upload->finish();
            return commit(std::move(empty), &upload->file());
        }
        m_upload = std::move(upload);
    } catch (const Error& e) {
        return error_reply(e.what(), "ws push");
    }
    // Anything but {"res":"ok"} makes the client send its pieces (§4.3).
    return reply({{"res", "next"}}, "ws push start, " + std::to_string(pieces) + " pieces");
}

SyncOutput SyncSession::commit(Record record, const std::filesystem::path* blob) {
    std::optional<std::filesystem::path> file;
    if (blob != nullptr) {
        file = *blob;
    }
    record.uid = m_store.append_record(m_vault_id, record, file);
    SyncOutput out =
        reply({{"res", "ok"}},
              "ws push uid=" + std::to_string(record.uid) + " " + std::to_string(record.size) +
                  " bytes" + (record.folder ? " folder" : "") + (record.deleted ? " deleted" : ""));
    out.broadcast.push_back(push_message(record));
    return out;
}

}  // namespace obsync::fake
