#include "util/backoff.hpp"

#include <chrono>
#include <random>

#include <gtest/gtest.h>

namespace obsync {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, CeilingDoublesFromTheBaseUntilTheCap) {
    const BackoffPolicy policy{milliseconds(200), milliseconds(12'800), 0.5};
    EXPECT_EQ(backoff_ceiling(policy, 0), milliseconds(200));
    EXPECT_EQ(backoff_ceiling(policy, 1), milliseconds(400));
    EXPECT_EQ(backoff_ceiling(policy, 6), milliseconds(12'800));
    EXPECT_EQ(backoff_ceiling(policy, 7), milliseconds(12'800));
}

TEST(Backoff, HugeAndNegativeAttemptsNeitherOverflowNorGoBelowTheBase) {
    const BackoffPolicy policy{milliseconds(1'000), milliseconds(20'000), 0.0};
    EXPECT_EQ(backoff_ceiling(policy, 1'000'000), milliseconds(20'000));
    EXPECT_EQ(backoff_ceiling(policy, -3), milliseconds(1'000));
}

TEST(Backoff, EveryDelayLiesBetweenTheFloorAndTheCeiling) {
    std::mt19937_64 rng(7);
    for (const double floor : {0.0, 0.25, 0.5, 1.0}) {
        const BackoffPolicy policy{milliseconds(100), milliseconds(5'000), floor};
        for (int attempt = 0; attempt < 10; ++attempt) {
            const auto ceiling = backoff_ceiling(policy, attempt);
            for (int i = 0; i < 200; ++i) {
                const auto delay = backoff_delay(policy, attempt, rng);
                EXPECT_LE(delay, ceiling);
                EXPECT_GE(delay.count(),
                          static_cast<long>(static_cast<double>(ceiling.count()) * floor));
            }
        }
    }
}

TEST(Backoff, FullJitterSpreadsOverTheWholeRange) {
    std::mt19937_64 rng(11);
    const BackoffPolicy policy{milliseconds(1'000), milliseconds(1'000), 0.0};
    milliseconds lowest = milliseconds::max();
    milliseconds highest = milliseconds::zero();
    for (int i = 0; i < 2'000; ++i) {
        const auto delay = backoff_delay(policy, 0, rng);
        lowest = std::min(lowest, delay);
        highest = std::max(highest, delay);
    }
    EXPECT_LT(lowest, milliseconds(50));
    EXPECT_GT(highest, milliseconds(950));
}

TEST(Backoff, TheSameSeedGivesTheSameDelays) {
    const BackoffPolicy policy{milliseconds(50), milliseconds(2'000), 0.25};
    std::mt19937_64 a(3);
    std::mt19937_64 b(3);
    for (int attempt = 0; attempt < 8; ++attempt) {
        EXPECT_EQ(backoff_delay(policy, attempt, a), backoff_delay(policy, attempt, b));
    }
}

TEST(Backoff, AZeroCapMeansNoPause) {
    const BackoffPolicy policy{milliseconds(100), milliseconds(0), 0.0};
    EXPECT_EQ(backoff_delay(policy, 3), milliseconds(0));
}

}  // namespace
}  // namespace obsync
