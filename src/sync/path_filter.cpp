#include "sync/path_filter.hpp"

#include <fnmatch.h>

#include "util/error.hpp"

namespace obsync::sync {

namespace {

// Why `glob` is malformed, or nullptr. Follows fnmatch's bracket rules: a ']' right after '[' (or
// after "[!" / "[^") is a member of the set, not its end.
const char* glob_problem(const std::string& glob) {
    if (glob.empty()) {
        return "it is empty";
    }
    for (std::size_t i = 0; i < glob.size(); ++i) {
        if (glob[i] == '\\') {
            if (++i == glob.size()) {
                return "it ends with a lone '\\'";
            }
        } else if (glob[i] == '[') {
            std::size_t j = i + 1;
            if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) {
                ++j;
            }
            if (j < glob.size() && glob[j] == ']') {
                ++j;
            }
            const std::size_t close = glob.find(']', j);
            if (close == std::string::npos) {
                return "a '[' has no closing ']'";
            }
            i = close;
        }
    }
    return nullptr;
}

}  // namespace

PathFilter::PathFilter(std::vector<std::string> excludes) : m_excludes(std::move(excludes)) {
    check_globs(m_excludes);
}

void PathFilter::check_globs(const std::vector<std::string>& globs) {
    for (const std::string& glob : globs) {
        if (const char* problem = glob_problem(glob)) {
            throw Error(ErrorKind::config,
                        "--exclude \"" + glob + "\" is not a valid glob: " + problem);
        }
    }
}

bool PathFilter::excluded(std::string_view path) const {
    const std::string full(path);
    for (const std::string& glob : m_excludes) {
        const bool anchored = glob.find('/') != std::string::npos;
        std::size_t start = 0;
        for (;;) {
            const std::size_t end = full.find('/', start);
            const std::string candidate =
                anchored ? full.substr(0, end)
                         : full.substr(start,
                                       end == std::string::npos ? std::string::npos : end - start);
            if (fnmatch(glob.c_str(), candidate.c_str(), anchored ? FNM_PATHNAME : 0) == 0) {
                return true;
            }
            if (end == std::string::npos) {
                break;
            }
            start = end + 1;
        }
    }
    return false;
}

}  // namespace obsync::sync
