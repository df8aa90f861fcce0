#pragma once

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <gtest/gtest.h>

#include "store.hpp"

namespace obsync::fake::test {

// A fresh data directory and Store per test, removed afterwards.
class FakeServerTest : public ::testing::Test {
protected:
    FakeServerTest()
        : m_dir(std::filesystem::temp_directory_path() /
                ("obsync-fake-server-test-" + random_hex(8))),
          m_store(m_dir / "data") {}

    ~FakeServerTest() override {
        std::error_code ignored;
        std::filesystem::remove_all(m_dir, ignored);
    }

    static boost::json::object parse(const std::string& text) {
        return boost::json::parse(text).as_object();
    }

    Vault make_vault(std::int64_t owner_id, const std::string& name, const std::string& keyhash) {
        Vault vault;
        vault.owner_id = owner_id;
        vault.name = name;
        vault.salt = "salt";
        vault.keyhash = keyhash;
        vault.region = "local";
        return m_store.create_vault(std::move(vault));
    }

    static void write_file(const std::filesystem::path& file, const std::string& content) {
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file, std::ios::binary) << content;
    }

    static std::string read_file(const std::filesystem::path& file) {
        std::ifstream in(file, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

    std::filesystem::path m_dir;
    Store m_store;
};

}  // namespace obsync::fake::test
