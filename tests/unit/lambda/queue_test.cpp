// The queue's side of the function without a network (docs/lambda.md, "Scale out"): work
// messages and SQS envelopes, queue URLs of ARNs, the partial batch response, accounts named by
// secret_id, and what becomes of a message after its run.
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "lambda/accounts.hpp"
#include "lambda/event.hpp"
#include "lambda/sqs_event.hpp"
#include "lambda/work_policy.hpp"
#include "util/error.hpp"

namespace obsync::lambda {
namespace {

namespace json = boost::json;

SyncEvent message(std::string_view body) {
    auto result = decode_message(body);
    if (auto* refusal = std::get_if<Refusal>(&result)) {
        ADD_FAILURE() << "refused: " << refusal->failure.message;
        return {};
    }
    return std::get<SyncEvent>(std::move(result));
}

std::string refusal(std::string_view body) {
    auto result = decode_message(body);
    if (!std::holds_alternative<Refusal>(result)) {
        ADD_FAILURE() << "accepted: " << body;
        return {};
    }
    const Refusal& r = std::get<Refusal>(result);
    EXPECT_EQ(r.failure.kind, ErrorKind::bad_input);
    EXPECT_EQ(r.source, EventSource::sqs);
    return r.failure.message;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// ---- work messages ----

TEST(WorkMessage, EncodeThenDecodeKeepsEveryField) {
    SyncEvent e;
    e.source = EventSource::sqs;
    e.vault = "vault-1";
    e.secret_id = "obsync/accounts/bob";
    e.sync_type = SyncType::complete;
    e.dest_bucket = "other-bucket";
    e.dest_prefix = "";
    e.continuation = 4;
    e.stalls = 2;
    e.settled = 12345;
    e.waits = 7;
    const std::string body = encode_message(e);
    const json::object doc = json::parse(body).as_object();
    EXPECT_EQ(doc.at("obsync").as_int64(), 1);
    const SyncEvent back = message(body);
    EXPECT_EQ(back.source, EventSource::sqs);
    EXPECT_EQ(back.vault, e.vault);
    EXPECT_EQ(back.secret_id, e.secret_id);
    EXPECT_EQ(back.sync_type, SyncType::complete);
    EXPECT_EQ(back.dest_bucket, e.dest_bucket);
    EXPECT_EQ(back.dest_prefix, std::optional<std::string>(""));
    EXPECT_EQ(back.continuation, 4);
    EXPECT_EQ(back.stalls, 2);
    EXPECT_EQ(back.settled, 12345);
    EXPECT_EQ(back.waits, 7);
}

TEST(WorkMessage, TheModeTravelsWithTheMessage) {
    for (const bool mode : {true, false}) {
        SyncEvent e;
        e.vault = "vault-1";
        e.encrypted = mode;
        const std::string body = encode_message(e);
        EXPECT_EQ(json::parse(body).as_object().at("encrypted").as_bool(), mode) << body;
        EXPECT_EQ(message(body).encrypted, std::optional<bool>(mode)) << body;
    }
    // A message without it (sent by hand) takes the function's OBSYNC_ENCRYPTED.
    EXPECT_FALSE(message(R"({"vault_id":"v"})").encrypted);
    EXPECT_FALSE(json::parse(encode_message(SyncEvent{})).as_object().contains("encrypted"));
    EXPECT_TRUE(contains(refusal(R"({"vault_id":"v","encrypted":"yes"})"), "encrypted"));
    // A continuation or a wait keeps it.
    SyncEvent running;
    running.vault = "v";
    running.encrypted = true;
    const MessageDecision waited =
        wait_for(running, backup::Failure{ErrorKind::busy, "busy", false});
    EXPECT_EQ(message(encode_message(waited.next)).encrypted, std::optional<bool>(true));
    backup::VaultOutcome stopped;
    stopped.stopped_early = true;
    stopped.created = 1;
    backup::BackupReport report;
    report.vaults.push_back(stopped);
    const MessageDecision continued = decide_message(running, report);
    ASSERT_EQ(continued.fate, MessageFate::continue_);
    EXPECT_EQ(message(encode_message(continued.next)).encrypted, std::optional<bool>(true));
}

TEST(WorkMessage, AnAccountMessageHasNoVaultAndDefaultsToIncremental) {
    const SyncEvent e = message(R"({"secret_id":"obsync/accounts/a"})");
    EXPECT_FALSE(e.vault);
    EXPECT_EQ(e.sync_type, SyncType::incremental);
    EXPECT_EQ(e.continuation, 0);
    EXPECT_EQ(encode_message(SyncEvent{}), R"({"obsync":1,"sync_type":"incremental"})");
}

TEST(WorkMessage, CredentialsAndRequestOnlyFieldsAreRefused) {
    for (const char* field : {"password", "email", "totp_secret", "vault_password", "dispatch"}) {
        const std::string body = std::string(R"({"vault_id":"v",")") + field + R"(":"x"})";
        const std::string why = refusal(body);
        EXPECT_TRUE(contains(why, "unknown field")) << why;
        EXPECT_FALSE(contains(why, "\"x\"")) << why;
    }
}

TEST(WorkMessage, BadValuesAreRefusedWithTheFieldNamed) {
    EXPECT_TRUE(contains(refusal("not json"), "not JSON"));
    EXPECT_TRUE(contains(refusal("[1]"), "object"));
    EXPECT_TRUE(contains(refusal(R"({"obsync":2})"), "format"));
    EXPECT_TRUE(contains(refusal(R"({"continuation":-1})"), "continuation"));
    EXPECT_TRUE(contains(refusal(R"({"continuation":1001})"), "continuation"));
    EXPECT_TRUE(contains(refusal(R"({"stalls":"1"})"), "stalls"));
    EXPECT_TRUE(contains(refusal(R"({"vault_id":""})"), "vault_id"));
    EXPECT_TRUE(contains(refusal(R"({"sync_type":"full"})"), "sync_type"));
    EXPECT_TRUE(contains(refusal(std::string(k_max_request_body + 1, ' ')), "larger"));
}

TEST(Requests, DispatchAndSecretIdAreRequestFields) {
    auto result = decode_event(R"({"dispatch":false,"secret_id":"obsync/accounts/a"})");
    ASSERT_TRUE(std::holds_alternative<SyncEvent>(result));
    const SyncEvent& e = std::get<SyncEvent>(result);
    EXPECT_EQ(e.dispatch, std::optional<bool>(false));
    EXPECT_EQ(e.secret_id, std::optional<std::string>("obsync/accounts/a"));
    auto bad = decode_event(R"({"dispatch":"no"})");
    ASSERT_TRUE(std::holds_alternative<Refusal>(bad));
    EXPECT_TRUE(contains(std::get<Refusal>(bad).failure.message, "boolean"));
    // Message-only fields are not request fields.
    EXPECT_TRUE(std::holds_alternative<Refusal>(decode_event(R"({"continuation":1})")));
}

// ---- SQS envelopes ----

std::string record(std::string_view body, std::string_view extra = "") {
    return std::string(R"({"messageId":"m1","receiptHandle":"h1","eventSource":"aws:sqs",)") +
           R"("eventSourceARN":"arn:aws:sqs:eu-west-1:123456789012:work",)" + std::string(extra) +
           R"("body":)" + json::serialize(json::string(body)) + "}";
}

TEST(SqsEnvelope, EachRecordIsDecodedOnItsOwn) {
    const std::string event =
        R"({"Records":[)" + record(R"({"vault_id":"a"})") + "," +
        record("garbage", R"("attributes":{"ApproximateReceiveCount":"7"},)") + "]}";
    auto result = decode_event(event);
    ASSERT_TRUE(std::holds_alternative<SqsBatch>(result));
    const auto& records = std::get<SqsBatch>(result).records;
    ASSERT_EQ(records.size(), 2U);
    ASSERT_TRUE(std::holds_alternative<SyncEvent>(records[0].message));
    EXPECT_EQ(std::get<SyncEvent>(records[0].message).vault, std::optional<std::string>("a"));
    EXPECT_EQ(records[0].receive_count, 1);
    EXPECT_TRUE(std::holds_alternative<Refusal>(records[1].message));
    EXPECT_EQ(records[1].receive_count, 7);
    EXPECT_EQ(records[1].body, "garbage");
}

TEST(SqsEnvelope, ABrokenSqsEnvelopeIsRefusedAsSqsSoThatItFailsTheInvocation) {
    for (const std::string& event :
         {std::string(R"({"Records":[{"eventSource":"aws:sqs","body":"{}"}]})"),
          std::string(
              R"({"Records":[{"eventSource":"aws:sqs","messageId":"a","body":"{}"},1]})")}) {
        auto result = decode_event(event);
        ASSERT_TRUE(std::holds_alternative<Refusal>(result)) << event;
        EXPECT_EQ(std::get<Refusal>(result).source, EventSource::sqs) << event;
    }
    auto sns = decode_event(R"({"Records":[{"eventSource":"aws:sns","messageId":"x"}]})");
    ASSERT_TRUE(std::holds_alternative<Refusal>(sns));
    EXPECT_EQ(std::get<Refusal>(sns).source, EventSource::direct);
}

TEST(SqsEnvelope, OtherBatchesAndBrokenEnvelopesAreRefusedAsAWhole) {
    for (const std::string& event :
         {std::string(R"({"Records":[]})"), std::string(R"({"Records":{}})"),
          std::string(R"({"Records":[{"eventSource":"aws:sns","messageId":"x","body":"{}"}]})"),
          std::string(R"({"Records":[{"eventSource":"aws:sqs","body":"{}"}]})"),
          std::string(R"({"Records":[1]})")}) {
        auto result = decode_event(event);
        ASSERT_TRUE(std::holds_alternative<Refusal>(result)) << event;
        EXPECT_EQ(std::get<Refusal>(result).status, 400U) << event;
    }
}

TEST(SqsEnvelope, QueueUrlOfArn) {
    EXPECT_EQ(queue_url_of_arn("arn:aws:sqs:us-east-1:123456789012:obsync-work"),
              "https://sqs.us-east-1.amazonaws.com/123456789012/obsync-work");
    EXPECT_EQ(queue_url_of_arn("arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo"),
              "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo");
    for (const char* bad : {"", "arn:aws:sns:us-east-1:123456789012:t", "arn:aws:sqs:us-east-1:1",
                            "arn:aws:sqs::123456789012:q", "arn:aws:sqs:r:1:q/../x"}) {
        EXPECT_THROW((void)queue_url_of_arn(bad), Error) << bad;
    }
}

TEST(SqsEnvelope, BatchResponseListsTheFailures) {
    EXPECT_EQ(json::serialize(batch_response({})), R"({"batchItemFailures":[]})");
    EXPECT_EQ(json::serialize(batch_response({"a", "b"})),
              R"({"batchItemFailures":[{"itemIdentifier":"a"},{"itemIdentifier":"b"}]})");
}

// ---- accounts ----

TEST(Accounts, NoSecretIdOrTheOwnOneIsTheOwnAccount) {
    for (const auto& id : {std::optional<std::string>{}, std::optional<std::string>("own")}) {
        const auto r = resolve_account(id, "obsync/accounts/", "own");
        ASSERT_TRUE(std::holds_alternative<AccountRef>(r));
        EXPECT_TRUE(std::get<AccountRef>(r).own());
        EXPECT_EQ(std::get<AccountRef>(r).key(), "default");
        EXPECT_EQ(std::get<AccountRef>(r).folder, "");
    }
}

TEST(Accounts, ASecretUnderThePrefixIsAnAccountWithItsFolder) {
    const auto r =
        resolve_account(std::string("obsync/accounts/alice@home"), "obsync/accounts/", "");
    ASSERT_TRUE(std::holds_alternative<AccountRef>(r));
    EXPECT_EQ(std::get<AccountRef>(r).secret_id, "obsync/accounts/alice@home");
    EXPECT_EQ(std::get<AccountRef>(r).folder, "alice@home");
    EXPECT_EQ(std::get<AccountRef>(r).key(), "obsync/accounts/alice@home");
}

TEST(Accounts, AnythingElseIsRefused) {
    const auto why = [](const char* id, const char* prefix) {
        const auto r = resolve_account(std::string(id), prefix, "own");
        EXPECT_TRUE(std::holds_alternative<std::string>(r)) << id;
        return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : "";
    };
    EXPECT_TRUE(contains(why("obsync/accounts/a", ""), "ALLOWED_SECRET_PREFIX is not set"));
    EXPECT_TRUE(contains(why("other/a", "obsync/accounts/"), "under ALLOWED_SECRET_PREFIX"));
    EXPECT_TRUE(contains(why("obsync/accounts/", "obsync/accounts/"), "under"));
    EXPECT_TRUE(contains(why("obsync/accounts/team/bob", "obsync/accounts/"), "one folder"));
    EXPECT_TRUE(contains(why("obsync/accounts/..", "obsync/accounts/"), "one folder"));
    EXPECT_TRUE(contains(why("obsync/accounts/a b", "obsync/accounts/"), "one folder"));
    // An ARN is not a name under the prefix.
    EXPECT_FALSE(why("arn:aws:secretsmanager:us-east-1:123456789012:secret:obsync/accounts/a",
                     "obsync/accounts/")
                     .empty());
}

// ---- what becomes of a message ----

backup::BackupReport one_vault(backup::VaultOutcome vault) {
    backup::BackupReport report;
    report.vaults.push_back(std::move(vault));
    return report;
}

TEST(MessageFate, FailuresByKind) {
    SyncEvent m;
    m.vault = "v";
    backup::BackupReport before;
    before.error = backup::Failure{ErrorKind::network, "down", false};
    EXPECT_EQ(decide_message(m, before).fate, MessageFate::retry);
    before.error = backup::Failure{ErrorKind::not_found, "no such vault", false};
    EXPECT_EQ(decide_message(m, before).fate, MessageFate::park);

    backup::VaultOutcome v;
    v.error = backup::Failure{ErrorKind::crypto, "wrong vault password", false};
    const MessageDecision parked = decide_message(m, one_vault(v));
    EXPECT_EQ(parked.fate, MessageFate::park);
    ASSERT_TRUE(parked.failure);
    EXPECT_EQ(parked.failure->kind, ErrorKind::crypto);
    // As docs/lambda.md's table says: retried are network, throttled, unavailable; parked are
    // auth, mfa, crypto, protocol, not_found, denied, storage, config, bad_input.
    for (const ErrorKind kind :
         {ErrorKind::network, ErrorKind::throttled, ErrorKind::unavailable}) {
        v.error = backup::Failure{kind, "x", false};
        EXPECT_EQ(decide_message(m, one_vault(v)).fate, MessageFate::retry) << to_string(kind);
    }
    for (const ErrorKind kind : {ErrorKind::auth, ErrorKind::mfa, ErrorKind::crypto,
                                 ErrorKind::protocol, ErrorKind::not_found, ErrorKind::denied,
                                 ErrorKind::storage, ErrorKind::config, ErrorKind::bad_input}) {
        v.error = backup::Failure{kind, "x", false};
        EXPECT_EQ(decide_message(m, one_vault(v)).fate, MessageFate::park) << to_string(kind);
    }
    // No vault and no error is never taken for done.
    EXPECT_EQ(decide_message(m, backup::BackupReport{}).fate, MessageFate::retry);
}

TEST(MessageFate, ADoneVaultIsDoneEvenWithFileFailures) {
    SyncEvent m;
    backup::VaultOutcome v;
    v.created = 3;
    v.failures.push_back({"a.md", 1, {ErrorKind::network, "reset", false}});
    EXPECT_EQ(decide_message(m, one_vault(v)).fate, MessageFate::done);
}

TEST(MessageFate, AStoppedVaultContinuesAndThreeStallsInARowStop) {
    SyncEvent m;
    m.vault = "v";
    m.secret_id = "obsync/accounts/a";
    m.sync_type = SyncType::complete;
    backup::VaultOutcome v;
    v.stopped_early = true;
    v.created = 10;
    MessageDecision d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::continue_);
    EXPECT_EQ(d.next.continuation, 1);
    EXPECT_EQ(d.next.stalls, 0);
    EXPECT_EQ(d.next.vault, m.vault);
    EXPECT_EQ(d.next.secret_id, m.secret_id);
    EXPECT_EQ(d.next.sync_type, SyncType::complete);

    v.created = 0;  // no progress
    for (int stalls = 0; stalls < k_max_stalls - 1; ++stalls) {
        m = d.next;
        d = decide_message(m, one_vault(v));
        EXPECT_EQ(d.fate, MessageFate::continue_);
        EXPECT_EQ(d.next.stalls, stalls + 1);
    }
    m = d.next;
    d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::stalled);
    EXPECT_EQ(d.next.stalls, k_max_stalls);

    // Progress resets the count.
    m.stalls = k_max_stalls - 1;
    v.deleted = 1;
    d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::continue_);
    EXPECT_EQ(d.next.stalls, 0);
}

TEST(MessageFate, BusyWaitsWithoutSpendingReceivesAndIsParkedAfterADayOfIt) {
    SyncEvent m;
    m.vault = "v";
    m.continuation = 3;
    backup::VaultOutcome v;
    v.error = backup::Failure{ErrorKind::busy, "held by another run", false};
    MessageDecision d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::wait);
    EXPECT_EQ(d.next.waits, 1);
    EXPECT_EQ(d.next.continuation, 3);  // waiting is not a continuation
    EXPECT_EQ(d.next.vault, m.vault);
    m.waits = k_max_waits - 1;
    EXPECT_EQ(decide_message(m, one_vault(v)).fate, MessageFate::wait);
    m.waits = k_max_waits;
    d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::park);
    ASSERT_TRUE(d.failure);
    EXPECT_EQ(d.failure->kind, ErrorKind::busy);
    EXPECT_TRUE(contains(d.failure->message, "waited 100 times")) << d.failure->message;
    // The same for a full account or the invocation's time up.
    m.waits = 0;
    EXPECT_EQ(wait_for(m, {ErrorKind::busy, "slots", false}).fate, MessageFate::wait);
}

