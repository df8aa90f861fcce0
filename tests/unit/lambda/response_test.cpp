// Response documents, the status mapping, the per-source wrapping and function errors
// (docs/lambda.md, "Response body", "Status mapping", "Retry semantics").
#include "lambda/response.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace obsync::lambda {
namespace {

namespace json = boost::json;
using backup::BackupReport;
using backup::Failure;
using backup::VaultOutcome;
using namespace std::chrono_literals;

VaultOutcome vault(std::string name) {
    VaultOutcome v;
    v.id = name + "-id";
    v.name = std::move(name);
    v.destination = "s3://backups/obsidian/" + v.name;
    v.cursor = "42";
    return v;
}

ResponseDetails details() {
    ResponseDetails d;
    d.sync_type = SyncType::complete;
    d.encrypted = true;
    d.dest_bucket = "backups";
    d.dest_prefix = "obsidian";
    d.lambda_memory_mb = 1024;
    d.request_id = "req-1";
    return d;
}

std::vector<std::string> strings(const json::value& array) {
    std::vector<std::string> out;
    for (const auto& item : array.as_array()) {
        out.emplace_back(item.as_string());
    }
    return out;
}

TEST(ResponseBody, HasEveryFieldOfTheContract) {
    BackupReport report;
    report.duration = 2500ms;
    VaultOutcome notes = vault("Notes");
    notes.complete = true;
    notes.created = 3;
    notes.updated = 2;
    notes.deleted = 1;
    notes.unchanged = 7;
    notes.bytes_downloaded = 1234;
    notes.duration = 2000ms;
    report.vaults.push_back(notes);

    const json::object body = response_body(report, details());
    EXPECT_EQ(body.at("success"), true);
    EXPECT_EQ(body.at("partial"), false);
    EXPECT_EQ(body.at("vaults_synced"), 1);
    EXPECT_EQ(body.at("files_count"), 6);
    EXPECT_DOUBLE_EQ(body.at("duration").as_double(), 2.5);
    EXPECT_EQ(body.at("duration_ms"), 2500);
    EXPECT_TRUE(body.at("errors").as_array().empty());
    EXPECT_EQ(body.at("details"), (json::object{{"sync_type", "complete"},
                                                {"encrypted", true},
                                                {"dest_bucket", "backups"},
                                                {"dest_prefix", "obsidian"},
                                                {"lambda_memory", 1024}}));
    EXPECT_EQ(body.at("request_id"), "req-1");
    EXPECT_FALSE(body.contains("error"));
    ASSERT_EQ(body.at("vaults").as_array().size(), 1U);
    const json::object& v = body.at("vaults").as_array()[0].as_object();
    const json::object expected{
        {"id", "Notes-id"},
        {"name", "Notes"},
        {"destination", "s3://backups/obsidian/Notes"},
        {"ok", true},
        {"complete", true},
        {"stopped_early", false},
        {"created", 3},
        {"updated", 2},
        {"deleted", 1},
        {"unchanged", 7},
        {"failed", 0},
        {"refused", 0},
        {"not_attempted", 0},
        {"bytes_downloaded", 1234},
        {"duration_ms", 2000},
        {"cursor", "42"},
        {"failures", json::array{}},
    };
    EXPECT_EQ(v, expected) << json::serialize(v);
    EXPECT_EQ(body.size(), 10U) << json::serialize(body);
}

TEST(ResponseBody, FailuresAndErrorsAreListedAndCounted) {
    BackupReport report;
    VaultOutcome good = vault("Good");
    good.created = 1;
    VaultOutcome files = vault("Files");
    files.updated = 4;
    files.failures.push_back({"a/b.md", 7, {ErrorKind::crypto, "authentication tag mismatch"}});
    files.failures.push_back({"", 8, {ErrorKind::crypto, "the path could not be decrypted"}});
    files.refused = 2;
    VaultOutcome locked = vault("Locked");
    locked.error = Failure{ErrorKind::crypto, "wrong vault password"};
    report.vaults = {good, files, locked};

    const json::object body = response_body(report, details());
    EXPECT_EQ(body.at("success"), false);
    EXPECT_EQ(body.at("vaults_synced"), 2);  // Files finished, with file failures
    EXPECT_EQ(body.at("files_count"), 5);
    EXPECT_EQ(strings(body.at("errors")), (std::vector<std::string>{
                                              "Files: a/b.md: authentication tag mismatch",
                                              "Files: the path could not be decrypted",
                                              "Files: 2 record(s) refused, not in the backup",
                                              "Locked: wrong vault password",
                                          }));
    const auto& vaults = body.at("vaults").as_array();
    EXPECT_EQ(vaults[1].at("ok"), false);
    EXPECT_EQ(vaults[1].at("failed"), 2);
    EXPECT_EQ(vaults[1].at("refused"), 2);
    EXPECT_EQ(
        vaults[1].at("failures").as_array()[0],
        (json::object{
            {"path", "a/b.md"}, {"kind", "crypto"}, {"message", "authentication tag mismatch"}}));
    EXPECT_FALSE(vaults[1].as_object().contains("error"));
    EXPECT_EQ(vaults[2].at("error"),
              (json::object{{"kind", "crypto"}, {"message", "wrong vault password"}}));
}

TEST(ResponseBody, AStoppedEarlyVaultIsPartialButSuccessful) {
    BackupReport report;
    VaultOutcome v = vault("Big");
    v.stopped_early = true;
    v.not_attempted = 500;
    report.vaults.push_back(v);
    const json::object body = response_body(report, details());
    EXPECT_EQ(body.at("success"), true);
    EXPECT_EQ(body.at("partial"), true);
    EXPECT_EQ(body.at("vaults").as_array()[0].at("stopped_early"), true);
    EXPECT_EQ(body.at("vaults").as_array()[0].at("not_attempted"), 500);
}

TEST(ResponseBody, AReportErrorIsInErrorsAndError) {
    BackupReport report;
    report.error = Failure{ErrorKind::not_found, "no vault named \"Work\""};
    const json::object body = response_body(report, details());
    EXPECT_EQ(body.at("success"), false);
    EXPECT_EQ(strings(body.at("errors")), std::vector<std::string>{"no vault named \"Work\""});
    EXPECT_EQ(body.at("error"),
              (json::object{{"kind", "not_found"}, {"message", "no vault named \"Work\""}}));
}

TEST(ResponseBody, ServerTextIsEscapedInErrorsAndValidUtf8Everywhere) {
    BackupReport report;
    VaultOutcome v = vault("Evil\x1b[2J");
    v.failures.push_back({"bad\xff.md", 1, {ErrorKind::storage, "write failed\a"}});
    report.vaults.push_back(v);
    const json::object body = response_body(report, details());
    EXPECT_EQ(strings(body.at("errors")),
              std::vector<std::string>{"Evil\\e[2J: bad\\xff.md: write failed\\a"});
    const auto& entry = body.at("vaults").as_array()[0];
    EXPECT_EQ(entry.at("name"), "Evil\x1b[2J");  // JSON escapes it itself
    EXPECT_EQ(entry.at("failures").as_array()[0].at("path"), "bad\xef\xbf\xbd.md");
    // The text parses back: it is valid JSON (and so valid UTF-8).
    EXPECT_NO_THROW(json::parse(to_json_text(body)));
}

TEST(ResponseBody, LongFailureListsAreCutButCountedExactly) {
    BackupReport report;
    VaultOutcome v = vault("Many");
    for (int i = 0; i < 150; ++i) {
        v.failures.push_back({"f" + std::to_string(i), i, {ErrorKind::crypto, "bad"}});
    }
    report.vaults.push_back(v);
    const json::object body = response_body(report, details());
    const auto errors = strings(body.at("errors"));
    ASSERT_EQ(errors.size(), k_max_listed_errors + 1);
    EXPECT_EQ(errors.back(), "and 50 more");
    EXPECT_EQ(body.at("vaults").as_array()[0].at("failures").as_array().size(),
              k_max_listed_errors);
    EXPECT_EQ(body.at("vaults").as_array()[0].at("failed"), 150);
}

TEST(RefusalBody, HasTheContractShape) {
    const Refusal refusal{EventSource::api_gateway_v2, 403,
                          Failure{ErrorKind::bad_input, "field 'dest_bucket' is not allowed"}};
    const json::object body = refusal_body(refusal, "req-9");
    EXPECT_EQ(
        body,
        (json::object{
            {"success", false},
            {"error", {{"kind", "bad_input"}, {"message", "field 'dest_bucket' is not allowed"}}},
            {"errors", json::array{"field 'dest_bucket' is not allowed"}},
            {"request_id", "req-9"},
        }));
}

// ---- status mapping ----

BackupReport with_vault_error(ErrorKind kind) {
    BackupReport report;
    report.vaults = {vault("A"), vault("B")};
    report.vaults[1].error = Failure{kind, "x"};
    return report;
}

TEST(HttpStatus, FollowsTheContract) {
    EXPECT_EQ(http_status(BackupReport{}, false), 200U);

    BackupReport missing;
    missing.error = Failure{ErrorKind::not_found, "no vault named \"Work\""};
    EXPECT_EQ(http_status(missing, true), 404U);
    EXPECT_EQ(http_status(missing, false), 200U);

    EXPECT_EQ(http_status(with_vault_error(ErrorKind::busy), true), 409U);
    EXPECT_EQ(http_status(with_vault_error(ErrorKind::network), false), 503U);
    EXPECT_EQ(http_status(with_vault_error(ErrorKind::throttled), false), 503U);
    EXPECT_EQ(http_status(with_vault_error(ErrorKind::unavailable), false), 503U);
    BackupReport down;
    down.error = Failure{ErrorKind::network, "connection refused"};
    EXPECT_EQ(http_status(down, true), 503U);

    // Permanent failures answer 200 with success false, even for a single-vault request.
    for (const ErrorKind kind : {ErrorKind::auth, ErrorKind::mfa, ErrorKind::crypto,
                                 ErrorKind::storage, ErrorKind::not_found}) {
        EXPECT_EQ(http_status(with_vault_error(kind), true), 200U) << to_string(kind);
    }
    BackupReport signin;
    signin.error = Failure{ErrorKind::auth, "login failed"};
    EXPECT_EQ(http_status(signin, true), 200U);
    BackupReport files;
    files.vaults = {vault("A")};
    files.vaults[0].failures.push_back({"p", 1, {ErrorKind::network, "reset"}});
    EXPECT_EQ(http_status(files, true), 200U);
}

// ---- wrapping ----

TEST(WrapForSource, HttpSourcesGetAnHttpResponse) {
    const json::object body{{"success", true}};
    for (const EventSource source :
         {EventSource::api_gateway_v1, EventSource::api_gateway_v2, EventSource::function_url}) {
        const json::value wrapped = wrap_for_source(source, 200, body);
        EXPECT_EQ(wrapped, (json::object{
                               {"statusCode", 200},
                               {"headers", {{"Content-Type", "application/json"}}},
                               {"body", R"({"success":true})"},
                               {"isBase64Encoded", false},
                           }))
            << json::serialize(wrapped);
    }
}

TEST(WrapForSource, A503AsksToRetryAfterAMinuteAndA405SaysWhatIsAllowed) {
    const json::value unavailable = wrap_for_source(EventSource::function_url, 503, {});
    EXPECT_EQ(unavailable.at("statusCode"), 503);
    EXPECT_EQ(unavailable.at("headers"),
              (json::object{{"Content-Type", "application/json"}, {"Retry-After", "60"}}));
    const json::value not_allowed = wrap_for_source(EventSource::api_gateway_v1, 405, {});
    EXPECT_EQ(not_allowed.at("headers"),
              (json::object{{"Content-Type", "application/json"}, {"Allow", "POST"}}));
    EXPECT_FALSE(wrap_for_source(EventSource::api_gateway_v1, 409, {})
                     .at("headers")
                     .as_object()
                     .contains("Retry-After"));
}

TEST(WrapForSource, DirectAndScheduleGetTheDocumentItself) {
    const json::object body{{"success", false}, {"request_id", "r"}};
    EXPECT_EQ(wrap_for_source(EventSource::direct, 503, body), body);
    EXPECT_EQ(wrap_for_source(EventSource::schedule, 200, body), body);
}

// ---- function errors ----

TEST(FunctionError, OnlyRetryableFailuresAreFunctionErrors) {
    EXPECT_FALSE(function_error(BackupReport{}));
    EXPECT_FALSE(function_error(with_vault_error(ErrorKind::crypto)));
    BackupReport signin;
    signin.error = Failure{ErrorKind::auth, "login failed"};
    EXPECT_FALSE(function_error(signin));

    const auto busy = function_error(with_vault_error(ErrorKind::busy));
    ASSERT_TRUE(busy);
    EXPECT_EQ(busy->error_type, "Obsync.Retryable.busy");
    EXPECT_EQ(busy->message, "B: x");

    BackupReport down;
    down.error = Failure{ErrorKind::network, "connection refused\x1b"};
    const auto network = function_error(down);
    ASSERT_TRUE(network);
    EXPECT_EQ(network->error_type, "Obsync.Retryable.network");
    EXPECT_EQ(network->message, "connection refused\\e");
}

}  // namespace
}  // namespace obsync::lambda

