#pragma once

// Internal to net/: included by the .cpp files that open TLS connections.

#include <array>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "util/env.hpp"

namespace obsync::net::detail {

// The system CA bundles probed when SSL_CERT_FILE is not set, in order: Amazon Linux/RHEL (AWS
// Lambda's provided.al2023), Debian/Ubuntu, Alpine/macOS. The Lambda package links Debian's
// OpenSSL statically, whose own default (OPENSSLDIR=/usr/lib/ssl) does not exist on AL2023.
inline constexpr std::array<const char*, 3> system_ca_bundles = {
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/cert.pem",
};

// Where the client's trusted CAs come from.
struct CaBundleChoice {
    std::optional<std::string> file;  // a bundle file to load (none: no bundle was found)
    bool from_env = false;            // `file` is SSL_CERT_FILE, and it alone is trusted
    bool default_paths = false;       // also OpenSSL's default paths (they honour SSL_CERT_DIR)

    // For error messages: e.g. "CA bundle from SSL_CERT_FILE: /x.pem".
    std::string describe() const;
};

// SSL_CERT_FILE when set (and only it); otherwise OpenSSL's default paths plus the first of
// system_ca_bundles that exists.
CaBundleChoice choose_ca_bundle(const EnvLookup& env,
                                const std::function<bool(const std::string&)>& exists);

// The choice of this process (from its environment and file system), made once.
const CaBundleChoice& process_ca_bundle();

// A client context that verifies peers against process_ca_bundle().
boost::asio::ssl::context& client_tls_context();

// A message that tells the user what to do about a failed TLS handshake (it names the bundle).
std::string describe_tls_error(const boost::system::error_code& ec, const std::string& host);

}  // namespace obsync::net::detail
