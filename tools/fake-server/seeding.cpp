#include "seeding.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include <sys/stat.h>

#include "crypto/sha256.hpp"
#include "crypto/text_normalize.hpp"
#include "crypto/vault_cipher.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

namespace obsync::fake {
namespace {

constexpr std::string_view k_seed_device = "seed";
constexpr std::string_view k_inject_device = "inject";

Bytes read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(ErrorKind::bad_input, "cannot read " + file.string());
    }
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& file, ByteView bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) {
        throw Error(ErrorKind::storage, "cannot write " + file.string());
    }
}

std::int64_t mtime_ms(const std::filesystem::path& file) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) {
        throw Error(ErrorKind::bad_input, "cannot stat " + file.string());
    }
    return static_cast<std::int64_t>(info.st_mtim.tv_sec) * 1000 + info.st_mtim.tv_nsec / 1000000;
}

crypto::VaultCipher cipher_for(const Vault& vault, std::string_view password) {
    auto cipher = crypto::VaultCipher::from_password(
        password, vault.salt, crypto::encryption_version_from_int(vault.encryption_version));
    if (cipher.keyhash() != vault.keyhash) {
        throw Error(ErrorKind::auth, "wrong password for vault " + vault.name);
    }
    return cipher;
}

// A file record as the official client pushes it (§4.6 "Upload"): encoded path and hash, the
// blob is iv || ciphertext || tag, or nothing at all for empty content (§3.3).
std::int64_t append_file(Store& store, const Vault& vault, const crypto::VaultCipher& cipher,
                         const std::string& encoded_path, ByteView content, std::int64_t mtime,
                         std::string_view device, std::int64_t user_id) {
    const Bytes blob = cipher.encrypt_content(content);
    const std::filesystem::path temp = store.new_blob_file(vault.id);
    write_file(temp, blob);
    Record record;
    record.path = encoded_path;
    record.hash = cipher.encode(crypto::sha256_hex(content));
    record.size = static_cast<std::int64_t>(blob.size());
    record.ctime = mtime;
    record.mtime = mtime;
    record.device = device;
    record.user_id = user_id;
    try {
        return store.append_record(vault.id, std::move(record), temp);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(temp, ignored);
        throw;
    }
}

// Folders and deletions carry hash "", ctime and mtime 0 when the client pushes them (§4.6).
std::int64_t append_marker(Store& store, const Vault& vault, const std::string& encoded_path,
                           bool folder, std::int64_t mtime, std::string_view device,
                           std::int64_t user_id) {
    Record record;
    record.path = encoded_path;
    record.folder = folder;
    record.deleted = !folder;
    record.ctime = mtime;
    record.mtime = mtime;
    record.device = device;
    record.user_id = user_id;
    return store.append_record(vault.id, std::move(record), std::nullopt);
}

}  // namespace

std::string unescape_nul(std::string_view raw) {
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size() && raw[i + 1] == '0') {
            out.push_back('\0');
            ++i;
        } else {
            out.push_back(raw[i]);
        }
    }
    return out;
}

