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
// Unicode case folding ("Straße" and "STRASSE" fold alike), and NFC with it: how a
// case-insensitive file system compares names (sync/portable_names.cpp).
std::string casefold(std::string_view text);
std::string nfc_casefold(std::string_view text);

}  // namespace obsync::crypto
