#include "net/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <openssl/ssl.h>

#include "net/tls.hpp"
#include "util/error.hpp"

namespace obsync::net::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {
constexpr auto k_nothrow = asio::as_tuple(asio::use_awaitable);
}

std::string describe(const boost::system::error_code& ec, const Url& url, std::string_view during) {
    std::string message = std::string(during) + " " + url.host + ":" + std::to_string(url.port);
    if (ec == beast::error::timeout) {
        return message + ": timed out";
    }
    return message + ": " + ec.message();
}

void throw_network(const boost::system::error_code& ec, const Url& url, std::string_view during) {
    throw Error(ErrorKind::network, describe(ec, url, during));
}

asio::awaitable<void> connect_tcp(beast::tcp_stream& stream, const Url& url,
                                  std::chrono::milliseconds timeout) {
    tcp::resolver resolver(stream.get_executor());
    auto [rec, endpoints] =
        co_await resolver.async_resolve(url.host, std::to_string(url.port), k_nothrow);
    if (rec) {
        throw_network(rec, url, "cannot resolve");
    }
    stream.expires_after(timeout);
    auto [cec, endpoint] = co_await stream.async_connect(endpoints, k_nothrow);
    if (cec) {
        throw_network(cec, url, "cannot connect to");
    }
    stream.socket().set_option(tcp::no_delay(true));
}

asio::awaitable<void> tls_handshake(TlsStream& stream, const Url& url,
                                    std::chrono::milliseconds timeout) {
    boost::system::error_code ignored;
    const bool is_ip = !asio::ip::make_address(url.host, ignored).is_unspecified() && !ignored;
    // SNI carries names only, never addresses (RFC 6066 §3).
    if (!is_ip && SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1) {
        throw Error(ErrorKind::network, "cannot set TLS server name for " + url.host);
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, k_nothrow);
    if (ec) {
        const bool certificate = ec.category() == asio::error::get_ssl_category();
        throw Error(certificate ? ErrorKind::config : ErrorKind::network,
                    describe_tls_error(ec, url.host + ":" + std::to_string(url.port)));
    }
}

}  // namespace obsync::net::detail
