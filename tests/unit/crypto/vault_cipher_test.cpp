#include "crypto/vault_cipher.hpp"

#include <random>
#include <string>

#include <gtest/gtest.h>

#include "crypto/sha256.hpp"
#include "support/test_util.hpp"
#include "util/base64.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {
namespace {

// Ciphers built from the raw keys of protocol §3.8 (scrypt itself is tested in kdf_test).
VaultCipher cipher_from_b64(const char* key_b64, std::string_view salt, EncryptionVersion v) {
    return {Key32(base64_decode(key_b64)), salt, v};
}

VaultCipher v3() {
    return cipher_from_b64("OT/CMmXYfQUZPUju6uTkIFpfXvfH5dR5q1ULMMvtdcE=",
                           "c8bb2e693dda64f909fae2efda7e9742", EncryptionVersion::v3);
}
VaultCipher v2() {
    return cipher_from_b64("VEOt7lrPbuhgjkBzAU/XZ+685K3sNO90LfdApCvT7Gk=", "abcdef",
                           EncryptionVersion::v2);
}
VaultCipher v0() {
    return cipher_from_b64("z9zpmImw3YMQGbKoa0cMUBIEAwJTgYI4MQZ0PU93gBk=",
                           "0123456789abcdef0123456789abcdef", EncryptionVersion::v0);
}

TEST(VaultCipher, Keyhashes) {
    EXPECT_EQ(v3().keyhash(), "05c5dfb722e7532d2674488040e129696204c334b960bc350160868d7d4ab6e6");
    EXPECT_EQ(v2().keyhash(), "1f24a482712c23a9ba93670c614cac9449dfec828dad7493fd40f1213077a295");
    EXPECT_EQ(v0().keyhash(), "5a288f2d563bd820984c1316f28cfb41bf2f585ab6510ec90f95ca72b682dfad");
}

TEST(VaultCipher, FromPasswordRunsTheWholeDerivation) {
    // Managed vault of §3.8: the password comes from the vault list.
    const VaultCipher managed =
        VaultCipher::from_password("6113761f8929d1c8527f80414030f6df",
                                   "07c465f04530de3f8ca37475d9038bf0", EncryptionVersion::v3);
    EXPECT_EQ(managed.keyhash(),
              "37b3d8655d3b2889716bac22a55bc9aa98b88096e63c7fb79dff07fc317dcde6");
    const VaultCipher nfkc = VaultCipher::from_password("p\xC3\xA4ssw\xC3\xB6rd \xEF\xAC\x81",
                                                        "abcdef", EncryptionVersion::v2);
    EXPECT_EQ(nfkc.keyhash(), v2().keyhash());
    EXPECT_EQ(nfkc.version(), EncryptionVersion::v2);
}

struct EncodeVector {
    std::string plain;
    std::string hex;
};

void expect_vectors(const VaultCipher& cipher, const std::vector<EncodeVector>& vectors) {
    for (const auto& [plain, hex] : vectors) {
        EXPECT_EQ(cipher.encode(plain), hex) << plain;
        EXPECT_EQ(cipher.decode(hex), plain) << plain;
    }
}

TEST(VaultCipher, V3EncodingsMatchTheOfficialClient) {
    expect_vectors(
        v3(),
        {
            {"Hello.md", "02b0e1eac861b1469d02537bdf8a82be57b2c0a16107546a"},
            {"Empty", "08ff0be1fcf01e1b115b1a2da1152b957b44486940"},
            {"a.md", "e429fbdaf378727ebb65142bfc43945a02914717"},
            {"Folder/Sub/Deep note.md",
             "2ad02c013bd37f497abdd0c8bc7120a9b87fbd86025172d936f98c23fa525643c193df6eb52a56"},
            {"781077d0293c27bf5145c6727b576ff5077d8a8f3ea5f0d72ac81785e4ee361c",
             "c25316ecf4cfc159909af86e399b466ececa2e1066f9ac92ed736135c829ce0c59333253973c34df23cf"
             "fbc47989afca4cea2b31582d458140e8130c7a050284afc6a40e47ca2a814d58ddb1324f1c14"},
            {"wrap-" + std::string(150, 'x') + "-00014473.md",
             "c73df63773bf7333e57cf091ffd3fff876839b9382a26afb45d91eb8fc611503741cd712e9a896e17f7e"
             "ccfaf805d016d3cd65256b10ad443861e0a305d8d26a443446c9d6dd8b185a8ee623405e37bfea16911a"
             "df823cb68416ad766224cee6ff14aa70d5ed8f184a10ebcff55750b322401b08ffccb59c944001841cd2"
             "11fc58626371e509b0ba6c9e603e848515327e4f35a6f99a27e1117b5662191148369df5d93fea99fd74"
             "dcbd9cf5505f0c355a50324b46cda7"},
        });
}

TEST(VaultCipher, V2AndV0EncodingsMatchTheOfficialClient) {
    expect_vectors(v2(), {{"dir", "51f98b6ce4048787be7ac61d9f1909f9867c46"}});
    expect_vectors(
        v0(),
        {{"note.md", "1188c3be78790ea66821b418049ddb3bd3e18f96d2ca5ea956120974207707e6d79c93"},
         {"dir", "2b64c6d9afd8a34ed0dbf35f089743b4a3e2b14dd959c52606bdcfc2e84a09"}});
}

TEST(VaultCipher, ContentHashEncodingLengths) {
    const std::string hash = sha256_hex({});
    EXPECT_EQ(v3().encode(hash).size(), 160U);
    EXPECT_EQ(v0().encode(hash).size(), 184U);
}

TEST(VaultCipher, ContentRoundTripsAndUsesTheVersionKey) {
    const std::string plain = "# Hello\n\nWorld, edited\n";
    for (const VaultCipher& cipher : {v0(), v2(), v3()}) {
        const Bytes blob = cipher.encrypt_content(as_bytes(plain));
        EXPECT_EQ(to_string(cipher.decrypt_content(blob)), plain);
        BlobDecryptor stream = cipher.content_decryptor();
        const ByteView released = stream.update(blob);
        stream.finish();
        EXPECT_EQ(as_chars(released), plain);
    }
    // v3's content key is HKDF-derived, not the raw key: the §3.8 GCM vector decrypts.
    EXPECT_EQ(to_string(v3().decrypt_content(from_hex(
                  "000102030405060708090a0bd4eac06e451533c81fa073d8e136c49df0f99d2dcdee3712b81240"
                  "02ffa8cc2b46420212b6305c"))),
              plain);
    EXPECT_EQ(
        test::error_kind_of([&] { v2().decrypt_content(v3().encrypt_content(as_bytes(plain))); }),
        ErrorKind::crypto);
}

std::string random_path(std::mt19937_64& rng, std::size_t segments) {
    static const std::vector<std::string> pieces = {
        "a", "Note", " ",    "é", "\xF0\x9F\x98\x80" /* 😀 */, "日本語", "-", ".md",
        "Ω", "x",    "long", "ü", "\xE2\x80\x94" /* — */,     "0",      "(", ")"};
    std::string out;
    for (std::size_t s = 0; s < segments; ++s) {
        if (s > 0) {
            out += '/';
        }
        const std::size_t len = 1 + rng() % 40;
        for (std::size_t i = 0; i < len; ++i) {
            out += pieces[rng() % pieces.size()];
        }
    }
    return out;
}

TEST(VaultCipher, RandomUnicodePathsRoundTrip) {
    std::mt19937_64 rng(11);
    for (const VaultCipher& cipher : {v0(), v3()}) {
        for (int i = 0; i < 300; ++i) {
            const std::string path = random_path(rng, 1 + rng() % 8);
            const std::string hex = cipher.encode(path);
            EXPECT_EQ(cipher.encode(path), hex) << "encoding must be deterministic";
            EXPECT_EQ(cipher.decode(hex), path);
        }
    }
}

TEST(VaultCipher, TamperedOrMalformedHexIsRejected) {
    for (const VaultCipher& cipher : {v0(), v3()}) {
        const std::string hex = cipher.encode("Folder/Sub/Deep note.md");
        for (std::size_t i = 0; i < hex.size(); ++i) {
            std::string bad = hex;
            bad[i] = bad[i] == '0' ? '1' : '0';
            EXPECT_EQ(test::error_kind_of([&] { cipher.decode(bad); }), ErrorKind::crypto) << i;
        }
        EXPECT_EQ(test::error_kind_of([&] { cipher.decode(hex.substr(1)); }), ErrorKind::bad_input);
        EXPECT_EQ(test::error_kind_of([&] { cipher.decode("zz" + hex.substr(2)); }),
                  ErrorKind::bad_input);
        EXPECT_EQ(test::error_kind_of([&] { cipher.decode("abcd"); }), ErrorKind::crypto);
    }
}

TEST(VaultCipher, WrongPasswordCannotDecodeNames) {
    const VaultCipher wrong =
        VaultCipher(Key32(Bytes(32, 9)), "c8bb2e693dda64f909fae2efda7e9742", EncryptionVersion::v3);
    EXPECT_NE(wrong.keyhash(), v3().keyhash());
    EXPECT_EQ(test::error_kind_of(
                  [&] { wrong.decode("02b0e1eac861b1469d02537bdf8a82be57b2c0a16107546a"); }),
              ErrorKind::crypto);
}

TEST(EncryptionVersion, OnlyZeroTwoAndThreeAreSupported) {
    EXPECT_EQ(encryption_version_from_int(0), EncryptionVersion::v0);
    EXPECT_EQ(encryption_version_from_int(2), EncryptionVersion::v2);
    EXPECT_EQ(encryption_version_from_int(3), EncryptionVersion::v3);
    for (long long bad : {1LL, 4LL, -1LL, 300LL}) {
        try {
            encryption_version_from_int(bad);
            FAIL() << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::crypto);
            EXPECT_NE(std::string(e.what()).find("encryption version " + std::to_string(bad) +
                                                 " is not supported"),
                      std::string::npos);
        }
    }
}

