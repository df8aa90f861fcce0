#include "lambda/function.hpp"

#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include <boost/json.hpp>

#include "aws/client.hpp"
#include "aws/secrets_manager.hpp"
#include "aws/sqs.hpp"
#include "backup/log_observer.hpp"
#include "backup/service.hpp"
#include "backup/storage.hpp"
#include "lambda/emf.hpp"
#include "lambda/event.hpp"
#include "state/account_slots.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"
#include "util/run_coro.hpp"

namespace obsync::lambda {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// Logs each vault as it starts and ends, and writes its metrics record (or keeps it in `held`,
// for the caller to write once it knows the attempt was the vault's last of the round).
class LambdaObserver final : public backup::LoggingObserver {
public:
    LambdaObserver(Logger& log, const LambdaConfig& config, std::vector<std::string>* held)
        : backup::LoggingObserver(log), m_config(config), m_held(held) {}

    void vault_finished(const obsidian::VaultInfo& vault, const backup::VaultOutcome& outcome,
                        const sync::EngineResult* result) override {
        backup::LoggingObserver::vault_finished(vault, outcome, result);
        const auto dimensions = m_config.vault_metrics ? VaultMetricDimensions::per_vault
                                                       : VaultMetricDimensions::function;
        std::string record =
            vault_metrics(outcome, m_config.function_name, epoch_ms(), dimensions).serialize();
        if (m_held != nullptr) {
            m_held->push_back(std::move(record));
        } else {
            m_log.write_line(record);
        }
    }

private:
    const LambdaConfig& m_config;
    std::vector<std::string>* m_held;
};

// The test hook (OBSYNC_LAMBDA_TEST_HOOKS=1 only): {"obsync_test_fault": "exception" | "abort"}
// makes the handler fail the way a bug would, so the tests can see the runtime survive it. The
// exception's text ends with the event's "obsync_test_detail", if any: the tests put a secret
// there to see the log mask it (it runs before the invocation's own secrets are registered
// again, so the previous invocation's are in force).
void run_test_fault(std::string_view payload) {
    boost::system::error_code ec;
    const auto doc = boost::json::parse(payload, ec);
    if (ec || !doc.is_object()) {
        return;
    }
    const auto* fault = doc.as_object().if_contains("obsync_test_fault");
    if (fault == nullptr || !fault->is_string()) {
        return;
    }
    if (fault->as_string() == "exception") {
        std::string text = "test fault: an exception escaped the handler";
        if (const auto* detail = doc.as_object().if_contains("obsync_test_detail");
            detail != nullptr && detail->is_string()) {
            text += ": " + std::string(detail->as_string());
        }
        throw std::logic_error(text);
    }
    if (fault->as_string() == "abort") {
        std::abort();
    }
}

}  // namespace

Function::Function(asio::io_context& io, LambdaConfig config, Logger& log, const EnvLookup& lookup)
    : m_io(io),
      m_config(std::move(config)),
      m_log(log),
      m_test_hooks(lookup("OBSYNC_LAMBDA_TEST_HOOKS") == "1"),
      m_http(io.get_executor()),
      m_aws(std::make_unique<aws::AwsClient>(io.get_executor(),
                                             aws::AwsEnvironment::from_lookup(lookup))),
      m_accounts(io, m_http, m_config.api_url,
                 [this](const std::string& id) { return read_secret(id); }) {
    backup::Credentials variables = backup::Credentials::from_variables(lookup);
    m_has_own_account = !m_config.secret_id.empty() || variables.can_sign_in();
    if (!m_has_own_account && !m_config.allow_request_credentials &&
        m_config.allowed_secret_prefix.empty()) {
        throw Error(ErrorKind::config,
                    "no Obsidian credentials: set OBSYNC_SECRET_ID (preferred), or "
                    "OBSIDIAN_EMAIL and OBSIDIAN_PASSWORD, or ALLOWED_SECRET_PREFIX (accounts "
                    "named by secret_id), or ALLOW_REQUEST_CREDENTIALS=true");
    }
    if (!m_config.secret_id.empty()) {
        m_credentials = std::make_unique<backup::CachedSecretCredentials>(
            m_config.secret_id, [this](const std::string& id) { return read_secret(id); },
            std::move(variables));
    } else {
        m_credentials = std::make_unique<backup::FixedCredentials>(std::move(variables));
    }
    m_account =
        std::make_unique<backup::Account>(m_io, m_http, m_config.api_url, *m_credentials, m_tokens);
    // The queues' URLs are checked now, so that a typo fails the start, not every dispatch.
    for (const auto& [name, url] :
         {std::pair{"OBSYNC_QUEUE_URL", &m_config.queue_url},
          std::pair{"OBSYNC_DEAD_LETTER_QUEUE_URL", &m_config.dead_letter_queue_url}}) {
        if (url->empty()) {
            continue;
        }
        try {
            (void)aws::sqs_endpoint(m_aws->environment(), *url);
        } catch (const Error& e) {
            throw Error(ErrorKind::config, std::string(name) + ": " + e.what());
        }
    }
    m_sqs = std::make_unique<aws::Sqs>(*m_aws);
    m_slots = std::make_unique<state::AccountSlots>(*m_aws, m_config.state_table);
}