TEST(MessageFate, ACompleteSyncOverAnExistingBackupProgressesBySettledFiles) {
    SyncEvent m;
    m.vault = "v";
    backup::VaultOutcome v;
    v.stopped_early = true;
    v.unchanged = 500;  // found in the destination, recorded without a download
    MessageDecision d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::continue_);
    EXPECT_EQ(d.next.stalls, 0);
    EXPECT_EQ(d.next.settled, 500);
    // The next run finds those 500 in its state (unchanged again) and 300 more: progress.
    v.unchanged = 800;
    d = decide_message(d.next, one_vault(v));
    EXPECT_EQ(d.next.stalls, 0);
    // The same 800 again and nothing written: a stall.
    d = decide_message(d.next, one_vault(v));
    EXPECT_EQ(d.next.stalls, 1);
}

TEST(MessageFate, AChainEndsAtItsLimitInsteadOfWritingAMessageNobodyReads) {
    SyncEvent m;
    m.vault = "v";
    m.continuation = k_max_message_count;
    backup::VaultOutcome v;
    v.stopped_early = true;
    v.created = 5;
    const MessageDecision d = decide_message(m, one_vault(v));
    EXPECT_EQ(d.fate, MessageFate::stalled);
    ASSERT_TRUE(d.failure);
    EXPECT_TRUE(contains(d.failure->message, "1000 invocations")) << d.failure->message;
    m.continuation = k_max_message_count - 1;
    const MessageDecision last = decide_message(m, one_vault(v));
    EXPECT_EQ(last.fate, MessageFate::continue_);
    // Its message is one decode_message() still accepts.
    EXPECT_TRUE(std::holds_alternative<SyncEvent>(decode_message(encode_message(last.next))));
}

TEST(MessageFate, BackoffDoublesUpTo15Minutes) {
    using std::chrono::seconds;
    EXPECT_EQ(backoff(seconds(60), 1), seconds(60));
    EXPECT_EQ(backoff(seconds(60), 2), seconds(120));
    EXPECT_EQ(backoff(seconds(60), 4), seconds(480));
    EXPECT_EQ(backoff(seconds(60), 5), seconds(900));
    EXPECT_EQ(backoff(seconds(60), 1000), seconds(900));
    EXPECT_EQ(backoff(seconds(0), 1), seconds(1));
}

}  // namespace
}  // namespace obsync::lambda
