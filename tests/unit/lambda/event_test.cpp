// Event decoding and request checks (docs/lambda.md, "Events"), on the sample events in
// tests/data/lambda-events and on every bad input the contract names.
#include "lambda/event.hpp"

#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "util/base64.hpp"

namespace obsync::lambda {
namespace {

namespace json = boost::json;

std::string sample(const std::string& name) {
    std::ifstream in(std::string(OBSYNC_LAMBDA_EVENTS) + "/" + name, std::ios::binary);
    EXPECT_TRUE(in) << name;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// The sample with `change` applied to its JSON.
template <typename Change>
std::string sample_with(const std::string& name, Change change) {
    json::value event = json::parse(sample(name));
    change(event.as_object());
    return json::serialize(event);
}

SyncEvent decoded(std::string_view payload) {
    auto result = decode_event(payload);
    if (auto* refusal = std::get_if<Refusal>(&result)) {
        ADD_FAILURE() << "refused (" << refusal->status << "): " << refusal->failure.message;
        return {};
    }
    return std::get<SyncEvent>(std::move(result));
}

Refusal refused(std::string_view payload) {
    auto result = decode_event(payload);
    if (!std::holds_alternative<Refusal>(result)) {
        ADD_FAILURE() << "decoded, expected a refusal: " << payload.substr(0, 200);
        return {};
    }
    return std::get<Refusal>(std::move(result));
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// ---- the sample events ----

TEST(EventSamples, RestApiSampleIsV1AndItsBodyIsNotARequest) {
    // Its body is {"a": 1}: an unknown field.
    const Refusal r = refused(sample("apigw-request.json"));
    EXPECT_EQ(r.source, EventSource::api_gateway_v1);
    EXPECT_EQ(r.status, 400U);
    EXPECT_EQ(r.failure.kind, ErrorKind::bad_input);
    EXPECT_TRUE(contains(r.failure.message, "'a'")) << r.failure.message;
}

TEST(EventSamples, RestApiSampleWithARequestBody) {
    const SyncEvent e = decoded(sample_with("apigw-request.json", [](json::object& o) {
        o["body"] = R"({"vault_id": "Notes", "sync_type": "complete"})";
    }));
    EXPECT_EQ(e.source, EventSource::api_gateway_v1);
    EXPECT_EQ(e.vault, "Notes");
    EXPECT_EQ(e.sync_type, SyncType::complete);
    EXPECT_FALSE(e.has_credentials());
    EXPECT_FALSE(e.dest_bucket);
    EXPECT_FALSE(e.dest_prefix);
}

TEST(EventSamples, HttpApiSampleIsAGetAndThereforeRefused) {
    const Refusal r = refused(sample("apigw-v2-request-no-authorizer.json"));
    EXPECT_EQ(r.source, EventSource::api_gateway_v2);
    EXPECT_EQ(r.status, 405U);
    EXPECT_TRUE(contains(r.failure.message, "GET")) << r.failure.message;
    EXPECT_TRUE(contains(r.failure.message, "POST")) << r.failure.message;
}

TEST(EventSamples, HttpApiSampleAsAPostWithoutBodyAsksForTheDefaults) {
    const SyncEvent e =
        decoded(sample_with("apigw-v2-request-no-authorizer.json", [](json::object& o) {
            o["requestContext"].as_object()["http"].as_object()["method"] = "POST";
        }));
    EXPECT_EQ(e.source, EventSource::api_gateway_v2);
    EXPECT_FALSE(e.vault);
    EXPECT_EQ(e.sync_type, SyncType::incremental);
}

TEST(EventSamples, FunctionUrlSampleIsAFunctionUrlAndItsBodyIsNotJson) {
    const Refusal r = refused(sample("lambda-urls-request.json"));
    EXPECT_EQ(r.source, EventSource::function_url);
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "not JSON")) << r.failure.message;
}

TEST(EventSamples, FunctionUrlSampleWithABase64Body) {
    const std::string request = R"({"vault_id":"abc123","dest_prefix":"team/notes"})";
    const SyncEvent e = decoded(sample_with("lambda-urls-request.json", [&](json::object& o) {
        o["body"] = base64_encode(as_bytes(request));
        o["isBase64Encoded"] = true;
    }));
    EXPECT_EQ(e.source, EventSource::function_url);
    EXPECT_EQ(e.vault, "abc123");
    EXPECT_EQ(e.dest_prefix, "team/notes");
}

TEST(EventSamples, ScheduledEventMeansIncrementalForEveryVault) {
    const SyncEvent e = decoded(sample("scheduled-event.json"));
    EXPECT_EQ(e.source, EventSource::schedule);
    EXPECT_FALSE(e.vault);
    EXPECT_EQ(e.sync_type, SyncType::incremental);
}

TEST(EventSamples, TheSqsSampleIsABatchWhoseBodyIsNotAWorkMessage) {
    auto result = decode_event(sample("sqs-event.json"));
    ASSERT_TRUE(std::holds_alternative<SqsBatch>(result));
    const SqsBatch& batch = std::get<SqsBatch>(result);
    ASSERT_EQ(batch.records.size(), 1U);
    const SqsRecord& r = batch.records[0];
    EXPECT_EQ(r.message_id, "MessageID_1");
    EXPECT_EQ(r.receipt_handle, "MessageReceiptHandle");
    EXPECT_EQ(r.queue_arn, "arn:aws:sqs:us-west-2:123456789012:SQSQueue");
    EXPECT_EQ(r.receive_count, 2);
    EXPECT_EQ(r.body, "Message Body");
    // "Message Body" is no JSON: that message is refused, not the batch.
    ASSERT_TRUE(std::holds_alternative<Refusal>(r.message));
    EXPECT_EQ(std::get<Refusal>(r.message).failure.kind, ErrorKind::bad_input);
    EXPECT_EQ(std::get<Refusal>(r.message).source, EventSource::sqs);
}

// ---- direct invocations ----

TEST(DirectEvents, TheConstantScheduleInputIsADirectRequest) {
    const SyncEvent e = decoded(R"({"sync_type":"incremental"})");
    EXPECT_EQ(e.source, EventSource::direct);
    EXPECT_EQ(e.sync_type, SyncType::incremental);
    EXPECT_FALSE(e.vault);
}

TEST(DirectEvents, AnActionIsSyncByDefaultOrVerifyWithADeepShare) {
    EXPECT_EQ(decoded("{}").action, RequestAction::sync);
    EXPECT_EQ(decoded(R"({"action":"sync"})").action, RequestAction::sync);
    const SyncEvent verify = decoded(R"({"action":"verify","deep_percent":1,"vault_id":"v"})");
    EXPECT_EQ(verify.action, RequestAction::verify);
    EXPECT_EQ(verify.deep_percent, 1);
    EXPECT_EQ(decoded(R"({"action":"verify"})").deep_percent, 0);
    EXPECT_EQ(decoded(R"({"action":"verify","dispatch":false})").action, RequestAction::verify);
    EXPECT_TRUE(contains(refused(R"({"action":"check"})").failure.message, "\"verify\""));
    EXPECT_TRUE(contains(refused(R"({"deep_percent":5})").failure.message, "deep_percent"));
    EXPECT_EQ(refused(R"({"action":"verify","deep_percent":101})").status, 400u);
    EXPECT_EQ(refused(R"({"action":"verify","deep_percent":"5"})").status, 400u);
    EXPECT_TRUE(
        contains(refused(R"({"action":"verify","dispatch":true})").failure.message, "dispatch"));
    // A work message never carries an action: the queue only syncs.
    EXPECT_TRUE(
        std::holds_alternative<Refusal>(decode_message(R"({"obsync":1,"action":"verify"})")));
}

TEST(DirectEvents, EveryFieldIsRead) {
    const SyncEvent e = decoded(R"({"vault_id":"v1","sync_type":"complete","email":"a@b.c",
        "password":"pw","totp_secret":"JBSWY3DP","vault_password":"vpw",
        "dest_bucket":"other-bucket","dest_prefix":"p/q"})");
    EXPECT_EQ(e.source, EventSource::direct);
    EXPECT_EQ(e.vault, "v1");
    EXPECT_EQ(e.sync_type, SyncType::complete);
    EXPECT_EQ(e.email, "a@b.c");
    EXPECT_EQ(e.password, "pw");
    EXPECT_EQ(e.totp_secret, "JBSWY3DP");
    EXPECT_EQ(e.vault_password, "vpw");
    EXPECT_EQ(e.dest_bucket, "other-bucket");
    EXPECT_EQ(e.dest_prefix, "p/q");
    EXPECT_TRUE(e.has_credentials());
}

TEST(DirectEvents, EncryptedIsAnOptionalBoolean) {
    EXPECT_FALSE(decoded("{}").encrypted);  // the function's OBSYNC_ENCRYPTED decides
    EXPECT_FALSE(decoded(R"({"encrypted":null})").encrypted);
    EXPECT_EQ(decoded(R"({"encrypted":true})").encrypted, std::optional<bool>(true));
    EXPECT_EQ(decoded(R"({"encrypted":false})").encrypted, std::optional<bool>(false));
    EXPECT_EQ(decoded(R"({"action":"verify","encrypted":true})").encrypted,
              std::optional<bool>(true));
    for (const std::string_view payload :
         {R"({"encrypted":"true"})", R"({"encrypted":1})", R"({"encrypted":[]})"}) {
        const Refusal r = refused(payload);
        EXPECT_EQ(r.status, 400U) << payload;
        EXPECT_TRUE(contains(r.failure.message, "field 'encrypted' must be a boolean"))
            << r.failure.message;
    }
    // In an HTTP body too.
    const SyncEvent http = decoded(sample_with(
        "apigw-request.json", [](json::object& o) { o["body"] = R"({"encrypted":true})"; }));
    EXPECT_EQ(http.source, EventSource::api_gateway_v1);
    EXPECT_EQ(http.encrypted, std::optional<bool>(true));
}

TEST(DirectEvents, EmptyObjectAndEmptyPayloadAskForTheDefaults) {
    for (const std::string_view payload : {"{}", "", " { } "}) {
        const SyncEvent e = decoded(payload);
        EXPECT_EQ(e.source, EventSource::direct);
        EXPECT_FALSE(e.vault);
        EXPECT_EQ(e.sync_type, SyncType::incremental);
    }
}

TEST(DirectEvents, NullFieldsAreAbsent) {
    const SyncEvent e = decoded(R"({"vault_id":null,"password":null,"sync_type":null})");
    EXPECT_FALSE(e.vault);
    EXPECT_FALSE(e.has_credentials());
    EXPECT_EQ(e.sync_type, SyncType::incremental);
}

TEST(DirectEvents, ShapesThatAreNotARequestObjectAreRefused) {
    for (const std::string_view payload :
         {"not json", "{\"vault_id\":", "[]", "[{\"vault_id\":\"x\"}]", "\"sync\"", "42", "null",
          "true", "{} {}"}) {
        const Refusal r = refused(payload);
        EXPECT_EQ(r.status, 400U) << payload;
        EXPECT_EQ(r.source, EventSource::direct) << payload;
        EXPECT_EQ(r.failure.kind, ErrorKind::bad_input) << payload;
        EXPECT_TRUE(contains(r.failure.message, "the event")) << r.failure.message;
    }
    EXPECT_TRUE(contains(refused("[]").failure.message, "an array"));
    EXPECT_TRUE(contains(refused("not json").failure.message, "not JSON"));
}

TEST(DirectEvents, AnUnknownFieldIsNamedButNotItsValue) {
    const Refusal r = refused(R"({"vault":"my-secret-vault"})");
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "unknown field 'vault'")) << r.failure.message;
    EXPECT_FALSE(contains(r.failure.message, "my-secret-vault")) << r.failure.message;
}

