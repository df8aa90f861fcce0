// ListObjectVersions, GetObject of a version and the point-in-time view, against a versioned
// bucket in moto_server: the history restore --at reads (issue #14).

#include "aws/s3_versions.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "aws/client.hpp"
#include "aws/s3.hpp"
#include "support/moto_fixture.hpp"
#include "support/run_coro.hpp"
#include "util/clock.hpp"

namespace obsync::aws {
namespace {

using test::run_coro;
using test::run_coro_value;

class S3VersionsTest : public test::MotoTest {
protected:
    void SetUp() override {
        MotoTest::SetUp();
        m_client =
            std::make_unique<AwsClient>(m_io.get_executor(), AwsEnvironment::from_environment());
        m_s3 = std::make_unique<S3Client>(*m_client);
        run_coro(m_io, m_s3->create_bucket(m_bucket));
        AwsRequest enable;
        enable.service = Service::s3;
        enable.method = "PUT";
        enable.operation = "PutBucketVersioning";
        enable.bucket = m_bucket;
        const S3Address address = s3_address(m_client->environment(), m_bucket, "");
        enable.endpoint = address.endpoint;
        enable.path = address.path;
        enable.query = {{"versioning", ""}};
        enable.body = "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>";
        (void)run_coro_value(m_io, m_client->send(std::move(enable)));
    }

    void put(const std::string& key, const std::string& body) {
        (void)run_coro_value(m_io, m_s3->put_object(m_bucket, key, body, {}));
    }
    void remove(const std::string& key) { run_coro(m_io, m_s3->delete_object(m_bucket, key)); }

    // The moment between two steps: S3 (and moto) report LastModified in whole seconds, so each
    // step waits for the next second and the moment is the second of the step before.
    std::int64_t moment() {
        const std::int64_t now = epoch_ms();
        std::this_thread::sleep_for(std::chrono::milliseconds(1100 - now % 1000));
        return now;
    }

    std::map<std::string, std::string> contents_at(std::optional<std::int64_t> at) {
        const auto versions = run_coro_value(m_io, m_s3->list_object_versions(m_bucket, "v/"));
        std::map<std::string, std::string> out;
        for (const auto& [key, version] : versions_at(versions, at)) {
            const auto data =
                run_coro_value(m_io, m_s3->get_object(m_bucket, key, version.version_id));
            EXPECT_TRUE(data) << key;
            out[key] = data ? data->body : "";
        }
        return out;
    }

    boost::asio::io_context m_io;
    std::unique_ptr<AwsClient> m_client;
    std::unique_ptr<S3Client> m_s3;
    const std::string m_bucket = "versioned-backups";
};

TEST_F(S3VersionsTest, EachMomentOfAVersionedPrefixComesBack) {
    put("v/a.md", "a one");
    put("v/b.md", "b one");
    const std::int64_t first = moment();
    put("v/a.md", "a two");
    remove("v/b.md");
    put("v/c é.md", "c one");
    const std::int64_t second = moment();
    remove("v/a.md");
    put("v/b.md", "b again");  // deleted before `second`, created again after it
    put("other/x", "not under the prefix");
    const std::int64_t third = moment();

    using Files = std::map<std::string, std::string>;
    EXPECT_EQ(contents_at(first), (Files{{"v/a.md", "a one"}, {"v/b.md", "b one"}}));
    EXPECT_EQ(contents_at(second), (Files{{"v/a.md", "a two"}, {"v/c é.md", "c one"}}));
    EXPECT_EQ(contents_at(third), (Files{{"v/b.md", "b again"}, {"v/c é.md", "c one"}}));
    EXPECT_EQ(contents_at(std::nullopt), contents_at(third));
    EXPECT_EQ(contents_at(first - 60'000), Files{});
}

TEST_F(S3VersionsTest, TheListingFollowsItsPagesAndKeepsDeleteMarkersInOrder) {
    for (int i = 0; i < 7; ++i) {
        put("v/k" + std::to_string(i % 3), "body " + std::to_string(i));
    }
    remove("v/k0");
    std::vector<ObjectVersion> all;
    std::string key_marker;
    std::string version_marker;
    int pages = 0;
    do {
        auto page = run_coro_value(
            m_io, m_s3->list_object_versions_page(m_bucket, "v/", key_marker, version_marker, 2));
        ++pages;
        all.insert(all.end(), page.versions.begin(), page.versions.end());
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    } while (!key_marker.empty());
    EXPECT_GE(pages, 4);
    EXPECT_EQ(all.size(), 8U);  // 7 versions + 1 delete marker
    EXPECT_EQ(run_coro_value(m_io, m_s3->list_object_versions(m_bucket, "v/")).size(), 8U);
    // k0's one delete marker is its latest entry.
    const auto first_k0 = std::find_if(all.begin(), all.end(), [](const ObjectVersion& v) {
        return v.key == "v/k0" && v.delete_marker;
    });
    ASSERT_NE(first_k0, all.end());
    EXPECT_TRUE(first_k0->is_latest);
    EXPECT_EQ(std::count_if(all.begin(), all.end(),
                            [](const ObjectVersion& v) { return v.delete_marker; }),
              1);
    // The current view has k1 and k2 at their last bodies; GetObject of k0 finds nothing.
    const auto now = versions_at(all, std::nullopt);
    EXPECT_EQ(now.size(), 2U);
    EXPECT_FALSE(run_coro_value(m_io, m_s3->get_object(m_bucket, "v/k0")));
    const auto k2 = run_coro_value(m_io, m_s3->get_object(m_bucket, "v/k2"));
    ASSERT_TRUE(k2);
    EXPECT_EQ(k2->body, "body 5");
    EXPECT_EQ(k2->info.size, 6U);
    // A delete marker's version id, asked for by id, is nothing too.
    EXPECT_FALSE(run_coro_value(m_io, m_s3->get_object(m_bucket, "v/k0", first_k0->version_id)));
}

}  // namespace
}  // namespace obsync::aws
