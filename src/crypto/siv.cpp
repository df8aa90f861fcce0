#include "crypto/siv.hpp"

#include <array>
#include <cstring>
#include <string>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "crypto/openssl_error.hpp"
#include "crypto/secure_memory.hpp"
#include "util/error.hpp"

namespace obsync::crypto {
namespace {

using Block = std::array<std::uint8_t, 16>;

EVP_MAC* cmac_algorithm() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "CMAC", nullptr);
    if (mac == nullptr) {
        detail::throw_openssl("EVP_MAC_fetch(CMAC)");
    }
    return mac;
}

const EVP_CIPHER* ecb_cipher(std::size_t key_size) {
    static EVP_CIPHER* const aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
    static EVP_CIPHER* const aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr);
    EVP_CIPHER* const cipher = key_size == 16 ? aes128 : aes256;
    if (cipher == nullptr) {
        detail::throw_openssl("EVP_CIPHER_fetch(AES-ECB)");
    }
    return cipher;
}

// Doubling in GF(2^128), big-endian, reduction constant 0x87 (RFC 5297 §2.3).
Block dbl(const Block& in) {
    Block out{};
    for (std::size_t i = 0; i < 15; ++i) {
        out[i] = static_cast<std::uint8_t>((in[i] << 1) | (in[i + 1] >> 7));
    }
    out[15] = static_cast<std::uint8_t>(in[15] << 1);
    if ((in[0] & 0x80) != 0) {
        out[15] ^= 0x87;
    }
    return out;
}

void xor_into(Block& a, const Block& b) {
    for (std::size_t i = 0; i < a.size(); ++i) {
        a[i] ^= b[i];
    }
}

struct MacCtx {
    EVP_MAC_CTX* ctx;
    explicit MacCtx(EVP_MAC_CTX* c) : ctx(c) {
        if (ctx == nullptr) {
            detail::throw_openssl("EVP_MAC_CTX_new/dup");
        }
    }
    MacCtx(const MacCtx&) = delete;
    MacCtx& operator=(const MacCtx&) = delete;
    ~MacCtx() { EVP_MAC_CTX_free(ctx); }
};

struct CipherCtx {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    CipherCtx() {
        if (ctx == nullptr) {
            detail::throw_openssl("EVP_CIPHER_CTX_new");
        }
    }
    CipherCtx(const CipherCtx&) = delete;
    CipherCtx& operator=(const CipherCtx&) = delete;
    ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

}  // namespace

struct SivCipher::Impl {
    // Keyed templates; each call works on a duplicate so const methods are thread-safe.
    MacCtx mac_template{EVP_MAC_CTX_new(cmac_algorithm())};
    CipherCtx ecb_template;

    Block cmac(std::initializer_list<ByteView> parts) const {
        const MacCtx mac(EVP_MAC_CTX_dup(mac_template.ctx));
        for (const ByteView part : parts) {
            detail::check(EVP_MAC_update(mac.ctx, part.data(), part.size()), "EVP_MAC_update");
        }
        Block out{};
        std::size_t len = 0;
        detail::check(EVP_MAC_final(mac.ctx, out.data(), &len, out.size()), "EVP_MAC_final");
        return out;
    }

    Block s2v(ByteView plaintext, std::span<const ByteView> associated) const {
        static constexpr Block k_zero{};
        Block d = cmac({k_zero});
        for (const ByteView ad : associated) {
            d = dbl(d);
            xor_into(d, cmac({ad}));
        }
        if (plaintext.size() >= 16) {
            // "xorend": XOR D into the last 16 bytes of the plaintext.
            const std::size_t head = plaintext.size() - 16;
            Block last{};
            std::memcpy(last.data(), plaintext.data() + head, 16);
            xor_into(last, d);
            return cmac({plaintext.first(head), last});
        }
        Block padded{};
        if (!plaintext.empty()) {  // memcpy from a null pointer is undefined even for 0 bytes
            std::memcpy(padded.data(), plaintext.data(), plaintext.size());
        }
        padded[plaintext.size()] = 0x80;
        Block t = dbl(d);
        xor_into(t, padded);
        return cmac({t});
    }

