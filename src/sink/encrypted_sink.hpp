#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sync/sink.hpp"

namespace obsync::sink {

// The encrypted-at-rest layout (docs/encryption-at-rest.md). The engine, holding only the
// vault's keyhash, hands this sink each record under its encoded path (the server's hex, which
// says nothing without the key) and its bytes exactly as the server keeps them. Each entry is
// stored flat, as "e/<SHA-256 of the encoded path>": the names show no folder structure, no
// extension and no length. What a restore needs to put it back (the encoded path and hash, the
// mtime, whether it is a folder) is kept with it: as object metadata on S3, in a sidecar
// "e/<…>.json" in a folder. The encoded path there tells the length of the plaintext path.
// A folder is an empty entry marked as one. The manifest is the destination's backup marker.
inline constexpr std::string_view k_encrypted_dir = "e";
inline constexpr std::string_view k_sidecar_suffix = ".json";

// The attribute names (S3: x-amz-meta-NAME; in a sidecar, the JSON field of the same name).
inline constexpr std::string_view k_attr_encoded_path = "epath";
inline constexpr std::string_view k_attr_kind = "kind";  // "folder" for a folder, else absent

// Longer encoded paths are refused (Error{bad_input}): S3 keeps at most 2 KiB of metadata per
// object. A plaintext path of about 780 bytes encodes to this many hex characters.
inline constexpr std::size_t k_max_encoded_path = 1600;

// "e/<SHA-256 hex of encoded_path>".
std::string encrypted_entry_name(std::string_view encoded_path);
// Whether `name` is a stored entry name (not a sidecar, not anything else).
bool is_encrypted_entry_name(std::string_view name);

// A sidecar document and its reading back; parse returns nothing for a malformed document.
struct SidecarEntry {
    std::string encoded_path;
    std::string encoded_hash;  // empty for folders and empty files
    std::int64_t mtime_ms = 0;
    std::uint64_t size = 0;  // encrypted bytes
    bool folder = false;
};
std::string sidecar_document(const SidecarEntry& entry);
std::optional<SidecarEntry> parse_sidecar(std::string_view document);

// Wraps the sink of a folder (`sidecars` true) or an S3 prefix (false).
std::unique_ptr<sync::Sink> make_encrypted_sink(std::unique_ptr<sync::Sink> inner, bool sidecars);

}  // namespace obsync::sink
