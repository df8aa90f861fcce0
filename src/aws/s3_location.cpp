// The s3:// location a user names, and the decoding of keys S3 lists: no network here.

#include <algorithm>
#include <charconv>

#include "aws/s3.hpp"
#include "util/error.hpp"

namespace obsync::aws {

namespace {

constexpr std::string_view k_scheme = "s3://";
constexpr std::string_view k_location_form = "expected s3://BUCKET or s3://BUCKET/PREFIX";

}  // namespace

bool is_valid_bucket_name(std::string_view name) noexcept {
    if (name.size() < 3 || name.size() > 63) {
        return false;
    }
    const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(name.front()) || !alnum(name.back())) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        if (!alnum(c) && c != '-' && c != '.') {
            return false;
        }
        if (c == '.' && i + 1 < name.size() && (name[i + 1] == '.' || name[i + 1] == '-')) {
            return false;
        }
        if (c == '-' && i + 1 < name.size() && name[i + 1] == '.') {
            return false;
        }
    }
    return true;
}

S3Location parse_s3_location(std::string_view text) {
    const auto bad = [&](std::string_view why) {
        return Error(ErrorKind::config, "invalid S3 location \"" + std::string(text) +
                                            "\": " + std::string(why) + " (" +
                                            std::string(k_location_form) + ")");
    };
    if (text.substr(0, k_scheme.size()) != k_scheme) {
        throw bad("not an s3:// URL");
    }
    std::string_view rest = text.substr(k_scheme.size());
    const std::size_t slash = rest.find('/');
    S3Location location;
    location.bucket = std::string(rest.substr(0, slash));
    if (location.bucket.empty()) {
        throw bad("the bucket name is empty");
    }
    if (!is_valid_bucket_name(location.bucket)) {
        throw bad("\"" + location.bucket + "\" is not a valid bucket name");
    }
    std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    while (!prefix.empty() && prefix.front() == '/') {
        prefix.remove_prefix(1);
    }
    while (!prefix.empty() && prefix.back() == '/') {
        prefix.remove_suffix(1);
    }
    std::size_t start = 0;
    while (!prefix.empty() && start <= prefix.size()) {
        const std::size_t end = std::min(prefix.find('/', start), prefix.size());
        const std::string_view segment = prefix.substr(start, end - start);
        if (segment.empty() || segment == "." || segment == "..") {
            throw bad("the prefix has an empty, '.' or '..' segment");
        }
        start = end + 1;
    }
    for (const char c : prefix) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            throw bad("the prefix has a control character");
        }
    }
    location.prefix = std::string(prefix);
    return location;
}

std::string s3_url_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            unsigned value = 0;
            const char* first = text.data() + i + 1;
            if (i + 2 >= text.size() ||
                std::from_chars(first, first + 2, value, 16).ptr != first + 2) {
                throw Error(ErrorKind::protocol, "S3 sent a key with a broken %-escape");
            }
            out += static_cast<char>(value);
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace obsync::aws
