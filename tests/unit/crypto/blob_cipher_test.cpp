#include "crypto/blob_cipher.hpp"

#include <random>

#include <gtest/gtest.h>

#include "support/test_util.hpp"
#include "util/hex.hpp"

namespace obsync::crypto {
namespace {

Key32 key_from_hex(std::string_view hex) {
    return Key32(from_hex(hex));
}

// Protocol §3.8: the v3 vault's content key and an IV of 00..0b.
const char* const k_gcm_key = "a23c63fe69a4ddf91486681ea32f413ee77d394b6c7fe43f5c0394da32d445af";
const char* const k_gcm_blob =
    "000102030405060708090a0bd4eac06e451533c81fa073d8e136c49df0f99d2dcdee3712b8124002ffa8cc2b4642"
    "0212b6305c";

// Feeds `blob` to a BlobDecryptor in pieces whose sizes come from `rng` (1..max_piece).
Bytes stream_decrypt(const Key32& key, ByteView blob, std::mt19937_64& rng, std::size_t max_piece) {
    BlobDecryptor decryptor(key);
    Bytes out;
    std::size_t off = 0;
    while (off < blob.size()) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % max_piece, blob.size() - off);
        const ByteView released = decryptor.update(blob.subspan(off, n));
        out.insert(out.end(), released.begin(), released.end());
        off += n;
    }
    decryptor.finish();
    return out;
}

TEST(BlobCipher, SpecVector) {
    const Key32 key = key_from_hex(k_gcm_key);
    const Bytes iv = from_hex("000102030405060708090a0b");
    const std::string plain = "# Hello\n\nWorld, edited\n";
    EXPECT_EQ(to_hex(encrypt_blob(key, as_bytes(plain), iv)), k_gcm_blob);
    EXPECT_EQ(to_string(decrypt_blob(key, from_hex(k_gcm_blob))), plain);
    std::mt19937_64 rng(3);
    EXPECT_EQ(to_string(stream_decrypt(key, from_hex(k_gcm_blob), rng, 5)), plain);
}

TEST(BlobCipher, EmptyContentIsNotEncrypted) {
    const Key32 key = key_from_hex(k_gcm_key);
    EXPECT_TRUE(encrypt_blob(key, {}).empty());
    EXPECT_TRUE(decrypt_blob(key, {}).empty());
    // An IV alone decrypts to empty content, as the official client reads it.
    EXPECT_TRUE(decrypt_blob(key, Bytes(12, 7)).empty());
    BlobDecryptor empty(key);
    empty.finish();
    EXPECT_EQ(empty.bytes_out(), 0U);
}

TEST(BlobCipher, ShortBlobsAreCryptoErrors) {
    const Key32 key = key_from_hex(k_gcm_key);
    for (std::size_t n : {1, 5, 11, 13, 20, 27}) {
        const Bytes blob(n, 0x42);
        EXPECT_EQ(test::error_kind_of([&] { decrypt_blob(key, blob); }), ErrorKind::crypto) << n;
        BlobDecryptor decryptor(key);
        decryptor.update(blob);
        EXPECT_EQ(test::error_kind_of([&] { decryptor.finish(); }), ErrorKind::crypto) << n;
    }
}

// What can be told of a blob by its size alone (an encrypted-at-rest backup, without the key):
// the sizes decrypt_blob accepts, and the content size an encrypted blob really has.
TEST(BlobCipher, SizesTellWhatABlobHolds) {
    const Key32 key = key_from_hex(k_gcm_key);
    for (std::size_t n : {0, 1, 5, 1000}) {
        const Bytes blob = encrypt_blob(key, Bytes(n, 0x42));
        EXPECT_EQ(blob_plaintext_size(blob.size()), n);
        EXPECT_TRUE(plausible_blob_size(blob.size())) << n;
    }
    EXPECT_EQ(blob_plaintext_size(12), 0U);  // an IV alone
    EXPECT_EQ(blob_plaintext_size(28), 0U);
    EXPECT_TRUE(plausible_blob_size(12));
    for (std::size_t n : {1, 5, 11, 13, 20, 27}) {  // what ShortBlobsAreCryptoErrors refuses
        EXPECT_FALSE(plausible_blob_size(n)) << n;
    }
}

