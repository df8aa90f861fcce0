#include "sink/encrypted_sink.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "crypto/sha256.hpp"
#include "crypto/vault_cipher.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"

namespace obsync::sink {

namespace {

namespace asio = boost::asio;

// The longest encoded content hash (v0's: 184 hex characters).
constexpr std::size_t k_max_encoded_hash =
    crypto::encoded_hex_size(crypto::EncryptionVersion::v0, 64);

// An entry's stored name, from the engine's path: an encoded path, or a stored name that
// list_files() gave (a --full run removing what the state does not list).
std::string entry_name(std::string_view path) {
    if (is_encrypted_entry_name(path)) {
        return std::string(path);
    }
    if (path.empty() || !is_lower_hex(path)) {
        throw Error(ErrorKind::bad_input, "\"" + shorten(path) +
                                              "\" is not an encoded path: an encrypted backup "
                                              "stores only what the server encrypted");
    }
    if (path.size() > k_max_encoded_path) {
        throw Error(ErrorKind::bad_input,
                    "an encoded path of " + std::to_string(path.size()) +
                        " hex characters is longer than an encrypted backup keeps (" +
                        std::to_string(k_max_encoded_path) + ")");
    }
    return encrypted_entry_name(path);
}

std::string sidecar_name(const std::string& entry) {
    return entry + std::string(k_sidecar_suffix);
}

sync::FileMeta entry_meta(std::string_view encoded_path, sync::FileMeta meta, bool folder) {
    meta.attributes.emplace_back(std::string(k_attr_encoded_path), std::string(encoded_path));
    if (folder) {
        meta.attributes.emplace_back(std::string(k_attr_kind), "folder");
    }
    return meta;
}

// Writes the entry's bytes through the inner sink and, with sidecars, its sidecar after them: a
// body without its sidecar (a run killed in between) is never restored, and the state records
// neither, so the next run writes both again.
class EntryWriter final : public sync::FileWriter {
public:
    EntryWriter(sync::Sink& inner, std::unique_ptr<sync::FileWriter> body,
                std::optional<SidecarEntry> sidecar, std::string name, std::int64_t mtime_ms)
        : m_inner(inner),
          m_body(std::move(body)),
          m_sidecar(std::move(sidecar)),
          m_name(std::move(name)),
          m_mtime_ms(mtime_ms) {}

    asio::awaitable<void> write(ByteView bytes) override {
        m_written += bytes.size();
        co_await m_body->write(bytes);
    }

    asio::awaitable<void> commit() override {
        co_await m_body->commit();
        if (!m_sidecar) {
            co_return;
        }
        m_sidecar->size = m_written;
        const std::string document = sidecar_document(*m_sidecar);
        sync::FileMeta meta;
        meta.mtime_ms = m_mtime_ms;
        meta.size = document.size();
        const std::string name = sidecar_name(m_name);
        std::unique_ptr<sync::FileWriter> writer = co_await m_inner.create_file(name, meta);
        co_await writer->write(as_bytes(std::string_view(document)));
        co_await writer->commit();
    }

private:
    sync::Sink& m_inner;
    std::unique_ptr<sync::FileWriter> m_body;
    std::optional<SidecarEntry> m_sidecar;
    std::string m_name;
    std::int64_t m_mtime_ms = 0;
    std::uint64_t m_written = 0;
};

class EncryptedSink final : public sync::Sink {
public:
    EncryptedSink(std::unique_ptr<sync::Sink> inner, bool sidecars)
        : m_inner(std::move(inner)), m_sidecars(sidecars) {}

    std::string describe() const override { return m_inner->describe(); }
    std::string stored_name(std::string_view path) const override { return entry_name(path); }
    bool encrypted_layout() const override { return true; }

    asio::awaitable<std::unique_ptr<sync::DestinationLock>> claim(
        const sync::BackupIdentity& backup, std::chrono::seconds ttl) override {
        if (!backup.encrypted) {
            throw Error(ErrorKind::config,
                        "an encrypted backup needs the vault's encryption "
                        "details for its manifest");
        }
        co_return co_await m_inner->claim(backup, ttl);
    }

    asio::awaitable<void> prepare() override { co_await m_inner->prepare(); }

    asio::awaitable<std::unique_ptr<sync::FileWriter>> create_file(std::string_view path,
                                                                   sync::FileMeta meta) override {
        co_return co_await open_entry(path, std::move(meta), false);
    }

    asio::awaitable<void> create_folder(std::string_view path) override {
        sync::FileMeta meta;
        std::unique_ptr<sync::FileWriter> writer = co_await open_entry(path, meta, true);
        co_await writer->commit();
    }

    // The sidecar goes first: a body left without one (a run killed in between) is not restored,
    // and the state still lists the entry, so the next run applies the deletion again.
    asio::awaitable<void> remove_file(std::string_view path) override {
        const std::string name = entry_name(path);
        if (m_sidecars) {
            const std::string sidecar = sidecar_name(name);
            co_await m_inner->remove_file(sidecar);
        }
        co_await m_inner->remove_file(name);
    }

