// {"action":"verify"}: the Function's side of obsync verify (docs/lambda.md, "Verify").
#include <chrono>

#include "aws/client.hpp"
#include "backup/verify.hpp"
#include "lambda/emf.hpp"
#include "lambda/function.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"

namespace obsync::lambda {

using std::chrono::milliseconds;

Reply Function::handle_verify(const SyncEvent& event, const Destination& dest,
                              const AccountRef& ref, backup::Account* request_account,
                              const Invocation& invocation, const Budget& budget) {
    backup::Account& account = request_account != nullptr ? *request_account : account_of(ref);
    if (request_account == nullptr) {
        mask_account(ref);
    }
    backup::VerifyRequest request;
    request.vault = event.vault;
    request.folder_per_vault = true;  // as every backup the function makes
    request.deep_percent = event.deep_percent;
    // An encrypted backup's deep share decrypts, which needs the vault password a keyhash-only
    // secret does not hold: skipped then (presence, sizes and encoded hashes are still checked),
    // not a failure of every vault of the schedule's verify.
    request.deep_requires_password = false;
    // Like a sync: nothing new starts once only the margin is left (a large deep sample, or many
    // vaults, may not fit one invocation; what was not checked is reported, not guessed), and a
    // session with the sync server still at work half-way through the margin is cut.
    backup::end_by(request, budget.end, budget.margin);
    // AWS retries (throttling, 5xx) stop in time to answer, as a sync's.
    m_aws->set_retry_deadline(budget.end - budget.margin / 4);
    backup::VerifyReport report;
    try {
        backup::Storage storage(m_io, storage_options(dest, ref), m_aws.get());
        backup::VerifyService service(m_io, m_http, account, m_keys);
        report = service.run(request, storage);
    } catch (const Error& e) {
        report.error = backup::failure_of(e);
    }
    m_aws->set_retry_deadline(std::nullopt);
    if (request_account == nullptr) {
        mask_account(ref);  // tokens the run signed in for
    }

    const auto dimensions =
        m_config.vault_metrics ? VaultMetricDimensions::per_vault : VaultMetricDimensions::function;
    for (const backup::VaultVerification& vault : report.vaults) {
        const auto duration_ms = static_cast<std::int64_t>(vault.duration.count());
        if (vault.error) {
            const bool retryable = is_retryable(vault.error->kind);
            m_log.log(retryable ? LogLevel::warning : LogLevel::error, "verify failed",
                      {{"vault_id", vault.id},
                       {"vault_name", vault.name},
                       {"destination", vault.destination},
                       {"duration_ms", duration_ms},
                       {"error_kind", std::string(to_string(vault.error->kind))},
                       {"error", vault.error->message},
                       {"retryable", retryable}});
            continue;  // nothing measured: no BackupDrift
        }
        if (vault.stopped_early) {
            m_log.warning("verify stopped by the deadline", {{"vault_id", vault.id},
                                                             {"vault_name", vault.name},
                                                             {"duration_ms", duration_ms},
                                                             {"files", vault.files},
                                                             {"checked_deep", vault.checked_deep}});
            continue;  // not fully checked: no BackupDrift (a partial count would understate)
        }
        using archive::DriftKind;
        m_log.log(vault.drift.empty() ? LogLevel::info : LogLevel::warning,
                  vault.drift.empty() ? "backup verified" : "backup differs from the server",
                  {{"vault_id", vault.id},
                   {"vault_name", vault.name},
                   {"destination", vault.destination},
                   {"duration_ms", duration_ms},
                   {"files", vault.files},
                   {"checked_deep", vault.checked_deep},
                   {"heads", vault.heads},
                   {"drift", vault.drift.size()},
                   {"missing", vault.count(DriftKind::missing)},
                   {"extra", vault.count(DriftKind::extra)},
                   {"stale", vault.count(DriftKind::stale)},
                   {"corrupt", vault.count(DriftKind::corrupt)},
                   {"pending", vault.pending()},
                   {"refused", vault.refused}});
        m_log.write_line(drift_metric(vault.id, static_cast<std::int64_t>(vault.drift.size()),
                                      vault.pending(), m_config.function_name, epoch_ms(),
                                      dimensions)
                             .serialize());
    }
    if (report.error) {
        const bool retryable = is_retryable(report.error->kind);
        m_log.log(retryable ? LogLevel::warning : LogLevel::error, "verify failed before any vault",
                  {{"error_kind", std::string(to_string(report.error->kind))},
                   {"error", report.error->message},
                   {"retryable", retryable}});
    }

    ResponseDetails details;
    // The request's mode (the layout verified is each vault folder's own, from its manifest).
    details.encrypted = encrypted_mode(event);
    details.dest_bucket = dest.bucket;
    details.dest_prefix = dest.prefix;
    details.lambda_memory_mb = m_config.memory_mb;
    details.request_id = invocation.request_id;
    boost::json::object body = verify_response_body(report, details);
    const backup::BackupReport failures = failures_of(report);
    m_log.info("invocation finished",
               {{"success", report.ok()},
                {"action", "verify"},
                {"vaults", report.vaults.size()},
                {"duration_ms", static_cast<std::int64_t>(report.duration.count())}});
    if (is_http(event.source)) {
        return Reply{
            to_json_text(wrap_for_source(
                event.source, http_status(failures, event.vault.has_value()), std::move(body))),
            std::nullopt};
    }
    if (auto error = function_error(failures)) {
        return Reply{"", std::move(error)};
    }
    return Reply{to_json_text(wrap_for_source(event.source, 200, std::move(body))), std::nullopt};
}

}  // namespace obsync::lambda