TEST(DirectEvents, AWrongTypeIsNamedButNotItsValue) {
    for (const std::string_view payload :
         {R"({"password": 987654321})", R"({"password": ["987654321"]})",
          R"({"password": {"v": "987654321"}})", R"({"password": true})"}) {
        const Refusal r = refused(payload);
        EXPECT_EQ(r.status, 400U) << payload;
        EXPECT_TRUE(contains(r.failure.message, "field 'password' must be a string"))
            << r.failure.message;
        EXPECT_FALSE(contains(r.failure.message, "987654321")) << r.failure.message;
    }
}

TEST(DirectEvents, AnUnknownSyncTypeIsRefusedWithoutEchoingIt) {
    const Refusal r = refused(R"({"sync_type":"fullest"})");
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "sync_type")) << r.failure.message;
    EXPECT_FALSE(contains(r.failure.message, "fullest")) << r.failure.message;
}

TEST(DirectEvents, EmptyStringsAreRefusedExceptForThePrefix) {
    EXPECT_EQ(refused(R"({"vault_id":""})").status, 400U);
    EXPECT_EQ(refused(R"({"dest_bucket":""})").status, 400U);
    EXPECT_EQ(decoded(R"({"dest_prefix":""})").dest_prefix, "");
}

TEST(DirectEvents, AHostileFieldNameIsEscapedInTheMessage) {
    const Refusal r = refused("{\"\\u001b[2Jx\":1}");
    EXPECT_TRUE(contains(r.failure.message, "\\e[2Jx")) << r.failure.message;
    EXPECT_FALSE(contains(r.failure.message, "\x1b")) << r.failure.message;
}

