#include "util/clock.hpp"

#include <ctime>

#include <gtest/gtest.h>

namespace obsync {
namespace {

TEST(Clock, EpochMsIsTheWallClockInMilliseconds) {
    const std::int64_t before = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
    const std::int64_t now = epoch_ms();
    const std::int64_t after = (static_cast<std::int64_t>(std::time(nullptr)) + 1) * 1000;
    EXPECT_GE(now, before);
    EXPECT_LE(now, after);
}

TEST(Clock, EpochMsNeverGoesBackwardsWithinARun) {
    std::int64_t last = epoch_ms();
    for (int i = 0; i < 1000; ++i) {
        const std::int64_t now = epoch_ms();
        EXPECT_GE(now, last);
        last = now;
    }
}

}  // namespace
}  // namespace obsync