Function::~Function() = default;

std::string Function::read_secret(const std::string& secret_id) {
    ++m_secret_reads;
    m_log.info("reading the credentials secret", {{"secret_id", secret_id}});
    std::string value;
    run_coro(m_io, [&]() -> asio::awaitable<void> {
        value = co_await aws::get_secret_string(*m_aws, secret_id);
    }());
    return value;
}

void Function::mask_secrets(const backup::Credentials& credentials) {
    for (const auto& secret :
         {credentials.password, credentials.totp_secret, credentials.vault_password}) {
        if (secret) {
            m_log.add_secret(*secret);
        }
    }
    for (const auto& [vault, password] : credentials.vault_passwords) {
        m_log.add_secret(password);
    }
    // A keyhash decrypts nothing, but with the account's token it downloads the vault's
    // ciphertext: it belongs in the secret, not in a log.
    if (credentials.vault_keyhash) {
        m_log.add_secret(*credentials.vault_keyhash);
    }
    for (const auto& [vault, keyhash] : credentials.vault_keyhashes) {
        m_log.add_secret(keyhash);
    }
}

void Function::mask_account(const AccountRef& ref) {
    backup::Account& account = account_of(ref);
    try {
        mask_secrets(account.credentials());
    } catch (const Error&) {
    }
    backup::TokenCache* tokens = ref.own() ? &m_tokens : m_accounts.tokens(ref);
    if (tokens != nullptr) {
        if (const auto login = tokens->load()) {
            m_log.add_secret(login->token);
        }
    }
}

backup::StorageOptions Function::storage_options(const Destination& dest,
                                                 const AccountRef& ref) const {
    Destination target = dest;
    if (!ref.folder.empty()) {
        target.prefix += (target.prefix.empty() ? "" : "/") + ref.folder;
    }
    backup::StorageOptions options;
    options.dest = "s3://" + target.bucket + (target.prefix.empty() ? "" : "/" + target.prefix);
    options.state = "dynamodb://" + m_config.state_table;
    options.sse = m_config.sse;
    options.sse_kms_key_id = m_config.sse_kms_key_id;
    options.sync_time = iso8601_utc(epoch_ms());
    return options;
}

bool Function::encrypted_mode(const SyncEvent& event) const {
    return event.encrypted.value_or(m_config.encrypted);
}

RequestPolicy Function::request_policy(bool message) const {
    // A message never carries credentials (decode_message refuses them); the flag only keeps
    // the refusal's wording right should one ever get through.
    return RequestPolicy{m_config.allowed_buckets, !message && m_config.allow_request_credentials,
                         m_config.bucket, m_config.prefix, m_config.encrypted};
}

backup::Account& Function::account_of(const AccountRef& ref) {
    return ref.own() ? *m_account : m_accounts.get(ref);
}

Function::Budget Function::budget_for(Clock::time_point started, milliseconds remaining) {
    milliseconds margin = m_config.margin_for(remaining);
    if (margin > remaining / 2) {
        // An explicit margin this large would stop every invocation before any work: half the
        // time is kept for work instead, and the operator is told.
        m_log.warning("OBSYNC_DEADLINE_MARGIN leaves no time for work: using half the time left",
                      {{"margin_ms", static_cast<std::int64_t>(margin.count())},
                       {"remaining_ms", static_cast<std::int64_t>(remaining.count())}});
        margin = remaining / 2;
    }
    return Budget{started + remaining, margin};
}

Reply Function::refuse(const Refusal& refusal, const Invocation& invocation) {
    m_log.warning("request refused", {{"status", refusal.status},
                                      {"event_source", std::string(to_string(refusal.source))},
                                      {"error", refusal.failure.message}});
    return Reply{to_json_text(wrap_for_source(refusal.source, refusal.status,
                                              refusal_body(refusal, invocation.request_id))),
                 std::nullopt};
}

