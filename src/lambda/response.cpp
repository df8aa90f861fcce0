#include "lambda/response.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "util/display.hpp"
#include "util/json.hpp"

namespace obsync::lambda {

namespace {

namespace json = boost::json;

// Names, paths and messages come from the vault's server and may hold any bytes: JSON text must
// be valid UTF-8, so what is not becomes U+FFFD (the human "errors" escape it instead).
json::string text(std::string_view value) {
    return json::string(to_valid_utf8(value));
}

json::object failure_json(const backup::Failure& failure) {
    return json::object{{"kind", to_string(failure.kind)}, {"message", text(failure.message)}};
}

// "errors": one line per problem, for people, escaped as the CLI prints names and messages.
class ErrorLines {
public:
    void add(std::string line) {
        if (m_lines.size() < k_max_listed_errors) {
            m_lines.emplace_back(std::move(line));
        } else {
            ++m_omitted;
        }
    }

    json::array take() {
        if (m_omitted > 0) {
            m_lines.emplace_back("and " + std::to_string(m_omitted) + " more");
        }
        return std::move(m_lines);
    }

private:
    json::array m_lines;
    std::size_t m_omitted = 0;
};

json::object vault_json(const backup::VaultOutcome& vault, ErrorLines& errors) {
    const std::string name = display_name(vault.name);
    json::array failures;
    for (const auto& file : vault.failures) {
        if (failures.size() < k_max_listed_errors) {
            failures.push_back(json::object{{"path", text(file.path)},
                                            {"kind", to_string(file.failure.kind)},
                                            {"message", text(file.failure.message)}});
        }
        // A path that could not be decrypted is empty: its message says so.
        errors.add(name + ": " + (file.path.empty() ? "" : display_name(file.path) + ": ") +
                   display_message(file.failure.message));
    }
    if (vault.refused > 0) {
        errors.add(name + ": " + std::to_string(vault.refused) +
                   " record(s) refused, not in the backup");
    }
    if (vault.error) {
        errors.add(name + ": " + display_message(vault.error->message));
    }
    json::object out{
        {"id", text(vault.id)},
        {"name", text(vault.name)},
        {"destination", text(vault.destination)},
        {"ok", vault.ok()},
        {"complete", vault.complete},
        {"stopped_early", vault.stopped_early},
        {"created", vault.created},
        {"updated", vault.updated},
        {"deleted", vault.deleted},
        {"unchanged", vault.unchanged},
        {"failed", vault.failed()},
        {"refused", vault.refused},
        {"not_attempted", vault.not_attempted},
        {"bytes_downloaded", vault.bytes_downloaded},
        {"duration_ms", vault.duration.count()},
        {"cursor", text(vault.cursor)},
        {"failures", std::move(failures)},
    };
    if (vault.error) {
        out["error"] = failure_json(*vault.error);
    }
    return out;
}

}  // namespace

json::object response_body(const backup::BackupReport& report, const ResponseDetails& details) {
    ErrorLines errors;
    if (report.error) {
        errors.add(display_message(report.error->message));
    }
    json::array vaults;
    std::int64_t synced = 0;
    std::int64_t files = 0;
    for (const auto& vault : report.vaults) {
        vaults.push_back(vault_json(vault, errors));
        synced += vault.error || vault.skipped ? 0 : 1;
        files += vault.created + vault.updated + vault.deleted;
    }
    json::object out{
        {"success", report.ok()},
        {"partial", report.stopped_early()},
        {"vaults_synced", synced},
        {"files_count", files},
        {"duration", static_cast<double>(report.duration.count()) / 1000.0},
        {"duration_ms", report.duration.count()},
        {"errors", errors.take()},
        {"details", json::object{{"sync_type", to_string(details.sync_type)},
                                 {"encrypted", details.encrypted},
                                 {"dest_bucket", text(details.dest_bucket)},
                                 {"dest_prefix", text(details.dest_prefix)},
                                 {"lambda_memory", details.lambda_memory_mb}}},
        {"vaults", std::move(vaults)},
        {"request_id", text(details.request_id)},
    };
    // Not in every response: only when the run failed before any vault (sign-in, unknown
    // vault), or a vault failed in a way a retry can fix (busy: the 409 an HTTP caller gets, a
    // service down: 503); the same shape as a refusal's and a vault's "error".
    if (report.error) {
        out["error"] = failure_json(*report.error);
    } else if (const auto retryable = report.retryable_failure()) {
        out["error"] = failure_json(*retryable);
    }
    return out;
}

json::object verify_response_body(const backup::VerifyReport& report,
                                  const ResponseDetails& details) {
    ErrorLines errors;
    if (report.error) {
        errors.add(display_message(report.error->message));
    }
    json::array vaults;
    std::int64_t verified = 0;
    std::int64_t drift_count = 0;
    for (const backup::VaultVerification& vault : report.vaults) {
        json::object out{{"id", text(vault.id)},
                         {"name", text(vault.name)},
                         {"destination", text(vault.destination)},
                         {"ok", vault.ok()},
                         {"duration_ms", vault.duration.count()}};
        if (vault.error) {
            errors.add(display_name(vault.name) + ": " + display_message(vault.error->message));
            out["error"] = failure_json(*vault.error);
            vaults.push_back(std::move(out));
            continue;
        }
        if (vault.stopped_early) {
            errors.add(display_name(vault.name) +
                       ": not verified, the invocation's time ran out (verify it alone, or "
                       "with a smaller deep_percent)");
            out["stopped_early"] = true;
            vaults.push_back(std::move(out));
            continue;
        }
        ++verified;
        drift_count += static_cast<std::int64_t>(vault.drift.size());
        json::object counts;
        json::array drift;
        for (const auto kind : {archive::DriftKind::missing, archive::DriftKind::extra,
                                archive::DriftKind::stale, archive::DriftKind::corrupt}) {
            counts[archive::to_string(kind)] = vault.count(kind);
        }
        for (const archive::Drift& d : vault.drift) {
            if (drift.size() == k_max_listed_errors) {
                break;  // the counts stay exact
            }
            drift.push_back(json::object{{"path", text(d.path)},
                                         {"kind", archive::to_string(d.kind)},
                                         {"detail", text(d.detail)},
                                         {"pending", d.pending}});
        }
        out["files"] = vault.files;
        out["checked_deep"] = vault.checked_deep;
        out["heads"] = vault.heads;
        out["bytes_hashed"] = vault.bytes_hashed;
        out["drift_count"] = static_cast<std::int64_t>(vault.drift.size());
        out["counts"] = std::move(counts);
        out["pending"] = vault.pending();
        out["refused"] = vault.refused;
        out["drift"] = std::move(drift);
        vaults.push_back(std::move(out));
    }
    json::object out{
        {"success", report.ok()},
        {"action", "verify"},
        {"vaults_verified", verified},
        {"drift_count", drift_count},
        {"duration_ms", report.duration.count()},
        {"errors", errors.take()},
        {"details", json::object{{"encrypted", details.encrypted},
                                 {"dest_bucket", text(details.dest_bucket)},
                                 {"dest_prefix", text(details.dest_prefix)},
                                 {"lambda_memory", details.lambda_memory_mb}}},
        {"vaults", std::move(vaults)},
        {"request_id", text(details.request_id)},
    };
    const backup::BackupReport failures = failures_of(report);
    if (failures.error) {
        out["error"] = failure_json(*failures.error);
    } else if (const auto retryable = failures.retryable_failure()) {
        out["error"] = failure_json(*retryable);
    }
    return out;
}

backup::BackupReport failures_of(const backup::VerifyReport& report) {
    backup::BackupReport out;
    out.error = report.error;
    out.duration = report.duration;
    for (const backup::VaultVerification& vault : report.vaults) {
        backup::VaultOutcome outcome;
        outcome.id = vault.id;
        outcome.name = vault.name;
        outcome.destination = vault.destination;
        if (vault.error) {
            outcome.error.emplace(
                *vault.error);  // (assigning the optional: a false g++ 12 warning)
        }
        outcome.duration = vault.duration;
        out.vaults.push_back(std::move(outcome));
    }
    return out;
}

json::object refusal_body(const Refusal& refusal, std::string_view request_id) {
    return json::object{
        {"success", false},
        {"error", failure_json(refusal.failure)},
        {"errors", json::array{text(refusal.failure.message)}},
        {"request_id", text(request_id)},
    };
}

unsigned http_status(const backup::BackupReport& report, bool vault_requested) {
    if (report.error && report.error->configuration) {
        // The function's own setup (its role, bucket, table or secret) is wrong, not the request:
        // a missing secret must not read as "no such vault".
        return 500;
    }
    if (report.error && report.error->kind == ErrorKind::not_found && vault_requested) {
        return 404;
    }
    if (const auto retryable = report.retryable_failure()) {
        return retryable->kind == ErrorKind::busy ? 409 : 503;
    }
    return 200;
}

json::value wrap_for_source(EventSource source, unsigned status, json::object body) {
    if (!is_http(source)) {
        return body;
    }
    json::object headers{{"Content-Type", "application/json"}};
    if (status == 503) {
        headers["Retry-After"] = std::to_string(k_retry_after_seconds);
    }
    if (status == 405) {
        headers["Allow"] = "POST";  // RFC 9110 §15.5.6: a 405 says what is allowed
    }
    return json::object{
        {"statusCode", status},
        {"headers", std::move(headers)},
        {"body", json::serialize(body)},
        {"isBase64Encoded", false},
    };
}

std::string to_json_text(const json::value& document) {
    // Plain decimals ("duration": 2.5, not 2.5E0) and valid UTF-8, as in the logs.
    return ::obsync::json::serialize_line(document);
}

std::optional<FunctionError> function_error(const backup::BackupReport& report) {
    const auto failure = report.retryable_failure();
    if (!failure) {
        return std::nullopt;
    }
    return FunctionError{"Obsync.Retryable." + std::string(to_string(failure->kind)),
                         display_message(failure->message)};
}

}  // namespace obsync::lambda
