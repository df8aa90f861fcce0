#include "net/tls.hpp"

#include <boost/asio/ssl/error.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "util/env.hpp"

namespace obsync::net::detail {

boost::asio::ssl::context& client_tls_context() {
    static boost::asio::ssl::context context = [] {
        boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        ctx.set_verify_mode(boost::asio::ssl::verify_peer);
        ctx.set_default_verify_paths();
        return ctx;
    }();
    return context;
}

std::string describe_tls_error(const boost::system::error_code& ec, const std::string& host) {
    std::string message = "TLS handshake with " + host + " failed: " + ec.message();
    if (ec.category() == boost::asio::error::get_ssl_category()) {
        const auto bundle = env_var("SSL_CERT_FILE");
        message += bundle ? " (CA bundle from SSL_CERT_FILE: " + *bundle + ")"
                          : " (set SSL_CERT_FILE to a CA bundle if the system store "
                            "lacks the issuer)";
    }
    return message;
}

}  // namespace obsync::net::detail