// The form credentials and keyhash_only() check: exactly what keyhash() gives, nothing looser, so
// that a mangled copy is a configuration error where it is read, not a refusal by the server.
TEST(VaultCipher, IsKeyhashAcceptsExactlyTheFormKeyhashGives) {
    EXPECT_TRUE(is_keyhash(v3().keyhash()));
    EXPECT_TRUE(is_keyhash(v0().keyhash()));
    std::string upper = v3().keyhash();
    upper[0] = 'A';
    upper[1] = 'F';
    for (const std::string& bad :
         {std::string(), upper, v3().keyhash().substr(1), v3().keyhash() + "0",
          std::string(63, 'a') + "g", std::string(63, 'a') + " "}) {
        EXPECT_FALSE(is_keyhash(bad)) << bad;
        EXPECT_EQ(test::error_kind_of(
                      [&] { (void)VaultCipher::keyhash_only(bad, EncryptionVersion::v3); }),
                  ErrorKind::config);
    }
}

// The shape a keyhash-only session checks: what encode() really gives, per version, and the
// protocol's figures for an encoded content hash (§4: 160 hex characters in v3, 184 in v0).
TEST(VaultCipher, EncodedHexSizeIsWhatEncodeGives) {
    EXPECT_EQ(encoded_hex_size(EncryptionVersion::v3, 64), 160U);
    EXPECT_EQ(encoded_hex_size(EncryptionVersion::v0, 64), 184U);
    for (const std::string& text : {std::string("a"), std::string("Notes/n.md"),
                                    std::string(64, 'f'), std::string(300, 'x')}) {
        EXPECT_EQ(v3().encode(text).size(), encoded_hex_size(EncryptionVersion::v3, text.size()));
        EXPECT_EQ(v2().encode(text).size(), encoded_hex_size(EncryptionVersion::v2, text.size()));
        EXPECT_EQ(v0().encode(text).size(), encoded_hex_size(EncryptionVersion::v0, text.size()));
    }
}

}  // namespace
}  // namespace obsync::crypto