std::string seed_vault(Store& store, const SeedOptions& options) {
    if (!std::filesystem::is_directory(options.source_dir)) {
        throw Error(ErrorKind::bad_input, options.source_dir.string() + " is not a directory");
    }
    const User owner = store.accounts().ensure_user(options.owner_email);
    if (store.owner_has_vault_named(owner.id, options.vault_name)) {
        throw Error(ErrorKind::bad_input, "vault " + options.vault_name + " already exists");
    }
    Vault vault;
    vault.owner_id = owner.id;
    vault.name = options.vault_name;
    vault.salt = random_hex(16);
    vault.encryption_version = options.encryption_version;
    vault.region = "local";
    const auto version = crypto::encryption_version_from_int(options.encryption_version);
    const auto cipher = crypto::VaultCipher::from_password(options.password, vault.salt, version);
    vault.keyhash = cipher.keyhash();
    if (options.managed) {
        vault.password = options.password;
    }

    // Sorted vault-relative paths: parents sort before children, and runs are reproducible.
    struct Entry {
        std::string path;  // NFC, '/'-separated (§3.6)
        std::filesystem::path file;
        bool folder;
        bool operator<(const Entry& other) const { return path < other.path; }
    };
    std::vector<Entry> entries;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(options.source_dir)) {
        const bool folder = entry.is_directory();
        if (folder || entry.is_regular_file()) {
            const auto relative = entry.path().lexically_relative(options.source_dir);
            entries.push_back({crypto::nfc(relative.generic_string()), entry.path(), folder});
        }
    }
    std::sort(entries.begin(), entries.end());

    // Atomic for every reader: records and shares go in under an id that has no vault row yet,
    // and the row comes last (store.hpp, "Visibility order"). A failure discards them, so the
    // name stays free for the next attempt.
    const std::string id = store.new_vault_id();
    vault.id = id;
    try {
        for (const std::string& email : options.share_with) {
            store.share_vault(vault.id, store.accounts().ensure_user(email).id);
        }
        for (const Entry& entry : entries) {
            const std::string encoded = cipher.encode(entry.path);
            if (entry.folder) {
                append_marker(store, vault, encoded, true, 0, k_seed_device, owner.id);
            } else {
                append_file(store, vault, cipher, encoded, read_file(entry.file),
                            mtime_ms(entry.file), k_seed_device, owner.id);
            }
        }
        return store.publish_vault(std::move(vault)).id;
    } catch (...) {
        try {
            store.discard_unpublished_vault(id);
        } catch (const std::exception&) {
            // What is left is invisible and blocks nothing; the first failure matters more.
        }
        throw;
    }
}

std::int64_t inject_record(Store& store, const InjectOptions& options) {
    const Vault vault = store.find_vault_by_name(options.vault);
    const auto cipher = cipher_for(vault, options.password);
    const std::string encoded = cipher.encode(unescape_nul(options.raw_path));
    switch (options.kind) {
        case InjectOptions::Kind::folder:
        case InjectOptions::Kind::deleted:
            return append_marker(store, vault, encoded, options.kind == InjectOptions::Kind::folder,
                                 options.mtime_ms.value_or(0), k_inject_device, vault.owner_id);
        case InjectOptions::Kind::file:
            break;
    }
    const Bytes content = options.content_file ? read_file(*options.content_file) : Bytes{};
    return append_file(store, vault, cipher, encoded, content,
                       options.mtime_ms.value_or(epoch_ms()), k_inject_device, vault.owner_id);
}

std::int64_t corrupt_blob(Store& store, const std::string& vault_name, const std::string& password,
                          const std::string& path) {
    const Vault vault = store.find_vault_by_name(vault_name);
    const auto cipher = cipher_for(vault, password);
    const std::vector<Record> records = store.all_records(vault.id);
    // Newest first: the latest blob of the path is the one to corrupt.
    for (std::size_t i = records.size(); i-- > 0;) {
        const Record* it = &records[i];
        if (it->folder || it->deleted) {
            continue;
        }
        std::string decoded;
        try {
            decoded = cipher.decode(it->path);
        } catch (const Error&) {
            continue;  // a record written with another key, or hostile bytes
        }
        if (decoded != path) {
            continue;
        }
        const std::filesystem::path blob = store.blob_path(vault.id, it->uid);
        Bytes bytes = read_file(blob);
        if (bytes.empty()) {
            throw Error(ErrorKind::bad_input, "the latest blob of " + path + " is empty");
        }
        bytes[bytes.size() / 2] ^= 0xff;
        // Replace, never rewrite in place: a pull being served must see the old or the new blob
        // whole, not a short file.
        const std::filesystem::path temp = blob.string() + ".corrupt-tmp";
        write_file(temp, bytes);
        std::filesystem::rename(temp, blob);
        return it->uid;
    }
    throw Error(ErrorKind::not_found, "no file record for " + path);
}

}  // namespace obsync::fake
