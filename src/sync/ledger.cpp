#include "sync/ledger.hpp"

#include <algorithm>
#include <utility>

namespace obsync::sync {

void Ledger::start(Cursor saved, bool complete) {
    m_cursor = saved;
    m_complete = complete;
}

void Ledger::expect(const std::vector<std::int64_t>& uids, std::int64_t ready_version) {
    m_unsettled.insert(uids.begin(), uids.end());
    m_ready_version = ready_version;
}

void Ledger::settle(const std::vector<std::int64_t>& uids) {
    for (const std::int64_t uid : uids) {
        m_unsettled.erase(uid);
    }
}

void Ledger::upsert(FileState file) {
    m_pending.upserts.push_back(std::move(file));
}

void Ledger::remove(std::string path) {
    m_pending.removals.push_back(std::move(path));
}

Checkpoint Ledger::take(bool final) {
    Checkpoint batch = std::exchange(m_pending, {});
    batch.cursor = cursor_candidate(final);
    return batch;
}

void Ledger::stored(const Checkpoint& batch) {
    if (batch.cursor) {
        m_cursor = *batch.cursor;
    }
}

std::optional<Cursor> Ledger::cursor_candidate(bool final) const {
    if (m_complete && !final) {
        return std::nullopt;
    }
    Cursor cursor = m_cursor;
    const std::int64_t limit = m_unsettled.empty() ? m_ready_version : *m_unsettled.begin() - 1;
    if (!m_complete) {
        cursor.version = std::max(cursor.version, limit);
    } else if (limit < cursor.version) {
        cursor.initial = true;  // never back: the next run takes a snapshot again
    } else {
        cursor.version = limit;
        cursor.initial = false;
    }
    return cursor;
}

}  // namespace obsync::sync
