#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "sync/file_state.hpp"

namespace obsync::sync {

// Identifies one backup: the same vault backed up to two places has two cursors.
struct StateScope {
    std::string vault_id;
    std::string destination;  // Sink::describe() of the destination
};

// Sync state of one scope (SQLite locally, DynamoDB in the cloud). Implementations throw
// Error{storage} on I/O failures and Error{config} on unusable configuration. Coroutines, so that
// a networked store never blocks the sessions that share the io_context.
class StateStore {
public:
    virtual ~StateStore() = default;

    virtual boost::asio::awaitable<StateSnapshot> load() = 0;
    // Applies `checkpoint` atomically: after a crash either all of it or none of it is visible.
    // The cursor only moves forwards: a cursor below the stored version is ignored (the files
    // still count), so a stale run can never undo a newer one's progress. Once this store has
    // taken a lease (acquire_lease returned true), a commit whose lease no longer names that
    // owner (taken over after it expired, or released) throws Error{busy} and moves no cursor:
    // a run frozen past its lease cannot overwrite the newer run's. Owners are unique per run.
    virtual boost::asio::awaitable<void> commit(const Checkpoint& checkpoint) = 0;
    virtual boost::asio::awaitable<void> set_vault_name(std::string_view name) = 0;
    virtual boost::asio::awaitable<void> record_run(const RunRecord& run) = 0;
    // Forgets the cursor and every file: the next run is a complete sync.
    virtual boost::asio::awaitable<void> reset() = 0;

    // A lease on the scope, so two runs never sync the same backup at once. Returns false if
    // another owner holds an unexpired lease; an expired lease is taken over.
    virtual boost::asio::awaitable<bool> acquire_lease(std::string_view owner,
                                                       std::chrono::seconds ttl) = 0;
    virtual boost::asio::awaitable<void> renew_lease(std::string_view owner,
                                                     std::chrono::seconds ttl) = 0;
    virtual boost::asio::awaitable<void> release_lease(std::string_view owner) = 0;
};

}  // namespace obsync::sync
