#pragma once

// The sync state in DynamoDB, for runs without a persistent disk (Lambda, containers).
//
// Table schema (created by `obsync state-init --state dynamodb://TABLE`):
//   partition key  vault_id  (S)   the vault id of the scope
//   sort key       item      (S)   what the item is, per scope destination D:
//
//   META#D          the scope itself; absent = no state (load() returns an empty snapshot)
//     v    N     cursor version
//     i    BOOL  cursor initial flag
//     n    S     vault name (absent when empty)
//     lu   N     last_updated: epoch milliseconds of the last write of this item
//     ttl  N     epoch seconds = last write + DynamoStateOptions::ttl (the table's TTL attribute;
//                refreshed on every write of META, and the only item with a ttl)
//     rp   BOOL  reset pending: a reset() was interrupted, the FILE items are not to be trusted
//     rs rf rc ro rn ru rd rx rb re   the last run: started_ms, finished_ms, complete, ok,
//                created, updated, deleted, failed, bytes (N/BOOL) and error (S, absent when
//                empty); absent until record_run()
//   LEASE#D         owner (S), expires_ms (N): who may write the scope, until when
//   FILE#D#PATH     one per file or folder; PATH is the vault path (so no attribute repeats it)
//   FILE#D#/HASH    the same when "FILE#D#PATH" would exceed DynamoDB's 1024-byte sort key:
//                   HASH is the lowercase hex SHA-256 of PATH, and the path is in `p`
//     p    S     the vault path (hashed keys only)
//     h    S     lowercase hex SHA-256 (absent for folders)
//     u    N     uid of the server record
//     m    N     mtime, epoch milliseconds
//     s    N     size in bytes
//     f    BOOL  present (true) for folders only
//   REFUSED#D#HASH  one per refused record (sync::RefusedRecord); HASH is the lowercase hex SHA-256
//                   of sync::refusal_key(), so any path fits the key
//     p    B     the path as the server sent it, any bytes (absent when undecryptable)
//     u    N     uid of the server record
//     r    B     the reason (absent when empty)
//
// D is the destination (Sink::describe()) with '%' and '#' written as %25 and %23, so that no
// destination is a prefix of another one's FILE items; a D longer than 900 bytes is replaced by
// "%H" + the hex SHA-256 of the destination (a form escaping never produces). One vault backed up
// to two destinations has two independent scopes in the same partition. Item per file: any vault
// size fits (a single item per vault would hit DynamoDB's 400 KB item limit). A vault path never
// starts with '/' (sync::path_policy refuses it), so a hashed FILE key never meets a verbatim one;
// short keys are what earlier versions wrote, and stay readable.
//
// load() only reads: FILE and REFUSED items without a META item (its ttl expired) or under a
// reset-pending META are stale and not reported (so a dry run writes nothing, and nothing is
// written before the lease is taken). META is never created over them: the first write to such a
// scope (commit, set_vault_name, record_run) removes them, then creates META with the initial
// cursor, as a fresh SQLite scope accepts all three.
//
// commit() writes the FILE items (BatchWriteItem) before the cursor (a conditional UpdateItem
// that never moves it backwards); see the comment there for why that order is crash-safe. Once
// the store holds a lease, the cursor moves in a TransactWriteItems with a ConditionCheck that
// LEASE#D still names this run: a run whose lease was taken over gets Error{busy}.
//
// A lease is taken over when it has expired, never because its owner looks like a dead process:
// the table is shared by hosts, and a host name and pid prove nothing there.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "aws/client.hpp"
#include "sync/state_store.hpp"

namespace obsync::state {

struct DynamoStateOptions {
    std::string table;
    sync::StateScope scope;
    // How long a scope nobody writes is kept (the META item's ttl; its FILE items go with it).
    std::chrono::seconds ttl{std::chrono::hours(24 * 30)};
    // Milliseconds since the epoch, for lease expiry and ttl; the system clock when empty. Tests
    // inject time here instead of sleeping.
    std::function<std::int64_t()> now_ms;
};

// A state store on one scope of a DynamoDB table made by create_dynamodb_state_table(). Nothing
// is sent until the first call. A missing table throws Error{config} telling to run
// `obsync state-init`; other AWS failures are AwsError (an Error) with AWS's code in the message.
// `client` must outlive the store.
std::unique_ptr<sync::StateStore> open_dynamodb_state(aws::AwsClient& client,
                                                      DynamoStateOptions options);

// `obsync state-init`: creates the table (on-demand billing) unless it exists, waits until it is
// ACTIVE and enables TTL on `ttl`. Idempotent. Throws Error{config} if an existing table has
// another key schema or another TTL attribute.
boost::asio::awaitable<void> create_dynamodb_state_table(aws::AwsClient& client, std::string table);

// "dynamodb://TABLE" → TABLE. Throws Error{config} showing the expected form on anything else
// (table names are 3-255 characters of A-Z a-z 0-9 _ . -).
std::string parse_dynamodb_url(std::string_view url);

}  // namespace obsync::state
