#include "state/account_slots.hpp"

#include <random>

#include "aws/dynamodb.hpp"

namespace obsync::state {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

bj::object slot_key(const std::string& account, int slot) {
    return bj::object{{"vault_id", aws::attr_s("ACCOUNT#" + account)},
                      {"item", aws::attr_s("SLOT#" + std::to_string(slot))}};
}

constexpr std::int64_t k_forget_after_s = 86'400;

}  // namespace

AccountSlots::AccountSlots(aws::AwsClient& client, std::string table)
    : m_client(client), m_table(std::move(table)) {}

asio::awaitable<std::optional<int>> AccountSlots::acquire(std::string account, int limit,
                                                          std::string owner, std::int64_t now_ms,
                                                          std::int64_t expires_ms) {
    if (limit <= 0) {
        co_return std::nullopt;
    }
    aws::DynamoDb db(m_client);
    thread_local std::minstd_rand random{std::random_device{}()};
    const int first = static_cast<int>(random() % static_cast<unsigned>(limit));
    for (int i = 0; i < limit; ++i) {
        const int slot = (first + i) % limit;
        aws::ItemWrite take;
        take.set("o", "owner", aws::attr_s(owner))
            .set("e", "expires_ms", aws::attr_n(expires_ms))
            .set("t", "ttl", aws::attr_n(expires_ms / 1000 + k_forget_after_s))
            .value("now", aws::attr_n(now_ms));
        take.condition = "attribute_not_exists(#o) OR #e <= :now";
        bj::object request = take.request(m_table, slot_key(account, slot));
        try {
            const std::string operation = "UpdateItem";
            co_await db.call(operation, std::move(request));
            co_return slot;
        } catch (const aws::AwsError& error) {
            if (error.failure() != aws::AwsFailure::conditional_check_failed) {
                throw;
            }
        }
    }
    co_return std::nullopt;
}

asio::awaitable<void> AccountSlots::release(std::string account, int slot, std::string owner) {
    aws::DynamoDb db(m_client);
    aws::ItemWrite release;
    release.name("o", "owner").value("me", aws::attr_s(owner));
    release.condition = "#o = :me";
    bj::object request = release.request(m_table, slot_key(account, slot));
    try {
        const std::string operation = "DeleteItem";
        co_await db.call(operation, std::move(request));
    } catch (const aws::AwsError& error) {
        if (error.failure() != aws::AwsFailure::conditional_check_failed) {
            throw;
        }
    }
}

}  // namespace obsync::state
