#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "sync/sink.hpp"

namespace obsync::sink {

// A local folder as the destination of a vault. Nothing is ever written outside `root`: every
// path is walked from a descriptor of the root, one component at a time, and a symbolic link as
// a parent folder is refused (Error{storage}: the owner can fix it; a name the file system cannot
// hold is Error{bad_input}). Files appear atomically: each is written to
// `.<name>.obsync-tmp-<16 hex>` in its own folder, then renamed over the target; a symbolic link
// at the target is replaced, never followed.
//
// Folders are opened once and kept open until the next prepare() (up to 128 at a time), so a
// file costs one lookup of its own name; a folder moved away by someone else during a run is
// therefore still written to where it went.
//
// stat() reports only regular files and folders: a symbolic link (or fifo, socket, device) is
// reported as absent, because create_file replaces it and list_files skips it.
//
// Throws Error{config} for an empty root; the root itself is created by prepare() (or by the
// first write).
std::unique_ptr<sync::Sink> open_local_dir(const std::filesystem::path& root);

// The absolute, normal form of a folder that describe() shows and the state is keyed by (no
// trailing '/'). Throws Error{config} when the path cannot be made absolute.
std::string local_root_name(const std::filesystem::path& root);

// Whether a file name is one of our temp files (skipped by list_files, removed by prepare).
bool is_local_dir_temp_name(std::string_view name) noexcept;

}  // namespace obsync::sink
