#pragma once

#include <string>
#include <string_view>

namespace obsync::crypto {

// Unicode normalisation of UTF-8 text. Throws Error{bad_input} on invalid UTF-8.
//
// NFKC is applied to passwords and salts before scrypt (protocol §3.1): "ﬁ" and "fi" give the
// same key. NFC is the form of vault paths (§3.6).
std::string nfkc(std::string_view text);
std::string nfc(std::string_view text);

}  // namespace obsync::crypto