TEST(BlobCipher, RoundTripsRandomSizesUpTo5MB) {
    std::mt19937_64 rng(2024);
    Bytes raw = test::random_bytes(rng, 32);
    const Key32 key(raw);
    std::vector<std::size_t> sizes = {
        0, 1, 15, 16, 17, 4095, 4096, 65536, 2 * 1024 * 1024 + 3, 5 * 1000 * 1000};
    for (int i = 0; i < 6; ++i) {
        sizes.push_back(rng() % (5 * 1000 * 1000));
    }
    for (const std::size_t n : sizes) {
        const Bytes plain = test::random_bytes(rng, n);
        const Bytes blob = encrypt_blob(key, plain);
        EXPECT_EQ(blob.size(), n == 0 ? 0 : n + 28) << n;
        EXPECT_EQ(decrypt_blob(key, blob), plain) << n;
        EXPECT_EQ(stream_decrypt(key, blob, rng, n < 100 ? 7 : 300000), plain) << n;
    }
}

TEST(BlobCipher, RandomIvsMakeEachEncryptionDifferent) {
    const Key32 key = key_from_hex(k_gcm_key);
    EXPECT_NE(encrypt_blob(key, as_bytes("same")), encrypt_blob(key, as_bytes("same")));
}

TEST(BlobCipher, DetectsEveryTamperedByteAndTruncation) {
    const Key32 key = key_from_hex(k_gcm_key);
    std::mt19937_64 rng(9);
    const Bytes plain = test::random_bytes(rng, 64);
    const Bytes blob = encrypt_blob(key, plain);
    for (std::size_t i = 0; i < blob.size(); ++i) {
        Bytes bad = blob;
        bad[i] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        EXPECT_EQ(test::error_kind_of([&] { decrypt_blob(key, bad); }), ErrorKind::crypto) << i;
        EXPECT_EQ(test::error_kind_of([&] { stream_decrypt(key, bad, rng, 9); }), ErrorKind::crypto)
            << i;
    }
    Bytes truncated(blob.begin(), blob.end() - 1);
    EXPECT_EQ(test::error_kind_of([&] { decrypt_blob(key, truncated); }), ErrorKind::crypto);
    Bytes extended = blob;
    extended.push_back(0);
    EXPECT_EQ(test::error_kind_of([&] { stream_decrypt(key, extended, rng, 9); }),
              ErrorKind::crypto);
}

TEST(BlobCipher, WrongKeyFails) {
    const Key32 other(Bytes(32, 1));
    EXPECT_EQ(test::error_kind_of([&] { decrypt_blob(other, from_hex(k_gcm_blob)); }),
              ErrorKind::crypto);
}

TEST(BlobCipher, StreamingMemoryIsBoundedByThePieceSize) {
    const Key32 key = key_from_hex(k_gcm_key);
    std::mt19937_64 rng(5);
    const Bytes blob = encrypt_blob(key, test::random_bytes(rng, 1 << 20));
    BlobDecryptor decryptor(key);
    std::size_t largest_release = 0;
    for (std::size_t off = 0; off < blob.size(); off += 4096) {
        const auto piece =
            ByteView(blob).subspan(off, std::min<std::size_t>(4096, blob.size() - off));
        largest_release = std::max(largest_release, decryptor.update(piece).size());
    }
    decryptor.finish();
    EXPECT_LE(largest_release, 4096U + 16U);
    EXPECT_EQ(decryptor.bytes_out(), 1U << 20);
    EXPECT_EQ(decryptor.bytes_in(), blob.size());
}

TEST(Key32, RejectsWrongSizes) {
    EXPECT_EQ(test::error_kind_of([] { Key32(Bytes(31)); }), ErrorKind::crypto);
    EXPECT_EQ(test::error_kind_of([] { Key32(Bytes(33)); }), ErrorKind::crypto);
}

}  // namespace
}  // namespace obsync::crypto
