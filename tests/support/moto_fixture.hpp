#pragma once

// The one way AWS tests get their moto_server: started once per test suite, emptied before
// every test (no buckets, tables or secrets; signature checks off), and this process's AWS_*
// variables pointing at it, so an AwsClient made from the environment reaches it.

#include <memory>

#include <gtest/gtest.h>

#include "support/moto_server.hpp"

namespace obsync::test {

// The moto_server of the running suite, for fixtures that cannot derive from MotoTest (the
// StateStoreContract backends, helpers that read what landed in moto).
class SuiteMoto {
public:
    static void start() { s_server = std::make_unique<MotoServer>(); }
    static void stop() { s_server.reset(); }
    static MotoServer& server() { return *s_server; }
    // Empty moto, checks off, AWS_* of this process set for it.
    static void fresh() {
        s_server->reset();
        s_server->export_environment();
    }

private:
    static inline std::unique_ptr<MotoServer> s_server;
};

// Base of a gtest fixture whose tests talk to moto. A derived SetUp calls MotoTest::SetUp first.
class MotoTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() { SuiteMoto::start(); }
    static void TearDownTestSuite() { SuiteMoto::stop(); }
    void SetUp() override { SuiteMoto::fresh(); }
    static MotoServer& moto() { return SuiteMoto::server(); }
};

}  // namespace obsync::test
