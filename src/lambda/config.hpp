#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/log.hpp"

namespace obsync::lambda {

// The function's settings, read once at start from its environment (the contract's
// "Environment"). Every problem is Error{config} whose message names the variable. None of these
// variables holds a secret (credentials come from the secret OBSYNC_SECRET_ID names, or from the
// OBSIDIAN_* variables, read by the backup service), so a message may quote the bad value.
//
// An unset variable and an empty one are the same (util/env.hpp), so `S3_PREFIX=` in a template
// means "no prefix".
struct LambdaConfig {
    using Lookup = std::function<std::optional<std::string>(const char*)>;

    static constexpr int k_default_concurrency = 4;
    static constexpr int k_max_concurrency = 16;
    static constexpr std::chrono::milliseconds k_default_deadline_margin{30'000};
    static constexpr std::chrono::seconds k_default_lease_ttl{120};

    std::string api_url = "https://api.obsidian.md";  // OBSIDIAN_API_URL, checked as a URL
    std::string secret_id;    // OBSYNC_SECRET_ID; empty: the OBSIDIAN_* variables
    std::string state_table;  // STATE_TABLE_NAME (required)
    std::string bucket;       // S3_BUCKET (required, a valid bucket name)
    std::string prefix;       // S3_PREFIX without leading or trailing '/'; may be empty
    int concurrency = k_default_concurrency;  // OBSYNC_CONCURRENCY, 1..16
    std::string sse;                          // OBSYNC_SSE: "", "AES256" or "aws:kms"
    std::string sse_kms_key_id;               // OBSYNC_SSE_KMS_KEY_ID, only with aws:kms
    // ALLOWED_BUCKETS (comma list, blanks trimmed, empty items skipped), always with `bucket`;
    // sorted, without duplicates.
    std::vector<std::string> allowed_buckets;
    bool allow_request_credentials = false;  // ALLOW_REQUEST_CREDENTIALS: true/false/1/0
    // OBSYNC_ENCRYPTED (true/false, default false): back up each vault's ciphertext (the
    // encrypted layout, docs/encryption-at-rest.md) instead of decrypting it. On, a request may
    // not turn it off: the operator chose that this function never writes plaintext (and with
    // only keyhashes in the secret it could not decrypt anyway).
    bool encrypted = false;
    // OBSYNC_VAULT_METRICS (true/false, default true): whether each vault's metrics also get a
    // [VaultID, FunctionName] dimension set, one billed custom metric per name and vault.
    bool vault_metrics = true;
    // OBSYNC_DEADLINE_MARGIN in seconds (a decimal such as 2.5 is allowed), > 0 and at most 900.
    std::chrono::milliseconds deadline_margin = k_default_deadline_margin;
    bool deadline_margin_explicit = false;
    LogLevel log_level = LogLevel::info;  // OBSYNC_LOG_LEVEL
    // AWS_LAMBDA_FUNCTION_NAME; "obsync" outside Lambda (local runs, emulators), so metric
    // dimensions are never empty.
    std::string function_name = "obsync";
    int memory_mb = 0;  // AWS_LAMBDA_FUNCTION_MEMORY_SIZE; 0 when unknown
    // OBSYNC_LEASE_TTL in whole seconds, 1..86400: how long a vault lease lives without renewal.
    std::chrono::seconds lease_ttl = k_default_lease_ttl;

    // Scale out (docs/lambda.md, "Scale out").
    // OBSYNC_QUEUE_URL: an all-vaults request sends one message per vault here instead of
    // syncing inline. Empty: no dispatch.
    std::string queue_url;
    // OBSYNC_DEAD_LETTER_QUEUE_URL: where a message that failed for good is parked (once).
    std::string dead_letter_queue_url;
    // ALLOWED_SECRET_PREFIX: a request or message may name a secret_id starting with it; an
    // all-vaults dispatch covers every secret under it. Empty: only the function's own account.
    std::string allowed_secret_prefix;
    // OBSYNC_ACCOUNT_CONCURRENCY, 0..1000: at most this many vaults of one account synced at once
    // by SQS workers (0: no limit).
    int account_concurrency = 0;
    // OBSYNC_RETRY_DELAY in whole seconds, 1..900: the first pause of a queue message that waits
    // (busy vault, full account) or is retried (doubled each time, at most 900 s).
    std::chrono::seconds retry_delay{60};

    static LambdaConfig from_environment();
    static LambdaConfig from_lookup(const Lookup& lookup);

    // Whether a request may write to `name` (exact match).
    bool bucket_allowed(std::string_view name) const;

    // How long before the invocation's deadline the sync stops starting work, given the time
    // `remaining` at the start of the invocation. By default min(30 s, remaining / 5), so a short
    // timeout still leaves most of its time for work (and a negative `remaining` gives 0). A
    // margin set explicitly with OBSYNC_DEADLINE_MARGIN is returned as it is, whatever
    // `remaining`: the operator chose it. If it is not below the remaining time, the point where
    // the sync stops starting work has passed before the invocation begins, so it backs up
    // nothing; keep an explicit margin well below the function's timeout.
    std::chrono::milliseconds margin_for(std::chrono::milliseconds remaining) const;
};

}  // namespace obsync::lambda
