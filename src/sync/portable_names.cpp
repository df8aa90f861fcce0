#include "sync/portable_names.hpp"

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string_view>

#include "crypto/text_normalize.hpp"
#include "util/error.hpp"

namespace obsync::sync {

namespace {

// `text` through one of crypto's Unicode mappings, or nothing if it is not valid UTF-8 (such a
// path is refused before it is written, so it cannot collide with anything on disk).
std::optional<std::string> map_utf8(std::string_view text,
                                    std::string (*mapping)(std::string_view)) {
    try {
        return mapping(text);
    } catch (const Error&) {
        return std::nullopt;
    }
}

// The last segment of a path.
std::string_view last_segment(std::string_view path) {
    const std::size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_reserved_windows_name(std::string_view segment) {
    // Windows ignores what follows the first dot, and trailing spaces before it: "nul.txt",
    // "NUL .md" and "Com1.tar.gz" all name a device.
    std::string_view stem = segment.substr(0, segment.find('.'));
    while (!stem.empty() && stem.back() == ' ') {
        stem.remove_suffix(1);
    }
    std::string upper;
    for (const char c : stem) {
        upper += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    if (upper == "CON" || upper == "PRN" || upper == "AUX" || upper == "NUL") {
        return true;
    }
    return upper.size() == 4 && (upper.starts_with("COM") || upper.starts_with("LPT")) &&
           upper[3] >= '1' && upper[3] <= '9';
}

// What is wrong with one name on its own, or "".
std::string segment_reasons(std::string_view segment) {
    std::string reasons;
    const auto add = [&](const std::string& reason) {
        reasons += (reasons.empty() ? "" : "; ") + reason;
    };
    std::string forbidden;
    for (const char c : std::string_view("\\:*?\"<>|")) {
        if (segment.find(c) != std::string_view::npos) {
            forbidden += c;
        }
    }
    if (!forbidden.empty()) {
        std::string listed;
        for (const char c : forbidden) {
            listed += (listed.empty() ? "" : " ") + std::string(1, c);
        }
        add("has characters Windows does not allow in a name: " + listed);
    }
    if (!segment.empty() && (segment.back() == '.' || segment.back() == ' ')) {
        add(std::string("ends in ") + (segment.back() == '.' ? "a dot" : "a space") +
            ", which Windows drops");
    }
    if (is_reserved_windows_name(segment)) {
        add("is a reserved device name on Windows");
    }
    return reasons;
}

}  // namespace

std::vector<PortabilityIssue> portability_issues(const std::vector<std::string>& paths) {
    // Every path once, with the folders above it, a folder before what it holds: a folder that
    // only exists as a prefix still collides ("A/x.md" and "a/y.md" need folders "A" and "a").
    std::vector<std::string> names;
    std::set<std::string, std::less<>> seen;
    for (const std::string& path : paths) {
        for (std::size_t slash = path.find('/'); slash != std::string::npos;
             slash = path.find('/', slash + 1)) {
            if (seen.insert(path.substr(0, slash)).second) {
                names.push_back(path.substr(0, slash));
            }
        }
        if (seen.insert(path).second) {
            names.push_back(path);
        }
    }

    // Names that one case-insensitive, normalising filesystem (Windows, macOS) sees as one.
    std::map<std::string, std::vector<std::size_t>> by_key;
    std::vector<std::optional<std::string>> nfc(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        nfc[i] = map_utf8(names[i], crypto::nfc);
        if (const auto key = map_utf8(names[i], crypto::nfc_casefold)) {
            by_key[*key].push_back(i);
        }
    }
    std::vector<std::string> reasons(names.size());
    for (const auto& [key, group] : by_key) {
        if (group.size() < 2) {
            continue;
        }
        for (const std::size_t i : group) {
            const std::size_t other = group.front() == i ? group[1] : group.front();
            // Windows folds case but keeps NFC and NFD apart; macOS does both.
            const bool case_only =
                map_utf8(names[i], crypto::casefold) == map_utf8(names[other], crypto::casefold);
            const bool normalisation_only = nfc[i] == nfc[other];
            reasons[i] = "one name with \"" + names[other] + "\" on " +
                         (case_only ? "Windows and macOS" : "macOS") + ": they differ only in " +
                         (case_only            ? "case"
                          : normalisation_only ? "Unicode normalisation (NFC/NFD)"
                                               : "case and Unicode normalisation");
        }
    }

    std::vector<PortabilityIssue> issues;
    for (std::size_t i = 0; i < names.size(); ++i) {
        std::string reason = reasons[i];
        if (const std::string own = segment_reasons(last_segment(names[i])); !own.empty()) {
            reason += (reason.empty() ? "" : "; ") + own;
        }
        if (!reason.empty()) {
            issues.push_back({names[i], std::move(reason)});
        }
    }
    return issues;
}

}  // namespace obsync::sync
