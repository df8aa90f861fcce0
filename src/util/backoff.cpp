#include "util/backoff.hpp"

#include <algorithm>
#include <cstdint>

namespace obsync {

std::chrono::milliseconds backoff_ceiling(const BackoffPolicy& policy, int attempt) {
    // 2^20 times any sane base is past every cap; stopping there keeps the shift from overflowing.
    const int doublings = std::clamp(attempt, 0, 20);
    const std::int64_t base = std::max<std::int64_t>(policy.base.count(), 0);
    const std::int64_t cap = std::max<std::int64_t>(policy.cap.count(), 0);
    return std::chrono::milliseconds(std::min(cap, base << doublings));
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt,
                                        std::mt19937_64& rng) {
    const std::int64_t ceiling = backoff_ceiling(policy, attempt).count();
    const double floor = std::clamp(policy.floor, 0.0, 1.0);
    const auto lowest = static_cast<std::int64_t>(static_cast<double>(ceiling) * floor);
    std::uniform_int_distribution<std::int64_t> pick(lowest, ceiling);
    return std::chrono::milliseconds(pick(rng));
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return backoff_delay(policy, attempt, rng);
}

}  // namespace obsync