    // A folder's entry holds nothing (its files are entries of their own, flat beside it): it
    // goes when the server deleted the folder. A restore makes the folders its files need.
    asio::awaitable<bool> remove_folder_if_empty(std::string_view path) override {
        co_await remove_file(path);
        co_return true;
    }

    asio::awaitable<std::optional<sync::EntryInfo>> stat(std::string_view path) override {
        const std::string name = entry_name(path);
        co_return co_await m_inner->stat(name);
    }

    asio::awaitable<std::vector<std::string>> list_files() override {
        std::vector<std::string> names = co_await m_inner->list_files();
        std::erase_if(names,
                      [](const std::string& name) { return !is_encrypted_entry_name(name); });
        co_return names;
    }

    asio::awaitable<bool> written_by_backup(std::string_view path) override {
        const std::string name = entry_name(path);
        co_return co_await m_inner->written_by_backup(name);
    }

    asio::awaitable<void> flush() override { co_await m_inner->flush(); }

private:
    asio::awaitable<std::unique_ptr<sync::FileWriter>> open_entry(std::string_view path,
                                                                  sync::FileMeta meta,
                                                                  bool folder) {
        std::string name = entry_name(path);
        std::optional<SidecarEntry> sidecar;
        if (m_sidecars) {
            sidecar.emplace();
            sidecar->encoded_path = std::string(path);
            sidecar->encoded_hash = meta.content_hash;
            sidecar->mtime_ms = meta.mtime_ms;
            sidecar->folder = folder;
        }
        const std::int64_t mtime_ms = meta.mtime_ms;
        sync::FileMeta stored = entry_meta(path, std::move(meta), folder);
        std::unique_ptr<sync::FileWriter> body = co_await m_inner->create_file(name, stored);
        co_return std::make_unique<EntryWriter>(*m_inner, std::move(body), std::move(sidecar),
                                                std::move(name), mtime_ms);
    }

    std::unique_ptr<sync::Sink> m_inner;
    bool m_sidecars;
};

}  // namespace

std::string encrypted_entry_name(std::string_view encoded_path) {
    return std::string(k_encrypted_dir) + "/" +
           crypto::sha256_hex(as_bytes(std::string_view(encoded_path)));
}

bool is_encrypted_entry_name(std::string_view name) {
    const std::size_t prefix = k_encrypted_dir.size() + 1;
    return name.size() == prefix + 64 && name.starts_with(k_encrypted_dir) &&
           name[k_encrypted_dir.size()] == '/' && is_lower_hex(name.substr(prefix));
}

std::string sidecar_document(const SidecarEntry& entry) {
    boost::json::object doc{{std::string(k_attr_encoded_path), entry.encoded_path},
                            {"hash", entry.encoded_hash},
                            {"mtime", entry.mtime_ms},
                            {"size", entry.size}};
    if (entry.folder) {
        doc[std::string(k_attr_kind)] = "folder";
    }
    return boost::json::serialize(doc) + "\n";
}

std::optional<SidecarEntry> parse_sidecar(std::string_view document) {
    boost::system::error_code ec;
    const boost::json::value doc = boost::json::parse(document, ec);
    if (ec || !doc.is_object()) {
        return std::nullopt;
    }
    const boost::json::object& o = doc.as_object();
    const auto* path = o.if_contains(k_attr_encoded_path);
    const auto* hash = o.if_contains("hash");
    const auto* mtime = o.if_contains("mtime");
    const auto* size = o.if_contains("size");
    if (path == nullptr || !path->is_string() || hash == nullptr || !hash->is_string() ||
        mtime == nullptr || !mtime->is_int64() || size == nullptr ||
        !(size->is_int64() || size->is_uint64())) {
        return std::nullopt;
    }
    SidecarEntry entry;
    entry.encoded_path = std::string(path->as_string());
    entry.encoded_hash = std::string(hash->as_string());
    entry.mtime_ms = mtime->as_int64();
    entry.size = size->is_uint64()
                     ? size->as_uint64()
                     : static_cast<std::uint64_t>(std::max<std::int64_t>(0, size->as_int64()));
    const auto* kind = o.if_contains(k_attr_kind);
    entry.folder = kind != nullptr && kind->is_string() && kind->as_string() == "folder";
    if (entry.encoded_path.empty() || entry.encoded_path.size() > k_max_encoded_path ||
        !is_lower_hex(entry.encoded_path) || entry.encoded_hash.size() > k_max_encoded_hash ||
        !is_lower_hex(entry.encoded_hash)) {
        return std::nullopt;
    }
    return entry;
}

std::unique_ptr<sync::Sink> make_encrypted_sink(std::unique_ptr<sync::Sink> inner, bool sidecars) {
    return std::make_unique<EncryptedSink>(std::move(inner), sidecars);
}

}  // namespace obsync::sink
