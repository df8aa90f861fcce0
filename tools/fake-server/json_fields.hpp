#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

namespace obsync::fake {

// Lenient readers for client JSON: a missing field or a field of the wrong type gives nullopt,
// never an exception, because bad input must never crash the server.
std::optional<boost::json::object> parse_object(std::string_view text);
std::optional<std::string> get_string(const boost::json::object& object, std::string_view key);
// Integers may arrive as JSON doubles (JavaScript numbers); integral values are accepted.
std::optional<std::int64_t> get_int(const boost::json::object& object, std::string_view key);
std::optional<bool> get_bool(const boost::json::object& object, std::string_view key);
bool is_null(const boost::json::object& object, std::string_view key);

}  // namespace obsync::fake
