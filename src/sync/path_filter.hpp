#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace obsync::sync {

// --exclude globs (fnmatch syntax). A glob without '/' matches any single path segment, so
// ".obsidian" excludes that folder and everything in it, and "*.pdf" every PDF. A glob with '/'
// matches a whole path from the vault root, or any folder above it ("Archive/2023" excludes
// everything below that folder).
class PathFilter {
public:
    // Throws Error{config} on a malformed glob (see check_globs).
    explicit PathFilter(std::vector<std::string> excludes);

    // Throws Error{config} naming the first malformed glob: an empty one, a '[' without its ']',
    // or a trailing '\\'. fnmatch would quietly never match them, so a typo would back up what
    // the user meant to leave out.
    static void check_globs(const std::vector<std::string>& globs);

    bool excluded(std::string_view path) const;

private:
    std::vector<std::string> m_excludes;
};

}  // namespace obsync::sync
