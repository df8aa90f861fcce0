#include "util/error.hpp"

#include <gtest/gtest.h>

namespace obsync {
namespace {

// One test per rule of util/error.hpp's two classifiers.

TEST(ErrorClassifier, NetworkFailuresAreRetryableAndRetryTheFile) {
    EXPECT_TRUE(is_retryable(ErrorKind::network));
    EXPECT_EQ(on_step_failure(ErrorKind::network), StepFailure::retry);
}

TEST(ErrorClassifier, ThrottlingIsRetryableAndRetriesTheFile) {
    EXPECT_TRUE(is_retryable(ErrorKind::throttled));
    EXPECT_EQ(on_step_failure(ErrorKind::throttled), StepFailure::retry);
}

TEST(ErrorClassifier, AProtocolErrorRetriesTheFileOnANewSessionButNotTheRun) {
    EXPECT_EQ(on_step_failure(ErrorKind::protocol), StepFailure::retry);
    EXPECT_FALSE(is_retryable(ErrorKind::protocol));
}

TEST(ErrorClassifier, AServiceThatStaysDownStopsTheRunAndALaterRunMaySucceed) {
    EXPECT_EQ(on_step_failure(ErrorKind::unavailable), StepFailure::stop);
    EXPECT_TRUE(is_retryable(ErrorKind::unavailable));
}

TEST(ErrorClassifier, AVaultBusyWithAnotherRunStopsTheRunAndALaterRunMaySucceed) {
    EXPECT_EQ(on_step_failure(ErrorKind::busy), StepFailure::stop);
    EXPECT_TRUE(is_retryable(ErrorKind::busy));
}

TEST(ErrorClassifier, ARejectedAccountOrTokenStopsTheRunForGood) {
    EXPECT_EQ(on_step_failure(ErrorKind::auth), StepFailure::stop);
    EXPECT_FALSE(is_retryable(ErrorKind::auth));
}

TEST(ErrorClassifier, AnAwsRefusalStopsTheRunForGood) {
    EXPECT_EQ(on_step_failure(ErrorKind::denied), StepFailure::stop);
    EXPECT_FALSE(is_retryable(ErrorKind::denied));
}

TEST(ErrorClassifier, ATwoFactorProblemIsPermanentAndFailsOnlyThatFile) {
    EXPECT_FALSE(is_retryable(ErrorKind::mfa));
    EXPECT_EQ(on_step_failure(ErrorKind::mfa), StepFailure::fail);
}

TEST(ErrorClassifier, AWrongVaultPasswordOrBadContentIsPermanentAndFailsOnlyThatFile) {
    EXPECT_FALSE(is_retryable(ErrorKind::crypto));
    EXPECT_EQ(on_step_failure(ErrorKind::crypto), StepFailure::fail);
}

TEST(ErrorClassifier, SomethingMissingIsPermanentAndFailsOnlyThatFile) {
    EXPECT_FALSE(is_retryable(ErrorKind::not_found));
    EXPECT_EQ(on_step_failure(ErrorKind::not_found), StepFailure::fail);
}

TEST(ErrorClassifier, AStorageFailureIsPermanentAndFailsOnlyThatFile) {
    EXPECT_FALSE(is_retryable(ErrorKind::storage));
    EXPECT_EQ(on_step_failure(ErrorKind::storage), StepFailure::fail);
}

TEST(ErrorClassifier, AConfigurationErrorIsPermanentAndFailsOnlyThatFile) {
    EXPECT_FALSE(is_retryable(ErrorKind::config));
    EXPECT_EQ(on_step_failure(ErrorKind::config), StepFailure::fail);
}

TEST(ErrorClassifier, ANameTheDestinationCannotHoldIsRefusedForGood) {
    EXPECT_FALSE(is_retryable(ErrorKind::bad_input));
    EXPECT_EQ(on_step_failure(ErrorKind::bad_input), StepFailure::refuse);
}

TEST(ErrorClassifier, AnErrorIsRetryableExactlyWhenItsKindIs) {
    EXPECT_TRUE(Error(ErrorKind::busy, "x").retryable());
    EXPECT_FALSE(Error(ErrorKind::denied, "x").retryable());
}

TEST(ErrorClassifier, EveryKindHasAName) {
    EXPECT_EQ(to_string(ErrorKind::denied), "denied");
    EXPECT_EQ(to_string(ErrorKind::bad_input), "bad_input");
}

}  // namespace
}  // namespace obsync
