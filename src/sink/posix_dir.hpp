#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sink/unique_fd.hpp"
#include "util/error.hpp"

// Folder primitives of the local destination: every lookup is relative to an open folder and
// never follows a symbolic link, so nothing below the root can lead outside it.
namespace obsync::sink {

// An open folder, shared by the sink's cache and the writers that rename into it.
using SharedFd = std::shared_ptr<const UniqueFd>;

// Throws Error{kind} "LOCATION: WHAT".
[[noreturn]] void fail_at(ErrorKind kind, const std::string& location, const std::string& what);
// Throws Error{storage} "LOCATION: <strerror(err)>"; Error{bad_input} for a name the file system
// cannot hold (ENAMETOOLONG, EILSEQ), which no retry will change.
[[noreturn]] void fail_errno(const std::string& location, int err);

// Opens `name` below `dir` as a folder, never through a symbolic link; `location` names it in
// errors. With `create`, a missing folder is made. Without `create`, a missing folder or a file in
// its place gives an invalid descriptor. A symbolic link in its place is Error{storage}.
UniqueFd open_dir(int dir, const std::string& name, bool create, const std::string& location);

// Calls `visit(folder fd, name, path)` for every regular file below `dir`, depth first, without
// following links; `path` is `prefix` + the relative path. `location(path)` names a path in errors.
using FileVisitor = std::function<void(int dir, const std::string& name, const std::string& path)>;
void walk_files(UniqueFd dir, const std::string& prefix, const FileVisitor& visit,
                const std::function<std::string(std::string_view)>& location);

}  // namespace obsync::sink
