#include "crypto/text_normalize.hpp"

#include <gtest/gtest.h>

#include "support/test_util.hpp"

namespace obsync::crypto {
namespace {

TEST(TextNormalize, NfkcFoldsCompatibilityCharacters) {
    // Protocol §3.1: the U+FB01 ligature password gives the same key as plain "fi".
    EXPECT_EQ(nfkc("p\xC3\xA4ssw\xC3\xB6rd \xEF\xAC\x81"), "p\xC3\xA4ssw\xC3\xB6rd fi");
    // Full-width digits and a decomposed "é" (e + U+0301).
    EXPECT_EQ(nfkc("\xEF\xBC\x91\xEF\xBC\x92"), "12");
    EXPECT_EQ(nfkc("e\xCC\x81"), "\xC3\xA9");
    EXPECT_EQ(nfkc(""), "");
}

TEST(TextNormalize, NfcComposesButKeepsCompatibilityCharacters) {
    EXPECT_EQ(nfc("Cafe\xCC\x81.md"), "Caf\xC3\xA9.md");
    EXPECT_EQ(nfc("\xEF\xAC\x81"), "\xEF\xAC\x81");
    EXPECT_EQ(nfc("plain/ascii path.md"), "plain/ascii path.md");
}

TEST(TextNormalize, InvalidUtf8IsBadInput) {
    EXPECT_EQ(test::error_kind_of([] { nfkc("\xFF\xFE"); }), ErrorKind::bad_input);
    EXPECT_EQ(test::error_kind_of([] { nfc("abc\xC3"); }), ErrorKind::bad_input);
}

}  // namespace
}  // namespace obsync::crypto
