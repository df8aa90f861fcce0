// BackupReport's summaries, which decide success, "partial" and retries in both faces.
#include "backup/report.hpp"

#include <gtest/gtest.h>

namespace obsync::backup {
namespace {

VaultOutcome vault(std::string name) {
    VaultOutcome v;
    v.id = name + "-id";
    v.name = std::move(name);
    return v;
}

TEST(BackupReport, IsOkWhenEveryVaultIsOkIncludingNone) {
    BackupReport report;
    EXPECT_TRUE(report.ok());
    report.vaults = {vault("a"), vault("b")};
    EXPECT_TRUE(report.ok());
    report.vaults[1].failures.push_back({"x.md", 1, {ErrorKind::crypto, "bad tag"}});
    EXPECT_FALSE(report.ok());
    report.vaults[1].failures.clear();
    report.vaults[1].refused = 1;
    EXPECT_FALSE(report.ok());
    report.vaults[1].refused = 0;
    report.vaults[0].error = Failure{ErrorKind::auth, "wrong vault password"};
    EXPECT_FALSE(report.ok());
}

TEST(BackupReport, AReportLevelErrorIsNotOk) {
    BackupReport report;
    report.error = Failure{ErrorKind::auth, "sign-in failed"};
    EXPECT_FALSE(report.ok());
}

TEST(BackupReport, AVaultStoppedEarlyIsStillOk) {
    BackupReport report;
    report.vaults = {vault("a"), vault("b")};
    EXPECT_FALSE(report.stopped_early());
    report.vaults[1].stopped_early = true;
    report.vaults[1].not_attempted = 10;
    EXPECT_TRUE(report.stopped_early());
    EXPECT_TRUE(report.ok());
}

TEST(BackupReport, RetryableFailureIsAReportErrorOnlyWhenRetryable) {
    BackupReport report;
    EXPECT_FALSE(report.retryable_failure());
    report.error = Failure{ErrorKind::throttled, "slow down"};
    ASSERT_TRUE(report.retryable_failure());
    EXPECT_EQ(report.retryable_failure()->kind, ErrorKind::throttled);
    EXPECT_EQ(report.retryable_failure()->message, "slow down");
    report.error = Failure{ErrorKind::auth, "wrong password"};
    EXPECT_FALSE(report.retryable_failure());
}

TEST(BackupReport, RetryableFailureNamesTheFirstVaultWithARetryableError) {
    BackupReport report;
    report.vaults = {vault("a"), vault("b"), vault("c")};
    report.vaults[0].error = Failure{ErrorKind::crypto, "wrong vault password"};
    report.vaults[0].failures.push_back({"x.md", 1, {ErrorKind::network, "reset"}});
    EXPECT_FALSE(report.retryable_failure());  // file failures and permanent errors: no retry
    report.vaults[1].error = Failure{ErrorKind::busy, "another run holds the vault"};
    report.vaults[2].error = Failure{ErrorKind::network, "reset"};
    const auto failure = report.retryable_failure();
    ASSERT_TRUE(failure);
    EXPECT_EQ(failure->kind, ErrorKind::busy);
    EXPECT_EQ(failure->message, "b: another run holds the vault");
}

}  // namespace
}  // namespace obsync::backup
