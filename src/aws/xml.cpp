#include "aws/xml.hpp"

#include <charconv>
#include <cstdint>

#include "util/error.hpp"

namespace obsync::aws {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp <= 0x10FFFF) {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        throw Error(ErrorKind::protocol, "XML character reference out of range");
    }
}

}  // namespace

std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag) {
    std::vector<std::string_view> blocks;
    const std::string open = "<" + std::string(tag);
    const std::string close = "</" + std::string(tag) + ">";
    std::size_t pos = 0;
    while ((pos = xml.find(open, pos)) != std::string_view::npos) {
        const std::size_t after_name = pos + open.size();
        if (after_name >= xml.size()) {
            break;
        }
        const char next = xml[after_name];
        if (next != '>' && next != '/' && next != ' ') {
            pos = after_name;  // a longer tag name that starts with `tag`
            continue;
        }
        const std::size_t gt = xml.find('>', after_name);
        if (gt == std::string_view::npos) {
            break;
        }
        if (xml[gt - 1] == '/') {
            blocks.emplace_back();
            pos = gt + 1;
            continue;
        }
        const std::size_t end = xml.find(close, gt + 1);
        if (end == std::string_view::npos) {
            throw Error(ErrorKind::protocol,
                        "unterminated <" + std::string(tag) + "> in XML reply");
        }
        blocks.push_back(xml.substr(gt + 1, end - gt - 1));
        pos = end + close.size();
    }
    return blocks;
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
    const auto blocks = xml_blocks(xml, tag);
    if (blocks.empty()) {
        return std::nullopt;
    }
    return xml_unescape(blocks.front());
}

std::string xml_unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '&') {
            out += text[i];
            continue;
        }
        const std::size_t semi = text.find(';', i);
        if (semi == std::string_view::npos) {
            throw Error(ErrorKind::protocol, "unterminated XML entity");
        }
        const std::string_view entity = text.substr(i + 1, semi - i - 1);
        if (entity == "amp") {
            out += '&';
        } else if (entity == "lt") {
            out += '<';
        } else if (entity == "gt") {
            out += '>';
        } else if (entity == "quot") {
            out += '"';
        } else if (entity == "apos") {
            out += '\'';
        } else if (entity.size() > 1 && entity[0] == '#') {
            const bool hex = entity[1] == 'x' || entity[1] == 'X';
            const std::string_view digits = entity.substr(hex ? 2 : 1);
            std::uint32_t cp = 0;
            const auto [ptr, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
            if (ec != std::errc{} || ptr != digits.data() + digits.size() || digits.empty()) {
                throw Error(ErrorKind::protocol, "bad XML character reference");
            }
            append_utf8(out, cp);
        } else {
            throw Error(ErrorKind::protocol, "unknown XML entity");
        }
        i = semi;
    }
    return out;
}

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace obsync::aws
