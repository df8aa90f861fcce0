#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "sink/posix_dir.hpp"
#include "sync/sink.hpp"

namespace obsync::sink {

// A file of the local destination, written atomically: its bytes go to a new temp file
// `.<leaf>.obsync-tmp-<16 hex>` in folder `dir` (created exclusively, never through a link);
// commit() sets the mtime and renames it over `leaf` (a symbolic link there is replaced, never
// followed); without `replace`, commit() refuses to replace anything (RENAME_NOREPLACE) and throws
// Error{storage}. Destroyed uncommitted, it removes the temp file. `location` names it in errors.
// No fsync: the engine flushes the sink before a checkpoint records the file.
std::unique_ptr<sync::FileWriter> create_local_file(SharedFd dir, std::string leaf,
                                                    std::int64_t mtime_ms, bool replace,
                                                    std::string location);

}  // namespace obsync::sink
