#pragma once

// What an invocation asks for: the payload Lambda hands the function, decoded into one sync
// request, or the refusal to answer instead (docs/lambda.md, "Events"). No network, no AWS here.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "backup/report.hpp"

namespace obsync::lambda {

// The most a message's counters (continuation, stalls, waits) may say: no vault needs a thousand
// invocations of 15 minutes.
inline constexpr int k_max_message_count = 1000;
// A request body (or a direct invocation's whole payload) larger than this is refused (413).
inline constexpr std::size_t k_max_request_body = std::size_t{1} << 20;
// The longest dest_prefix accepted, in bytes (S3 keys are at most 1024 bytes in all).
inline constexpr std::size_t k_max_dest_prefix = 512;

enum class EventSource {
    direct,          // the payload is the request (aws lambda invoke, a constant EventBridge input)
    api_gateway_v1,  // API Gateway REST API proxy integration (payload format 1.0)
    api_gateway_v2,  // API Gateway HTTP API (payload format 2.0)
    function_url,    // a Lambda function URL (payload format 2.0, *.lambda-url.* domain)
    schedule,        // the raw EventBridge "Scheduled Event"
    sqs,             // one message of an SQS batch (its body is a work message)
};

std::string_view to_string(EventSource source) noexcept;
// The caller waits for an HTTP answer: the response is wrapped as {statusCode, headers, body}.
bool is_http(EventSource source) noexcept;

enum class SyncType { incremental, complete };

// What a request asks for: a backup (the default), or a check that the backup equals the server
// (obsync verify: nothing written; answered in the request, never through the queue).
enum class RequestAction { sync, verify };

std::string_view to_string(RequestAction action) noexcept;

std::string_view to_string(SyncType type) noexcept;

// A decoded request, or a work message of the queue (docs/lambda.md, "Scale out"). Every field is
// optional; strings other than dest_prefix are never empty.
struct SyncEvent {
    EventSource source = EventSource::direct;
    std::optional<std::string> vault;  // vault_id: an id or a name; none = every vault
    // The secret holding the account's credentials (a name under ALLOWED_SECRET_PREFIX); none =
    // the function's own account (OBSYNC_SECRET_ID or the OBSIDIAN_* variables).
    std::optional<std::string> secret_id;
    // Requests only: false forces an all-vaults request to sync inline although OBSYNC_QUEUE_URL
    // is set; none = dispatch when a queue is configured.
    std::optional<bool> dispatch;
    // Messages only: the invocations of the vault's chain so far (0 = the dispatched message),
    // how many of the last ones in a row made no progress, how many files the last one found
    // already backed up (its "unchanged": more of them next time is progress too), and how many
    // times the message was put back to wait (busy vault, full account, time up).
    int continuation = 0;
    int stalls = 0;
    std::int64_t settled = 0;
    int waits = 0;
    SyncType sync_type = SyncType::incremental;
    RequestAction action = RequestAction::sync;  // requests only: "action"
    // Requests with action verify: the share (0-100) of S3 objects downloaded and hashed.
    int deep_percent = 0;
    // "encrypted": back up (or verify) the vault's ciphertext, the encrypted layout; none = the
    // function's OBSYNC_ENCRYPTED. A message carries the mode its request ran with, so that a
    // dispatched vault and its continuations keep it.
    std::optional<bool> encrypted;
    std::optional<std::string> email;
    std::optional<std::string> password;
    std::optional<std::string> totp_secret;
    std::optional<std::string> vault_password;
    std::optional<std::string> dest_bucket;
    std::optional<std::string> dest_prefix;  // "" = the bucket's root

    // Any of email, password, totp_secret, vault_password.
    bool has_credentials() const;
};

// An answer given instead of a sync: the HTTP status (also meaningful for direct invocations,
// whose response carries no status) and the failure, always of kind bad_input: the request has
// to change (the status says how). Messages name fields, never their values. `source` is what
// the payload looked like, so that an HTTP caller gets an HTTP answer even to a bad event.
struct Refusal {
    EventSource source = EventSource::direct;
    unsigned status = 400;
    backup::Failure failure;
};

// One message of an SQS event (Lambda's event source mapping), its body decoded as a work message.
struct SqsRecord {
    std::string message_id;      // what batchItemFailures names
    std::string receipt_handle;  // for ChangeMessageVisibility
    std::string queue_arn;       // eventSourceARN: arn:aws:sqs:REGION:ACCOUNT:NAME
    int receive_count = 1;       // attributes.ApproximateReceiveCount (1 when absent)
    std::string body;            // as received (parked as it is in the dead-letter queue)
    std::variant<SyncEvent, Refusal> message;
};

// An SQS event: the batch, in order.
struct SqsBatch {
    std::vector<SqsRecord> records;
};

// Never throws for any payload: what cannot be decoded is a Refusal (400, 405 or 413). An SQS
// event is a batch even when a message in it is bad (that message's Refusal is in its record);
// only an envelope that is not Lambda's SQS event shape is refused as a whole.
std::variant<SyncEvent, SqsBatch, Refusal> decode_event(std::string_view payload);

// A work message's body (JSON object): vault_id, secret_id, sync_type, dest_bucket, dest_prefix,
// encrypted, continuation, stalls and "obsync" (the message format, 1). Requests' dispatch and
// credentials are refused: a queue never carries a password. Never throws.
std::variant<SyncEvent, Refusal> decode_message(std::string_view body);

// The body of a work message for `event` (the fields decode_message() reads; source ignored).
std::string encode_message(const SyncEvent& event);

// What the function's configuration lets a request ask for.
struct RequestPolicy {
    std::vector<std::string> allowed_buckets;  // besides default_bucket, which is always allowed
    bool allow_request_credentials = false;
    std::string default_bucket;  // S3_BUCKET
    std::string default_prefix;  // S3_PREFIX
    // OBSYNC_ENCRYPTED: on, a request or message asking for "encrypted": false is refused.
    bool encrypted = false;
};

// Where the request's backup goes.
struct Destination {
    std::string bucket;
    std::string prefix;  // without a trailing '/'; "" = the bucket's root
};

// The request's destination under `policy`, or its refusal: 400 for a bad dest_prefix, 403 for
// credentials in a request while they are disabled, a dest_bucket that is not allowed, or
// "encrypted": false while the function is set to encrypted backups (403, not 400: the request
// is well formed, the operator forbids what it asks, as with a bucket; a caller must not make a
// function set to keep ciphertext write plaintext).
std::variant<Destination, Refusal> check_request(const SyncEvent& event,
                                                 const RequestPolicy& policy);

// Why `prefix` is not an acceptable S3 key prefix, or nothing. As the CLI's s3:// destinations:
// no '.' or '..' segment, no empty segment (one trailing '/' is allowed), no leading '/', no
// control character or NUL; also valid UTF-8 and at most k_max_dest_prefix bytes. "" is fine.
std::optional<std::string> invalid_prefix_reason(std::string_view prefix);

}  // namespace obsync::lambda
