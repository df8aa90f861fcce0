#include <gtest/gtest.h>

#include "backup/service.hpp"
#include "backup/verify.hpp"

namespace obsync::backup {
namespace {

using namespace std::chrono_literals;

TEST(DeadlineTest, TheDefaultMarginIsThirtySecondsOrAFifth) {
    EXPECT_EQ(default_margin(900s), 30s);
    EXPECT_EQ(default_margin(150s), 30s);
    EXPECT_EQ(default_margin(10s), 2s);
    EXPECT_EQ(default_margin(0s), 0s);
}

TEST(DeadlineTest, WorkStopsAtTheMarginAndPullsAreCutHalfWayToTheEnd) {
    const auto end = std::chrono::steady_clock::now() + 100s;
    sync::EngineOptions options;
    end_by(options, end, 20s);
    EXPECT_EQ(end - *options.stop_at, 20s);
    EXPECT_EQ(end - *options.cut_at, 10s);
}

TEST(DeadlineTest, AVerifyStopsAtTheMarginAndItsSessionsAreCutHalfWayToTheEnd) {
    const auto end = std::chrono::steady_clock::now() + 100s;
    VerifyRequest request;
    end_by(request, end, 20s);
    EXPECT_EQ(end - *request.stop_at, 20s);
    EXPECT_EQ(end - *request.cut_at, 10s);
}

}  // namespace
}  // namespace obsync::backup
