#pragma once

// A versioned S3 prefix seen at a moment: what `obsync restore --at` restores (issue #14).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aws/s3.hpp"

namespace obsync::aws {

// Whether `a` is a newer version of its key than `b`: a later LastModified, or within one second
// (S3's grain) the one marked IsLatest. A stable sort by it keeps the listing's order for the rest.
bool newer_version(const ObjectVersion& a, const ObjectVersion& b) noexcept;

// The objects under a versioned prefix as they were at `at_ms` (epoch ms), from its
// ListObjectVersions (any order of keys; within one LastModified, the entry marked IsLatest, then
// the listing's order, counts as newer). For each key: the newest version not newer than `at_ms`;
// the key is absent when that version is a delete marker or when every version is newer. Without
// `at_ms`: each key's newest version, absent when that is a delete marker.
std::map<std::string, ObjectVersion> versions_at(const std::vector<ObjectVersion>& versions,
                                                 std::optional<std::int64_t> at_ms);

}  // namespace obsync::aws
