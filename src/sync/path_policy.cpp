#include "sync/path_policy.hpp"

#include <utf8proc.h>

#include "sync/sink.hpp"

namespace obsync::sync {

std::optional<std::string> unsafe_path_reason(std::string_view path) {
    if (path.empty()) {
        return "the path is empty";
    }
    if (path.front() == '/') {
        return "the path is absolute";
    }
    for (const char c : path) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return c == '\0' ? "the path contains a NUL byte"
                             : "the path contains a control character";
        }
    }
    // Valid UTF-8, code point by code point.
    const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(path.data());
    utf8proc_ssize_t offset = 0;
    const auto length = static_cast<utf8proc_ssize_t>(path.size());
    while (offset < length) {
        utf8proc_int32_t codepoint = 0;
        const utf8proc_ssize_t n = utf8proc_iterate(bytes + offset, length - offset, &codepoint);
        if (n <= 0) {
            return "the path is not valid UTF-8";
        }
        offset += n;
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = path.find('/', start);
        const std::string_view segment = path.substr(
            start, end == std::string_view::npos ? std::string_view::npos : end - start);
        if (segment.empty()) {
            return "the path has an empty segment";
        }
        if (segment == "." || segment == "..") {
            return "the path has a '" + std::string(segment) + "' segment";
        }
        if (start == 0 && segment == k_backup_meta_dir) {
            return "the name " + std::string(k_backup_meta_dir) +
                   " is reserved at the top of a backup for obsync's own files";
        }
        if (end == std::string_view::npos) {
            return std::nullopt;
        }
        start = end + 1;
    }
}

}  // namespace obsync::sync
