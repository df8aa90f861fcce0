// An encrypted-at-rest backup read back as its vault (archive/encrypted_reader.hpp).
#include "archive/encrypted_reader.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "crypto/blob_cipher.hpp"
#include "crypto/sha256.hpp"
#include "sink/encrypted_sink.hpp"
#include "sync/path_policy.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"
#include "util/parallel.hpp"

namespace obsync::archive {
namespace {

namespace asio = boost::asio;

std::optional<std::string> attribute(const Recorded& recorded, std::string_view name) {
    const auto found = recorded.attributes.find(std::string(name));
    if (found == recorded.attributes.end()) {
        return std::nullopt;
    }
    return found->second;
}

// What places one body, from its S3 metadata or its sidecar.
struct Placement {
    std::string encoded_path;
    std::string encoded_hash;  // "" when none was recorded (folders)
    std::optional<std::int64_t> mtime_ms;
    bool folder = false;
};

Placement placement_of(const Recorded& recorded) {
    Placement out;
    out.encoded_path = attribute(recorded, sink::k_attr_encoded_path).value_or("");
    out.encoded_hash = attribute(recorded, "content-hash").value_or("");
    out.mtime_ms = recorded.mtime_ms;
    out.folder = attribute(recorded, sink::k_attr_kind) == "folder";
    return out;
}

// Decrypts a blob arriving in pieces and hands the plaintext on. The plaintext is provisional
// until finish() has checked the tag (crypto::BlobDecryptor).
class Decrypting {
public:
    Decrypting(const crypto::VaultCipher& cipher, const ByteHandler& on_plaintext)
        : m_decryptor(cipher.content_decryptor()), m_on_plaintext(on_plaintext) {}

    asio::awaitable<void> update(ByteView blob) {
        const ByteView plain = m_decryptor.update(blob);
        if (!plain.empty()) {
            co_await m_on_plaintext(plain);
        }
    }

    void finish() { m_decryptor.finish(); }

private:
    crypto::BlobDecryptor m_decryptor;
    const ByteHandler& m_on_plaintext;
};

class EncryptedReader final : public BackupReader {
public:
    EncryptedReader(std::unique_ptr<BackupReader> raw, const crypto::VaultCipher* cipher,
                    EncryptedMetadata metadata, int concurrency)
        : m_raw(std::move(raw)),
          m_cipher(cipher),
          m_metadata(metadata),
          m_concurrency(std::clamp(concurrency, 1, 64)) {
        if (m_cipher != nullptr && !m_cipher->has_key()) {
            throw Error(ErrorKind::config,
                        "an encrypted backup is read with the vault's key or without any: a "
                        "keyhash-only cipher decrypts nothing");
        }
    }

    std::string describe() const override { return m_raw->describe(); }

    asio::awaitable<std::optional<std::string>> marker() override {
        co_return co_await m_raw->marker();
    }

