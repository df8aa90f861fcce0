#include "lambda/work_policy.hpp"

#include <algorithm>

namespace obsync::lambda {

namespace {

MessageDecision failed(const SyncEvent& message, const backup::Failure& failure) {
    if (failure.kind == ErrorKind::busy) {
        return wait_for(message, failure);
    }
    MessageDecision d;
    d.failure = failure;
    if (is_retryable(failure.kind)) {
        d.fate = MessageFate::retry;
    } else {
        d.fate = MessageFate::park;
    }
    return d;
}

}  // namespace

std::string_view to_string(MessageFate fate) noexcept {
    switch (fate) {
        case MessageFate::done:
            return "done";
        case MessageFate::retry:
            return "retry";
        case MessageFate::wait:
            return "wait";
        case MessageFate::park:
            return "park";
        case MessageFate::continue_:
            return "continue";
        case MessageFate::stalled:
            return "stalled";
    }
    return "unknown";
}

bool made_progress(const backup::VaultOutcome& vault, std::int64_t settled_before) {
    return vault.created + vault.updated + vault.deleted > 0 || vault.unchanged > settled_before;
}

MessageDecision wait_for(const SyncEvent& message, backup::Failure why) {
    MessageDecision d;
    if (message.waits >= k_max_waits) {
        d.fate = MessageFate::park;
        why.message += " (waited " + std::to_string(message.waits) + " times)";
        d.failure = std::move(why);
        return d;
    }
    d.fate = MessageFate::wait;
    d.failure = std::move(why);
    d.next = message;
    d.next.source = EventSource::sqs;
    d.next.waits = message.waits + 1;
    return d;
}

MessageDecision decide_message(const SyncEvent& message, const backup::BackupReport& report) {
    if (report.error) {
        return failed(message, *report.error);
    }
    if (report.vaults.empty()) {
        // The service ran no vault and said nothing: treated as a failure to retry, never as done.
        return failed(message, backup::Failure{ErrorKind::unavailable, "no vault ran", false});
    }
    const backup::VaultOutcome& vault = report.vaults.front();
    if (vault.error) {
        return failed(message, *vault.error);
    }
    if (!vault.stopped_early) {
        return MessageDecision{};
    }
    MessageDecision d;
    d.next = message;
    d.next.source = EventSource::sqs;
    d.next.continuation = message.continuation + 1;
    d.next.stalls = made_progress(vault, message.settled) ? 0 : message.stalls + 1;
    d.next.settled = vault.unchanged;
    d.next.waits = 0;
    if (d.next.stalls >= k_max_stalls) {
        d.fate = MessageFate::stalled;
        d.failure = backup::Failure{
            ErrorKind::unavailable,
            "no progress in " + std::to_string(k_max_stalls) + " invocations in a row", false};
    } else if (d.next.continuation > k_max_message_count) {
        d.fate = MessageFate::stalled;
        d.failure = backup::Failure{
            ErrorKind::unavailable,
            "the vault did not finish in " + std::to_string(k_max_message_count) + " invocations",
            false};
    } else {
        d.fate = MessageFate::continue_;
    }
    return d;
}

std::chrono::seconds backoff(std::chrono::seconds base, int n) {
    constexpr std::int64_t k_max = 900;
    std::int64_t delay = std::max<std::int64_t>(base.count(), 1);
    for (int i = 1; i < n && delay < k_max; ++i) {
        delay *= 2;
    }
    return std::chrono::seconds(std::min(delay, k_max));
}

}  // namespace obsync::lambda
