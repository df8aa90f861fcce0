#include "crypto/kdf.hpp"

#include <array>
#include <numeric>

#include <gtest/gtest.h>

#include "util/base64.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {
namespace {

Bytes range_bytes(int from, int to) {
    Bytes out;
    for (int i = from; i < to; ++i) {
        out.push_back(static_cast<std::uint8_t>(i));
    }
    return out;
}

// RFC 7914 §12.
TEST(Scrypt, Rfc7914Vectors) {
    std::array<std::uint8_t, 64> out{};
    scrypt({}, {}, ScryptParams{16, 1, 1}, out);
    EXPECT_EQ(to_hex(out),
              "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a"
              "753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906");
    scrypt(as_bytes("password"), as_bytes("NaCl"), ScryptParams{1024, 8, 16}, out);
    EXPECT_EQ(to_hex(out),
              "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff1"
              "09279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
}

// Protocol §3.8: the vault keys the official client derived.
TEST(VaultKey, MatchesTheOfficialClient) {
    EXPECT_EQ(
        base64_encode(derive_vault_key("correct horse", "c8bb2e693dda64f909fae2efda7e9742").view()),
        "OT/CMmXYfQUZPUju6uTkIFpfXvfH5dR5q1ULMMvtdcE=");
    EXPECT_EQ(base64_encode(derive_vault_key("pw0", "0123456789abcdef0123456789abcdef").view()),
              "z9zpmImw3YMQGbKoa0cMUBIEAwJTgYI4MQZ0PU93gBk=");
}

TEST(VaultKey, NormalisesPasswordWithNfkc) {
    const Key32 ligature = derive_vault_key("p\xC3\xA4ssw\xC3\xB6rd \xEF\xAC\x81", "abcdef");
    const Key32 plain = derive_vault_key("p\xC3\xA4ssw\xC3\xB6rd fi", "abcdef");
    EXPECT_EQ(base64_encode(ligature.view()), "VEOt7lrPbuhgjkBzAU/XZ+685K3sNO90LfdApCvT7Gk=");
    EXPECT_EQ(to_hex(ligature.view()), to_hex(plain.view()));
}

// RFC 5869 Appendix A, SHA-256 cases.
TEST(Hkdf, Rfc5869Vectors) {
    const Bytes ikm1(22, 0x0b);
    std::array<std::uint8_t, 42> okm1{};
    const Bytes info1 = range_bytes(0xf0, 0xfa);
    hkdf_sha256(ikm1, range_bytes(0, 13), as_chars(info1), okm1);
    EXPECT_EQ(
        to_hex(okm1),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");

    std::array<std::uint8_t, 82> okm2{};
    const Bytes info2 = range_bytes(0xb0, 0x100);
    hkdf_sha256(range_bytes(0, 0x50), range_bytes(0x60, 0xb0), as_chars(info2), okm2);
    EXPECT_EQ(to_hex(okm2),
              "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb"
              "41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");

    std::array<std::uint8_t, 42> okm3{};
    hkdf_sha256(ikm1, {}, "", okm3);
    EXPECT_EQ(
        to_hex(okm3),
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

// Protocol §3.8: the v3 per-purpose keys, from the raw key and the salt string.
TEST(Hkdf, ObsidianV3Keys) {
    const Bytes key = from_hex("393fc23265d87d05193d48eeeae4e4205a5f5ef7c7e5d479ab550b30cbed75c1");
    const ByteView salt = as_bytes("c8bb2e693dda64f909fae2efda7e9742");
    EXPECT_EQ(to_hex(hkdf_sha256_key(key, salt, "ObsidianKeyHash").view()),
              "05c5dfb722e7532d2674488040e129696204c334b960bc350160868d7d4ab6e6");
    EXPECT_EQ(to_hex(hkdf_sha256_key(key, {}, "ObsidianAesGcm").view()),
              "a23c63fe69a4ddf91486681ea32f413ee77d394b6c7fe43f5c0394da32d445af");
    EXPECT_EQ(to_hex(hkdf_sha256_key(key, salt, "ObsidianAesSivMac").view()),
              "1302e1d5e10c69b2d483f2935a3cad30fe5c527e6ca456a9b81cd16d642690db");
    EXPECT_EQ(to_hex(hkdf_sha256_key(key, salt, "ObsidianAesSivEnc").view()),
              "0c2d61dee794f6a53609fa31703ead47cb8aed23c929e696c1a9dc112397381d");
}

}  // namespace
}  // namespace obsync::crypto
