#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>

#include "backup/account.hpp"
#include "backup/credentials.hpp"
#include "backup/key_cache.hpp"
#include "backup/storage.hpp"
#include "backup/token_cache.hpp"
#include "lambda/accounts.hpp"
#include "lambda/config.hpp"
#include "lambda/event.hpp"
#include "lambda/response.hpp"
#include "lambda/runtime_client.hpp"
#include "lambda/work_policy.hpp"
#include "net/http_client.hpp"
#include "util/env.hpp"
#include "util/log.hpp"

namespace obsync::aws {
class AwsClient;
class Sqs;
struct SqsBatchEntry;
struct SqsBatchResult;
}  // namespace obsync::aws

namespace obsync::state {
class AccountSlots;
}

namespace obsync::lambda {

// What the runtime loop posts for one invocation: a response document, or a function error
// (Lambda retries asynchronous invocations that end in one).
struct Reply {
    std::string body;  // the response (JSON text), when not an error
    std::optional<FunctionError> error;
};

// The function: everything that lives from one invocation to the next in a warm execution
// environment (HTTP connections, the AWS client, the Obsidian tokens, the credentials secrets,
// derived vault keys), and the handling of one invocation: decode the event, check it against
// the configuration, back up (inline, or by dispatching one queue message per vault), log, emit
// metrics, answer (docs/lambda.md). The queue's side, dispatch and SQS batches, is in
// queue_work.cpp.
class Function {
public:
    // Throws Error{config} when the AWS environment is incomplete.
    Function(boost::asio::io_context& io, LambdaConfig config, Logger& log,
             const EnvLookup& lookup);
    ~Function();

    // Never throws obsync::Error: failures are answers. Other exceptions are bugs; the runtime
    // loop reports them as a function error and goes on.
    Reply handle(const Invocation& invocation, bool cold);

private:
    using Clock = std::chrono::steady_clock;

    // The invocation's time: it must answer by `end`; from end - margin nothing new starts.
    struct Budget {
        Clock::time_point end;
        std::chrono::milliseconds margin{0};
    };

    // What one account's dispatch queued, and what failed.
    struct Dispatched {
        boost::json::array queued;  // {"vault_id","name"[,"account"]} or {"account","secret_id"}
        std::size_t vaults = 0;
        std::size_t accounts = 0;
        bool listed = false;                  // the account's vault list was read
        std::set<std::string> vault_folders;  // the names and ids of the vaults listed
        std::vector<backup::Failure> errors;  // "<account>: <message>"
    };

    Budget budget_for(Clock::time_point started, std::chrono::milliseconds remaining);
    Reply refuse(const Refusal& refusal, const Invocation& invocation);
    Reply handle_request(const SyncEvent& event, const Invocation& invocation,
                         const Budget& budget);
    // Backs up what `event` asks for (one vault or all) of one account into `dest` (the account's
    // folder added), inline. `request_account`: an account built from the request's credentials.
    // `held_metrics`: where the vaults' metrics records go instead of the log (null: the log).
    backup::BackupReport run_backup(const SyncEvent& event, const Destination& dest,
                                    const AccountRef& ref, backup::Account* request_account,
                                    const Invocation& invocation, const Budget& budget,
                                    std::vector<std::string>* held_metrics);
    // verify_work.cpp: {"action":"verify"} of one vault or all of one account, inline (the AWS
    // retries stop in time as a sync's); logs and writes BackupDrift per vault verified.
    Reply handle_verify(const SyncEvent& event, const Destination& dest, const AccountRef& ref,
                        backup::Account* request_account, const Invocation& invocation,
                        const Budget& budget);
    // Whether a run of `event` keeps the vaults' ciphertext: its "encrypted", else
    // OBSYNC_ENCRYPTED (check_request refused "encrypted": false when that is on).
    bool encrypted_mode(const SyncEvent& event) const;
    // What a request (or, `message`, a work message) may ask for under this configuration.
    RequestPolicy request_policy(bool message) const;
    // StorageOptions of the account's backups under `dest` (S3, the state table, SSE).
    backup::StorageOptions storage_options(const Destination& dest, const AccountRef& ref) const;
    backup::Account& account_of(const AccountRef& ref);
    // Registers the account's credentials and token with the logger (best effort: a secret that
    // cannot be read has nothing to mask).
    void mask_account(const AccountRef& ref);

    // queue_work.cpp
    Reply dispatch(const SyncEvent& event, const Destination& dest, const AccountRef& ref,
                   const Invocation& invocation);
    // Lists the account's vaults and queues one message per vault on `queue_url`; failures are
    // in the result, never thrown.
    Dispatched queue_vaults(const SyncEvent& event, const AccountRef& ref,
                            const std::string& queue_url);
    // Queues one account message per secret under ALLOWED_SECRET_PREFIX (but the own one, and
    // any whose folder is in `taken`: the own account's vault folders).
    Dispatched queue_accounts(const SyncEvent& event, const std::string& queue_url,
                              const std::set<std::string>& taken);
    // Sends `entries` in calls of at most 10; what a call failed on (or a call that failed as a
    // whole, and the calls after it) is in `failed`, never thrown.
    aws::SqsBatchResult send_entries(const std::string& queue_url,
                                     std::vector<aws::SqsBatchEntry> entries);
    // Sends `decision.next` again with a delay (MessageFate::wait); true when that failed and the
    // record goes back to its queue instead.
    bool wait(const SqsRecord& record, const std::string& queue_url,
              const MessageDecision& decision);
    Reply handle_batch(const SqsBatch& batch, const Invocation& invocation, const Budget& budget);
    // One record of a batch; true when it goes in batchItemFailures.
    bool handle_record(const SqsRecord& record, const Invocation& invocation, const Budget& budget);
    bool run_vault_message(const SqsRecord& record, const SyncEvent& message,
                           const Destination& dest, const AccountRef& ref,
                           const std::string& queue_url, const Invocation& invocation,
                           const Budget& budget);
    // Parks a message that failed for good in the dead-letter queue; true when that failed (the
    // message then goes back to its queue instead of being lost).
    bool park(const SqsRecord& record, const backup::Failure& failure);
    // The queue a record came from (its eventSourceARN), else OBSYNC_QUEUE_URL.
    std::string queue_of(const SqsRecord& record) const;
    // A retryable failure: visible again after backoff(receive count) instead of the queue's
    // whole visibility timeout.
    void retry_later(const SqsRecord& record, const std::string& queue_url);
    void emit_count(std::string name, std::int64_t count);

    std::string read_secret(const std::string& secret_id);
    // Registers the credentials' secrets with the logger (it masks them if they reach a record).
    void mask_secrets(const backup::Credentials& credentials);

    boost::asio::io_context& m_io;
    LambdaConfig m_config;
    Logger& m_log;
    bool m_test_hooks = false;
    net::HttpClient m_http;
    std::unique_ptr<aws::AwsClient> m_aws;
    std::unique_ptr<backup::CredentialSource> m_credentials;
    backup::MemoryTokenCache m_tokens;
    std::unique_ptr<backup::Account> m_account;
    bool m_has_own_account = false;  // OBSYNC_SECRET_ID, or OBSIDIAN_EMAIL and OBSIDIAN_PASSWORD
    AccountPool m_accounts;          // accounts under ALLOWED_SECRET_PREFIX
    std::unique_ptr<aws::Sqs> m_sqs;
    std::unique_ptr<state::AccountSlots> m_slots;
    backup::KeyCache m_keys;
    int m_secret_reads = 0;  // logged with each invocation, as are sign-ins and derivations
};

}  // namespace obsync::lambda
