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

}  // namespace obsync::json
