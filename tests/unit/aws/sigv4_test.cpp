#include "aws/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/sha256.hpp"
#include "support/files.hpp"
#include "util/bytes.hpp"

namespace obsync::aws {
namespace {

namespace fs = std::filesystem;

const fs::path k_vectors_dir = OBSYNC_SIGV4_VECTORS;
// The suite has 34 cases; a lower count means the data folder is missing or truncated.
constexpr std::size_t k_min_vector_cases = 30;
constexpr std::string_view k_vector_date = "20150830T123600Z";
// get-vanilla-with-session-token's .req carries no token: this is the value in its .creq.
constexpr std::string_view k_vanilla_session_token =
    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";

Credentials vector_credentials() {
    return {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
}

SigningParams vector_params() {
    return {"us-east-1", "service", std::string(k_vector_date), true};
}

struct VectorCase {
    std::string name;  // the directory name, e.g. "get-vanilla"
    fs::path dir;

    fs::path file(std::string_view extension) const {
        return dir / (name + std::string(extension));
    }
};

// Every directory holding a <dirname>.req is a case, at any depth. Never throws, so a missing
// folder shows up as a failed count check rather than as a crash during test registration.
std::vector<VectorCase> discover_cases() {
    std::vector<VectorCase> cases;
    std::error_code ec;
    fs::recursive_directory_iterator it(k_vectors_dir, ec);
    for (const fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
        if (!it->is_directory(ec)) {
            continue;
        }
        const std::string name = it->path().filename().string();
        if (fs::is_regular_file(it->path() / (name + ".req"), ec)) {
            cases.push_back({name, it->path()});
        }
    }
    std::sort(cases.begin(), cases.end(),
              [](const VectorCase& a, const VectorCase& b) { return a.name < b.name; });
    return cases;
}

const std::vector<VectorCase>& all_cases() {
    static const std::vector<VectorCase> cases = discover_cases();
    return cases;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// '+' stays literal: the vectors are URIs, not form bodies.
std::string percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

QueryParams parse_query(std::string_view query) {
    QueryParams params;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) {
            continue;
        }
        const std::size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
            params.emplace_back(percent_decode(item), "");
        } else {
            params.emplace_back(percent_decode(item.substr(0, eq)),
                                percent_decode(item.substr(eq + 1)));
        }
    }
    return params;
}

// A .req file: "METHOD TARGET HTTP/1.1", "Name:value" lines (a line starting with whitespace
// continues the previous value), an empty line, the body. The target may contain spaces
// (get-space), and several files end without a newline.
SignableRequest parse_request(const std::string& raw) {
    SignableRequest request;
    std::string_view rest = raw;
    std::string body;
    const std::size_t blank = rest.find("\n\n");
    if (blank != std::string_view::npos) {
        body = std::string(rest.substr(blank + 2));
        rest = rest.substr(0, blank);
    }

    std::vector<std::string_view> lines;
    while (!rest.empty()) {
        const std::size_t nl = rest.find('\n');
        lines.push_back(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    }
    if (lines.empty()) {
        ADD_FAILURE() << "empty request";
        return request;
    }

    const std::string_view request_line = lines.front();
    const std::size_t first_space = request_line.find(' ');
    const std::size_t last_space = request_line.rfind(' ');
    request.method = std::string(request_line.substr(0, first_space));
    const std::string_view target =
        request_line.substr(first_space + 1, last_space - first_space - 1);
    const std::size_t question = target.find('?');
    request.path = percent_decode(target.substr(0, question));
    if (question != std::string_view::npos) {
        request.query = parse_query(target.substr(question + 1));
    }

    for (std::size_t i = 1; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line.front() == ' ' || line.front() == '\t') {
            // obs-fold (RFC 7230 §3.2.4): the fold reads as one space; sign() collapses the rest.
            if (request.headers.empty()) {
                ADD_FAILURE() << "continuation line before any header";
                continue;
            }
            request.headers.back().second += ' ';
            request.headers.back().second += line;
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
            ADD_FAILURE() << "header line without ':': " << line;
            continue;
        }
        request.headers.emplace_back(std::string(line.substr(0, colon)),
                                     std::string(line.substr(colon + 1)));
    }
    request.payload_hash = crypto::sha256_hex(as_bytes(body));
    return request;
}

std::string last_line(const std::string& text) {
    std::string_view view = text;
    while (!view.empty() && (view.back() == '\n' || view.back() == '\r' || view.back() == ' ')) {
        view.remove_suffix(1);
    }
    const std::size_t nl = view.rfind('\n');
    return std::string(nl == std::string_view::npos ? view : view.substr(nl + 1));
}

class Sigv4Vector : public ::testing::TestWithParam<VectorCase> {};

TEST_P(Sigv4Vector, MatchesCreqStsAuthz) {
    const VectorCase& c = GetParam();
    SignableRequest request = parse_request(test::read_file(c.file(".req")));
    Credentials credentials = vector_credentials();

    if (c.name == "get-vanilla-with-session-token") {
        credentials.session_token = k_vanilla_session_token;
        request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
    }
    const bool token_added_after_signing = c.name == "post-sts-header-after";
    if (c.name == "post-sts-header-before" || token_added_after_signing) {
        credentials.session_token = last_line(test::read_file(c.dir.parent_path() / "readme.txt"));
        ASSERT_FALSE(credentials.session_token.empty());
    }
    if (c.name == "post-sts-header-before") {
        // The .req already carries the token, so it is signed like any other header.
        const auto token =
            std::find_if(request.headers.begin(), request.headers.end(),
                         [](const auto& h) { return h.first == "X-Amz-Security-Token"; });
        ASSERT_NE(token, request.headers.end());
        EXPECT_EQ(token->second, credentials.session_token);
    }

    const Signature signature = sign(request, credentials, vector_params());
    EXPECT_EQ(signature.canonical_request, test::read_file(c.file(".creq")));
    EXPECT_EQ(signature.string_to_sign, test::read_file(c.file(".sts")));
    EXPECT_EQ(signature.authorization, test::read_file(c.file(".authz")));

    if (token_added_after_signing) {
        // The token goes on the wire unsigned: the signed request shows it beside an
        // Authorization whose SignedHeaders do not name it.
        const std::string sreq = test::read_file(c.file(".sreq"));
        EXPECT_NE(sreq.find("X-Amz-Security-Token:" + credentials.session_token),
                  std::string::npos);
        EXPECT_NE(sreq.find("Authorization: " + signature.authorization), std::string::npos);
        EXPECT_EQ(signature.authorization.find("x-amz-security-token"), std::string::npos);
    }
}

std::string case_test_name(const ::testing::TestParamInfo<VectorCase>& info) {
    std::string name = info.param.name;
    std::replace_if(
        name.begin(), name.end(),
        [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); }, '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(Official, Sigv4Vector, ::testing::ValuesIn(all_cases()), case_test_name);

TEST(Sigv4Vectors, SuiteIsPresent) {
    EXPECT_GE(all_cases().size(), k_min_vector_cases) << "vectors in " << k_vectors_dir;
}

TEST(Sigv4, UriEncode) {
    EXPECT_EQ(uri_encode("a b", false), "a%20b");
    EXPECT_EQ(uri_encode("-._~AZaz09", false), "-._~AZaz09");
    EXPECT_EQ(uri_encode("\xE1\x88\xB4", false), "%E1%88%B4");       // U+1234
    EXPECT_EQ(uri_encode("caf\xC3\xA9.md", false), "caf%C3%A9.md");  // é, upper-case hex
    EXPECT_EQ(uri_encode("a+b=c&d*", false), "a%2Bb%3Dc%26d%2A");
    EXPECT_EQ(uri_encode("a/b", false), "a%2Fb");
    EXPECT_EQ(uri_encode("a/b", true), "a/b");
    EXPECT_EQ(uri_encode_path("/Notes/a b%.md"), "/Notes/a%20b%25.md");
    EXPECT_EQ(uri_encode("", false), "");
}

TEST(Sigv4, CanonicalQuery) {
    EXPECT_EQ(canonical_query({}), "");
    EXPECT_EQ(canonical_query({{"b", "2"}, {"a", "1"}}), "a=1&b=2");
    EXPECT_EQ(canonical_query({{"k", "z"}, {"k", "a"}, {"j", ""}}), "j=&k=a&k=z");
    // Values and keys are encoded, '/' included; sorting is on the encoded bytes.
    EXPECT_EQ(canonical_query({{"prefix", "Notes/a b"}, {"list-type", "2"}}),
              "list-type=2&prefix=Notes%2Fa%20b");
    EXPECT_EQ(canonical_query({{"\xE1\x88\xB4", "x"}, {"Param", "y"}}), "%E1%88%B4=x&Param=y");
}

TEST(Sigv4, S3PathIsNotNormalized) {
    SignableRequest request;
    request.method = "GET";
    request.path = "/bucket/a//b/./c d.md";
    request.headers = {{"Host", "s3.amazonaws.com"}, {"X-Amz-Date", std::string(k_vector_date)}};
    request.payload_hash = "UNSIGNED-PAYLOAD";
    SigningParams params = vector_params();
    params.service = "s3";
    params.normalize_path = false;

    const Signature s3 = sign(request, vector_credentials(), params);
    EXPECT_EQ(s3.canonical_request.substr(0, s3.canonical_request.find('\n', 4) + 1),
              "GET\n/bucket/a//b/./c%20d.md\n");

    params.normalize_path = true;
    const Signature normalized = sign(request, vector_credentials(), params);
    EXPECT_EQ(
        normalized.canonical_request.substr(0, normalized.canonical_request.find('\n', 4) + 1),
        "GET\n/bucket/a/b/c%20d.md\n");
}

}  // namespace
}  // namespace obsync::aws
