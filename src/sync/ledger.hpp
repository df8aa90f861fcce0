#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sync/file_state.hpp"

namespace obsync::sync {

// The bookkeeping of one run (docs/sync-engine.md, "The cursor rule"): which records of the change
// list are not applied yet, the state changes waiting for the next checkpoint, and where the
// cursor may go.
//
// Every expected record holds the cursor back until it is settled. An incremental run moves the
// cursor to just below the lowest unsettled record; a snapshot run moves it only at its final
// checkpoint, since until the whole snapshot is applied, files it lacks may still be removed. The
// cursor never moves below where the run started: a snapshot run that would have to (a `--full`
// over saved progress with a failure below it) keeps the version and marks the cursor `initial`,
// so that the next run takes a snapshot again.
//
// A record refused for good (unsafe or undecryptable path, a name the destination cannot hold) is
// settled like an applied one, so the cursor passes it, and recorded as a refusal in the state,
// so every run reports it until a newer record of the same path supersedes it, or a complete run
// no longer meets it.
class Ledger {
public:
    // `saved`: the cursor the run starts from; `complete`: the changes are a snapshot.
    void start(Cursor saved, bool complete);
    // The uids of the change list, and the version the server announced with `ready`.
    void expect(const std::vector<std::int64_t>& uids, std::int64_t ready_version);
    void settle(const std::vector<std::int64_t>& uids);

    void upsert(FileState file);
    void remove(std::string path);

    // The refusals earlier runs recorded (StateSnapshot::refused).
    void known_refusals(const std::vector<RefusedRecord>& refused);
    // `refused` will never apply: its records are settled and the refusal recorded.
    void refuse(RefusedRecord refused, const std::vector<std::int64_t>& uids);
    // A record `uid` of `path` supersedes an earlier refusal of it when it is newer (the same
    // record met again by a snapshot proves nothing until it is applied). Without `uid`: the path
    // is excluded now, and its refusal goes whatever its age.
    void supersede_refusal(std::string_view path,
                           std::int64_t uid = std::numeric_limits<std::int64_t>::max());
    // Every refusal standing after this run so far: recorded ones and new ones, by key.
    std::vector<RefusedRecord> refusals() const;
    // State changes waiting for the next checkpoint.
    std::size_t pending() const noexcept {
        return m_pending.upserts.size() + m_pending.removals.size() + m_pending.refusals.size() +
               m_pending.cleared_refusals.size();
    }

    // Takes the waiting changes, with the cursor when it may move.
    Checkpoint take(bool final);
    // `batch` (from take) was stored: its cursor is where the run now stands.
    void stored(const Checkpoint& batch);
    // `batch` (from take) could not be stored: its changes wait again, before the ones taken
    // since, so that the next checkpoint stores them (and a cursor never moves without them).
    void put_back(Checkpoint batch);
    const Cursor& cursor() const noexcept { return m_cursor; }
    // The version the server announced (`ready`): what extra sessions `init` at.
    std::int64_t ready_version() const noexcept { return m_ready_version; }

private:
    std::optional<Cursor> cursor_candidate(bool final) const;

    Cursor m_cursor;
    bool m_complete = false;
    std::int64_t m_ready_version = 0;
    std::set<std::int64_t> m_unsettled;
    Checkpoint m_pending;
    std::map<std::string, RefusedRecord> m_refusals;  // standing, by refusal_key
    std::set<std::string> m_refused_now;              // keys refused by this run
    bool m_refusals_swept = false;                    // a complete run dropped the stale ones
};

}  // namespace obsync::sync
