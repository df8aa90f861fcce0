#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "crypto/blob_cipher.hpp"
#include "crypto/secure_memory.hpp"
#include "crypto/siv.hpp"
#include "util/bytes.hpp"

namespace obsync::crypto {

// The encryption versions the official client supports (protocol §3.2). v2 and v3 share their
// cryptography; only the number sent to the server differs.
enum class EncryptionVersion { v0 = 0, v2 = 2, v3 = 3 };

// Throws Error{crypto} "encryption version N is not supported" for anything but 0, 2 and 3.
EncryptionVersion encryption_version_from_int(long long value);
int to_int(EncryptionVersion version) noexcept;

// Whether `text` has the form of a keyhash as VaultCipher::keyhash() gives it: 64 lowercase hex
// characters. The one rule for every place that reads a keyhash someone typed or stored.
bool is_keyhash(std::string_view text) noexcept;

// How many hex characters encode() gives for `plaintext_size` bytes (§3.4, §3.5): v2/v3 add the
// 16-byte SIV tag, v0 the 12-byte IV and the 16-byte GCM tag. So an encoded content hash (64 hex
// characters) is 160 characters in v2/v3 and 184 in v0, and an encoded path is longer than
// encoded_hex_size(version, 0). All a keyhash-only session can check of what it cannot decode.
constexpr std::size_t encoded_hex_size(EncryptionVersion version,
                                       std::size_t plaintext_size) noexcept {
    const std::size_t overhead =
        version == EncryptionVersion::v0 ? k_gcm_iv_size + k_gcm_tag_size : SivCipher::k_tag_size;
    return 2 * (overhead + plaintext_size);
}

// Everything a client derives from a vault's key: the keyhash the server checks, the encoding
// of paths and content hashes, and the content key. Immutable and thread-safe once built.
class VaultCipher {
public:
    // scrypt(NFKC(password), NFKC(salt)) then the per-version keys. scrypt takes ~0.1 s and
    // 32 MiB: build one VaultCipher per vault and share it.
    static VaultCipher from_password(std::string_view password, std::string_view salt,
                                     EncryptionVersion version);
    // From the raw 32-byte scrypt output (what the official client stores as `encryptionKey`).
    VaultCipher(const Key32& raw_key, std::string_view salt, EncryptionVersion version);
    // Only the keyhash (64 hex characters, as `obsync keyhash` prints it): enough for the server
    // to serve the vault's encrypted records (§3.2), not to read any of them. encode(), decode()
    // and the content functions throw Error{crypto}; has_key() is false. Throws Error{config} on
    // a keyhash that is not 64 hex characters.
    static VaultCipher keyhash_only(std::string_view keyhash, EncryptionVersion version);

    VaultCipher(VaultCipher&&) noexcept;
    VaultCipher& operator=(VaultCipher&&) noexcept;
    ~VaultCipher();

    EncryptionVersion version() const noexcept;
    // Lowercase hex, 64 characters; sent in /vault/access and in the WebSocket init.
    const std::string& keyhash() const noexcept;
    // False for keyhash_only(): nothing of the vault can be decrypted (encrypted-at-rest backups).
    bool has_key() const noexcept;

    // Deterministic encoding of a path or a content hash into lowercase hex (§3.4, §3.5).
    std::string encode(std::string_view text) const;
    // Throws Error{bad_input} on malformed hex and Error{crypto} when authentication fails.
    std::string decode(std::string_view hex) const;

    // File contents (§3.3).
    Bytes encrypt_content(ByteView plaintext) const;
    Bytes decrypt_content(ByteView blob) const;
    BlobDecryptor content_decryptor() const;

private:
    struct Impl;
    VaultCipher() = default;
    const Impl& keyed() const;  // throws Error{crypto} without a key

    std::unique_ptr<Impl> m_impl;
};

}  // namespace obsync::crypto
