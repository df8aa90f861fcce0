#include "lambda/event.hpp"

#include <algorithm>
#include <array>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "util/base64.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::lambda {

namespace {

namespace json = boost::json;

// Thrown inside this file only, to leave the nested decoding at once; decode_event() and
// check_request() turn it into their returned Refusal.
struct Refused {
    unsigned status;
    std::string message;
};

[[noreturn]] void refuse(unsigned status, std::string message) {
    throw Refused{status, std::move(message)};
}

// Field names come from the caller: escaped and shortened as any other text we did not write.
std::string field(std::string_view name) {
    return "field '" + display_name(name) + "'";
}

constexpr std::array<std::string_view, 8> k_request_fields = {
    "vault_id",    "sync_type",      "email",       "password",
    "totp_secret", "vault_password", "dest_bucket", "dest_prefix",
};

std::string accepted_fields() {
    std::string out;
    for (const auto name : k_request_fields) {
        out += out.empty() ? "" : ", ";
        out += name;
    }
    return out;
}

std::string kind_name(const json::value& value) {
    switch (value.kind()) {
        case json::kind::array:
            return "an array";
        case json::kind::string:
            return "a string";
        case json::kind::bool_:
            return "a boolean";
        case json::kind::null:
            return "null";
        case json::kind::object:
            return "an object";
        default:
            return "a number";
    }
}

json::value parse_json(std::string_view text, std::string_view what) {
    json::error_code ec;
    json::value value = json::parse(text, ec);
    if (ec) {
        refuse(400, std::string(what) + " is not JSON");
    }
    return value;
}

const json::object& expect_object(const json::value& value, std::string_view what) {
    if (!value.is_object()) {
        refuse(400, std::string(what) + " must be a JSON object, not " + kind_name(value));
    }
    return value.get_object();
}

// The request fields: all optional, null as absent, anything unknown refused (a typo such as
// "vault" must not silently back up every vault).
SyncEvent decode_request(const json::object& request, EventSource source) {
    SyncEvent event;
    event.source = source;
    for (const auto& [json_key, value] : request) {
        const std::string_view key(json_key.data(), json_key.size());
        const auto known = std::find(k_request_fields.begin(), k_request_fields.end(), key);
        if (known == k_request_fields.end()) {
            refuse(400, "unknown " + field(key) + " (accepted: " + accepted_fields() + ")");
        }
        if (value.is_null()) {
            continue;
        }
        if (!value.is_string()) {
            refuse(400, field(key) + " must be a string, not " + kind_name(value));
        }
        std::string text(value.get_string());
        if (key == "dest_prefix") {
            event.dest_prefix = std::move(text);
            continue;
        }
        if (text.empty()) {
            refuse(400, field(key) + " must not be empty");
        }
        if (key == "sync_type") {
            if (text == "incremental") {
                event.sync_type = SyncType::incremental;
            } else if (text == "complete") {
                event.sync_type = SyncType::complete;
            } else {
                refuse(400, field(key) + " must be \"incremental\" or \"complete\"");
            }
        } else if (key == "vault_id") {
            event.vault = std::move(text);
        } else if (key == "email") {
            event.email = std::move(text);
        } else if (key == "password") {
            event.password = std::move(text);
        } else if (key == "totp_secret") {
            event.totp_secret = std::move(text);
        } else if (key == "vault_password") {
            event.vault_password = std::move(text);
        } else {
            event.dest_bucket = std::move(text);
        }
    }
    return event;
}

std::string too_large() {
    return "the request is larger than " + std::to_string(k_max_request_body >> 20) + " MiB";
}

// API Gateway (both payload formats) and function URLs: a POST whose body is the request.
SyncEvent decode_http(const json::object& event, EventSource source, const json::value* method) {
    if (method == nullptr || !method->is_string()) {
        refuse(400, "the HTTP event has no method");
    }
    if (method->get_string() != "POST") {
        refuse(405, "method " + display_name(method->get_string()) + " is not allowed: use POST");
    }
    std::string body;
    if (const auto* value = event.if_contains("body"); value != nullptr && !value->is_null()) {
        if (!value->is_string()) {
            refuse(400, "the HTTP event's body must be a string, not " + kind_name(*value));
        }
        body = value->get_string();
    }
    bool base64 = false;
    if (const auto* value = event.if_contains("isBase64Encoded");
        value != nullptr && !value->is_null()) {
        if (!value->is_bool()) {
            refuse(400, "the HTTP event's isBase64Encoded must be a boolean");
        }
        base64 = value->get_bool();
    }
    if (base64) {
        // Refused before decoding: 4 characters per 3 bytes.
        if (body.size() > (k_max_request_body + 2) / 3 * 4) {
            refuse(413, too_large());
        }
        try {
            const Bytes decoded = base64_decode(body);
            body.assign(decoded.begin(), decoded.end());
        } catch (const Error&) {
            refuse(400, "the request body is not valid base64 although isBase64Encoded is true");
        }
    }
    if (body.size() > k_max_request_body) {
        refuse(413, too_large());
    }
    if (body.empty()) {
        return decode_request({}, source);
    }
    const json::value request = parse_json(body, "the request body");
    return decode_request(expect_object(request, "the request body"), source);
}

bool is_string_equal(const json::value* value, std::string_view text) {
    return value != nullptr && value->is_string() && value->get_string() == text;
}

SyncEvent decode(std::string_view payload) {
    // An invocation without a payload (aws lambda invoke with none) asks for the defaults.
    if (payload.empty()) {
        return decode_request({}, EventSource::direct);
    }
    const json::value document = parse_json(payload, "the event");
    const json::object& event = expect_object(
        document,
        "the event (a sync request, or an API Gateway, function URL or EventBridge event)");
    if (event.contains("Records")) {
        refuse(400,
               "batch events with 'Records' (SQS, SNS, S3...) are not supported: invoke "
               "the function directly, through its URL, API Gateway or an EventBridge "
               "schedule");
    }
    const json::value* context = event.if_contains("requestContext");
    if (context != nullptr) {
        if (event.contains("httpMethod")) {
            return decode_http(event, EventSource::api_gateway_v1, event.if_contains("httpMethod"));
        }
        const json::value* http =
            context->is_object() ? context->get_object().if_contains("http") : nullptr;
        if (is_string_equal(event.if_contains("version"), "2.0") && http != nullptr &&
            http->is_object()) {
            // Function URLs use payload format 2.0 too; only their domain tells them apart.
            const json::value* domain = context->get_object().if_contains("domainName");
            const bool url = domain != nullptr && domain->is_string() &&
                             std::string_view(domain->get_string()).find(".lambda-url.") !=
                                 std::string_view::npos;
            return decode_http(event, url ? EventSource::function_url : EventSource::api_gateway_v2,
                               http->get_object().if_contains("method"));
        }
        refuse(400,
               "unrecognised HTTP event: neither an API Gateway REST proxy event nor "
               "payload format 2.0");
    }
    if (event.contains("detail-type")) {
        if (is_string_equal(event.if_contains("detail-type"), "Scheduled Event") &&
            is_string_equal(event.if_contains("source"), "aws.events")) {
            SyncEvent scheduled;
            scheduled.source = EventSource::schedule;
            return scheduled;
        }
        refuse(400, "EventBridge events other than a Scheduled Event are not supported");
    }
    if (payload.size() > k_max_request_body) {
        refuse(413, too_large());
    }
    return decode_request(event, EventSource::direct);
}

// Best effort for a refusal of a payload that could not be decoded: the shape it looks like,
// so that an HTTP caller still gets an HTTP answer.
EventSource guess_source(std::string_view payload) {
    json::error_code ec;
    const json::value document = json::parse(payload, ec);
    if (ec || !document.is_object()) {
        return EventSource::direct;
    }
    const json::object& event = document.get_object();
    if (!event.contains("requestContext")) {
        return EventSource::direct;
    }
    if (event.contains("httpMethod")) {
        return EventSource::api_gateway_v1;
    }
    const auto* context = event.at("requestContext").if_object();
    const auto* domain = context != nullptr ? context->if_contains("domainName") : nullptr;
    if (domain != nullptr && domain->is_string() &&
        std::string_view(domain->get_string()).find(".lambda-url.") != std::string_view::npos) {
        return EventSource::function_url;
    }
    return EventSource::api_gateway_v2;
}

Refusal bad_input(EventSource source, Refused refused) {
    return Refusal{source, refused.status,
                   backup::Failure{ErrorKind::bad_input, std::move(refused.message)}};
}

}  // namespace