TEST(DirectEvents, OtherEventBridgeEventsAreRefused) {
    const Refusal r = refused(R"({"detail-type":"Object Created","source":"aws.s3","detail":{}})");
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "EventBridge")) << r.failure.message;
    // A "Scheduled Event" from another source is not the schedule either.
    EXPECT_EQ(refused(R"({"detail-type":"Scheduled Event","source":"my.app"})").status, 400U);
}

TEST(DirectEvents, DeeplyNestedJsonIsRefusedNotACrash) {
    const std::string payload = std::string(10000, '[') + std::string(10000, ']');
    EXPECT_EQ(refused(payload).status, 400U);
    const std::string nested =
        R"({"vault_id":)" + std::string(5000, '{') + std::string(5000, '}') + "}";
    EXPECT_EQ(refused(nested).status, 400U);
}

TEST(DirectEvents, ALoneSurrogateInThePrefixIsRefused) {
    // Whether the JSON parser or the prefix check refuses it, the answer is a 400.
    auto result = decode_event(R"({"dest_prefix":"a\ud800b"})");
    if (auto* refusal = std::get_if<Refusal>(&result)) {
        EXPECT_EQ(refusal->status, 400U);
        return;
    }
    auto checked = check_request(std::get<SyncEvent>(result), RequestPolicy{{}, false, "b", ""});
    ASSERT_TRUE(std::holds_alternative<Refusal>(checked));
    EXPECT_EQ(std::get<Refusal>(checked).status, 400U);
}

