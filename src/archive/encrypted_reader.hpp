#pragma once

// An encrypted-at-rest backup (sync --encrypted, issue #15) read back. The destination holds the
// server's blobs flat under "e/<SHA-256 of the encoded path>" (sink/encrypted_sink.hpp); this
// presents them as a vault again, with or without the key.

#include <cstdint>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "archive/reader.hpp"
#include "crypto/vault_cipher.hpp"

namespace obsync::archive {

// Where a destination keeps what places each body (its encoded path and hash, mtime, kind).
enum class EncryptedMetadata {
    object_metadata,  // S3: x-amz-meta-epath, -content-hash, -mtime, -kind (one HEAD each)
    sidecars,         // a local folder: "e/<sha256>.json" beside each body
};

// Wraps `raw` (open_s3_reader, now or at a moment, or open_local_reader) and presents the vault
// its encrypted layout holds. list() learns each body's encoded path and kind first (S3: a HEAD;
// a folder: its sidecar), `concurrency` at a time; a body without them (a run killed between
// body and sidecar, an object obsync did not write) is left out and named in skipped().
//
// With `cipher` (has_key(); it must outlive the reader; its keyhash the manifest's):
//   entries have their plaintext paths (decoded, and refused like any vault path when unsafe),
//   their plaintext sizes, and recorded.content_hash the decoded plaintext hash. read() decrypts
//   the blob as it streams, hands on the plaintext, and returns only once the GCM tag has passed
//   (else Error{crypto}: the file must not appear); what it returns was recorded with those
//   bytes (S3: the GET's own metadata). An entry whose path or hash does not decrypt, or whose
//   recorded path is not the one its name was made from, is tampered with: unreadable().
// Without (nullptr): entries under their ENCODED paths, the blob's size, recorded.content_hash
//   the ENCODED hash (verify compares them with a keyhash-only session's records, which carry
//   the same). read() hands on the blob as stored: the SHA-256 of those bytes is not the
//   recorded hash (read_decrypted checks a blob).
std::unique_ptr<BackupReader> open_encrypted_reader(std::unique_ptr<BackupReader> raw,
                                                    const crypto::VaultCipher* cipher,
                                                    EncryptedMetadata metadata,
                                                    int concurrency = 16);

// One entry of a reader WITHOUT key (its encoded path) read and decrypted with `cipher`: the
// SHA-256 of the plaintext, hashed as it was decrypted (HashedRead::hash; `bytes` plaintext
// bytes), and what was recorded with the blob (the encoded hash). Throws Error{crypto} when the
// GCM tag fails: the blob was changed or cut. How `obsync verify --deep` checks an encrypted
// backup in the terms of a keyhash-only session.
boost::asio::awaitable<HashedRead> read_decrypted(BackupReader& reader, const ArchivedEntry& entry,
                                                  const crypto::VaultCipher& cipher);

}  // namespace obsync::archive
