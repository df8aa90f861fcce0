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

enum class MessageFate {
    done,         // deleted: the vault is backed up (file failures are retried by the next round)
    retry,        // listed in batchItemFailures: back after the queue's visibility timeout
    retry_later,  // busy: listed, and visible again after busy_backoff()
    park,         // failed for good: logged, counted, parked in the dead-letter queue, deleted
    continue_,    // stopped by the deadline: `next` is sent to the queue, this one deleted
    stalled,      // stopped without progress k_max_stalls times in a row: deleted, alarmed
};

std::string_view to_string(MessageFate fate) noexcept;

struct MessageDecision {
    MessageFate fate = MessageFate::done;
    std::optional<backup::Failure> failure;  // retry, retry_later, park
    SyncEvent next;                          // continue_: the continuation message
};

// The run of one vault message: `report` is the backup service's report for that one vault (a
// report-level error when it never started: sign-in, unknown vault...).
//  - busy (another run holds the vault, or the account's slots) → retry_later;
//  - another retryable failure → retry; a permanent one → park;
//  - stopped early → continue_, with continuation + 1 and stalls reset by progress (a file
//    created, updated or deleted), or stalled when k_max_stalls runs in a row made none;
//  - else done.
MessageDecision decide_message(const SyncEvent& message, const backup::BackupReport& report);

// Whether the run wrote something: a continuation that does not is a stall.
bool made_progress(const backup::VaultOutcome& vault);

// How long a busy message waits before it is visible again: base * 2^(receive_count - 1), at
// most 900 s (15 minutes: SQS allows 12 hours, but a busy vault frees within one invocation).
std::chrono::seconds busy_backoff(std::chrono::seconds base, int receive_count);

}  // namespace obsync::lambda