void Function::emit_count(std::string name, std::int64_t count) {
    m_log.write_line(
        function_count_metric(m_config.function_name, epoch_ms(), std::move(name), count)
            .serialize());
}

Reply Function::handle(const Invocation& invocation, bool cold) {
    const auto started = Clock::now();
    const milliseconds remaining(invocation.deadline - epoch_ms());
    if (cold) {
        m_log.write_line(cold_start_metric(m_config.function_name, epoch_ms()).serialize());
    }
    if (m_test_hooks) {
        run_test_fault(invocation.payload);
    }
    // The logger masks the secrets of this invocation: those of the credentials it uses (the
    // request's, the function's, an account's), registered before the run logs anything. Cleared
    // first, so the list never grows across invocations.
    m_log.clear_secrets();

    auto decoded = decode_event(invocation.payload);
    if (const auto* refusal = std::get_if<Refusal>(&decoded)) {
        if (refusal->source == EventSource::sqs) {
            // Answered, the event source mapping would delete every message of the batch: a
            // function error keeps them (and SQS's redrive ends a batch that always fails).
            m_log.error("SQS event refused as a whole", {{"error", refusal->failure.message}});
            return Reply{"", FunctionError{"Obsync.BadSqsEvent", refusal->failure.message}};
        }
        return refuse(*refusal, invocation);
    }
    const Budget budget = budget_for(started, remaining);
    if (const auto* batch = std::get_if<SqsBatch>(&decoded)) {
        return handle_batch(*batch, invocation, budget);
    }
    return handle_request(std::get<SyncEvent>(decoded), invocation, budget);
}

Reply Function::handle_request(const SyncEvent& event, const Invocation& invocation,
                               const Budget& budget) {
    const auto started = Clock::now();
    auto checked = check_request(event, request_policy(false));
    if (const auto* refusal = std::get_if<Refusal>(&checked)) {
        return refuse(*refusal, invocation);
    }
    const Destination& dest = std::get<Destination>(checked);
    if (event.secret_id && event.has_credentials()) {
        return refuse(Refusal{event.source, 400,
                              backup::Failure{ErrorKind::bad_input,
                                              "field 'secret_id' and credentials in the request "
                                              "exclude each other: name one account"}},
                      invocation);
    }
    const auto resolved =
        resolve_account(event.secret_id, m_config.allowed_secret_prefix, m_config.secret_id);
    if (const auto* why = std::get_if<std::string>(&resolved)) {
        return refuse(Refusal{event.source, 403, backup::Failure{ErrorKind::bad_input, *why}},
                      invocation);
    }
    const AccountRef& ref = std::get<AccountRef>(resolved);
    if (event.dispatch.value_or(false) && (m_config.queue_url.empty() || event.vault)) {
        return refuse(Refusal{event.source, 400,
                              backup::Failure{ErrorKind::bad_input,
                                              m_config.queue_url.empty()
                                                  ? "field 'dispatch' is true but this function "
                                                    "has no queue (OBSYNC_QUEUE_URL)"
                                                  : "field 'dispatch' applies to a request for "
                                                    "every vault, not with 'vault_id'"}},
                      invocation);
    }
    m_log.info(event.action == RequestAction::verify ? "verify requested" : "sync requested",
               {{"event_source", std::string(to_string(event.source))},
                {"action", std::string(to_string(event.action))},
                {"sync_type", std::string(to_string(event.sync_type))},
                {"encrypted", encrypted_mode(event)},
                {"vault_id", event.vault.value_or("")},
                {"account", ref.key()},
                {"dest_bucket", dest.bucket},
                {"dest_prefix", dest.prefix},
                {"remaining_ms",
                 static_cast<std::int64_t>(
                     std::chrono::duration_cast<milliseconds>(budget.end - started).count())}});

    // With a queue, a request for every vault (the schedule) queues one message per vault; the
    // request's own credentials never go into a queue, so such a request syncs inline.
    // A verify is answered in the request, never through the queue.
    if (!m_config.queue_url.empty() && !event.vault && !event.has_credentials() &&
        event.action == RequestAction::sync && event.dispatch.value_or(true)) {
        return dispatch(event, dest, ref, invocation);
    }

    // Credentials in a request (only when allowed) stand alone: their token is kept for this
    // invocation only, never in the function's cache, and never mixed with the secret's.
    std::optional<backup::FixedCredentials> request_credentials;
    backup::MemoryTokenCache request_tokens;
    std::optional<backup::Account> request_account;
    if (event.has_credentials()) {
        backup::Credentials c;
        c.email = event.email;
        c.password = event.password;
        c.totp_secret = event.totp_secret;
        c.vault_password = event.vault_password;
        mask_secrets(c);
        request_credentials.emplace(std::move(c));
        request_account.emplace(m_io, m_http, m_config.api_url, *request_credentials,
                                request_tokens);
    }
    if (event.action == RequestAction::verify) {
        Reply reply = handle_verify(event, dest, ref, request_account ? &*request_account : nullptr,
                                    invocation, budget);
        if (const auto login = request_tokens.load()) {
            m_log.add_secret(login->token);
        }
        return reply;
    }
    backup::BackupReport report =
        run_backup(event, dest, ref, request_account ? &*request_account : nullptr, invocation,
                   budget, nullptr);
    if (const auto login = request_tokens.load()) {
        m_log.add_secret(login->token);
    }

    ResponseDetails details;
    details.sync_type = event.sync_type;
    details.encrypted = encrypted_mode(event);
    details.dest_bucket = dest.bucket;
    details.dest_prefix = dest.prefix;
    details.lambda_memory_mb = m_config.memory_mb;
    details.request_id = invocation.request_id;
    boost::json::object body = response_body(report, details);
    const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    m_log.info("invocation finished", {{"success", report.ok()},
                                       {"partial", report.stopped_early()},
                                       {"vaults", report.vaults.size()},
                                       {"duration_ms", static_cast<std::int64_t>(elapsed.count())},
                                       {"sign_ins", m_account->sign_ins() + m_accounts.sign_ins()},
                                       {"secret_reads", m_secret_reads},
                                       {"key_derivations", m_keys.derivations()}});
    if (is_http(event.source)) {
        return Reply{
            to_json_text(wrap_for_source(event.source, http_status(report, event.vault.has_value()),
                                         std::move(body))),
            std::nullopt};
    }
    if (auto error = function_error(report)) {
        return Reply{"", std::move(error)};
    }
    return Reply{to_json_text(wrap_for_source(event.source, 200, std::move(body))), std::nullopt};
}

