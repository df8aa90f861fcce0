// The queue's side of the function (docs/lambda.md, "Scale out"): a request for every vault
// dispatched as one message per vault, and the SQS batches of the event source mapping, each
// message one vault (or one account to dispatch), answered with a partial batch response.

#include <algorithm>
#include <random>

#include <boost/json.hpp>

#include "aws/client.hpp"
#include "aws/secrets_manager.hpp"
#include "aws/sqs.hpp"
#include "lambda/emf.hpp"
#include "lambda/function.hpp"
#include "lambda/sqs_event.hpp"
#include "lambda/work_policy.hpp"
#include "state/account_slots.hpp"
#include "sync/deadline.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"
#include "util/run_coro.hpp"

namespace obsync::lambda {

namespace asio = boost::asio;
namespace json = boost::json;
using std::chrono::milliseconds;

namespace {

backup::Failure prefixed(const std::string& who, const backup::Failure& failure) {
    backup::Failure out = failure;
    out.message = who + ": " + failure.message;
    return out;
}

// The worst of the failures for the answer: a retryable one makes a retry worthwhile.
std::optional<backup::Failure> retryable_of(const std::vector<backup::Failure>& failures) {
    for (const backup::Failure& f : failures) {
        if (is_retryable(f.kind)) {
            return f;
        }
    }
    return std::nullopt;
}

// The message of a vault (or, without `vault`, of an account) carrying what the request
// chose besides the account: its sync type, destination and mode (`encrypted`, resolved: the
// vault keeps the mode it was dispatched with, whatever OBSYNC_ENCRYPTED says when its message
// runs), never credentials.
SyncEvent message_for(const SyncEvent& request, const AccountRef& ref,
                      std::optional<std::string> vault, bool encrypted) {
    SyncEvent m;
    m.source = EventSource::sqs;
    m.vault = std::move(vault);
    if (!ref.own()) {
        m.secret_id = ref.secret_id;
    }
    m.sync_type = request.sync_type;
    m.dest_bucket = request.dest_bucket;
    m.dest_prefix = request.dest_prefix;
    m.encrypted = encrypted;
    return m;
}

}  // namespace

aws::SqsBatchResult Function::send_entries(const std::string& queue_url,
                                           std::vector<aws::SqsBatchEntry> entries) {
    aws::SqsBatchResult all;
    for (std::size_t first = 0; first < entries.size(); first += aws::Sqs::k_max_batch_entries) {
        const std::size_t last = std::min(entries.size(), first + aws::Sqs::k_max_batch_entries);
        std::vector<aws::SqsBatchEntry> chunk(entries.begin() + static_cast<std::ptrdiff_t>(first),
                                              entries.begin() + static_cast<std::ptrdiff_t>(last));
        try {
            aws::SqsBatchResult sent;
            run_coro(m_io, [&]() -> asio::awaitable<void> {
                sent = co_await m_sqs->send_message_batch(queue_url, std::move(chunk));
            }());
            all.sent.insert(all.sent.end(), sent.sent.begin(), sent.sent.end());
            all.failed.insert(all.failed.end(), sent.failed.begin(), sent.failed.end());
        } catch (const Error& e) {
            // This call and the ones after it sent nothing: each entry is a failure of its own.
            const backup::Failure failure = backup::failure_of(e);
            for (std::size_t i = first; i < entries.size(); ++i) {
                all.failed.push_back({entries[i].id, std::string(to_string(failure.kind)),
                                      failure.message, !is_retryable(failure.kind)});
            }
            m_log.warning("SQS refused a batch of messages",
                          {{"error_kind", std::string(to_string(failure.kind))},
                           {"error", failure.message},
                           {"unsent", entries.size() - first}});
            break;
        }
    }
    return all;
}

namespace {

// A message SQS did not take, as a failure of the dispatch: retryable unless SQS said the
// message itself is at fault.
backup::Failure unsent(const std::string& what, const aws::SqsBatchFailure& failed) {
    return backup::Failure{failed.sender_fault ? ErrorKind::bad_input : ErrorKind::unavailable,
                           what + ": its message was not queued (" + failed.code + ")", false};
}

}  // namespace

Function::Dispatched Function::queue_vaults(const SyncEvent& event, const AccountRef& ref,
                                            const std::string& queue_url) {
    Dispatched out;
    std::vector<obsidian::VaultInfo> vaults;
    try {
        mask_account(ref);
        vaults = account_of(ref).vaults().second;
        mask_account(ref);
    } catch (const Error& e) {
        out.errors.push_back(prefixed("account " + ref.key(), backup::failure_of(e)));
        return out;
    }
    out.listed = true;
    std::vector<aws::SqsBatchEntry> entries;
    for (std::size_t i = 0; i < vaults.size(); ++i) {
        out.vault_folders.insert(vaults[i].name);
        out.vault_folders.insert(vaults[i].id);
        entries.push_back(
            {"v" + std::to_string(i),
             encode_message(message_for(event, ref, vaults[i].id, encrypted_mode(event)))});
    }
    const aws::SqsBatchResult sent = send_entries(queue_url, std::move(entries));
    for (const auto& [id, message_id] : sent.sent) {
        const obsidian::VaultInfo& vault = vaults.at(std::stoul(id.substr(1)));
        json::object item{{"vault_id", vault.id}, {"name", vault.name}};
        if (!ref.own()) {
            item["account"] = ref.folder;
        }
        out.queued.push_back(std::move(item));
        ++out.vaults;
    }
    for (const aws::SqsBatchFailure& failed : sent.failed) {
        out.errors.push_back(unsent(vaults.at(std::stoul(failed.id.substr(1))).name, failed));
    }
    return out;
}

Function::Dispatched Function::queue_accounts(const SyncEvent& event, const std::string& queue_url,
                                              const std::set<std::string>& taken) {
    Dispatched out;
    std::vector<aws::SecretListEntry> secrets;
    try {
        run_coro(m_io, [&]() -> asio::awaitable<void> {
            secrets = co_await aws::list_secret_names(*m_aws, m_config.allowed_secret_prefix);
        }());
    } catch (const Error& e) {
        out.errors.push_back(prefixed("ListSecrets", backup::failure_of(e)));
        return out;
    }
    std::vector<aws::SqsBatchEntry> entries;
    std::vector<AccountRef> refs;
    for (const aws::SecretListEntry& secret : secrets) {
        if (secret.name == m_config.secret_id || secret.arn == m_config.secret_id) {
            continue;  // the own account, dispatched as such
        }
        const auto resolved =
            resolve_account(secret.name, m_config.allowed_secret_prefix, m_config.secret_id);
        if (const auto* why = std::get_if<std::string>(&resolved)) {
            m_log.error("a secret under ALLOWED_SECRET_PREFIX is not usable as an account",
                        {{"secret_id", secret.name}, {"error", *why}});
            out.errors.push_back(
                backup::Failure{ErrorKind::config, "secret " + secret.name + ": " + *why, true});
            continue;
        }
        const AccountRef& account = std::get<AccountRef>(resolved);
        if (taken.contains(account.folder)) {
            // <prefix>/<folder>/ is the own account's vault of that name: the two backups would
            // nest. The secret is configuration and easy to rename; the vault is the user's.
            const std::string why = "secret " + secret.name + ": its folder '" + account.folder +
                                    "' is the folder of a vault of the function's own account; "
                                    "rename the secret";
            m_log.error("an account's folder is taken", {{"secret_id", secret.name}});
            out.errors.push_back(backup::Failure{ErrorKind::config, why, true});
            continue;
        }
        refs.push_back(account);
        entries.push_back(
            {"a" + std::to_string(refs.size() - 1),
             encode_message(message_for(event, refs.back(), std::nullopt, encrypted_mode(event)))});
    }
    if (entries.empty()) {
        return out;
    }
    const aws::SqsBatchResult sent = send_entries(queue_url, std::move(entries));
    for (const auto& [id, message_id] : sent.sent) {
        const AccountRef& ref = refs.at(std::stoul(id.substr(1)));
        out.queued.push_back(json::object{{"account", ref.folder}, {"secret_id", ref.secret_id}});
        ++out.accounts;
    }
    for (const aws::SqsBatchFailure& failed : sent.failed) {
        out.errors.push_back(
            unsent("account " + refs.at(std::stoul(failed.id.substr(1))).folder, failed));
    }
    return out;
}

Reply Function::dispatch(const SyncEvent& event, const Destination& dest, const AccountRef& ref,
                         const Invocation& invocation) {
    const auto started = std::chrono::steady_clock::now();
    Dispatched all;
    const auto add = [&all](Dispatched part) {
        for (auto& item : part.queued) {
            all.queued.push_back(std::move(item));
        }
        all.vaults += part.vaults;
        all.accounts += part.accounts;
        for (auto& error : part.errors) {
            all.errors.push_back(std::move(error));
        }
    };
    // One account named: its vaults. Otherwise the own account's vaults (when it has one) and,
    // under ALLOWED_SECRET_PREFIX, one message per other account, whose worker lists its vaults
    // (so one invocation never signs in to every account in turn).
    std::set<std::string> own_folders;
    if (!ref.own() || m_has_own_account) {
        Dispatched own = queue_vaults(event, ref, m_config.queue_url);
        if (!own.listed && retryable_of(own.errors)) {
            // The vault list failed for now: a worker tries again, with the queue's retries.
            m_log.warning("the vault list failed: queueing the account instead",
                          {{"account", ref.key()}, {"error", own.errors.front().message}});
            const aws::SqsBatchResult sent = send_entries(
                m_config.queue_url, {{"a", encode_message(message_for(event, ref, std::nullopt,
                                                                      encrypted_mode(event)))}});
            if (sent.failed.empty()) {
                own.errors.clear();
                own.queued.push_back(json::object{{"account", ref.key()}});
                own.accounts = 1;
            } else {
                own.errors.push_back(unsent("account " + ref.key(), sent.failed.front()));
            }
        }
        own_folders = std::move(own.vault_folders);
        add(std::move(own));
    }
    if (ref.own() && !m_config.allowed_secret_prefix.empty()) {
        add(queue_accounts(event, m_config.queue_url, own_folders));
    }
    if (all.vaults + all.accounts > 0) {
        emit_count("MessagesQueued", static_cast<std::int64_t>(all.vaults + all.accounts));
    }

    json::array errors;
    for (const backup::Failure& f : all.errors) {
        errors.push_back(json::string(f.message));
    }
    const auto elapsed =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    json::object body{
        {"success", all.errors.empty()},
        {"dispatched", true},
        {"vaults_queued", all.vaults},
        {"accounts_queued", all.accounts},
        {"queued", std::move(all.queued)},
        {"errors", std::move(errors)},
        {"duration_ms", elapsed.count()},
        {"details", json::object{{"sync_type", to_string(event.sync_type)},
                                 {"encrypted", encrypted_mode(event)},
                                 {"dest_bucket", dest.bucket},
                                 {"dest_prefix", dest.prefix},
                                 {"lambda_memory", m_config.memory_mb}}},
        {"request_id", invocation.request_id},
    };
    const auto retryable = retryable_of(all.errors);
    m_log.log(all.errors.empty() ? LogLevel::info : LogLevel::error, "dispatch finished",
              {{"vaults_queued", all.vaults},
               {"accounts_queued", all.accounts},
               {"errors", all.errors.size()},
               {"retryable", retryable.has_value()},
               {"duration_ms", static_cast<std::int64_t>(elapsed.count())}});
    for (const backup::Failure& f : all.errors) {
        m_log.error("dispatch failed",
                    {{"error_kind", std::string(to_string(f.kind))}, {"error", f.message}});
    }
    const bool configuration = std::any_of(
        all.errors.begin(), all.errors.end(),
        [](const backup::Failure& f) { return f.configuration || f.kind == ErrorKind::config; });
    const auto permanent =
        std::count_if(all.errors.begin(), all.errors.end(),
                      [](const backup::Failure& f) { return !is_retryable(f.kind); });
    if (permanent > 0) {
        emit_count("PermanentFailures", static_cast<std::int64_t>(permanent));
    }
    if (is_http(event.source)) {
        // As for a sync (http_status): 500 when the function's own setup failed (a queue or a
        // secret that does not exist, AWS access denied), 503 when a retry may help.
        const unsigned status = configuration ? 500 : retryable ? 503 : 200;
        return Reply{to_json_text(wrap_for_source(event.source, status, std::move(body))),
                     std::nullopt};
    }
    if (retryable) {
        // Lambda retries an asynchronous invocation (the schedule): what was queued already is
        // queued twice then, which the vault leases make harmless.
        return Reply{"",
                     FunctionError{"Obsync.Retryable." + std::string(to_string(retryable->kind)),
                                   retryable->message}};
    }
    return Reply{to_json_text(wrap_for_source(event.source, 200, std::move(body))), std::nullopt};
}

// ------------------------------------------------------------------------------ SQS batches

Reply Function::handle_batch(const SqsBatch& batch, const Invocation& invocation,
                             const Budget& budget) {
    const auto started = std::chrono::steady_clock::now();
    m_log.info("sqs batch received", {{"records", batch.records.size()}});
    std::vector<std::string> failures;
    std::size_t index = 0;
    for (const SqsRecord& record : batch.records) {
        bool listed = false;
        const auto* message = std::get_if<SyncEvent>(&record.message);
        // Past the point where nothing new starts, the rest waits for another invocation (the
        // first record always runs: a stopped run still checkpoints and continues).
        if (index++ > 0 && message != nullptr &&
            sync::Deadline(budget.end - budget.margin, budget.end - budget.margin / 2).stopping()) {
            listed = wait(record, queue_of(record),
                          wait_for(*message, backup::Failure{ErrorKind::unavailable,
                                                             "the invocation's time was up "
                                                             "before the message's turn",
                                                             false}));
        } else {
            listed = handle_record(record, invocation, budget);
        }
        if (listed) {
            failures.push_back(record.message_id);
        }
    }
    const auto elapsed =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    m_log.info("invocation finished", {{"records", batch.records.size()},
                                       {"batch_item_failures", failures.size()},
                                       {"duration_ms", static_cast<std::int64_t>(elapsed.count())},
                                       {"sign_ins", m_account->sign_ins() + m_accounts.sign_ins()},
                                       {"secret_reads", m_secret_reads},
                                       {"key_derivations", m_keys.derivations()}});
    return Reply{to_json_text(batch_response(failures)), std::nullopt};
}

std::string Function::queue_of(const SqsRecord& record) const {
    try {
        return queue_url_of_arn(record.queue_arn);
    } catch (const Error&) {
        // Not from an event source mapping: what it starts goes to the configured queue, if any.
        return m_config.queue_url;
    }
}

bool Function::handle_record(const SqsRecord& record, const Invocation& invocation,
                             const Budget& budget) {
    const std::string queue_url = queue_of(record);
    if (const auto* refusal = std::get_if<Refusal>(&record.message)) {
        return park(record, refusal->failure);
    }
    const SyncEvent& message = std::get<SyncEvent>(record.message);
    auto checked = check_request(message, request_policy(true));
    if (const auto* refusal = std::get_if<Refusal>(&checked)) {
        return park(record, refusal->failure);
    }
    const auto resolved =
        resolve_account(message.secret_id, m_config.allowed_secret_prefix, m_config.secret_id);
    if (const auto* why = std::get_if<std::string>(&resolved)) {
        return park(record, backup::Failure{ErrorKind::bad_input, *why, false});
    }
    const AccountRef& ref = std::get<AccountRef>(resolved);
    m_log.info("message received", {{"message_id", record.message_id},
                                    {"receive_count", record.receive_count},
                                    {"account", ref.key()},
                                    {"vault_id", message.vault.value_or("")},
                                    {"sync_type", std::string(to_string(message.sync_type))},
                                    {"encrypted", encrypted_mode(message)},
                                    {"continuation", message.continuation},
                                    {"waits", message.waits}});
    if (!message.vault) {
        // An account to dispatch: its vaults go to the queue the message came from.
        if (queue_url.empty()) {
            return park(record, backup::Failure{ErrorKind::config,
                                                "an account message needs a queue to dispatch "
                                                "to (OBSYNC_QUEUE_URL)",
                                                true});
        }
        Dispatched done = queue_vaults(message, ref, queue_url);
        if (done.vaults > 0) {
            emit_count("MessagesQueued", static_cast<std::int64_t>(done.vaults));
        }
        m_log.info("account dispatched", {{"account", ref.key()},
                                          {"vaults_queued", done.vaults},
                                          {"errors", done.errors.size()}});
        if (done.errors.empty()) {
            return false;
        }
        if (const auto retryable = retryable_of(done.errors)) {
            // Whatever was queued already is queued again then: the leases make that harmless.
            m_log.warning("account dispatch failed for now",
                          {{"message_id", record.message_id}, {"error", retryable->message}});
            retry_later(record, queue_url);
            return true;
        }
        return park(record, done.errors.front());
    }
    return run_vault_message(record, message, std::get<Destination>(checked), ref, queue_url,
                             invocation, budget);
}

bool Function::run_vault_message(const SqsRecord& record, const SyncEvent& message,
                                 const Destination& dest, const AccountRef& ref,
                                 const std::string& queue_url, const Invocation& invocation,
                                 const Budget& budget) {
    // At most OBSYNC_ACCOUNT_CONCURRENCY vaults of the account at once: without a free slot the
    // message waits (sent again with a delay).
    std::optional<int> slot;
    const std::string owner = "lambda:" + invocation.request_id + "@" + unique_run_owner();
    if (m_config.account_concurrency > 0) {
        try {
            run_coro(m_io, [&]() -> asio::awaitable<void> {
                slot = co_await m_slots->acquire(ref.key(), m_config.account_concurrency, owner,
                                                 epoch_ms(), invocation.deadline + 5'000);
            }());
        } catch (const Error& e) {
            m_log.warning("the account's slots could not be read",
                          {{"message_id", record.message_id}, {"error", e.what()}});
            retry_later(record, queue_url);
            return true;
        }
        if (!slot) {
            return wait(
                record, queue_url,
                wait_for(message, backup::Failure{ErrorKind::busy,
                                                  "the account's " +
                                                      std::to_string(m_config.account_concurrency) +
                                                      " slot(s) are all taken",
                                                  false}));
        }
        m_log.debug("account slot taken", {{"account", ref.key()}, {"slot", *slot}});
    }

    std::vector<std::string> metrics;
    const backup::BackupReport report =
        run_backup(message, dest, ref, nullptr, invocation, budget, &metrics);
    if (slot) {
        try {
            run_coro(m_io, m_slots->release(ref.key(), *slot, owner));
        } catch (const Error& e) {
            // It expires at the invocation's deadline anyway.
            m_log.warning("an account slot could not be released", {{"error", e.what()}});
        }
    }

    const MessageDecision decision = decide_message(message, report);
    // The vault's metrics count an attempt that ends its part of the round: not one that waits
    // or is retried (a duplicate meeting the lease, a network failure the retry gets past), so
    // that SyncSuccess alarms on what failed, not on what the queue is still working on.
    if (decision.fate != MessageFate::wait && decision.fate != MessageFate::retry) {
        for (const std::string& line : metrics) {
            m_log.write_line(line);
        }
    }
    m_log.log(
        decision.fate == MessageFate::done || decision.fate == MessageFate::continue_
            ? LogLevel::info
            : LogLevel::warning,
        "message finished",
        {{"message_id", record.message_id},
         {"fate", std::string(to_string(decision.fate))},
         {"error_kind", decision.failure ? std::string(to_string(decision.failure->kind)) : ""},
         {"error", decision.failure ? decision.failure->message : ""}});
    switch (decision.fate) {
        case MessageFate::done:
            return false;
        case MessageFate::retry:
            retry_later(record, queue_url);
            return true;
        case MessageFate::wait:
            return wait(record, queue_url, decision);
        case MessageFate::park:
            return park(record, *decision.failure);
        case MessageFate::stalled:
            m_log.error("the vault's continuation stopped",
                        {{"message_id", record.message_id},
                         {"vault_id", message.vault.value_or("")},
                         {"account", ref.key()},
                         {"continuation", message.continuation},
                         {"stalls", decision.next.stalls},
                         {"error", decision.failure ? decision.failure->message : ""}});
            emit_count("ContinuationStalled", 1);
            return false;
        case MessageFate::continue_:
            break;
    }
    try {
        std::string id;
        run_coro(m_io, [&]() -> asio::awaitable<void> {
            id = co_await m_sqs->send_message(queue_url, encode_message(decision.next));
        }());
        emit_count("Continuations", 1);
        m_log.info("continuation queued", {{"message_id", record.message_id},
                                           {"continuation_message_id", id},
                                           {"continuation", decision.next.continuation},
                                           {"stalls", decision.next.stalls}});
        return false;
    } catch (const Error& e) {
        // The message itself returns: a rerun resumes from the checkpoint just the same.
        m_log.warning("the continuation could not be queued: the message returns instead",
                      {{"message_id", record.message_id}, {"error", e.what()}});
        retry_later(record, queue_url);
        return true;
    }
}

bool Function::wait(const SqsRecord& record, const std::string& queue_url,
                    const MessageDecision& decision) {
    if (decision.fate == MessageFate::park) {
        return park(record, *decision.failure);
    }
    // backoff(waits) plus up to as much again at random, so that messages that met the same
    // busy vault or full account do not all come back at the same second.
    thread_local std::minstd_rand random{std::random_device{}()};
    const auto base = backoff(m_config.retry_delay, decision.next.waits).count();
    const int delay = static_cast<int>(std::min<std::int64_t>(
        900, base + static_cast<std::int64_t>(random() % static_cast<unsigned>(base + 1))));
    m_log.info("message waits", {{"message_id", record.message_id},
                                 {"waits", decision.next.waits},
                                 {"delay_s", delay},
                                 {"why", decision.failure ? decision.failure->message : ""}});
    try {
        run_coro(m_io, [&]() -> asio::awaitable<void> {
            (void)co_await m_sqs->send_message(queue_url, encode_message(decision.next), delay);
        }());
        return false;
    } catch (const Error& e) {
        m_log.warning("the message could not be sent again: it returns to the queue",
                      {{"message_id", record.message_id}, {"error", e.what()}});
        retry_later(record, queue_url);
        return true;
    }
}

bool Function::park(const SqsRecord& record, const backup::Failure& failure) {
    m_log.error("message failed for good", {{"message_id", record.message_id},
                                            {"error_kind", std::string(to_string(failure.kind))},
                                            {"error", failure.message},
                                            {"receive_count", record.receive_count}});
    emit_count("PermanentFailures", 1);
    if (m_config.dead_letter_queue_url.empty()) {
        return false;
    }
    try {
        run_coro(m_io, [&]() -> asio::awaitable<void> {
            (void)co_await m_sqs->send_message(m_config.dead_letter_queue_url, record.body);
        }());
        m_log.info("message parked in the dead-letter queue", {{"message_id", record.message_id}});
        return false;
    } catch (const Error& e) {
        m_log.warning("the dead-letter queue refused the message: it returns to its queue",
                      {{"message_id", record.message_id}, {"error", e.what()}});
        retry_later(record, queue_of(record));
        return true;
    }
}

void Function::retry_later(const SqsRecord& record, const std::string& queue_url) {
    if (queue_url.empty() || record.receipt_handle.empty()) {
        return;  // back after the queue's own visibility timeout
    }
    const auto delay = backoff(m_config.retry_delay, record.receive_count);
    try {
        run_coro(m_io, m_sqs->change_message_visibility(queue_url, record.receipt_handle,
                                                        static_cast<int>(delay.count())));
        m_log.info("message back in the queue later",
                   {{"message_id", record.message_id},
                    {"delay_s", static_cast<std::int64_t>(delay.count())}});
    } catch (const Error& e) {
        m_log.warning("the message's visibility could not be changed",
                      {{"message_id", record.message_id}, {"error", e.what()}});
    }
}

}  // namespace obsync::lambda
