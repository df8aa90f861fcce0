#include "crypto/siv.hpp"

#include <array>
#include <random>
#include <string>

#include <openssl/evp.h>

#include <gtest/gtest.h>

#include "crypto/kdf.hpp"
#include "support/test_util.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {
namespace {

// RFC 5297 Appendix A.1 (deterministic, AES-128, one associated-data string).
TEST(Siv, Rfc5297DeterministicVector) {
    const Bytes key = from_hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    const SivCipher siv(ByteView(key).first(16), ByteView(key).last(16));
    const Bytes ad = from_hex("101112131415161718191a1b1c1d1e1f2021222324252627");
    const Bytes plaintext = from_hex("112233445566778899aabbccddee");
    const std::array<ByteView, 1> ads = {ad};
    const Bytes sealed = siv.seal(plaintext, ads);
    EXPECT_EQ(to_hex(sealed), "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c");
    EXPECT_EQ(siv.open(sealed, ads), plaintext);
}

// RFC 5297 Appendix A.2 (nonce-based: three associated-data strings, 3 CTR blocks, no wrap).
TEST(Siv, Rfc5297NonceBasedVector) {
    const Bytes key = from_hex("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f");
    const SivCipher siv(ByteView(key).first(16), ByteView(key).last(16));
    const Bytes ad1 = from_hex(
        "00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100");
    const Bytes ad2 = from_hex("102030405060708090a0");
    const Bytes nonce = from_hex("09f911029d74e35bd84156c5635688c0");
    const Bytes plaintext = from_hex(
        "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e672053495"
        "62d414553");
    const std::array<ByteView, 3> ads = {ad1, ad2, nonce};
    const Bytes sealed = siv.seal(plaintext, ads);
    EXPECT_EQ(to_hex(sealed),
              "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3"
              "f748ba8af829ea64ad544a272e9c485b62a3fd5c0d");
    EXPECT_EQ(siv.open(sealed, ads), plaintext);
}

// OpenSSL's AES-256-SIV with key mac||ctr and no associated data: the standard construction.
Bytes openssl_siv_seal(ByteView mac_key, ByteView ctr_key, ByteView plaintext) {
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-SIV", nullptr);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    Bytes key(mac_key.begin(), mac_key.end());
    key.insert(key.end(), ctr_key.begin(), ctr_key.end());
    Bytes out(16 + plaintext.size());
    int len = 0;
    EXPECT_EQ(EVP_EncryptInit_ex2(ctx, cipher, key.data(), nullptr, nullptr), 1);
    EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data() + 16, &len, plaintext.data(),
                                static_cast<int>(plaintext.size())),
              1);
    EXPECT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + 16, &len), 1);
    EXPECT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out.data()), 1);
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return out;
}

class ObsidianSiv : public ::testing::Test {
protected:
    // Protocol §3.8, v3 test vault.
    const Bytes mac_key =
        from_hex("1302e1d5e10c69b2d483f2935a3cad30fe5c527e6ca456a9b81cd16d642690db");
    const Bytes ctr_key =
        from_hex("0c2d61dee794f6a53609fa31703ead47cb8aed23c929e696c1a9dc112397381d");
    const SivCipher siv{mac_key, ctr_key};
};

TEST_F(ObsidianSiv, AgreesWithOpenSslWhenTheCounterDoesNotWrap) {
    // OpenSSL's SIV cannot seal empty input (its final call fails), so start at one byte.
    EXPECT_TRUE(siv.open(siv.seal({})).empty());
    std::mt19937_64 rng(42);
    for (std::size_t n = 1; n < 200; ++n) {
        const Bytes plaintext = test::random_bytes(rng, n);
        const Bytes ours = siv.seal(plaintext);
        // Only compare where the low 16 bits cannot overflow; otherwise OpenSSL carries.
        const unsigned low16 = (ours[14] << 8) | ours[15];
        const std::size_t blocks = (n + 15) / 16;
        if (low16 + blocks - 1 > 0xffff) {
            continue;
        }
        EXPECT_EQ(to_hex(ours), to_hex(openssl_siv_seal(mac_key, ctr_key, plaintext))) << n;
        EXPECT_EQ(siv.open(ours), plaintext);
    }
}

// Protocol §3.5/§3.8: a 167-byte name whose S2V tag has low16 = 0xfff8, so the counter wraps.
// The official client produced `k_client`; OpenSSL's AES-SIV carries and produces another text.
TEST_F(ObsidianSiv, SixteenBitCounterWrapMatchesTheOfficialClient) {
    const std::string name = "wrap-" + std::string(150, 'x') + "-00014473.md";
    ASSERT_EQ(name.size(), 167U);
    const std::string k_client =
        "c73df63773bf7333e57cf091ffd3fff876839b9382a26afb45d91eb8fc611503741cd712e9a896e17f7eccfa"
        "f805d016d3cd65256b10ad443861e0a305d8d26a443446c9d6dd8b185a8ee623405e37bfea16911adf823cb6"
        "8416ad766224cee6ff14aa70d5ed8f184a10ebcff55750b322401b08ffccb59c944001841cd211fc58626371"
        "e509b0ba6c9e603e848515327e4f35a6f99a27e1117b5662191148369df5d93fea99fd74dcbd9cf5505f0c35"
        "5a50324b46cda7";
    const Bytes ours = siv.seal(as_bytes(name));
    EXPECT_EQ(to_hex(ours), k_client);
    EXPECT_EQ(to_string(siv.open(from_hex(k_client))), name);

    const std::string openssl_hex = to_hex(openssl_siv_seal(mac_key, ctr_key, as_bytes(name)));
    EXPECT_NE(openssl_hex, k_client);
    EXPECT_EQ(openssl_hex.substr(0, 2 * (16 + 128)), k_client.substr(0, 2 * (16 + 128)));
    EXPECT_TRUE(openssl_hex.ends_with(
        "2f97c50e4f5f820560a651b5e049b532b275c1a832c24775f2c1d90d24c2b0993b69ff0e49f75dc"));
}

TEST_F(ObsidianSiv, DetectsEveryTamperedByte) {
    const Bytes sealed = siv.seal(as_bytes("Folder/Sub/Deep note.md"));
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        for (const int flip : {0x01, 0x80}) {
            Bytes bad = sealed;
            bad[i] = static_cast<std::uint8_t>(bad[i] ^ flip);
            EXPECT_EQ(test::error_kind_of([&] { siv.open(bad); }), ErrorKind::crypto) << i;
        }
    }
    const Bytes truncated(sealed.begin(), sealed.end() - 1);
    EXPECT_EQ(test::error_kind_of([&] { siv.open(truncated); }), ErrorKind::crypto);
    EXPECT_EQ(test::error_kind_of([&] { siv.open(ByteView(sealed).first(15)); }),
              ErrorKind::crypto);
}

TEST(SivKeys, RejectsWrongKeySizes) {
    const Bytes k16(16), k32(32), k24(24);
    EXPECT_EQ(test::error_kind_of([&] { SivCipher(k24, k24); }), ErrorKind::crypto);
    EXPECT_EQ(test::error_kind_of([&] { SivCipher(k16, k32); }), ErrorKind::crypto);
}

}  // namespace
}  // namespace obsync::crypto
