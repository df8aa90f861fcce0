#pragma once

// What becomes of one work message of the queue after its vault ran (docs/lambda.md, "Scale
// out"): pure decisions, so that each rule has a unit test.

#include <chrono>
#include <optional>

#include "backup/report.hpp"
#include "lambda/event.hpp"

namespace obsync::lambda {

// A chain that made no progress this many times in a row stops (ContinuationStalled).
inline constexpr int k_max_stalls = 3;
// A message put back to wait this many times (about a day at 900 s) is parked: nothing should
// hold a vault or an account that long.
inline constexpr int k_max_waits = 100;

enum class MessageFate {
    done,       // deleted: the vault is backed up (file failures are retried by the next round)
    retry,      // listed in batchItemFailures, visible again after backoff(receive count)
    wait,       // `next` (waits + 1) sent again with a delay of backoff(next.waits), this one
                // deleted: its receive count stays, so waiting never ends in the DLQ
    park,       // failed for good: logged, counted, parked in the dead-letter queue, deleted
    continue_,  // stopped by the deadline: `next` is sent to the queue, this one deleted
    stalled,    // no progress k_max_stalls times in a row, or k_max_message_count invocations:
                // deleted, alarmed
};

std::string_view to_string(MessageFate fate) noexcept;

struct MessageDecision {
    MessageFate fate = MessageFate::done;
    std::optional<backup::Failure> failure;  // retry, park, stalled; wait: why it waits
    SyncEvent next;                          // continue_, wait: the message to send
};

// The run of one vault message: `report` is the backup service's report for that one vault (a
// report-level error when it never started: sign-in, unknown vault...).
//  - busy (another run holds the vault: a duplicate, or the next round meeting a long chain) →
//    wait_for(message, failure);
//  - another retryable failure → retry; a permanent one → park;
//  - stopped early → continue_, with continuation + 1, and stalls reset by progress, or stalled
//    when k_max_stalls runs in a row made none or the chain reached k_max_message_count;
//  - else done.
MessageDecision decide_message(const SyncEvent& message, const backup::BackupReport& report);

// A message that cannot run now for `why` (busy vault, full account, the invocation's time up):
// wait with waits + 1, or park once it waited k_max_waits times.
MessageDecision wait_for(const SyncEvent& message, backup::Failure why);

// Whether the run moved the vault's backup on: a file created, updated or deleted, or more
// files found already backed up than the previous run of the chain found (`settled_before`; a
// complete sync over an existing backup whose state was lost records them without downloading).
bool made_progress(const backup::VaultOutcome& vault, std::int64_t settled_before);

// How long to wait the n-th time (n >= 1): base * 2^(n - 1), at most 900 s (SQS's longest
// DelaySeconds; a busy vault frees within one invocation of at most 15 minutes).
std::chrono::seconds backoff(std::chrono::seconds base, int n);

}  // namespace obsync::lambda
