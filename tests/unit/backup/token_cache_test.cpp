#include "backup/token_cache.hpp"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace obsync::backup {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& tag) {
    const fs::path dir =
        fs::temp_directory_path() / ("obsync-token-" + tag + "-" + std::to_string(::getpid()) +
                                     "-" + std::to_string(std::rand()));
    fs::remove_all(dir);
    return dir;
}

// Every token cache keeps the same promises (the contract), whatever keeps the token.
struct MemoryCache {
    std::unique_ptr<TokenCache> make() { return std::make_unique<MemoryTokenCache>(); }
};

struct FileCache {
    fs::path dir = fresh_dir("contract");
    ~FileCache() { fs::remove_all(dir); }
    std::unique_ptr<TokenCache> make() {
        return std::make_unique<FileTokenCache>(dir / "config" / "token.json", nullptr);
    }
};

template <typename T>
class TokenCacheContract : public ::testing::Test {
protected:
    T backend;
};

using Backends = ::testing::Types<MemoryCache, FileCache>;
TYPED_TEST_SUITE(TokenCacheContract, Backends);

TYPED_TEST(TokenCacheContract, IsEmptyAtFirst) {
    EXPECT_FALSE(this->backend.make()->load().has_value());
}

TYPED_TEST(TokenCacheContract, GivesBackWhatWasSaved) {
    auto cache = this->backend.make();
    cache->save({"tok-1", "http://127.0.0.1:1", "a@example.com"});
    const auto login = cache->load();
    ASSERT_TRUE(login.has_value());
    EXPECT_EQ(login->token, "tok-1");
    EXPECT_EQ(login->api_url, "http://127.0.0.1:1");
    EXPECT_EQ(login->email, "a@example.com");
}

TYPED_TEST(TokenCacheContract, ASaveReplacesTheLastOne) {
    auto cache = this->backend.make();
    cache->save({"tok-1", "u", "a@example.com"});
    cache->save({"tok-2", "u", "b@example.com"});
    EXPECT_EQ(cache->load()->token, "tok-2");
    EXPECT_EQ(cache->load()->email, "b@example.com");
}

TYPED_TEST(TokenCacheContract, ForgetLeavesNothing) {
    auto cache = this->backend.make();
    cache->save({"tok-1", "u", "a@example.com"});
    cache->forget();
    EXPECT_FALSE(cache->load().has_value());
    cache->forget();  // forgetting twice is fine
}

TEST(FileTokenCacheTest, TheFileIsPrivate) {
    const fs::path dir = fresh_dir("mode");
    FileTokenCache cache(dir / "config" / "token.json", nullptr);
    cache.save({"tok", "u", "e"});
    struct stat st {};
    ASSERT_EQ(::stat((dir / "config" / "token.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((dir / "config").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    fs::remove_all(dir);
}

TEST(FileTokenCacheTest, AMalformedFileCountsAsNoLoginAndTheWarningNamesNoContent) {
    const fs::path dir = fresh_dir("bad");
    fs::create_directories(dir);
    std::ofstream(dir / "token.json") << R"({"token": "half-written-secr)";
    std::vector<std::string> warnings;
    FileTokenCache cache(dir / "token.json",
                         [&](const std::string& message) { warnings.push_back(message); });
    EXPECT_FALSE(cache.load().has_value());
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("token.json"), std::string::npos);
    EXPECT_EQ(warnings[0].find("half-written-secr"), std::string::npos);
    fs::remove_all(dir);
}

}  // namespace
}  // namespace obsync::backup
