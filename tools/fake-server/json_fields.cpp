#include "json_fields.hpp"

#include <cmath>

#include <boost/json/parse.hpp>

namespace obsync::fake {

std::optional<boost::json::object> parse_object(std::string_view text) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec);
    if (ec || !value.is_object()) {
        return std::nullopt;
    }
    return std::move(value.as_object());
}

std::optional<std::string> get_string(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value == nullptr || !value->is_string()) {
        return std::nullopt;
    }
    return std::string(value->get_string());
}

std::optional<std::int64_t> get_int(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value == nullptr) {
        return std::nullopt;
    }
    if (value->is_int64()) {
        return value->get_int64();
    }
    if (value->is_uint64()) {
        const std::uint64_t u = value->get_uint64();
        if (u <= static_cast<std::uint64_t>(INT64_MAX)) {
            return static_cast<std::int64_t>(u);
        }
        return std::nullopt;
    }
    if (value->is_double()) {
        const double d = value->get_double();
        // 2^63 is exactly representable; anything at or beyond it does not fit.
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2233720368547758e18) {
            return static_cast<std::int64_t>(d);
        }
    }
    return std::nullopt;
}

std::optional<bool> get_bool(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    if (value == nullptr || !value->is_bool()) {
        return std::nullopt;
    }
    return value->get_bool();
}

bool is_null(const boost::json::object& object, std::string_view key) {
    const auto* value = object.if_contains(key);
    return value != nullptr && value->is_null();
}

}  // namespace obsync::fake
