#include "crypto/blob_cipher.hpp"

#include <algorithm>

#include "util/error.hpp"

namespace obsync::crypto {
namespace {

[[noreturn]] void bad_blob() {
    throw Error(ErrorKind::crypto,
                "encrypted data is bad: shorter than its 12-byte IV and 16-byte tag");
}

}  // namespace

Bytes encrypt_blob(const Key32& key, ByteView plaintext) {
    if (plaintext.empty()) {
        return {};
    }
    std::array<std::uint8_t, k_gcm_iv_size> iv{};
    random_bytes(iv);
    return encrypt_blob(key, plaintext, iv);
}

Bytes encrypt_blob(const Key32& key, ByteView plaintext, ByteView iv) {
    Gcm gcm(Gcm::Direction::encrypt, key, iv);
    Bytes blob(k_gcm_iv_size + plaintext.size() + k_gcm_tag_size);
    std::copy(iv.begin(), iv.end(), blob.begin());
    gcm.update(plaintext, blob.data() + k_gcm_iv_size);
    const auto tag = gcm.finish_encrypt();
    std::copy(tag.begin(), tag.end(), blob.end() - k_gcm_tag_size);
    return blob;
}

Bytes decrypt_blob(const Key32& key, ByteView blob) {
    if (blob.empty() || blob.size() == k_gcm_iv_size) {
        return {};
    }
    if (blob.size() < k_gcm_iv_size + k_gcm_tag_size) {
        bad_blob();
    }
    Gcm gcm(Gcm::Direction::decrypt, key, blob.first(k_gcm_iv_size));
    const ByteView body = blob.subspan(k_gcm_iv_size, blob.size() - k_gcm_iv_size - k_gcm_tag_size);
    Bytes plaintext(body.size());
    gcm.update(body, plaintext.data());
    try {
        gcm.finish_decrypt(blob.last(k_gcm_tag_size));
    } catch (...) {
        secure_wipe(plaintext.data(), plaintext.size());
        throw;
    }
    return plaintext;
}

BlobDecryptor::BlobDecryptor(const Key32& key) : m_key(key) {}

ByteView BlobDecryptor::update(ByteView piece) {
    if (m_finished) {
        throw Error(ErrorKind::crypto, "BlobDecryptor::update after finish");
    }
    m_bytes_in += piece.size();
    if (!m_gcm) {
        const std::size_t take = std::min(piece.size(), k_gcm_iv_size - m_iv_fill);
        std::copy_n(piece.data(), take, m_iv.data() + m_iv_fill);
        m_iv_fill += take;
        piece = piece.subspan(take);
        if (m_iv_fill < k_gcm_iv_size) {
            return {};
        }
        m_gcm.emplace(Gcm::Direction::decrypt, m_key, m_iv);
    }
    // Keep the newest 16 bytes back as the candidate tag; release everything before them.
    if (piece.size() >= k_gcm_tag_size) {
        const ByteView release_tail(m_tail.data(), m_tail_fill);
        const ByteView release_piece = piece.first(piece.size() - k_gcm_tag_size);
        const ByteView out = decrypt_into_output(release_tail, release_piece);
        std::copy_n(piece.data() + release_piece.size(), k_gcm_tag_size, m_tail.data());
        m_tail_fill = k_gcm_tag_size;
        return out;
    }
    std::array<std::uint8_t, 2 * k_gcm_tag_size> joined{};
    std::copy_n(m_tail.data(), m_tail_fill, joined.data());
    std::copy_n(piece.data(), piece.size(), joined.data() + m_tail_fill);
    const std::size_t total = m_tail_fill + piece.size();
    const std::size_t release = total > k_gcm_tag_size ? total - k_gcm_tag_size : 0;
    const ByteView out = decrypt_into_output(ByteView(joined.data(), release), {});
    m_tail_fill = total - release;
    std::copy_n(joined.data() + release, m_tail_fill, m_tail.data());
    return out;
}

ByteView BlobDecryptor::decrypt_into_output(ByteView a, ByteView b) {
    m_out.resize(a.size() + b.size());
    if (!a.empty()) {
        m_gcm->update(a, m_out.data());
    }
    if (!b.empty()) {
        m_gcm->update(b, m_out.data() + a.size());
    }
    m_bytes_out += m_out.size();
    return m_out;
}

void BlobDecryptor::finish() {
    if (m_finished) {
        return;
    }
    m_finished = true;
    if (m_bytes_in == 0 || m_bytes_in == k_gcm_iv_size) {
        return;  // empty content (see the header)
    }
    if (m_bytes_in < k_gcm_iv_size + k_gcm_tag_size) {
        bad_blob();
    }
    m_gcm->finish_decrypt(ByteView(m_tail.data(), m_tail_fill));
}

}  // namespace obsync::crypto
