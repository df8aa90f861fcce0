#pragma once

// Internal to net/: included by the .cpp files that open TLS connections.

#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

namespace obsync::net::detail {

// A client context that verifies peers against the system CA store. OpenSSL's default paths
// honour SSL_CERT_FILE and SSL_CERT_DIR, which is how AWS Lambda's bundle at
// /etc/pki/tls/certs/ca-bundle.crt (or a test CA) is selected.
boost::asio::ssl::context& client_tls_context();

// A message that tells the user what to do about a failed TLS handshake.
std::string describe_tls_error(const boost::system::error_code& ec, const std::string& host);

}  // namespace obsync::net::detail
