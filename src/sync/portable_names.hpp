#pragma once

#include <string>
#include <vector>

namespace obsync::sync {

// A vault path that is fine on Linux but may not restore as itself on Windows or macOS.
struct PortabilityIssue {
    std::string path;
    std::string reason;  // e.g. "same name as \"Notes/a.md\" on a case-insensitive filesystem"
};

// The paths (files and folders, every path of the vault) that may not survive a restore on
// Windows or macOS, each with why, in the order of `paths`:
//  - two paths that differ only by Unicode normalisation (NFC vs NFD) or by case (Unicode case
//    folding) map to one path there: each of them is listed, naming the first other one;
//  - a segment with a character Windows forbids (\ : * ? " < > |), or ending in a dot or a space;
//  - a segment that is a reserved Windows device name (CON, PRN, AUX, NUL, COM1-COM9, LPT1-LPT9,
//    any case, with or without an extension: "nul.txt").
// A path with several problems is listed once, with the reasons joined by "; ". Paths are still
// written as they are: this only warns.
std::vector<PortabilityIssue> portability_issues(const std::vector<std::string>& paths);

}  // namespace obsync::sync