std::string_view to_string(EventSource source) noexcept {
    switch (source) {
        case EventSource::direct:
            return "direct";
        case EventSource::api_gateway_v1:
            return "api_gateway_v1";
        case EventSource::api_gateway_v2:
            return "api_gateway_v2";
        case EventSource::function_url:
            return "function_url";
        case EventSource::schedule:
            return "schedule";
    }
    return "unknown";
}

bool is_http(EventSource source) noexcept {
    return source == EventSource::api_gateway_v1 || source == EventSource::api_gateway_v2 ||
           source == EventSource::function_url;
}

std::string_view to_string(SyncType type) noexcept {
    return type == SyncType::complete ? "complete" : "incremental";
}

bool SyncEvent::has_credentials() const {
    return email || password || totp_secret || vault_password;
}

std::variant<SyncEvent, Refusal> decode_event(std::string_view payload) {
    try {
        return decode(payload);
    } catch (Refused& refused) {
        return bad_input(guess_source(payload), std::move(refused));
    } catch (const std::exception&) {
        // Allocation failure or a parser limit (nesting depth): still an answer, not a crash.
        return bad_input(guess_source(payload), Refused{400, "the event could not be decoded"});
    }
}

std::optional<std::string> invalid_prefix_reason(std::string_view prefix) {
    if (prefix.size() > k_max_dest_prefix) {
        return "it is longer than " + std::to_string(k_max_dest_prefix) + " bytes";
    }
    if (!is_valid_utf8(prefix)) {
        return "it is not valid UTF-8";
    }
    for (const char c : prefix) {
        if (c == '\0') {
            return "it contains a NUL byte";
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return "it contains a control character";
        }
    }
    if (prefix.empty()) {
        return std::nullopt;
    }
    if (prefix.front() == '/') {
        return "it starts with '/'";
    }
    if (prefix.back() == '/') {
        prefix.remove_suffix(1);
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t end = std::min(prefix.find('/', start), prefix.size());
        const std::string_view segment = prefix.substr(start, end - start);
        if (segment.empty()) {
            return "it has an empty segment";
        }
        if (segment == "." || segment == "..") {
            return "it has a '" + std::string(segment) + "' segment";
        }
        if (end == prefix.size()) {
            return std::nullopt;
        }
        start = end + 1;
    }
}

