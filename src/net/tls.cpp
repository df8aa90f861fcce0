#include "net/tls.hpp"

#include <system_error>

#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

namespace obsync::net::detail {

std::string CaBundleChoice::describe() const {
    if (from_env) {
        return "CA bundle from SSL_CERT_FILE: " + file.value_or("");
    }
    std::string out = file ? "CA bundle " + *file + " and OpenSSL's default paths"
                           : "no CA bundle found (looked for";
    if (!file) {
        for (const char* candidate : system_ca_bundles) {
            out += std::string(" ") + candidate;
        }
        out += "), OpenSSL's default paths only";
    }
    return out + "; set SSL_CERT_FILE to a CA bundle if the issuer is missing";
}

CaBundleChoice choose_ca_bundle(const EnvLookup& env,
                                const std::function<bool(const std::string&)>& exists) {
    CaBundleChoice choice;
    if (auto file = env("SSL_CERT_FILE")) {
        choice.file = std::move(file);
        choice.from_env = true;
        return choice;
    }
    choice.default_paths = true;
    for (const char* candidate : system_ca_bundles) {
        if (exists(candidate)) {
            choice.file = candidate;
            break;
        }
    }
    return choice;
}

const CaBundleChoice& process_ca_bundle() {
    static const CaBundleChoice choice = choose_ca_bundle(env_var, [](const std::string& path) {
        struct stat st {};
        return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
    });
    return choice;
}

boost::asio::ssl::context& client_tls_context() {
    static boost::asio::ssl::context context = [] {
        boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
        SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
        ctx.set_verify_mode(boost::asio::ssl::verify_peer);
        const CaBundleChoice& bundle = process_ca_bundle();
        if (bundle.default_paths) {
            SSL_CTX_set_default_verify_paths(ctx.native_handle());
        }
        if (bundle.file) {
            // A bundle that cannot be read leaves the store without it: the handshake then
            // fails with a message that names the bundle (describe_tls_error).
            SSL_CTX_load_verify_locations(ctx.native_handle(), bundle.file->c_str(), nullptr);
        }
        ERR_clear_error();
        return ctx;
    }();
    return context;
}

std::string describe_tls_error(const boost::system::error_code& ec, const std::string& host) {
    std::string message = "TLS handshake with " + host + " failed: " + ec.message();
    if (ec.category() == boost::asio::error::get_ssl_category()) {
        message += " (" + process_ca_bundle().describe() + ")";
    }
    return message;
}

}  // namespace obsync::net::detail
