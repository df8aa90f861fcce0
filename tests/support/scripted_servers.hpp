#pragma once

// Small loopback servers whose every reply a test scripts, to drive the clients through the
// exact misbehaviour under test (a malformed frame, a short pull, a silent peer). They are real
// TCP servers on 127.0.0.1 sharing the test's io_context.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace obsync::test {

// One action of a scripted WebSocket reply.
struct WsAction {
    enum class Kind { text, binary, drop, delay };
    Kind kind = Kind::text;
    std::string data;
    std::chrono::milliseconds delay{0};

    static WsAction text(std::string s) { return {Kind::text, std::move(s), {}}; }
    static WsAction binary(std::string s) { return {Kind::binary, std::move(s), {}}; }
    // Closes the TCP connection without a close frame.
    static WsAction drop() { return {Kind::drop, {}, {}}; }
    static WsAction wait(std::chrono::milliseconds d) { return {Kind::delay, {}, d}; }
};

class ScriptedWsServer {
public:
    // Called for every message a client sends (text or binary); returns what to do.
    using Handler = std::function<std::vector<WsAction>(const std::string& message, bool binary)>;

    ScriptedWsServer(boost::asio::io_context& io, Handler handler);
    ~ScriptedWsServer();

    std::uint16_t port() const;
    std::string host() const { return "127.0.0.1:" + std::to_string(port()); }
    int connections() const;

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

// An HTTP/1.1 server: each request (method, target, body) gets the raw bytes the handler returns,
// written verbatim (so tests can send malformed responses). An empty string means "say nothing
// and keep the connection open" (a silent peer); "DROP" closes the connection; a response that
// ends with "DROPNEXT" is sent without that marker and then the connection is closed; one that
// starts with "DELAY <ms>\n" is sent without that line after that many milliseconds (a slow
// peer or a long poll).
class ScriptedHttpServer {
public:
    struct Request {
        std::string method;
        std::string target;
        std::string body;
        std::string headers;  // the raw header block
    };
    using Handler = std::function<std::string(const Request&)>;

    // With TLS files the server speaks HTTPS (it records the SNI name clients send).
    struct Tls {
        std::string certificate_chain_file;
        std::string private_key_file;
    };

    ScriptedHttpServer(boost::asio::io_context& io, Handler handler, std::optional<Tls> tls = {});
    ~ScriptedHttpServer();

    std::uint16_t port() const;
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
    int connections() const;
    // The TLS server name of the latest handshake ("" when the client sent none).
    std::string last_sni() const;

    // A complete HTTP/1.1 response with a JSON body.
    static std::string json_response(const std::string& body, unsigned status = 200,
                                     bool keep_alive = true);

private:
    struct Impl;
    std::shared_ptr<Impl> m_impl;
};

}  // namespace obsync::test
