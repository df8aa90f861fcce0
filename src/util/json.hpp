#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace obsync::json {

// Typed access to JSON that came from a peer. Every failure is Error{protocol} whose message
// names `context` (e.g. "sync server push") and the field, never the document itself: documents
// may carry tokens.

boost::json::object parse_object(std::string_view text, std::string_view context);

const boost::json::value* find(const boost::json::object& obj, std::string_view key);

std::string get_string(const boost::json::object& obj, std::string_view key,
                       std::string_view context);
std::optional<std::string> get_optional_string(const boost::json::object& obj, std::string_view key,
                                               std::string_view context);
// Integers, accepting JSON numbers with an integral value (JavaScript peers send 3 or 3.0).
std::int64_t get_int(const boost::json::object& obj, std::string_view key,
                     std::string_view context);
std::optional<std::int64_t> get_optional_int(const boost::json::object& obj, std::string_view key,
                                             std::string_view context);
bool get_bool(const boost::json::object& obj, std::string_view key, std::string_view context,
              bool fallback);

// JavaScript truthiness of a field, as the official client tests `err` and friends.
bool is_truthy(const boost::json::value* value) noexcept;

// `value` as one line of JSON that is safe to read in a terminal, for log and metrics lines:
// strings are made valid UTF-8 (a stray byte becomes U+FFFD), the serializer escapes quotes,
// backslashes and C0 controls, and the other terminal controls (util/display.hpp: DEL, C1,
// bidi controls, U+2028, U+2029) are written as \uXXXX, which means the same to a JSON reader.
// Floating-point numbers are their shortest round-trip decimal ("1.5", where Boost writes
// "1.5E0"); NaN and infinities, which JSON lacks, are null.
std::string serialize_line(const boost::json::value& value);

}  // namespace obsync::json
