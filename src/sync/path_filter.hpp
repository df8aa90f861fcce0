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
    explicit PathFilter(std::vector<std::string> excludes);
    bool excluded(std::string_view path) const;

private:
    std::vector<std::string> m_excludes;
};

}  // namespace obsync::sync
