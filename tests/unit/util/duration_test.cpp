#include "util/duration.hpp"

#include <gtest/gtest.h>

namespace obsync {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ABareNumberIsSeconds) {
    EXPECT_EQ(parse_duration("90"), milliseconds(90'000));
}

TEST(DurationTest, UnitsAddUpFromLargestToSmallest) {
    EXPECT_EQ(parse_duration("10m"), milliseconds(600'000));
    EXPECT_EQ(parse_duration("2h"), milliseconds(7'200'000));
    EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
    EXPECT_EQ(parse_duration("1m30s"), milliseconds(90'000));
    EXPECT_EQ(parse_duration("0s"), milliseconds(0));
}

TEST(DurationTest, AnythingElseIsRefused) {
    for (const char* bad : {"", "m", "-5", "1.5m", "10x", "5m10", "30s1m", "1m1m", "10 m", "s10",
                            "99999999999999999999"}) {
        EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
    }
}

TEST(DurationTest, MoreThanThirtyDaysIsRefused) {
    EXPECT_TRUE(parse_duration("720h").has_value());
    EXPECT_FALSE(parse_duration("721h").has_value());
}

}  // namespace
}  // namespace obsync