TEST(DirectEvents, ADirectPayloadOverOneMebibyteIs413) {
    std::string payload = R"({"vault_id":"v")";
    payload.append(k_max_request_body, ' ');
    payload += "}";
    const Refusal r = refused(payload);
    EXPECT_EQ(r.status, 413U);
}

// ---- HTTP events ----

std::string rest_event(const json::value& body, bool base64 = false,
                       std::string_view method = "POST") {
    return sample_with("apigw-request.json", [&](json::object& o) {
        o["httpMethod"] = method;
        o["body"] = body;
        o["isBase64Encoded"] = base64;
    });
}

// The REST sample with `body` as its (string) body.
std::string rest_body(std::string_view body, bool base64 = false,
                      std::string_view method = "POST") {
    return rest_event(json::string(body), base64, method);
}

TEST(HttpEvents, AnEmptyOrMissingBodyIsAnEmptyRequest) {
    EXPECT_EQ(decoded(rest_event("")).source, EventSource::api_gateway_v1);
    EXPECT_EQ(decoded(rest_event(nullptr)).source, EventSource::api_gateway_v1);
    EXPECT_EQ(
        decoded(sample_with("apigw-request.json", [](json::object& o) { o.erase("body"); })).source,
        EventSource::api_gateway_v1);
}

