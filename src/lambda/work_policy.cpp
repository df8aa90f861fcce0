#include "lambda/work_policy.hpp"

#include <algorithm>

namespace obsync::lambda {

namespace {

MessageDecision failed(const backup::Failure& failure) {
    MessageDecision d;
    d.failure = failure;
    if (failure.kind == ErrorKind::busy) {
        d.fate = MessageFate::retry_later;
    } else if (is_retryable(failure.kind)) {
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
        case MessageFate::retry_later:
            return "retry_later";
        case MessageFate::park:
            return "park";
        case MessageFate::continue_:
            return "continue";
        case MessageFate::stalled:
            return "stalled";
    }
    return "unknown";
}

bool made_progress(const backup::VaultOutcome& vault) {
    return vault.created + vault.updated + vault.deleted > 0;
}

MessageDecision decide_message(const SyncEvent& message, const backup::BackupReport& report) {
    if (report.error) {
        return failed(*report.error);
    }
    if (report.vaults.empty()) {
        // The service ran no vault and said nothing: treated as a failure to retry, never as done.
        return failed(backup::Failure{ErrorKind::unavailable, "no vault ran", false});
    }
    const backup::VaultOutcome& vault = report.vaults.front();
    if (vault.error) {
        return failed(*vault.error);
    }
    if (!vault.stopped_early) {
        return MessageDecision{};
    }
    MessageDecision d;
    d.next = message;
    d.next.source = EventSource::sqs;
    d.next.continuation = message.continuation + 1;
    d.next.stalls = made_progress(vault) ? 0 : message.stalls + 1;
    d.fate = d.next.stalls >= k_max_stalls ? MessageFate::stalled : MessageFate::continue_;
    return d;
}

std::chrono::seconds busy_backoff(std::chrono::seconds base, int receive_count) {
    constexpr std::int64_t k_max = 900;
    std::int64_t delay = std::max<std::int64_t>(base.count(), 1);
    for (int i = 1; i < receive_count && delay < k_max; ++i) {
        delay *= 2;
    }
    return std::chrono::seconds(std::min(delay, k_max));
}

}  // namespace obsync::lambda
