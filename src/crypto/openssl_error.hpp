#pragma once

#include <string_view>

namespace obsync::crypto::detail {

// Throws Error{crypto} naming the failed OpenSSL call and the library's own reason. OpenSSL's
// error queue never holds key material, so its text is safe to show.
[[noreturn]] void throw_openssl(std::string_view what);

inline void check(int rc, std::string_view what) {
    if (rc != 1) {
        throw_openssl(what);
    }
}

}  // namespace obsync::crypto::detail