    // CTR with a 16-bit counter: bytes 0..13 of the counter block never change.
    void ctr(const Block& v, ByteView in, std::uint8_t* out) const {
        if (in.empty()) {
            return;
        }
        Block q = v;
        q[8] &= 0x7f;
        q[12] &= 0x7f;
        const auto low16 = static_cast<std::uint16_t>((q[14] << 8) | q[15]);
        const std::size_t blocks = (in.size() + 15) / 16;
        Bytes counters(blocks * 16);
        for (std::size_t i = 0; i < blocks; ++i) {
            const auto c = static_cast<std::uint16_t>(low16 + i);  // wraps modulo 65536
            std::uint8_t* block = counters.data() + 16 * i;
            std::memcpy(block, q.data(), 14);
            block[14] = static_cast<std::uint8_t>(c >> 8);
            block[15] = static_cast<std::uint8_t>(c & 0xff);
        }
        CipherCtx ecb;
        detail::check(EVP_CIPHER_CTX_copy(ecb.ctx, ecb_template.ctx), "EVP_CIPHER_CTX_copy");
        Bytes keystream(counters.size());
        int written = 0;
        detail::check(EVP_EncryptUpdate(ecb.ctx, keystream.data(), &written, counters.data(),
                                        static_cast<int>(counters.size())),
                      "EVP_EncryptUpdate(AES-ECB)");
        for (std::size_t i = 0; i < in.size(); ++i) {
            out[i] = in[i] ^ keystream[i];
        }
        secure_wipe(keystream.data(), keystream.size());
    }
};

SivCipher::SivCipher(ByteView mac_key, ByteView ctr_key) : m_impl(std::make_unique<Impl>()) {
    if ((mac_key.size() != 16 && mac_key.size() != 32) || ctr_key.size() != mac_key.size()) {
        throw Error(ErrorKind::crypto, "AES-SIV keys must both be 16 or both be 32 bytes");
    }
    std::string cbc_name = mac_key.size() == 16 ? "AES-128-CBC" : "AES-256-CBC";
    const std::array<OSSL_PARAM, 2> params = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, cbc_name.data(), 0),
        OSSL_PARAM_construct_end(),
    };
    detail::check(
        EVP_MAC_init(m_impl->mac_template.ctx, mac_key.data(), mac_key.size(), params.data()),
        "EVP_MAC_init(CMAC)");
    detail::check(EVP_EncryptInit_ex2(m_impl->ecb_template.ctx, ecb_cipher(ctr_key.size()),
                                      ctr_key.data(), nullptr, nullptr),
                  "EVP_EncryptInit_ex2(AES-ECB)");
    EVP_CIPHER_CTX_set_padding(m_impl->ecb_template.ctx, 0);
}

SivCipher::SivCipher(SivCipher&&) noexcept = default;
SivCipher& SivCipher::operator=(SivCipher&&) noexcept = default;
SivCipher::~SivCipher() = default;

Bytes SivCipher::seal(ByteView plaintext, std::span<const ByteView> associated) const {
    const Block v = m_impl->s2v(plaintext, associated);
    Bytes out(k_tag_size + plaintext.size());
    std::memcpy(out.data(), v.data(), v.size());
    m_impl->ctr(v, plaintext, out.data() + k_tag_size);
    return out;
}

Bytes SivCipher::open(ByteView sealed, std::span<const ByteView> associated) const {
    if (sealed.size() < k_tag_size) {
        throw Error(ErrorKind::crypto, "AES-SIV data is shorter than its 16-byte tag");
    }
    Block v{};
    std::memcpy(v.data(), sealed.data(), v.size());
    Bytes plaintext(sealed.size() - k_tag_size);
    m_impl->ctr(v, sealed.subspan(k_tag_size), plaintext.data());
    const Block expected = m_impl->s2v(plaintext, associated);
    if (!secure_equal(expected, v)) {
        secure_wipe(plaintext.data(), plaintext.size());
        throw Error(ErrorKind::crypto,
                    "AES-SIV authentication failed (wrong key or corrupted data)");
    }
    return plaintext;
}

}  // namespace obsync::crypto
