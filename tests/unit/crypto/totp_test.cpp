#include "crypto/totp.hpp"

#include <gtest/gtest.h>

#include "support/test_util.hpp"

namespace obsync::crypto {
namespace {

const std::string k_rfc_seed = "12345678901234567890";

// RFC 6238 Appendix B, SHA-1 rows (8 digits).
TEST(Totp, Rfc6238Sha1Vectors) {
    const std::pair<std::int64_t, const char*> rows[] = {
        {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
        {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
    };
    for (const auto& [t, code] : rows) {
        EXPECT_EQ(totp(as_bytes(k_rfc_seed), t, 8), code) << t;
        // A 6-digit code is the same number modulo 10^6.
        EXPECT_EQ(totp(as_bytes(k_rfc_seed), t), std::string(code).substr(2)) << t;
    }
}

// RFC 4226 Appendix D.
TEST(Hotp, Rfc4226Vectors) {
    const char* const codes[] = {"755224", "287082", "359152", "969429", "338314",
                                 "254676", "287922", "162583", "399871", "520489"};
    for (std::uint64_t c = 0; c < 10; ++c) {
        EXPECT_EQ(hotp(as_bytes(k_rfc_seed), c), codes[c]) << c;
    }
}

TEST(Base32, AcceptsTheFormsAuthenticatorAppsShow) {
    const std::string canonical = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    EXPECT_EQ(to_string(base32_decode(canonical)), k_rfc_seed);
    EXPECT_EQ(to_string(base32_decode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq")), k_rfc_seed);
    EXPECT_EQ(to_string(base32_decode("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ")), k_rfc_seed);
    EXPECT_EQ(to_string(base32_decode("MZXW6===")), "foo");
    EXPECT_EQ(to_string(base32_decode("mzxw6")), "foo");
    EXPECT_EQ(to_string(base32_decode("MZXW6YTBOI======")), "foobar");
}

TEST(Base32, RejectsBadSecretsWithoutEchoingThem) {
    for (const char* bad : {"GEZD1NBV", "GEZ=DGNB", "", "  ", "SECRET!"}) {
        try {
            base32_decode(bad);
            FAIL() << "accepted " << bad;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::bad_input);
            EXPECT_EQ(std::string(e.what()).find(bad[0] == '\0' ? "\x01" : bad), std::string::npos)
                << e.what();
        }
    }
}

TEST(Totp, FromBase32SecretAndStepBoundaries) {
    const std::string secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    EXPECT_EQ(totp_from_base32(secret, 59), "287082");
    // Codes change exactly on 30-second boundaries.
    EXPECT_EQ(totp_from_base32(secret, 60), totp_from_base32(secret, 89));
    EXPECT_NE(totp_from_base32(secret, 89), totp_from_base32(secret, 90));
    EXPECT_EQ(test::error_kind_of([] { totp(as_bytes("k"), -1); }), ErrorKind::bad_input);
}

}  // namespace
}  // namespace obsync::crypto
