#include "util/hex.hpp"

#include <gtest/gtest.h>

#include "support/test_util.hpp"
#include "util/error.hpp"

namespace obsync {
namespace {

TEST(Hex, EncodesLowercase) {
    const Bytes bytes = {0x00, 0x0f, 0xa5, 0xff};
    EXPECT_EQ(to_hex(bytes), "000fa5ff");
    EXPECT_EQ(to_hex({}), "");
}

TEST(Hex, DecodesBothCases) {
    EXPECT_EQ(from_hex("000FA5ff"), (Bytes{0x00, 0x0f, 0xa5, 0xff}));
    EXPECT_TRUE(from_hex("").empty());
}

TEST(Hex, RoundTripsEveryByte) {
    Bytes all(256);
    for (int i = 0; i < 256; ++i) {
        all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    }
    EXPECT_EQ(from_hex(to_hex(all)), all);
}

TEST(Hex, RejectsOddLengthAndBadCharacters) {
    EXPECT_EQ(test::error_kind_of([] { from_hex("abc"); }), ErrorKind::bad_input);
    EXPECT_EQ(test::error_kind_of([] { from_hex("zz"); }), ErrorKind::bad_input);
    EXPECT_EQ(test::error_kind_of([] { from_hex("0g"); }), ErrorKind::bad_input);
    EXPECT_EQ(test::error_kind_of([] { from_hex(std::string("0\0", 2)); }), ErrorKind::bad_input);
    try {
        from_hex("00x0");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "malformed hex: non-hex character at offset 2");
    }
}

TEST(Hex, IsLowerHexIsWhatToHexWrites) {
    EXPECT_TRUE(is_lower_hex(""));
    EXPECT_TRUE(is_lower_hex("0123456789abcdef"));
    EXPECT_TRUE(is_lower_hex(to_hex(Bytes{0x00, 0xff, 0x7a})));
    EXPECT_FALSE(is_lower_hex("abc"));  // not whole bytes
    EXPECT_FALSE(is_lower_hex("AB"));   // upper case
    EXPECT_FALSE(is_lower_hex("0g"));
    EXPECT_FALSE(is_lower_hex(std::string("0\0", 2)));
}

}  // namespace
}  // namespace obsync
