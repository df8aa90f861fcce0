#include "net/url.hpp"

#include <charconv>

#include "util/error.hpp"

namespace obsync::net {
namespace {

[[noreturn]] void bad_url(std::string_view text, std::string_view why) {
    throw Error(ErrorKind::config, "invalid URL '" + std::string(text) + "': " + std::string(why));
}

std::uint16_t default_port(std::string_view scheme) {
    return scheme == "https" || scheme == "wss" ? 443 : 80;
}

}  // namespace

bool is_loopback_host(std::string_view host) noexcept {
    return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

std::string Url::authority() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    std::string out = ipv6 ? "[" + host + "]" : host;
    if (port != default_port(scheme)) {
        out += ':' + std::to_string(port);
    }
    return out;
}

Url Url::parse(std::string_view text) {
    Url url;
    const auto sep = text.find("://");
    if (sep == std::string_view::npos) {
        bad_url(text, "expected scheme://host");
    }
    url.scheme = std::string(text.substr(0, sep));
    for (char& c : url.scheme) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (url.scheme != "http" && url.scheme != "https" && url.scheme != "ws" &&
        url.scheme != "wss") {
        bad_url(text, "the scheme must be http, https, ws or wss");
    }
    std::string_view rest = text.substr(sep + 3);
    const auto slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    url.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
    if (url.target.front() == '?') {
        url.target.insert(0, "/");
    }
    if (authority.find('@') != std::string_view::npos) {
        bad_url(text, "credentials in URLs are not supported");
    }
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            bad_url(text, "unterminated IPv6 address");
        }
        url.host = std::string(authority.substr(1, close - 1));
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                bad_url(text, "unexpected text after the IPv6 address");
            }
            port_text = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
        }
    }
    if (url.host.empty()) {
        bad_url(text, "no host");
    }
    url.port = default_port(url.scheme);
    if (!port_text.empty()) {
        unsigned value = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
        if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
            value > 65535) {
            bad_url(text, "bad port");
        }
        url.port = static_cast<std::uint16_t>(value);
    }
    if (!url.secure() && !is_loopback_host(url.host)) {
        bad_url(text, "plain " + url.scheme +
                          ":// is only allowed to 127.0.0.1 and localhost; use https:// or wss://");
    }
    return url;
}

}  // namespace obsync::net
