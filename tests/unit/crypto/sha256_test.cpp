#include "crypto/sha256.hpp"

#include <random>

#include <gtest/gtest.h>

#include "support/test_util.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {
namespace {

TEST(Sha256, KnownDigests) {
    EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex(as_bytes("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // The content hash of protocol §3.8.
    EXPECT_EQ(sha256_hex(as_bytes("# Hello\n\nWorld, edited\n")),
              "781077d0293c27bf5145c6727b576ff5077d8a8f3ea5f0d72ac81785e4ee361c");
}

TEST(Sha256, IncrementalEqualsOneShotAndResets) {
    std::mt19937_64 rng(1);
    const Bytes data = test::random_bytes(rng, 100000);
    Sha256 hasher;
    for (std::size_t off = 0; off < data.size(); off += 777) {
        hasher.update(ByteView(data).subspan(off, std::min<std::size_t>(777, data.size() - off)));
    }
    EXPECT_EQ(hasher.finish(), sha256(data));
    hasher.update(as_bytes("abc"));
    EXPECT_EQ(to_hex(hasher.finish()), sha256_hex(as_bytes("abc")));
}

}  // namespace
}  // namespace obsync::crypto
