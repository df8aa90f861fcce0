#include "lambda/event.hpp"

#include <algorithm>
#include <array>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "lambda/sqs_event.hpp"
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

constexpr std::array<std::string_view, 13> k_request_fields = {
    "vault_id", "sync_type",    "secret_id",   "dest_bucket",    "dest_prefix",
    "email",    "password",     "totp_secret", "vault_password", "dispatch",
    "action",   "deep_percent", "encrypted",
};
constexpr std::array<std::string_view, 11> k_message_fields = {
    "vault_id", "sync_type",    "secret_id", "dest_bucket", "dest_prefix", "encrypted",
    "obsync",   "continuation", "stalls",    "settled",     "waits",
};
// The message format encode_message() writes.
constexpr std::int64_t k_message_format = 1;

template <std::size_t N>
std::string field_list(const std::array<std::string_view, N>& names) {
    std::string out;
    for (const auto name : names) {
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

std::int64_t small_count(const json::value& value, std::string_view key, std::int64_t max) {
    if (!value.is_int64() && !value.is_uint64()) {
        refuse(400, field(key) + " must be an integer, not " + kind_name(value));
    }
    const std::int64_t n = value.is_int64() ? value.get_int64() : -1;
    if (n < 0 || n > max) {
        refuse(400, field(key) + " must be between 0 and " + std::to_string(max));
    }
    return n;
}

// The fields of a request (kind: requests) or of a work message: all optional, null as absent,
// anything unknown refused (a typo such as "vault" must not silently back up every vault).
SyncEvent decode_fields(const json::object& object, EventSource source) {
    const bool message = source == EventSource::sqs;
    SyncEvent event;
    event.source = source;
    for (const auto& [json_key, value] : object) {
        const std::string_view key(json_key.data(), json_key.size());
        if (message ? std::find(k_message_fields.begin(), k_message_fields.end(), key) ==
                          k_message_fields.end()
                    : std::find(k_request_fields.begin(), k_request_fields.end(), key) ==
                          k_request_fields.end()) {
            refuse(400,
                   "unknown " + field(key) + " (accepted: " +
                       (message ? field_list(k_message_fields) : field_list(k_request_fields)) +
                       ")");
        }
        if (value.is_null()) {
            continue;
        }
        if (key == "dispatch" || key == "encrypted") {
            if (!value.is_bool()) {
                refuse(400, field(key) + " must be a boolean, not " + kind_name(value));
            }
            (key == "dispatch" ? event.dispatch : event.encrypted) = value.get_bool();
            continue;
        }
        if (key == "obsync") {
            if (small_count(value, key, k_max_message_count) != k_message_format) {
                refuse(400, "message format " + display_name(json::serialize(value)) +
                                " is not known to this version (it writes and reads " +
                                std::to_string(k_message_format) + ")");
            }
            continue;
        }
        if (key == "deep_percent") {
            event.deep_percent = static_cast<int>(small_count(value, key, 100));
            continue;
        }
        if (key == "settled") {
            event.settled = small_count(value, key, std::int64_t{1} << 50);
            continue;
        }
        if (key == "continuation" || key == "stalls" || key == "waits") {
            int& count = key == "stalls"  ? event.stalls
                         : key == "waits" ? event.waits
                                          : event.continuation;
            count = static_cast<int>(small_count(value, key, k_max_message_count));
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
        if (key == "action") {
            if (text == "sync") {
                event.action = RequestAction::sync;
            } else if (text == "verify") {
                event.action = RequestAction::verify;
            } else {
                refuse(400, field(key) + " must be \"sync\" or \"verify\"");
            }
        } else if (key == "sync_type") {
            if (text == "incremental") {
                event.sync_type = SyncType::incremental;
            } else if (text == "complete") {
                event.sync_type = SyncType::complete;
            } else {
                refuse(400, field(key) + " must be \"incremental\" or \"complete\"");
            }
        } else if (key == "vault_id") {
            event.vault = std::move(text);
        } else if (key == "secret_id") {
            event.secret_id = std::move(text);
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
    if (event.action != RequestAction::verify && event.deep_percent > 0) {
        refuse(400, "field 'deep_percent' applies to \"action\": \"verify\" only");
    }
    if (event.action == RequestAction::verify && event.dispatch.value_or(false)) {
        refuse(400, "field 'dispatch' applies to a sync: a verify runs in the request");
    }
    return event;
}

SyncEvent decode_request(const json::object& request, EventSource source) {
    return decode_fields(request, source);
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

std::variant<SyncEvent, SqsBatch, Refusal> decode(std::string_view payload) {
    // An invocation without a payload (aws lambda invoke with none) asks for the defaults.
    if (payload.empty()) {
        return decode_request({}, EventSource::direct);
    }
    const json::value document = parse_json(payload, "the event");
    const json::object& event = expect_object(
        document,
        "the event (a sync request, or an API Gateway, function URL, EventBridge or SQS event)");
    if (event.contains("Records")) {
        // Its refusal keeps its source: an SQS envelope refused as a whole is not an answer the
        // event source mapping may take for success (lambda::Function fails it instead).
        auto batch = decode_sqs_event(event);
        if (auto* refusal = std::get_if<Refusal>(&batch)) {
            return std::move(*refusal);
        }
        return std::get<SqsBatch>(std::move(batch));
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
        case EventSource::sqs:
            return "sqs";
    }
    return "unknown";
}

bool is_http(EventSource source) noexcept {
    return source == EventSource::api_gateway_v1 || source == EventSource::api_gateway_v2 ||
           source == EventSource::function_url;
}

std::string_view to_string(RequestAction action) noexcept {
    return action == RequestAction::verify ? "verify" : "sync";
}

std::string_view to_string(SyncType type) noexcept {
    return type == SyncType::complete ? "complete" : "incremental";
}

bool SyncEvent::has_credentials() const {
    return email || password || totp_secret || vault_password;
}

std::variant<SyncEvent, SqsBatch, Refusal> decode_event(std::string_view payload) {
    try {
        return decode(payload);
    } catch (Refused& refused) {
        return bad_input(guess_source(payload), std::move(refused));
    } catch (const std::exception&) {
        // Allocation failure or a parser limit (nesting depth): still an answer, not a crash.
        return bad_input(guess_source(payload), Refused{400, "the event could not be decoded"});
    }
}

std::variant<SyncEvent, Refusal> decode_message(std::string_view body) {
    try {
        if (body.size() > k_max_request_body) {
            refuse(413, "the message is larger than " + std::to_string(k_max_request_body >> 20) +
                            " MiB");
        }
        const json::value document = parse_json(body, "the message");
        return decode_fields(expect_object(document, "the message"), EventSource::sqs);
    } catch (Refused& refused) {
        return bad_input(EventSource::sqs, std::move(refused));
    } catch (const std::exception&) {
        return bad_input(EventSource::sqs, Refused{400, "the message could not be decoded"});
    }
}

std::string encode_message(const SyncEvent& event) {
    json::object body;
    body["obsync"] = k_message_format;
    if (event.secret_id) {
        body["secret_id"] = *event.secret_id;
    }
    if (event.vault) {
        body["vault_id"] = *event.vault;
    }
    body["sync_type"] = to_string(event.sync_type);
    if (event.encrypted) {
        body["encrypted"] = *event.encrypted;
    }
    if (event.dest_bucket) {
        body["dest_bucket"] = *event.dest_bucket;
    }
    if (event.dest_prefix) {
        body["dest_prefix"] = *event.dest_prefix;
    }
    if (event.continuation > 0) {
        body["continuation"] = event.continuation;
    }
    if (event.stalls > 0) {
        body["stalls"] = event.stalls;
    }
    if (event.settled > 0) {
        body["settled"] = event.settled;
    }
    if (event.waits > 0) {
        body["waits"] = event.waits;
    }
    return json::serialize(body);
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
    if (policy.encrypted && event.encrypted.has_value() && !*event.encrypted) {
        return refused(403, field("encrypted") +
                                " is false but this function keeps the vaults' ciphertext "
                                "(OBSYNC_ENCRYPTED=true): a request cannot turn that off");
    }
    return destination;
}

}  // namespace obsync::lambda
