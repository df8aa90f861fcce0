#pragma once

// Internal to net/: connection set-up shared by the HTTP and the WebSocket client.

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/error_code.hpp>

#include "net/url.hpp"

namespace obsync::net::detail {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

// Resolves and connects, bounded by `timeout`. Throws Error{network}.
boost::asio::awaitable<void> connect_tcp(boost::beast::tcp_stream& stream, const Url& url,
                                         std::chrono::milliseconds timeout);

// SNI, certificate and host name verification, handshake. Throws Error{network} on a transport
// failure and Error{config} when the peer's certificate is not trusted.
boost::asio::awaitable<void> tls_handshake(TlsStream& stream, const Url& url,
                                           std::chrono::milliseconds timeout);

// "HOST:PORT: what went wrong", with timeouts spelled out.
std::string describe(const boost::system::error_code& ec, const Url& url, std::string_view during);

// Throws Error{network} built by describe().
[[noreturn]] void throw_network(const boost::system::error_code& ec, const Url& url,
                                std::string_view during);

}  // namespace obsync::net::detail
