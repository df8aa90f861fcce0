#pragma once

#include <memory>
#include <string>

#include "sync/sink.hpp"

namespace obsync::sink {

// Sink::claim for a local folder (docs/sync-engine.md, "One run per destination"). `root` is the
// destination as the user named it (it may be, or lie below, a symbolic link); it is created when
// missing. The lock is an flock(2) on ROOT/.obsync/lock, so it follows the folder's inode: a
// symbolic link, a second state database or a relative path name the same lock, and the kernel
// drops it when its process dies. The marker ROOT/.obsync/backup.json names the vault.
std::unique_ptr<sync::DestinationLock> claim_local_dir(const std::string& root,
                                                       const sync::BackupIdentity& backup);

}  // namespace obsync::sink
