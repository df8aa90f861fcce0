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

void Ledger::known_refusals(const std::vector<RefusedRecord>& refused) {
    for (const RefusedRecord& record : refused) {
        m_refusals[refusal_key(record)] = record;
    }
}

void Ledger::refuse(RefusedRecord refused, const std::vector<std::int64_t>& uids) {
    std::string key = refusal_key(refused);
    m_refused_now.insert(key);
    // One batch never both records and clears a key (the stores apply clearings last).
    std::erase(m_pending.cleared_refusals, key);
    std::erase_if(m_pending.refusals,
                  [&key](const RefusedRecord& pending) { return refusal_key(pending) == key; });
    m_pending.refusals.push_back(refused);
    m_refusals[std::move(key)] = std::move(refused);
    settle(uids);
}

void Ledger::supersede_refusal(std::string_view path, std::int64_t uid) {
    const std::string key = refusal_key(RefusedRecord{std::string(path), 0, {}});
    const auto found = m_refusals.find(key);
    if (found != m_refusals.end() && found->second.uid < uid) {
        m_refusals.erase(found);
        m_refused_now.erase(key);
        std::erase_if(m_pending.refusals,
                      [&key](const RefusedRecord& pending) { return refusal_key(pending) == key; });
        m_pending.cleared_refusals.push_back(key);
    }
}

std::vector<RefusedRecord> Ledger::refusals() const {
    std::vector<RefusedRecord> out;
    out.reserve(m_refusals.size());
    for (const auto& [key, record] : m_refusals) {
        out.push_back(record);
    }
    return out;
}

Checkpoint Ledger::take(bool final) {
    Checkpoint batch = std::exchange(m_pending, {});
    batch.cursor = cursor_candidate(final);
    // A complete run that reached its end saw every record the vault has: a recorded refusal it
    // did not meet again is gone from the vault.
    if (m_complete && final && batch.cursor && !batch.cursor->initial && !m_refusals_swept) {
        m_refusals_swept = true;
        for (auto it = m_refusals.begin(); it != m_refusals.end();) {
            if (m_refused_now.contains(it->first)) {
                ++it;
            } else {
                batch.cleared_refusals.push_back(it->first);
                it = m_refusals.erase(it);
            }
        }
    }
    return batch;
}

void Ledger::stored(const Checkpoint& batch) {
    if (batch.cursor) {
        m_cursor = *batch.cursor;
    }
}

void Ledger::put_back(Checkpoint batch) {
    Checkpoint later = std::exchange(m_pending, std::move(batch));
    m_pending.cursor.reset();
    for (FileState& file : later.upserts) {
        m_pending.upserts.push_back(std::move(file));
    }
    for (std::string& path : later.removals) {
        m_pending.removals.push_back(std::move(path));
    }
    // Later refusals and clearings win over the batch's, as if they had happened after it.
    for (std::string& key : later.cleared_refusals) {
        std::erase_if(m_pending.refusals,
                      [&key](const RefusedRecord& r) { return refusal_key(r) == key; });
        m_pending.cleared_refusals.push_back(std::move(key));
    }
    for (RefusedRecord& refused : later.refusals) {
        std::erase(m_pending.cleared_refusals, refusal_key(refused));
        m_pending.refusals.push_back(std::move(refused));
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
