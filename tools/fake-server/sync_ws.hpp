#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "server_options.hpp"
#include "store.hpp"
#include "util/bytes.hpp"

namespace obsync::fake {

class PendingUpload;

// One frame for the client. Blob pieces are read from disk only when written, so a pull of a
// large file never holds more than one piece in memory.
struct OutFrame {
    enum class Kind { text, blob_piece };
    Kind kind = Kind::text;
    std::string text;
    std::filesystem::path file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

// What one client message produces.
struct SyncOutput {
    // push records for every connection of the vault, this one included; the sender gets them
    // before `reply`, so the echo precedes the final ack (§4.5).
    std::vector<std::string> broadcast;
    std::vector<OutFrame> reply;
    bool close = false;  // close the connection (with a close frame) once `reply` is sent
    std::string log;     // one line for --verbose; never carries tokens or keys
    std::chrono::milliseconds delay{0};  // hold `reply` this long first (--pull-latency-ms)
};

// The WebSocket sync protocol of §4 and §7 for one connection, free of any I/O: the transport
// feeds it messages one at a time (the client never pipelines, §4.4) and sends what it returns.
class SyncSession {
public:
    SyncSession(Store& store, const ServerOptions& options);
    SyncSession(const SyncSession&) = delete;
    SyncSession& operator=(const SyncSession&) = delete;
    ~SyncSession();

    SyncOutput on_text(std::string_view message);
    SyncOutput on_binary(ByteView data);

    // Set once init succeeded: the vault whose broadcasts this connection receives.
    const std::string& vault_id() const noexcept { return m_vault_id; }

private:
    // Replies to a message that threw: an init refusal before init, {"err":...} after it.
    SyncOutput failure(const std::string& message, std::string log);
    SyncOutput handle_text(std::string_view message);
    SyncOutput handle_binary(ByteView data);
    SyncOutput init(std::string_view message);
    SyncOutput pull(std::int64_t uid);
    SyncOutput pull_reply(std::int64_t uid, const std::string& log);
    SyncOutput push(const boost::json::object& request);
    SyncOutput commit(Record record, const std::filesystem::path* blob);

    Store& m_store;
    const ServerOptions& m_options;
    std::string m_vault_id;
    std::string m_device;
    std::int64_t m_user_id = 0;
    std::unique_ptr<PendingUpload> m_upload;
};

// {"op":"push",...} in the field order the official server was observed to use (§4.3).
std::string push_message(const Record& record);

}  // namespace obsync::fake
