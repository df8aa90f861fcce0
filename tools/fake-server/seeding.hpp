#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "store.hpp"

namespace obsync::fake {

struct SeedOptions {
    std::string owner_email;
    std::string vault_name;
    std::string password;
    int encryption_version = 3;
    bool managed = false;  // the vault list then hands out `password` (§2)
    std::vector<std::string> share_with;
    std::filesystem::path source_dir;
};

// `seed`: a new vault holding SRC_DIR, encrypted exactly as the official client would upload it
// (§3.3, §3.6). Atomic: readers see the whole vault or none of it, and a failed seed leaves
// nothing that blocks its name. Returns the vault id.
std::string seed_vault(Store& store, const SeedOptions& options);

struct InjectOptions {
    std::string vault;  // name or id
    std::string password;
    std::string raw_path;  // "\0" stands for a NUL byte
    enum class Kind { file, folder, deleted } kind = Kind::file;
    std::optional<std::filesystem::path> content_file;
    std::optional<std::int64_t> mtime_ms;
};

// `inject`: appends one record whose path is encoded as given, with no normalisation, so tests
// can serve hostile names. Returns the new uid.
std::int64_t inject_record(Store& store, const InjectOptions& options);

// `corrupt`: flips one byte in the middle of the latest blob of `path` (a plaintext vault
// path), so clients must notice the failed GCM tag. Returns the uid of the damaged blob.
std::int64_t corrupt_blob(Store& store, const std::string& vault, const std::string& password,
                          const std::string& path);

// "\0" in a command-line path means a NUL byte, which argv cannot carry.
std::string unescape_nul(std::string_view raw);

}  // namespace obsync::fake
