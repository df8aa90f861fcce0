#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_client.hpp"

namespace obsync::aws {

// Long-term or temporary (session) AWS credentials. Never formatted into logs or errors.
struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;  // empty for long-term keys
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded key, value

// A request as the signer sees it. Path and query are *decoded*; the signer and the wire use the
// same encoding of them (uri_encode_path / canonical_query), so an S3 key is encoded exactly once.
struct SignableRequest {
    std::string method;        // "GET", "PUT", ...
    std::string path = "/";    // decoded, e.g. "/bucket/Notes/a b.md"
    QueryParams query;         // decoded, any order
    net::Headers headers;      // must include "host"; names in any case, values untrimmed
    std::string payload_hash;  // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigningParams {
    std::string region;    // "us-east-1"
    std::string service;   // "s3", "dynamodb", "secretsmanager"
    std::string amz_date;  // "YYYYMMDDTHHMMSSZ" (UTC); the scope date is its first 8 characters
    // Every service but S3 normalises the path (RFC 3986 dot segments, repeated slashes).
    bool normalize_path = true;
};

// The three artefacts of SigV4, exposed so tests can compare them with the official vectors.
struct Signature {
    std::string canonical_request;
    std::string string_to_sign;
    std::string authorization;  // the full Authorization header value
};

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - _ . ~) stay,
// everything else becomes %XY with upper-case hex; '/' stays when `keep_slash`.
std::string uri_encode(std::string_view text, bool keep_slash);
// uri_encode(path, true): the path as sent on the wire and as canonicalised.
std::string uri_encode_path(std::string_view path);
// "a=1&b=2": keys and values uri_encode()d, sorted by key then value. Also the wire query.
std::string canonical_query(const QueryParams& query);

// Computes the signature of `request`. The caller has already put into request.headers every
// header to sign, including x-amz-date (= params.amz_date) and, for temporary credentials,
// x-amz-security-token; sign_request() below does that.
Signature sign(const SignableRequest& request, const Credentials& credentials,
               const SigningParams& params);

// "YYYYMMDDTHHMMSSZ" for now (UTC).
std::string amz_date_now();

}  // namespace obsync::aws