namespace obsync::lambda {
namespace {

backup::VaultVerification verified(std::string name) {
    backup::VaultVerification v;
    v.id = name + "-id";
    v.name = std::move(name);
    v.destination = "s3://backups/obsidian/" + v.name;
    v.files = 3;
    return v;
}

TEST(VerifyResponseBody, CountsDriftPerVaultAndListsIt) {
    backup::VerifyReport report;
    report.vaults.push_back(verified("Clean"));
    backup::VaultVerification drifted = verified("Drifted");
    drifted.drift = {{"a.md", archive::DriftKind::missing, "not in the backup"},
                     {"b.md", archive::DriftKind::stale, "backup has 1, the server 2", true}};
    drifted.refused = 1;
    report.vaults.push_back(drifted);
    const json::object body = verify_response_body(report, details());
    EXPECT_FALSE(body.at("success").as_bool());
    EXPECT_EQ(body.at("action"), "verify");
    EXPECT_EQ(body.at("vaults_verified").as_int64(), 2);
    EXPECT_EQ(body.at("drift_count").as_int64(), 2);
    EXPECT_FALSE(body.contains("error"));  // drift is no failure: 200, no retry
    EXPECT_EQ(body.at("details").at("encrypted"), true);
    const auto& second = body.at("vaults").at(1);
    EXPECT_EQ(second.at("counts").at("missing").as_int64(), 1);
    EXPECT_EQ(second.at("counts").at("stale").as_int64(), 1);
    EXPECT_EQ(second.at("drift").at(1).at("path"), "b.md");
    EXPECT_EQ(second.at("drift").at(1).at("kind"), "stale");
    // The server changed b.md after the backup's cursor; a.md went wrong behind its back.
    EXPECT_TRUE(second.at("drift").at(1).at("pending").as_bool());
    EXPECT_FALSE(second.at("drift").at(0).at("pending").as_bool());
    EXPECT_EQ(second.at("pending").as_int64(), 1);
    EXPECT_EQ(second.at("refused").as_int64(), 1);
    EXPECT_EQ(body.at("vaults").at(0).at("pending").as_int64(), 0);
    EXPECT_EQ(http_status(failures_of(report), false), 200u);
    EXPECT_FALSE(function_error(failures_of(report)));
}

TEST(VerifyResponseBody, AFailedVaultIsRetriedAsASyncsWouldBe) {
    backup::VerifyReport report;
    backup::VaultVerification failed = verified("Busy");
    failed.error = Failure{ErrorKind::network, "connection reset", false};
    report.vaults.push_back(failed);
    const json::object body = verify_response_body(report, details());
    EXPECT_EQ(body.at("vaults_verified").as_int64(), 0);
    EXPECT_EQ(body.at("error").at("kind"), "network");
    EXPECT_EQ(http_status(failures_of(report), true), 503u);
    ASSERT_TRUE(function_error(failures_of(report)));
    EXPECT_EQ(function_error(failures_of(report))->error_type, "Obsync.Retryable.network");
}

TEST(VerifyResponseBody, AVaultTheDeadlineStoppedIsReportedNotCountedAndNotRetried) {
    backup::VerifyReport report;
    report.vaults.push_back(verified("Clean"));
    backup::VaultVerification stopped = verified("Huge");
    stopped.stopped_early = true;
    report.vaults.push_back(stopped);
    const json::object body = verify_response_body(report, details());
    EXPECT_FALSE(body.at("success").as_bool());  // not everything was verified
    EXPECT_EQ(body.at("vaults_verified").as_int64(), 1);
    EXPECT_TRUE(body.at("vaults").at(1).at("stopped_early").as_bool());
    EXPECT_FALSE(body.at("vaults").at(1).as_object().contains("drift_count"));
    EXPECT_NE(json::serialize(body.at("errors")).find("time ran out"), std::string::npos);
    // The same request would run out of time again: no retry.
    EXPECT_EQ(http_status(failures_of(report), false), 200u);
    EXPECT_FALSE(function_error(failures_of(report)));
}

}  // namespace
}  // namespace obsync::lambda
