#pragma once

#include <chrono>
#include <optional>

namespace obsync::sync {

// The time budget of one run (docs/sync-engine.md, "Deadline"), for a host that ends the process
// at a fixed time (an AWS Lambda timeout) or a job with a budget. Past `stop_at` nothing new
// starts: no session, pull, retry or removal. At `cut_at` the work still in flight on the sync
// server (a connect, the change list, a pull) is abandoned.
//
// `cut_at` is never before `stop_at`: an earlier one, or none, is `stop_at`; a `cut_at` without
// `stop_at` is both. Neither: no deadline, every query answers "not yet".
class Deadline {
public:
    using Clock = std::chrono::steady_clock;

    Deadline() = default;
    Deadline(std::optional<Clock::time_point> stop_at, std::optional<Clock::time_point> cut_at);

    // Past stop_at: no new work.
    bool stopping(Clock::time_point now = Clock::now()) const noexcept {
        return m_stop_at && now >= *m_stop_at;
    }
    // Past cut_at: what is in flight is abandoned.
    bool cut(Clock::time_point now = Clock::now()) const noexcept {
        return m_cut_at && now >= *m_cut_at;
    }
    std::optional<Clock::time_point> stop_at() const noexcept { return m_stop_at; }
    std::optional<Clock::time_point> cut_at() const noexcept { return m_cut_at; }

    // `delay`, shortened to end at stop_at: a pause before a retry must not outlast the run (the
    // retry would not happen anyway).
    Clock::duration pause(Clock::duration delay, Clock::time_point now = Clock::now()) const;

private:
    std::optional<Clock::time_point> m_stop_at;
    std::optional<Clock::time_point> m_cut_at;
};

}  // namespace obsync::sync
