#include "crypto/text_normalize.hpp"

#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "util/error.hpp"

namespace obsync::crypto {
namespace {

std::string normalize(std::string_view text, int options, const char* form) {
    if (text.empty()) {
        return {};
    }
    utf8proc_uint8_t* out = nullptr;
    const utf8proc_ssize_t n =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                     static_cast<utf8proc_ssize_t>(text.size()), &out,
                     static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
    const std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owned(out, &std::free);
    if (n < 0) {
        throw Error(ErrorKind::bad_input,
                    std::string("cannot apply ") + form + " normalisation: " + utf8proc_errmsg(n));
    }
    return {reinterpret_cast<const char*>(out), static_cast<std::size_t>(n)};
}

}  // namespace

std::string nfkc(std::string_view text) {
    return normalize(text, UTF8PROC_COMPOSE | UTF8PROC_COMPAT, "NFKC");
}

std::string nfc(std::string_view text) {
    return normalize(text, UTF8PROC_COMPOSE, "NFC");
}

std::string casefold(std::string_view text) {
    return normalize(text, UTF8PROC_CASEFOLD, "case folding");
}

std::string nfc_casefold(std::string_view text) {
    return normalize(text, UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD, "NFC case folding");
}

}  // namespace obsync::crypto