backup::BackupReport Function::run_backup(const SyncEvent& event, const Destination& dest,
                                          const AccountRef& ref, backup::Account* request_account,
                                          const Invocation& invocation, const Budget& budget,
                                          std::vector<std::string>* held_metrics) {
    backup::Account& account = request_account != nullptr ? *request_account : account_of(ref);
    if (request_account == nullptr) {
        mask_account(ref);
    }
    backup::BackupRequest request;
    request.vault = event.vault;
    request.folder_per_vault = true;
    request.encrypted = encrypted_mode(event);
    request.engine.full = event.sync_type == SyncType::complete;
    request.engine.concurrency = m_config.concurrency;
    // Unique per invocation: two execution environments can share a host name and a pid.
    // Lambda reuses a request id for its retries of an event, and may deliver an event twice:
    // the random part keeps two runs apart even then.
    request.engine.lease_owner = "lambda:" + invocation.request_id + "@" + unique_run_owner();
    request.engine.lease_ttl = m_config.lease_ttl;
    backup::end_by(request.engine, budget.end, budget.margin);

    // AWS retries (throttling, 5xx) stop in time to answer: a retry that would end in the last
    // quarter of the margin is not made.
    m_aws->set_retry_deadline(budget.end - budget.margin / 4);
    backup::BackupReport report;
    try {
        backup::Storage storage(m_io, storage_options(dest, ref), m_aws.get());
        LambdaObserver observer(m_log, m_config, held_metrics);
        backup::BackupService service(m_io, m_http, account, m_keys);
        report = service.run(request, storage, observer);
    } catch (const Error& e) {
        report.error = backup::failure_of(e);
    }
    m_aws->set_retry_deadline(std::nullopt);
    if (report.error) {
        const bool retryable = is_retryable(report.error->kind);
        m_log.log(retryable ? LogLevel::warning : LogLevel::error, "sync failed before any vault",
                  {{"error_kind", std::string(to_string(report.error->kind))},
                   {"error", report.error->message},
                   {"retryable", retryable}});
    }
    // Tokens the run signed in for are masked too (from the caches: no network here).
    if (request_account == nullptr) {
        mask_account(ref);
    }
    return report;
}

}  // namespace obsync::lambda
