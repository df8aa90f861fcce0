#include "sync/path_filter.hpp"

#include <fnmatch.h>

namespace obsync::sync {

PathFilter::PathFilter(std::vector<std::string> excludes) : m_excludes(std::move(excludes)) {}

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
