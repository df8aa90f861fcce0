#include "crypto/openssl_error.hpp"

#include <array>
#include <string>

#include <openssl/err.h>

#include "util/error.hpp"

namespace obsync::crypto::detail {

void throw_openssl(std::string_view what) {
    std::string message = "OpenSSL ";
    message += what;
    message += " failed";
    const unsigned long code = ERR_get_error();
    if (code != 0) {
        std::array<char, 256> reason{};
        ERR_error_string_n(code, reason.data(), reason.size());
        message += ": ";
        message += reason.data();
    }
    ERR_clear_error();
    throw Error(ErrorKind::crypto, message);
}

}  // namespace obsync::crypto::detail
