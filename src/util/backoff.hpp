#pragma once

#include <chrono>
#include <random>

namespace obsync {

// Capped exponential backoff with jitter, the one rule every retry loop uses (architecture:
// "retry what is retryable with capped, jittered backoff").
//
// Attempt n (from 0) has the ceiling min(cap, base * 2^n); the delay is drawn uniformly from
// [floor * ceiling, ceiling]. floor = 0 is "full jitter", which spreads concurrent clients best;
// a floor above 0 keeps a minimum pause for callers that retry against one server of their own.
struct BackoffPolicy {
    std::chrono::milliseconds base{100};
    std::chrono::milliseconds cap{10'000};
    double floor = 0.0;  // in [0, 1]: the smallest delay as a share of the ceiling
};

// min(cap, base * 2^attempt), without overflow for any attempt (negative counts as 0).
std::chrono::milliseconds backoff_ceiling(const BackoffPolicy& policy, int attempt);

// The delay before retry `attempt`, drawn with `rng`.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        std::mt19937_64& rng);

// The same with a per-thread generator seeded from std::random_device.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt);

}  // namespace obsync
