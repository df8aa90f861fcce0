#include "util/display.hpp"

#include <array>
#include <cstdio>
#include <vector>

namespace obsync {

namespace {

bool continuation(unsigned char c) noexcept {
    return (c & 0xC0) == 0x80;
}

// The length of the display unit at `pos`: one well-formed sequence, or one stray byte.
std::size_t unit_length(std::string_view text, std::size_t pos) noexcept {
    char32_t ignored = 0;
    const std::size_t n = decode_utf8(text, pos, ignored);
    return n == 0 ? 1 : n;
}

}  // namespace

std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t& code_point) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
    const std::size_t left = text.size() - pos;
    const unsigned char b0 = byte(0);
    if (b0 < 0x80) {
        code_point = b0;
        return 1;
    }
    std::size_t length = 0;
    // The allowed range of the second byte excludes overlong forms, surrogates (ED A0..BF) and
    // code points above U+10FFFF (F4 90..).
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        length = 3;
        low = b0 == 0xE0 ? 0xA0 : 0x80;
        high = b0 == 0xED ? 0x9F : 0xBF;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        length = 4;
        low = b0 == 0xF0 ? 0x90 : 0x80;
        high = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (left < length || byte(1) < low || byte(1) > high) {
        return 0;
    }
    char32_t cp = b0 & (0xFF >> (length + 1));
    for (std::size_t i = 1; i < length; ++i) {
        if (!continuation(byte(i))) {
            return 0;
        }
        cp = (cp << 6) | (byte(i) & 0x3F);
    }
    code_point = cp;
    return length;
}

bool is_valid_utf8(std::string_view text) noexcept {
    char32_t cp = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t n = decode_utf8(text, pos, cp);
        if (n == 0) {
            return false;
        }
        pos += n;
    }
    return true;
}

std::string to_valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    char32_t cp = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t n = decode_utf8(text, pos, cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++pos;
        } else {
            out.append(text.substr(pos, n));
            pos += n;
        }
    }
    return out;
}

bool is_terminal_control(char32_t cp) noexcept {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E ||
           cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x2028 || cp == 0x2029;
}

std::string printable(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::array<char, 16> buffer{};
    char32_t cp = 0;
    for (std::size_t pos = 0; pos < text.size();) {
        const std::size_t n = decode_utf8(text, pos, cp);
        if (n == 0) {
            std::snprintf(buffer.data(), buffer.size(), "\\x%02x",
                          static_cast<unsigned char>(text[pos]));
            out += buffer.data();
            ++pos;
            continue;
        }
        pos += n;
        if (cp == '\\') {
            out += "\\\\";
        } else if (!is_terminal_control(cp)) {
            out.append(text.substr(pos - n, n));  // well-formed: the bytes as they came
        } else if (cp < 0x20 || cp == 0x7F) {
            switch (cp) {
                case '\a':
                    out += "\\a";
                    break;
                case '\b':
                    out += "\\b";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\v':
                    out += "\\v";
                    break;
                case '\f':
                    out += "\\f";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                case 0x1B:
                    out += "\\e";
                    break;
                default:
                    std::snprintf(buffer.data(), buffer.size(), "\\x%02x",
                                  static_cast<unsigned>(cp));
                    out += buffer.data();
            }
        } else {
            std::snprintf(buffer.data(), buffer.size(), "\\u{%04X}", static_cast<unsigned>(cp));
            out += buffer.data();
        }
    }
    return out;
}

std::string shorten(std::string_view text, std::size_t max_chars) {
    // Where each character starts, in bytes.
    std::vector<std::size_t> starts;
    for (std::size_t pos = 0; pos < text.size(); pos += unit_length(text, pos)) {
        starts.push_back(pos);
    }
    if (starts.size() <= max_chars) {
        return std::string(text);
    }
    const std::size_t keep = max_chars == 0 ? 0 : max_chars - 1;  // the marker is one character
    const std::size_t head = keep / 2;
    const std::size_t tail = keep - head;
    std::string out(text.substr(0, starts[head]));
    out += "\xE2\x80\xA6";
    out.append(text.substr(tail == 0 ? text.size() : starts[starts.size() - tail]));
    return out;
}

std::string display_name(std::string_view text) {
    return printable(shorten(text));
}

std::string display_message(std::string_view text) {
    return printable(shorten(text, k_display_max_message_chars));
}

}  // namespace obsync
