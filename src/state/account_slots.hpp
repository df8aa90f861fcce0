#pragma once

// At most N vaults of one account synced at once by the function's SQS workers, whatever
// execution environments they run in: N slot items per account in the state table, each taken
// with a conditional write (docs/lambda.md, "Scale out").
//
//   vault_id  "ACCOUNT#<account key>"   (no vault id starts with "ACCOUNT#")
//   item      "SLOT#<i>", i in 0..N-1
//     owner       S  the holder (unique per run)
//     expires_ms  N  when the slot is free again without a release
//     ttl         N  epoch seconds, a day after expires_ms (DynamoDB deletes forgotten slots)
//
// A slot is held for one invocation at most, so it expires at the invocation's deadline (a
// process Lambda kills never releases it): no renewal is needed.

#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "aws/client.hpp"

namespace obsync::state {

class AccountSlots {
public:
    // `client` must outlive this.
    AccountSlots(aws::AwsClient& client, std::string table);

    // Takes a free slot of `account` (one of `limit`, tried from a random one on, so that workers
    // spread) for `owner` until `expires_ms`; a slot whose holder's time ran out is free. The
    // slot's number, or nothing when all `limit` are held. AWS failures are AwsError.
    boost::asio::awaitable<std::optional<int>> acquire(std::string account, int limit,
                                                       std::string owner, std::int64_t now_ms,
                                                       std::int64_t expires_ms);
    // Frees the slot if `owner` still holds it (a slot taken over is not ours to free).
    boost::asio::awaitable<void> release(std::string account, int slot, std::string owner);

private:
    aws::AwsClient& m_client;
    std::string m_table;
};

}  // namespace obsync::state
