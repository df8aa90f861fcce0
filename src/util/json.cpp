#include "util/json.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::json {
namespace {

[[noreturn]] void bad(std::string_view context, std::string_view key, std::string_view why) {
    throw Error(ErrorKind::protocol,
                std::string(context) + ": field '" + std::string(key) + "' " + std::string(why));
}

std::optional<std::int64_t> to_int(const boost::json::value& v) {
    if (v.is_int64()) {
        return v.get_int64();
    }
    if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
        return static_cast<std::int64_t>(v.get_uint64());
    }
    if (v.is_double()) {
        const double d = v.get_double();
        if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.007199254740992e15) {
            return static_cast<std::int64_t>(d);
        }
    }
    return std::nullopt;
}

void append_string(std::string& out, std::string_view text) {
    const std::string quoted = boost::json::serialize(boost::json::string(to_valid_utf8(text)));
    std::array<char, 8> escape{};
    char32_t cp = 0;
    for (std::size_t pos = 0; pos < quoted.size();) {
        const std::size_t n = decode_utf8(quoted, pos, cp);  // never 0: the text is valid UTF-8
        if (cp >= 0x7F && is_terminal_control(cp)) {
            // Every such code point is below U+FFFF: one \u escape, no surrogate pair.
            std::snprintf(escape.data(), escape.size(), "\\u%04X", static_cast<unsigned>(cp));
            out += escape.data();
        } else {
            out.append(quoted, pos, n);
        }
        pos += n;
    }
}

void append_value(std::string& out, const boost::json::value& value) {
    switch (value.kind()) {
        case boost::json::kind::string:
            append_string(out, value.get_string());
            return;
        case boost::json::kind::double_: {
            const double d = value.get_double();
            if (!std::isfinite(d)) {
                out += "null";
                return;
            }
            std::array<char, 32> buffer{};
            const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), d);
            out.append(buffer.data(), result.ptr);
            return;
        }
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& item : value.get_array()) {
                if (!first) {
                    out += ',';
                }
                first = false;
                append_value(out, item);
            }
            out += ']';
            return;
        }
        case boost::json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, item] : value.get_object()) {
                if (!first) {
                    out += ',';
                }
                first = false;
                append_string(out, key);
                out += ':';
                append_value(out, item);
            }
            out += '}';
            return;
        }
        default:
            out += boost::json::serialize(value);  // null, booleans, integers
    }
}

}  // namespace

std::string serialize_line(const boost::json::value& value) {
    std::string out;
    append_value(out, value);
    return out;
}

boost::json::object parse_object(std::string_view text, std::string_view context) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(text, ec);
    if (ec) {
        throw Error(ErrorKind::protocol,
                    std::string(context) + ": malformed JSON (" + ec.message() + ")");
    }
    if (!value.is_object()) {
        throw Error(ErrorKind::protocol, std::string(context) + ": expected a JSON object");
    }
    return std::move(value.as_object());
}

const boost::json::value* find(const boost::json::object& obj, std::string_view key) {
    return obj.if_contains(key);
}

std::optional<std::string> get_optional_string(const boost::json::object& obj, std::string_view key,
                                               std::string_view context) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    if (!v->is_string()) {
        bad(context, key, "is not a string");
    }
    return std::string(v->get_string());
}

std::string get_string(const boost::json::object& obj, std::string_view key,
                       std::string_view context) {
    auto value = get_optional_string(obj, key, context);
    if (!value) {
        bad(context, key, "is missing");
    }
    return std::move(*value);
}

std::optional<std::int64_t> get_optional_int(const boost::json::object& obj, std::string_view key,
                                             std::string_view context) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return std::nullopt;
    }
    auto value = to_int(*v);
    if (!value) {
        bad(context, key, "is not an integer");
    }
    return value;
}

std::int64_t get_int(const boost::json::object& obj, std::string_view key,
                     std::string_view context) {
    auto value = get_optional_int(obj, key, context);
    if (!value) {
        bad(context, key, "is missing");
    }
    return *value;
}

bool get_bool(const boost::json::object& obj, std::string_view key, std::string_view context,
              bool fallback) {
    const auto* v = obj.if_contains(key);
    if (v == nullptr || v->is_null()) {
        return fallback;
    }
    if (!v->is_bool()) {
        bad(context, key, "is not a boolean");
    }
    return v->get_bool();
}

bool is_truthy(const boost::json::value* value) noexcept {
    if (value == nullptr || value->is_null()) {
        return false;
    }
    if (value->is_bool()) {
        return value->get_bool();
    }
    if (value->is_string()) {
        return !value->get_string().empty();
    }
    if (value->is_int64()) {
        return value->get_int64() != 0;
    }
    if (value->is_uint64()) {
        return value->get_uint64() != 0;
    }
    if (value->is_double()) {
        return value->get_double() != 0.0 && !std::isnan(value->get_double());
    }
    return true;  // objects and arrays
}

}  // namespace obsync::json
