// At most N vaults of an account at once: the slot items of the state table (state/account_slots)
// against moto's DynamoDB.

#include "state/account_slots.hpp"

#include <memory>
#include <set>

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "aws/dynamodb.hpp"
#include "state/dynamodb_store.hpp"
#include "support/moto_fixture.hpp"
#include "support/run_coro.hpp"

namespace obsync::state {
namespace {

using test::run_coro_value;

constexpr const char* k_table = "obsync-slots";

class AccountSlotsTest : public test::MotoTest {
protected:
    void SetUp() override {
        MotoTest::SetUp();
        m_client = std::make_unique<aws::AwsClient>(m_io.get_executor(),
                                                    aws::AwsEnvironment::from_environment());
        test::run_coro(m_io, create_dynamodb_state_table(*m_client, k_table));
        m_slots = std::make_unique<AccountSlots>(*m_client, k_table);
    }

    std::optional<int> take(const std::string& account, int limit, const std::string& owner,
                            std::int64_t now, std::int64_t expires) {
        return run_coro_value(m_io, m_slots->acquire(account, limit, owner, now, expires));
    }

    boost::asio::io_context m_io;
    std::unique_ptr<aws::AwsClient> m_client;
    std::unique_ptr<AccountSlots> m_slots;
};

TEST_F(AccountSlotsTest, AtMostLimitHoldersPerAccountAndAccountsAreIndependent) {
    std::set<int> taken;
    for (const char* owner : {"a", "b", "c"}) {
        const auto slot = take("acct-1", 3, owner, 1'000, 60'000);
        ASSERT_TRUE(slot) << owner;
        EXPECT_GE(*slot, 0);
        EXPECT_LT(*slot, 3);
        taken.insert(*slot);
    }
    EXPECT_EQ(taken.size(), 3U);
    EXPECT_FALSE(take("acct-1", 3, "d", 2'000, 60'000));
    EXPECT_TRUE(take("acct-2", 3, "d", 2'000, 60'000));
    EXPECT_FALSE(take("acct-1", 0, "e", 2'000, 60'000));
}

TEST_F(AccountSlotsTest, AReleasedOrExpiredSlotIsFreeAndOnlyItsHolderReleasesIt) {
    const auto a = take("acct", 1, "a", 1'000, 10'000);
    ASSERT_EQ(a, std::optional<int>(0));
    // Someone else's release does nothing.
    test::run_coro(m_io, m_slots->release("acct", 0, "intruder"));
    EXPECT_FALSE(take("acct", 1, "b", 2'000, 20'000));
    test::run_coro(m_io, m_slots->release("acct", 0, "a"));
    EXPECT_EQ(take("acct", 1, "b", 3'000, 20'000), std::optional<int>(0));
    // b never releases (a killed process): free once its time is up, not before.
    EXPECT_FALSE(take("acct", 1, "c", 19'999, 40'000));
    EXPECT_EQ(take("acct", 1, "c", 20'000, 40'000), std::optional<int>(0));
    // a's late release does not free c's slot.
    test::run_coro(m_io, m_slots->release("acct", 0, "b"));
    EXPECT_FALSE(take("acct", 1, "d", 21'000, 40'000));
}

TEST_F(AccountSlotsTest, SlotItemsLiveBesideTheVaultsAndExpireByTtl) {
    ASSERT_TRUE(take("obsync/accounts/x", 2, "a", 1'000, 5'000'000));
    aws::DynamoDb db(*m_client);
    const auto items =
        run_coro_value(m_io, db.query_all("Scan", boost::json::object{{"TableName", k_table}}));
    ASSERT_EQ(items.size(), 1U);
    EXPECT_EQ(aws::item_string(items[0], "vault_id"), "ACCOUNT#obsync/accounts/x");
    EXPECT_EQ(aws::item_string(items[0], "item")->rfind("SLOT#", 0), 0U);
    EXPECT_EQ(aws::item_string(items[0], "owner"), "a");
    ASSERT_TRUE(items[0].contains("ttl"));
    EXPECT_EQ(items[0].at("ttl").as_object().at("N").as_string(), "91400");  // 5000 s + a day
}

}  // namespace
}  // namespace obsync::state
