#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace obsync::net {

// An absolute http(s):// or ws(s):// URL, split the way a connection needs it.
struct Url {
    std::string scheme;  // "http", "https", "ws" or "wss"
    std::string host;    // name or IPv4 address; IPv6 literals keep no brackets
    std::uint16_t port = 0;
    std::string target;  // path and query, at least "/"

    bool secure() const noexcept { return scheme == "https" || scheme == "wss"; }
    // "host" or "host:port" when the port is not the scheme's default: the Host header.
    std::string authority() const;

    // Throws Error{config} on anything that is not an absolute URL of the four schemes, and on
    // plain http:// or ws:// to a host other than 127.0.0.1 or localhost: credentials and tokens
    // never travel unencrypted beyond this machine.
    static Url parse(std::string_view text);
};

bool is_loopback_host(std::string_view host) noexcept;

}  // namespace obsync::net
