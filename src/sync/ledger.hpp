#pragma once

#include <cstddef>
#include <cstdint>
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
class Ledger {
public:
    // `saved`: the cursor the run starts from; `complete`: the changes are a snapshot.
    void start(Cursor saved, bool complete);
    // The uids of the change list, and the version the server announced with `ready`.
    void expect(const std::vector<std::int64_t>& uids, std::int64_t ready_version);
    void settle(const std::vector<std::int64_t>& uids);

    void upsert(FileState file);
    void remove(std::string path);
    // State changes waiting for the next checkpoint.
    std::size_t pending() const noexcept {
        return m_pending.upserts.size() + m_pending.removals.size();
    }

    // Takes the waiting changes, with the cursor when it may move.
    Checkpoint take(bool final);
    // `batch` (from take) was stored: its cursor is where the run now stands.
    void stored(const Checkpoint& batch);
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
};

}  // namespace obsync::sync
