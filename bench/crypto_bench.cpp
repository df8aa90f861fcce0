// Crypto micro-benchmarks (docs/performance.md). Run with `make bench`.
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "crypto/blob_cipher.hpp"
#include "crypto/kdf.hpp"
#include "crypto/sha256.hpp"
#include "crypto/vault_cipher.hpp"

namespace obsync::crypto {
namespace {

Bytes filler(std::size_t n) {
    Bytes out(n);
    std::mt19937_64 rng(n);
    for (auto& b : out) {
        b = static_cast<std::uint8_t>(rng());
    }
    return out;
}

const VaultCipher& v3_cipher() {
    static const VaultCipher cipher(Key32(filler(32)), "c8bb2e693dda64f909fae2efda7e9742",
                                    EncryptionVersion::v3);
    return cipher;
}

void BM_ScryptVaultKey(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            derive_vault_key("correct horse", "c8bb2e693dda64f909fae2efda7e9742"));
    }
}
BENCHMARK(BM_ScryptVaultKey)->Unit(benchmark::kMillisecond);

// Streaming decryption of one 8 MiB blob, fed in pieces of the given size (the shape of a pull).
void BM_GcmDecryptPieces(benchmark::State& state) {
    const auto piece = static_cast<std::size_t>(state.range(0));
    const std::size_t total = std::max<std::size_t>(piece, 8 << 20);
    const Bytes blob = v3_cipher().encrypt_content(filler(total));
    for (auto _ : state) {
        BlobDecryptor decryptor = v3_cipher().content_decryptor();
        for (std::size_t off = 0; off < blob.size(); off += piece) {
            const std::size_t n = std::min(piece, blob.size() - off);
            benchmark::DoNotOptimize(decryptor.update(ByteView(blob).subspan(off, n)).data());
        }
        decryptor.finish();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
}
BENCHMARK(BM_GcmDecryptPieces)->Arg(4 << 10)->Arg(64 << 10)->Arg(2 << 20);

// One-shot decryption of a blob of the given size (the shape of a small note).
void BM_GcmDecryptBlob(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const Bytes blob = v3_cipher().encrypt_content(filler(size));
    for (auto _ : state) {
        benchmark::DoNotOptimize(v3_cipher().decrypt_content(blob));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_GcmDecryptBlob)->Arg(4 << 10)->Arg(64 << 10)->Arg(2 << 20);

const std::string k_path = "Projects/2026/Meeting notes/Quarterly planning with the team.md";

void BM_SivEncodePath(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(v3_cipher().encode(k_path));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SivEncodePath);

void BM_SivDecodePath(benchmark::State& state) {
    const std::string hex = v3_cipher().encode(k_path);
    for (auto _ : state) {
        benchmark::DoNotOptimize(v3_cipher().decode(hex));
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SivDecodePath);

void BM_Sha256(benchmark::State& state) {
    const auto size = static_cast<std::size_t>(state.range(0));
    const Bytes data = filler(size);
    Sha256 hasher;
    for (auto _ : state) {
        hasher.update(data);
        benchmark::DoNotOptimize(hasher.finish());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
}
BENCHMARK(BM_Sha256)->Arg(4 << 10)->Arg(64 << 10)->Arg(2 << 20);

}  // namespace
}  // namespace obsync::crypto

BENCHMARK_MAIN();
