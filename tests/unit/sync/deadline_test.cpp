#include "sync/deadline.hpp"

#include <gtest/gtest.h>

namespace obsync::sync {
namespace {

using Clock = Deadline::Clock;
using std::chrono::milliseconds;

const Clock::time_point t0 = Clock::now();

TEST(Deadline, WithoutOneNothingEverStopsOrIsCut) {
    const Deadline none;
    EXPECT_FALSE(none.stopping(Clock::time_point::max()));
    EXPECT_FALSE(none.cut(Clock::time_point::max()));
    EXPECT_EQ(none.pause(milliseconds(800)), milliseconds(800));
}

TEST(Deadline, StopAtEndsNewWorkAndCutAtEndsTheWorkInFlight) {
    const Deadline deadline(t0 + milliseconds(100), t0 + milliseconds(300));
    EXPECT_FALSE(deadline.stopping(t0 + milliseconds(99)));
    EXPECT_TRUE(deadline.stopping(t0 + milliseconds(100)));
    EXPECT_FALSE(deadline.cut(t0 + milliseconds(299)));
    EXPECT_TRUE(deadline.cut(t0 + milliseconds(300)));
}

TEST(Deadline, WithoutCutAtTheWorkInFlightIsCutAtStopAt) {
    const Deadline deadline(t0 + milliseconds(100), std::nullopt);
    EXPECT_EQ(deadline.cut_at(), t0 + milliseconds(100));
    EXPECT_TRUE(deadline.cut(t0 + milliseconds(100)));
}

TEST(Deadline, ACutAtBeforeStopAtIsStopAt) {
    const Deadline deadline(t0 + milliseconds(100), t0 + milliseconds(50));
    EXPECT_EQ(deadline.cut_at(), t0 + milliseconds(100));
    EXPECT_FALSE(deadline.cut(t0 + milliseconds(60)));
}

TEST(Deadline, ACutAtAloneIsAlsoStopAt) {
    const Deadline deadline(std::nullopt, t0 + milliseconds(100));
    EXPECT_EQ(deadline.stop_at(), t0 + milliseconds(100));
    EXPECT_TRUE(deadline.stopping(t0 + milliseconds(100)));
}

TEST(Deadline, APauseBeforeARetryEndsAtStopAt) {
    const Deadline deadline(t0 + milliseconds(100), t0 + milliseconds(300));
    EXPECT_EQ(deadline.pause(milliseconds(50), t0), milliseconds(50));
    EXPECT_EQ(deadline.pause(milliseconds(800), t0), milliseconds(100));
    EXPECT_EQ(deadline.pause(milliseconds(800), t0 + milliseconds(200)), milliseconds(0));
}

}  // namespace
}  // namespace obsync::sync
