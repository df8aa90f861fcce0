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

TEST(Clock, Iso8601IsUtcToTheSecond) {
    EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(iso8601_utc(1'700'000'000'999), "2023-11-14T22:13:20Z");
    EXPECT_EQ(iso8601_utc(-1), "1969-12-31T23:59:59Z");
}

TEST(Clock, Iso8601WithMillisecondsKeepsThreeDigits) {
    EXPECT_EQ(iso8601_utc_ms(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(iso8601_utc_ms(1'700'000'000'999), "2023-11-14T22:13:20.999Z");
    EXPECT_EQ(iso8601_utc_ms(1'700'000'000'007), "2023-11-14T22:13:20.007Z");
    EXPECT_EQ(iso8601_utc_ms(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(iso8601_utc_ms(-1000), "1969-12-31T23:59:59.000Z");
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
