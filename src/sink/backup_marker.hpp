#pragma once

#include <string>

#include "sync/sink.hpp"

namespace obsync::sink {

// The marker a destination keeps beside its lock (DEST/.obsync/backup.json, or the same key under
// an S3 prefix): whose backup the destination holds. Both sinks write the same document; S3 also
// repeats the vault id as metadata, so a HEAD can read it.
inline constexpr const char* k_backup_marker_name = "backup.json";

// {"format":1,"vault_id":…,"vault_name":…,"created":"<ISO-8601 UTC>"}
std::string backup_marker_document(const sync::BackupIdentity& backup);

}  // namespace obsync::sink
