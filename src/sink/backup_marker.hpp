#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sync/sink.hpp"

namespace obsync::sink {

// The marker a destination keeps beside its lock (DEST/.obsync/backup.json, or the same key under
// an S3 prefix): whose backup the destination holds. Both sinks write the same document; S3 also
// repeats the vault id as metadata, so a HEAD can read it.
inline constexpr const char* k_backup_marker_name = "backup.json";

// {"format":1,"vault_id":…,"vault_name":…,"created":"<ISO-8601 UTC>"}. The marker of an
// encrypted backup is its manifest: "format":2, "layout":"encrypted" and
// "encryption":{"version":…,"salt":…,"keyhash":…} (never the password or the key).
std::string backup_marker_document(const sync::BackupIdentity& backup);

// What a marker document names. A marker that cannot be read still marks a backup: its fields
// are then empty (the vault unknown).
struct BackupMarker {
    std::string vault_id;
    std::string vault_name;
    std::optional<sync::EncryptedLayout> encrypted;
};
BackupMarker parse_backup_marker(std::string_view document);

// Throws Error{config} (naming `where`) unless a destination marked `found` may take `backup`:
// the same vault, the same layout and, when encrypted, the same keyhash (a vault whose password
// changed since is backed up into a new destination, never mixed with its older blobs).
void check_backup_marker(const BackupMarker& found, const sync::BackupIdentity& backup,
                         const std::string& where);

}  // namespace obsync::sink