TEST(HttpEvents, OnlyPostIsAllowed) {
    for (const std::string_view method : {"GET", "PUT", "DELETE", "post"}) {
        const Refusal r = refused(rest_body(R"({"vault_id":"v"})", false, method));
        EXPECT_EQ(r.status, 405U) << method;
        EXPECT_EQ(r.source, EventSource::api_gateway_v1);
    }
    const Refusal v2 = refused(sample_with("lambda-urls-request.json", [](json::object& o) {
        o["requestContext"].as_object()["http"].as_object()["method"] = "PATCH";
    }));
    EXPECT_EQ(v2.status, 405U);
    EXPECT_EQ(v2.source, EventSource::function_url);
}

TEST(HttpEvents, BodiesThatAreNotARequestObjectAreRefused) {
    for (const std::string_view body : {"[1]", "\"x\"", "{", "null"}) {
        const Refusal r = refused(rest_body(body));
        EXPECT_EQ(r.status, 400U) << body;
        EXPECT_EQ(r.source, EventSource::api_gateway_v1) << body;
        EXPECT_TRUE(contains(r.failure.message, "the request body")) << r.failure.message;
    }
    const Refusal typed = refused(rest_event(json::array{1}));
    EXPECT_EQ(typed.status, 400U);
    EXPECT_TRUE(contains(typed.failure.message, "body must be a string")) << typed.failure.message;
}

TEST(HttpEvents, FieldErrorsInTheBodyAre400) {
    const Refusal r = refused(rest_body(R"({"vault_id": 12, "sync_type": "complete"})"));
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "field 'vault_id'")) << r.failure.message;
}

TEST(HttpEvents, AMalformedEnvelopeIs400) {
    EXPECT_EQ(refused(sample_with("apigw-request.json",
                                  [](json::object& o) { o["isBase64Encoded"] = "yes"; }))
                  .status,
              400U);
    EXPECT_EQ(
        refused(sample_with("apigw-request.json", [](json::object& o) { o["httpMethod"] = 1; }))
            .status,
        400U);
}

TEST(HttpEvents, InvalidBase64Is400) {
    const Refusal r = refused(rest_body("e30=!!", true));
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "base64")) << r.failure.message;
}

TEST(HttpEvents, ABase64BodyThatIsNotUtf8Is400) {
    const Bytes bytes = {'{', '"', 'v', 'a', 'u', 'l',  't', '_',
                         'i', 'd', '"', ':', '"', 0xff, '"', '}'};
    const Refusal r = refused(rest_body(base64_encode(bytes), true));
    EXPECT_EQ(r.status, 400U);
}

