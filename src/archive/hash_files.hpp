#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace obsync::archive {

// The SHA-256 of one file's bytes, or why they could not be read.
struct FileHash {
    std::optional<std::string> hash;  // lowercase hex
    std::optional<std::string> error;
    std::uint64_t bytes = 0;
};

// Hashes the files `root`/path (vault paths) on `threads` threads (0: one per core, at most 8),
// in the order given. A backup of 10,000 small notes is bound by opening files, not by SHA-256,
// so threads pay even on one disk. Never follows a symbolic link at the file itself; never
// writes. An unreadable file is a result with `error`, never an exception.
std::vector<FileHash> hash_files(const std::filesystem::path& root,
                                 const std::vector<std::string>& paths, unsigned threads = 0);

}  // namespace obsync::archive