std::variant<Destination, Refusal> check_request(const SyncEvent& event,
                                                 const RequestPolicy& policy) {
    const auto refused = [&](unsigned status, std::string message) {
        return bad_input(event.source, Refused{status, std::move(message)});
    };
    Destination destination{policy.default_bucket, policy.default_prefix};
    if (event.dest_prefix) {
        if (auto reason = invalid_prefix_reason(*event.dest_prefix)) {
            return refused(400, field("dest_prefix") + " is not a valid S3 prefix: " + *reason);
        }
        destination.prefix = *event.dest_prefix;
        if (!destination.prefix.empty() && destination.prefix.back() == '/') {
            destination.prefix.pop_back();
        }
    }
    if (event.has_credentials() && !policy.allow_request_credentials) {
        std::string fields;
        for (const auto& [name, value] :
             {std::pair{"email", &event.email}, std::pair{"password", &event.password},
              std::pair{"totp_secret", &event.totp_secret},
              std::pair{"vault_password", &event.vault_password}}) {
            if (*value) {
                fields += fields.empty() ? name : std::string(", ") + name;
            }
        }
        return refused(403, "credentials in a request (" + fields +
                                ") are refused: this function uses its own "
                                "(ALLOW_REQUEST_CREDENTIALS is not true)");
    }
    if (event.dest_bucket) {
        const bool allowed = *event.dest_bucket == policy.default_bucket ||
                             std::find(policy.allowed_buckets.begin(), policy.allowed_buckets.end(),
                                       *event.dest_bucket) != policy.allowed_buckets.end();
        if (!allowed) {
            return refused(403, field("dest_bucket") +
                                    " names a bucket this function may not write to (see "
                                    "ALLOWED_BUCKETS)");
        }
        destination.bucket = *event.dest_bucket;
    }
    return destination;
}

}  // namespace obsync::lambda