TEST(HttpEvents, ABodyOfOneMebibyteIsAcceptedAndOneByteMoreIs413) {
    std::string body = R"({"vault_id":"v")";
    body.append(k_max_request_body - body.size() - 1, ' ');
    body += "}";
    ASSERT_EQ(body.size(), k_max_request_body);
    EXPECT_EQ(decoded(rest_body(body)).vault, "v");
    EXPECT_EQ(decoded(rest_body(base64_encode(as_bytes(body)), true)).vault, "v");

    body.insert(1, " ");
    const Refusal plain = refused(rest_body(body));
    EXPECT_EQ(plain.status, 413U);
    EXPECT_EQ(plain.source, EventSource::api_gateway_v1);
    EXPECT_EQ(refused(rest_body(base64_encode(as_bytes(body)), true)).status, 413U);
    body.append(std::size_t{3} << 20, ' ');
    EXPECT_EQ(refused(rest_body(base64_encode(as_bytes(body)), true)).status, 413U);
}

TEST(HttpEvents, AnUnrecognisedRequestContextIsRefused) {
    const Refusal r = refused(R"({"requestContext":{"stage":"x"},"body":"{}"})");
    EXPECT_EQ(r.status, 400U);
    EXPECT_TRUE(contains(r.failure.message, "HTTP event")) << r.failure.message;
}

// ---- check_request ----

RequestPolicy policy() {
    RequestPolicy p;
    p.default_bucket = "backups";
    p.default_prefix = "obsidian";
    p.allowed_buckets = {"backups", "archive"};
    return p;
}

Destination allowed(const SyncEvent& event, const RequestPolicy& p = policy()) {
    auto result = check_request(event, p);
    if (auto* refusal = std::get_if<Refusal>(&result)) {
        ADD_FAILURE() << "refused (" << refusal->status << "): " << refusal->failure.message;
        return {};
    }
    return std::get<Destination>(result);
}

Refusal forbidden(const SyncEvent& event, const RequestPolicy& p = policy()) {
    auto result = check_request(event, p);
    if (!std::holds_alternative<Refusal>(result)) {
        ADD_FAILURE() << "allowed, expected a refusal";
        return {};
    }
    return std::get<Refusal>(result);
}

TEST(CheckRequest, TheDefaultsApplyWhenTheRequestNamesNoDestination) {
    const Destination d = allowed(SyncEvent{});
    EXPECT_EQ(d.bucket, "backups");
    EXPECT_EQ(d.prefix, "obsidian");
}

TEST(CheckRequest, ARequestPrefixReplacesTheDefault) {
    SyncEvent e;
    e.dest_prefix = "team/notes/";
    EXPECT_EQ(allowed(e).prefix, "team/notes");
    e.dest_prefix = "";
    EXPECT_EQ(allowed(e).prefix, "");
    e.dest_prefix = "caf\xc3\xa9";
    EXPECT_EQ(allowed(e).prefix, "caf\xc3\xa9");
    e.dest_prefix = std::string(k_max_dest_prefix, 'a');
    EXPECT_EQ(allowed(e).prefix.size(), k_max_dest_prefix);
}

TEST(CheckRequest, BadPrefixesAre400) {
    for (const std::string& prefix :
         {std::string(".."), std::string("."), std::string("a/../b"), std::string("a/./b"),
          std::string("a//b"), std::string("/a"), std::string("/"), std::string("a//"),
          std::string("a\0b", 3), std::string("a\nb"), std::string("a\x7f"), std::string("\xff"),
          std::string("\xc0\xaf"), std::string(k_max_dest_prefix + 1, 'a')}) {
        SyncEvent e;
        e.source = EventSource::function_url;
        e.dest_prefix = prefix;
        const Refusal r = forbidden(e);
        EXPECT_EQ(r.status, 400U) << prefix;
        EXPECT_EQ(r.source, EventSource::function_url);
        EXPECT_TRUE(contains(r.failure.message, "dest_prefix")) << r.failure.message;
        EXPECT_TRUE(invalid_prefix_reason(prefix)) << prefix;
    }
}