    asio::awaitable<std::vector<ArchivedEntry>> list() override {
        std::vector<ArchivedEntry> raw = co_await m_raw->list();
        m_skipped = m_raw->skipped();
        m_unreadable.clear();
        m_slots.clear();

        // Bodies, and (in a folder) the sidecars beside them; anything else is not ours.
        std::map<std::string, const ArchivedEntry*> sidecars;
        std::vector<ArchivedEntry*> bodies;
        for (ArchivedEntry& entry : raw) {
            if (entry.folder) {
                if (entry.path != sink::k_encrypted_dir) {
                    m_skipped.push_back(entry.path);
                }
                continue;
            }
            if (sink::is_encrypted_entry_name(entry.path)) {
                bodies.push_back(&entry);
                continue;
            }
            const std::string_view suffix = sink::k_sidecar_suffix;
            if (m_metadata == EncryptedMetadata::sidecars && entry.path.ends_with(suffix) &&
                sink::is_encrypted_entry_name(
                    std::string_view(entry.path).substr(0, entry.path.size() - suffix.size()))) {
                sidecars.emplace(entry.path.substr(0, entry.path.size() - suffix.size()), &entry);
                continue;
            }
            m_skipped.push_back(entry.path);
        }

        // Each body's placement, many at once (S3: a HEAD each).
        std::vector<std::optional<Placement>> placements(bodies.size());
        const std::function<asio::awaitable<void>(std::size_t)> job =
            [&](std::size_t i) -> asio::awaitable<void> {
            ArchivedEntry& body = *bodies[i];
            try {
                if (m_metadata == EncryptedMetadata::object_metadata) {
                    if (!body.described) {
                        co_await m_raw->describe(body);
                    }
                    placements[i] = placement_of(body.recorded);
                    co_return;
                }
                const auto sidecar = sidecars.find(body.path);
                if (sidecar == sidecars.end()) {
                    co_return;
                }
                std::string document;
                const ByteHandler append = [&](ByteView bytes) -> asio::awaitable<void> {
                    document.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
                    co_return;
                };
                co_await m_raw->read(*sidecar->second, append);
                if (const auto parsed = sink::parse_sidecar(document)) {
                    Placement placement;
                    placement.encoded_path = parsed->encoded_path;
                    placement.encoded_hash = parsed->encoded_hash;
                    placement.mtime_ms = parsed->mtime_ms;
                    placement.folder = parsed->folder;
                    placements[i] = std::move(placement);
                }
            } catch (const Error& e) {
                if (e.kind() != ErrorKind::not_found) {
                    throw;
                }
                // Gone since the listing: not part of the backup any more.
            }
        };
        co_await for_each_parallel(bodies.size(), m_concurrency, job);

        std::vector<ArchivedEntry> entries;
        for (std::size_t i = 0; i < bodies.size(); ++i) {
            ArchivedEntry& body = *bodies[i];
            if (!placements[i] || placements[i]->encoded_path.empty()) {
                m_skipped.push_back(body.path);  // no sidecar, or no epath: never restored
                continue;
            }
            if (auto entry = present(body, *placements[i])) {
                entries.push_back(std::move(*entry));
            }
        }
        std::sort(entries.begin(), entries.end(),
                  [](const ArchivedEntry& a, const ArchivedEntry& b) { return a.path < b.path; });
        co_return entries;
    }

    std::vector<std::string> skipped() const override { return m_skipped; }
    std::vector<UnreadableEntry> unreadable() const override { return m_unreadable; }

    using BackupReader::read;

    // list() describes every entry (it had to, to place it).
    asio::awaitable<void> describe(ArchivedEntry& entry) override {
        const Slot& slot = slot_of(entry);
        entry.size = slot.entry.size;
        entry.recorded = slot.entry.recorded;
        entry.described = true;
        co_return;
    }

    asio::awaitable<Recorded> read(const ArchivedEntry& entry, const RecordedHandler& on_recorded,
                                   const ByteHandler& on_bytes) override {
        const Slot& slot = slot_of(entry);
        Recorded recorded;
        std::optional<Decrypting> decrypting;
        if (m_cipher != nullptr) {
            decrypting.emplace(*m_cipher, on_bytes);
        }
        const RecordedHandler on_raw_recorded = [&](const Recorded& raw) -> asio::awaitable<void> {
            recorded = recorded_with(slot, raw);
            co_await on_recorded(recorded);
        };
        const ByteHandler on_blob = [&](ByteView blob) -> asio::awaitable<void> {
            if (decrypting) {
                co_await decrypting->update(blob);
            } else {
                co_await on_bytes(blob);
            }
        };
        co_await m_raw->read(slot.body, on_raw_recorded, on_blob);
        if (decrypting) {
            decrypting->finish();  // throws Error{crypto}: the blob was changed or cut
        }
        co_return recorded;
    }

private:
    // One presented entry and the body that holds it.
    struct Slot {
        ArchivedEntry body;   // as the raw reader lists it ("e/<sha256>")
        ArchivedEntry entry;  // as presented
        Placement placement;  // as listed
    };

    const Slot& slot_of(const ArchivedEntry& entry) const {
        const auto found = m_slots.find(entry.path);
        if (found == m_slots.end()) {
            throw Error(
                ErrorKind::not_found,
                describe() + ": no entry \"" + display_name(entry.path) + "\" in the last listing");
        }
        return found->second;
    }

    void refuse(const ArchivedEntry& body, const std::string& why) {
        m_unreadable.push_back({body.path, why, ErrorKind::crypto});
    }

