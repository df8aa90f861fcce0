#include "aws/sigv4.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/openssl_error.hpp"
#include "crypto/sha256.hpp"
#include "util/ascii.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/hex.hpp"

namespace obsync::aws {
namespace {

constexpr std::string_view k_algorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view k_scope_terminator = "aws4_request";
constexpr std::size_t k_amz_date_size = 16;  // YYYYMMDDTHHMMSSZ

using Mac = std::array<std::uint8_t, 32>;

// Spelled out rather than std::isalnum: the set is fixed by RFC 3986, not by the C locale.
bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

// Header values may be folded or padded by whoever built them; AWS signs the value with every
// whitespace run reduced to one space, so two senders of the "same" header agree.
bool is_header_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string trim_and_collapse(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    bool pending_space = false;
    for (const char c : value) {
        if (is_header_space(c)) {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) {
            out += ' ';
            pending_space = false;
        }
        out += c;
    }
    return out;
}

// RFC 3986 §5.2.4 plus collapsing of empty segments: "//a/./b/../c/" -> "/a/c/". A path that
// ends in a separator or a dot segment keeps its trailing slash, as the RFC's output buffer does.
std::string normalize(std::string_view path) {
    std::vector<std::string_view> segments;
    bool trailing_slash = false;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view segment = path.substr(start, end - start);
        const bool last = end == path.size();
        if (segment.empty() || segment == ".") {
            trailing_slash = last;
        } else if (segment == "..") {
            if (!segments.empty()) {
                segments.pop_back();
            }
            trailing_slash = last;
        } else {
            segments.push_back(segment);
            trailing_slash = false;
        }
        start = end + 1;
    }
    std::string out;
    for (const std::string_view segment : segments) {
        out += '/';
        out += segment;
    }
    if (out.empty() || trailing_slash) {
        out += '/';
    }
    return out;
}

std::string canonical_uri(std::string_view path, bool normalize_path) {
    if (normalize_path) {
        return uri_encode_path(normalize(path));
    }
    if (path.empty()) {
        return "/";
    }
    return uri_encode_path(path);
}

struct CanonicalHeaders {
    std::string block;  // "name:value\n" per header, sorted
    std::string names;  // "name1;name2", the SignedHeaders value
};

CanonicalHeaders canonical_headers(const net::Headers& headers) {
    std::vector<std::pair<std::string, std::string>> lowered;
    lowered.reserve(headers.size());
    for (const auto& [name, value] : headers) {
        lowered.emplace_back(ascii_lower(name), trim_and_collapse(value));
    }
    // Stable: repeated headers are joined in the order the caller gave them.
    std::stable_sort(lowered.begin(), lowered.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });

    CanonicalHeaders out;
    for (std::size_t i = 0; i < lowered.size();) {
        const std::string& name = lowered[i].first;
        out.block += name;
        out.block += ':';
        out.block += lowered[i].second;
        std::size_t j = i + 1;
        for (; j < lowered.size() && lowered[j].first == name; ++j) {
            out.block += ',';
            out.block += lowered[j].second;
        }
        out.block += '\n';
        if (!out.names.empty()) {
            out.names += ';';
        }
        out.names += name;
        i = j;
    }
    return out;
}

Mac hmac_sha256(ByteView key, std::string_view data) {
    Mac out{};
    std::size_t out_size = 0;
    const ByteView message = as_bytes(data);
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                  message.data(), message.size(), out.data(), out.size(), &out_size) == nullptr ||
        out_size != out.size()) {
        crypto::detail::throw_openssl("EVP_Q_mac(HMAC-SHA256)");
    }
    return out;
}

// Derived keys are as good as the secret for a day: wipe them once used.
struct WipedMac {
    Mac value{};
    explicit WipedMac(const Mac& m) : value(m) {}
    WipedMac(const WipedMac&) = delete;
    WipedMac& operator=(const WipedMac&) = delete;
    ~WipedMac() { OPENSSL_cleanse(value.data(), value.size()); }
};

std::string signature_hex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service, std::string_view string_to_sign) {
    std::string seed = "AWS4";
    seed += secret;
    const WipedMac date_key(hmac_sha256(as_bytes(seed), date));
    OPENSSL_cleanse(seed.data(), seed.size());
    const WipedMac region_key(hmac_sha256(date_key.value, region));
    const WipedMac service_key(hmac_sha256(region_key.value, service));
    const WipedMac signing_key(hmac_sha256(service_key.value, k_scope_terminator));
    return to_hex(hmac_sha256(signing_key.value, string_to_sign));
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
    static constexpr std::string_view k_hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            out += ch;
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 0x0F];
        }
    }
    return out;
}

std::string uri_encode_path(std::string_view path) {
    return uri_encode(path, true);
}

std::string canonical_query(const QueryParams& query) {
    // AWS sorts by the *encoded* names (byte order), so encode first, then sort.
    std::vector<std::pair<std::string, std::string>> encoded;
    encoded.reserve(query.size());
    for (const auto& [key, value] : query) {
        encoded.emplace_back(uri_encode(key, false), uri_encode(value, false));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [key, value] : encoded) {
        if (!out.empty()) {
            out += '&';
        }
        out += key;
        out += '=';
        out += value;
    }
    return out;
}

Signature sign(const SignableRequest& request, const Credentials& credentials,
               const SigningParams& params) {
    if (params.amz_date.size() != k_amz_date_size) {
        throw Error(ErrorKind::bad_input, "SigV4: amz_date must be YYYYMMDDTHHMMSSZ");
    }
    const std::string_view date = std::string_view(params.amz_date).substr(0, 8);
    const CanonicalHeaders headers = canonical_headers(request.headers);

    Signature out;
    std::string& creq = out.canonical_request;
    creq += request.method;
    creq += '\n';
    creq += canonical_uri(request.path, params.normalize_path);
    creq += '\n';
    creq += canonical_query(request.query);
    creq += '\n';
    creq += headers.block;
    creq += '\n';
    creq += headers.names;
    creq += '\n';
    creq += request.payload_hash;

    std::string scope(date);
    scope += '/';
    scope += params.region;
    scope += '/';
    scope += params.service;
    scope += '/';
    scope += k_scope_terminator;

    std::string& sts = out.string_to_sign;
    sts += k_algorithm;
    sts += '\n';
    sts += params.amz_date;
    sts += '\n';
    sts += scope;
    sts += '\n';
    sts += crypto::sha256_hex(as_bytes(creq));

    const std::string signature =
        signature_hex(credentials.secret_access_key, date, params.region, params.service, sts);

    std::string& authz = out.authorization;
    authz += k_algorithm;
    authz += " Credential=";
    authz += credentials.access_key_id;
    authz += '/';
    authz += scope;
    authz += ", SignedHeaders=";
    authz += headers.names;
    authz += ", Signature=";
    authz += signature;
    return out;
}

std::string amz_date_now() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    if (gmtime_r(&now, &utc) == nullptr) {
        throw Error(ErrorKind::config, "SigV4: the system clock is out of range");
    }
    std::array<char, k_amz_date_size + 1> buffer{};
    const std::size_t n = std::strftime(buffer.data(), buffer.size(), "%Y%m%dT%H%M%SZ", &utc);
    return std::string(buffer.data(), n);
}

}  // namespace obsync::aws
