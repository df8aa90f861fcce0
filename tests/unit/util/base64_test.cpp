#include "util/base64.hpp"

#include <random>

#include <gtest/gtest.h>

#include "support/test_util.hpp"

namespace obsync {
namespace {

// RFC 4648 §10.
TEST(Base64, Rfc4648Vectors) {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
        EXPECT_EQ(to_string(base64_decode(encoded)), plain);
    }
}

TEST(Base64, RoundTripsRandomData) {
    std::mt19937_64 rng(7);
    for (std::size_t n = 0; n < 100; ++n) {
        const Bytes data = test::random_bytes(rng, n);
        EXPECT_EQ(base64_decode(base64_encode(data)), data);
    }
}

TEST(Base64, RejectsMalformedInput) {
    for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm=v", "Zm9v\n"}) {
        EXPECT_EQ(test::error_kind_of([&] { base64_decode(bad); }), ErrorKind::bad_input) << bad;
    }
}

}  // namespace
}  // namespace obsync