    // The entry `body` holds, or nothing (then skipped or unreadable).
    std::optional<ArchivedEntry> present(const ArchivedEntry& body, const Placement& placement) {
        // The name is made from the encoded path: metadata moved onto another body (or edited)
        // would restore one file's bytes under another's name.
        if (sink::encrypted_entry_name(placement.encoded_path) != body.path) {
            refuse(body, "its recorded path is not the one its name was made from (tampered with)");
            return std::nullopt;
        }
        ArchivedEntry entry;
        entry.folder = placement.folder;
        entry.version_id = body.version_id;
        entry.stored_ms = body.stored_ms;
        entry.described = true;
        entry.recorded.mtime_ms = placement.mtime_ms;
        if (m_cipher == nullptr) {
            entry.path = placement.encoded_path;
            entry.size = entry.folder ? 0 : body.size;
            if (!placement.encoded_hash.empty()) {
                entry.recorded.content_hash = placement.encoded_hash;
            }
        } else {
            try {
                entry.path = m_cipher->decode(placement.encoded_path);
                if (!placement.encoded_hash.empty()) {
                    entry.recorded.content_hash = m_cipher->decode(placement.encoded_hash);
                }
            } catch (const Error& e) {
                refuse(body, std::string("its recorded path or hash does not decrypt (") +
                                 e.what() + ")");
                return std::nullopt;
            }
            if (sync::unsafe_path_reason(entry.path)) {
                m_skipped.push_back(entry.path);
                return std::nullopt;
            }
            entry.size = entry.folder ? 0 : crypto::blob_plaintext_size(body.size);
        }
        const auto [slot, added] = m_slots.emplace(entry.path, Slot{body, entry, placement});
        if (!added) {
            refuse(body, "another entry holds the same path");
            return std::nullopt;
        }
        return entry;
    }

    // What was recorded with the bytes the raw reader is about to hand on: S3 sends it with
    // them (the GET's metadata); a folder's sidecar was read at the listing.
    Recorded recorded_with(const Slot& slot, const Recorded& raw) const {
        Placement now = slot.placement;
        if (m_metadata == EncryptedMetadata::object_metadata) {
            now = placement_of(raw);
            if (now.encoded_path != slot.placement.encoded_path) {
                throw Error(ErrorKind::crypto,
                            slot.body.path +
                                ": its recorded path changed since the listing (tampered with)");
            }
        }
        Recorded out;
        out.mtime_ms = now.mtime_ms;
        if (!now.encoded_hash.empty()) {
            // Decoding authenticates it (Error{crypto} when it was changed).
            out.content_hash =
                m_cipher == nullptr ? now.encoded_hash : m_cipher->decode(now.encoded_hash);
        }
        return out;
    }

    std::unique_ptr<BackupReader> m_raw;
    const crypto::VaultCipher* m_cipher;
    EncryptedMetadata m_metadata;
    int m_concurrency;
    std::map<std::string, Slot> m_slots;  // by presented path
    std::vector<std::string> m_skipped;
    std::vector<UnreadableEntry> m_unreadable;
};

}  // namespace

std::unique_ptr<BackupReader> open_encrypted_reader(std::unique_ptr<BackupReader> raw,
                                                    const crypto::VaultCipher* cipher,
                                                    EncryptedMetadata metadata, int concurrency) {
    return std::make_unique<EncryptedReader>(std::move(raw), cipher, metadata, concurrency);
}

asio::awaitable<HashedRead> read_decrypted(BackupReader& reader, const ArchivedEntry& entry,
                                           const crypto::VaultCipher& cipher) {
    crypto::Sha256 hasher;
    HashedRead out;
    const ByteHandler on_plaintext = [&](ByteView bytes) -> asio::awaitable<void> {
        hasher.update(bytes);
        out.bytes += bytes.size();
        co_return;
    };
    Decrypting decrypting(cipher, on_plaintext);
    const ByteHandler on_blob = [&](ByteView blob) -> asio::awaitable<void> {
        co_await decrypting.update(blob);
    };
    out.recorded = co_await reader.read(entry, on_blob);
    decrypting.finish();
    out.hash = to_hex(hasher.finish());
    co_return out;
}

}  // namespace obsync::archive
