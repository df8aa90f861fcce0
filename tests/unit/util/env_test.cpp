#include "util/env.hpp"

#include <cstdlib>

#include <gtest/gtest.h>

namespace obsync {
namespace {

constexpr const char* k_name = "OBSYNC_ENV_VAR_TEST";

class EnvVar : public ::testing::Test {
protected:
    void TearDown() override { ::unsetenv(k_name); }
};

TEST_F(EnvVar, ASetVariableIsItsValue) {
    ::setenv(k_name, "some value", 1);
    EXPECT_EQ(env_var(k_name), "some value");
}

TEST_F(EnvVar, AnUnsetVariableIsNothing) {
    ::unsetenv(k_name);
    EXPECT_EQ(env_var(k_name), std::nullopt);
}

TEST_F(EnvVar, AnEmptyVariableIsNothing) {
    ::setenv(k_name, "", 1);
    EXPECT_EQ(env_var(k_name), std::nullopt);
}

}  // namespace
}  // namespace obsync
