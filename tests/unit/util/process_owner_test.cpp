#include "util/process_owner.hpp"

#include <array>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace obsync {
namespace {

std::string host() {
    std::array<char, 256> name{};
    ::gethostname(name.data(), name.size() - 1);
    return name.data();
}

// A pid that existed and is gone: a child that exited and was reaped.
pid_t dead_pid() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::_exit(0);
    }
    ::waitpid(pid, nullptr, 0);
    return pid;
}

TEST(ProcessOwner, ARunOwnerIsHostPidAndSixteenHexDigits) {
    const std::string owner = unique_run_owner();
    const std::string process = host() + ":" + std::to_string(::getpid()) + ":";
    ASSERT_EQ(owner.rfind(process, 0), 0U) << owner;
    const std::string random = owner.substr(process.size());
    EXPECT_EQ(random.size(), 16U);
    EXPECT_EQ(random.find_first_not_of("0123456789abcdef"), std::string::npos) << random;
}

TEST(ProcessOwner, EveryRunOfOneProcessHasItsOwnOwner) {
    EXPECT_NE(unique_run_owner(), unique_run_owner());
}

TEST(ProcessOwner, ALiveProcessIsNotDeadInEitherFormat) {
    EXPECT_FALSE(is_dead_local_owner(local_process_owner()));
    EXPECT_FALSE(is_dead_local_owner(unique_run_owner()));
}

TEST(ProcessOwner, AGoneProcessOfThisHostIsDeadInEitherFormat) {
    const std::string process = host() + ":" + std::to_string(dead_pid());
    EXPECT_TRUE(is_dead_local_owner(process));
    EXPECT_TRUE(is_dead_local_owner(process + ":0123456789abcdef"));
}

TEST(ProcessOwner, AnotherHostOrAnotherFormatIsNeverDead) {
    const std::string pid = std::to_string(dead_pid());
    EXPECT_FALSE(is_dead_local_owner("elsewhere.example:" + pid));
    EXPECT_FALSE(is_dead_local_owner("elsewhere.example:" + pid + ":0123456789abcdef"));
    EXPECT_FALSE(is_dead_local_owner(host() + ":" + pid + ":not-random"));
    EXPECT_FALSE(is_dead_local_owner(host()));
    EXPECT_FALSE(is_dead_local_owner("test-owner"));
    EXPECT_FALSE(is_dead_local_owner(""));
}

}  // namespace
}  // namespace obsync