TEST(CheckRequest, RequestCredentialsAre403UnlessAllowed) {
    for (auto field : {&SyncEvent::email, &SyncEvent::password, &SyncEvent::totp_secret,
                       &SyncEvent::vault_password}) {
        SyncEvent e;
        e.*field = "s3cr3t-value";
        const Refusal r = forbidden(e);
        EXPECT_EQ(r.status, 403U);
        EXPECT_FALSE(contains(r.failure.message, "s3cr3t-value")) << r.failure.message;
        EXPECT_TRUE(contains(r.failure.message, "ALLOW_REQUEST_CREDENTIALS")) << r.failure.message;
        RequestPolicy open = policy();
        open.allow_request_credentials = true;
        EXPECT_EQ(allowed(e, open).bucket, "backups");
    }
}

TEST(CheckRequest, OnlyAllowedBucketsMayBeNamed) {
    SyncEvent e;
    e.dest_bucket = "archive";
    EXPECT_EQ(allowed(e).bucket, "archive");
    e.dest_bucket = "someone-elses-bucket";
    const Refusal r = forbidden(e);
    EXPECT_EQ(r.status, 403U);
    EXPECT_TRUE(contains(r.failure.message, "dest_bucket")) << r.failure.message;
    EXPECT_FALSE(contains(r.failure.message, "someone-elses-bucket")) << r.failure.message;
    // The default bucket is allowed even when ALLOWED_BUCKETS does not repeat it.
    RequestPolicy p = policy();
    p.allowed_buckets = {"archive"};
    e.dest_bucket = "backups";
    EXPECT_EQ(allowed(e, p).bucket, "backups");
    p.allowed_buckets = {};
    e.dest_bucket = "archive";
    EXPECT_EQ(forbidden(e, p).status, 403U);
}

TEST(CheckRequest, AnEncryptedFunctionRefusesAPlaintextRequestWith403) {
    RequestPolicy encrypted = policy();
    encrypted.encrypted = true;
    for (const EventSource source :
         {EventSource::direct, EventSource::function_url, EventSource::sqs}) {
        SyncEvent e;
        e.source = source;
        e.encrypted = false;
        const Refusal r = forbidden(e, encrypted);
        EXPECT_EQ(r.status, 403U);
        EXPECT_EQ(r.source, source);
        EXPECT_EQ(r.failure.kind, ErrorKind::bad_input);
        EXPECT_TRUE(contains(r.failure.message, "field 'encrypted'")) << r.failure.message;
        EXPECT_TRUE(contains(r.failure.message, "OBSYNC_ENCRYPTED=true")) << r.failure.message;
        // Asking for it, or not asking, is fine.
        e.encrypted = true;
        EXPECT_EQ(allowed(e, encrypted).bucket, "backups");
        e.encrypted.reset();
        EXPECT_EQ(allowed(e, encrypted).bucket, "backups");
    }
    // A plaintext function lets a request turn the encrypted mode on, or say false explicitly.
    SyncEvent on;
    on.encrypted = true;
    EXPECT_EQ(allowed(on).bucket, "backups");
    SyncEvent off;
    off.encrypted = false;
    EXPECT_EQ(allowed(off).bucket, "backups");
    // From a decoded HTTP body, the refusal keeps the HTTP source (so it is a 403 answer).
    const SyncEvent e = decoded(sample_with(
        "apigw-request.json", [](json::object& o) { o["body"] = R"({"encrypted":false})"; }));
    EXPECT_EQ(forbidden(e, encrypted).source, EventSource::api_gateway_v1);
}

TEST(CheckRequest, DecodedSampleFlowsThroughTheChecks) {
    const SyncEvent e = decoded(sample_with("apigw-request.json", [](json::object& o) {
        o["body"] = R"({"dest_bucket":"archive","dest_prefix":"x/y"})";
    }));
    const Destination d = allowed(e);
    EXPECT_EQ(d.bucket, "archive");
    EXPECT_EQ(d.prefix, "x/y");
}

}  // namespace
}  // namespace obsync::lambda
