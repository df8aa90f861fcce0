#include "state/dynamodb_store.hpp"

#include <array>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "aws/dynamodb.hpp"
#include "crypto/sha256.hpp"
#include "util/clock.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

namespace obsync::state {
namespace {

namespace asio = boost::asio;
namespace bj = boost::json;
using aws::attr_bool;
using aws::attr_n;
using aws::attr_s;
using Write = aws::ItemWrite;

// '%' and '#' escaped, so that "FILE#<D>#" of one destination never prefixes another's items.
std::string escape_destination(std::string_view destination) {
    std::string out;
    out.reserve(destination.size());
    for (const char c : destination) {
        if (c == '%') {
            out += "%25";
        } else if (c == '#') {
            out += "%23";
        } else {
            out += c;
        }
    }
    return out;
}

// DynamoDB's limit on a sort key, in bytes.
constexpr std::size_t k_max_sort_key = 1024;
// An escaped destination longer than this is replaced by its hash: it leaves room for the longest
// derived key, "REFUSED#" + D + "#" + 64 hex digits, and for short paths verbatim.
constexpr std::size_t k_max_destination_key = 900;

std::string sha256_hex_of(std::string_view text) {
    return crypto::sha256_hex(as_bytes(text));
}

// The destination as it appears in sort keys: escaped, or "%H<sha256 hex>" when too long (an
// escaped destination never has a '%' that is not "%25" or "%23", so the two forms never meet).
std::string destination_key(std::string_view destination) {
    std::string escaped = escape_destination(destination);
    if (escaped.size() > k_max_destination_key) {
        return "%H" + sha256_hex_of(destination);
    }
    return escaped;
}

// Empty strings are left out: they cost bytes and read back as "" anyway.
void put_if(bj::object& item, std::string_view name, std::string_view text) {
    if (!text.empty()) {
        item[name] = attr_s(text);
    }
}

class DynamoStateStore final : public sync::StateStore {
public:
    DynamoStateStore(aws::AwsClient& client, DynamoStateOptions options)
        : m_db(client),
          m_table(std::move(options.table)),
          m_vault(std::move(options.scope.vault_id)),
          m_ttl(options.ttl),
          m_now(options.now_ms ? std::move(options.now_ms) : epoch_ms) {
        const std::string destination = destination_key(options.scope.destination);
        m_meta = "META#" + destination;
        m_lease = "LEASE#" + destination;
        m_file_prefix = "FILE#" + destination + "#";
        m_refused_prefix = "REFUSED#" + destination + "#";
    }

    asio::awaitable<sync::StateSnapshot> load() override {
        auto op = do_load();
        co_return co_await guard(std::move(op));
    }

    // Not one transaction: TransactWriteItems takes at most 100 items, and a checkpoint (or the
    // snapshot of a 50,000-file vault) is far more. Instead the FILE items are written first and
    // the cursor only once all of them are stored. A crash in between leaves FILE items that are
    // true facts about the destination (those files were written and flushed before commit())
    // next to the old cursor: the next run re-applies from that cursor and skips the files whose
    // hash already matches. The cursor alone is what must never run ahead of the files.
    asio::awaitable<void> commit(const sync::Checkpoint& checkpoint) override {
        auto op = do_commit(checkpoint);
        co_await guard(std::move(op));
    }

    asio::awaitable<void> set_vault_name(std::string_view name) override {
        Write write;
        if (name.empty()) {
            write.remove("n", "n");
        } else {
            write.set("n", "n", attr_s(name));
        }
        auto op = update_meta(std::move(write));
        co_await guard(std::move(op));
    }

    asio::awaitable<void> record_run(const sync::RunRecord& run) override {
        Write write;
        write.set("rs", "rs", attr_n(run.started_ms))
            .set("rf", "rf", attr_n(run.finished_ms))
            .set("rc", "rc", attr_bool(run.complete))
            .set("ro", "ro", attr_bool(run.ok))
            .set("rn", "rn", attr_n(run.created))
            .set("ru", "ru", attr_n(run.updated))
            .set("rd", "rd", attr_n(run.deleted))
            .set("rx", "rx", attr_n(run.failed))
            .set("rb", "rb", attr_n(run.bytes));
        if (run.error.empty()) {
            write.remove("re", "re");
        } else {
            write.set("re", "re", attr_s(run.error));
        }
        auto op = update_meta(std::move(write));
        co_await guard(std::move(op));
    }

    asio::awaitable<void> reset() override {
        auto op = do_reset();
        co_await guard(std::move(op));
    }

    asio::awaitable<bool> acquire_lease(std::string_view owner, std::chrono::seconds ttl) override {
        auto op = do_acquire_lease(std::string(owner), ttl);
        const bool taken = co_await guard(std::move(op));
        if (taken) {
            m_owner = owner;  // from now on the cursor moves only while the lease is still ours
        }
        co_return taken;
    }

    // Extends the lease while it is still ours, even past its expiry if nobody took it over: the
    // run never overlapped another (as the SQLite store does).
    asio::awaitable<void> renew_lease(std::string_view owner, std::chrono::seconds ttl) override {
        Write write;
        write.set("e", "expires_ms", attr_n(expiry(ttl)))
            .name("o", "owner")
            .value("me", attr_s(owner));
        write.condition = "#o = :me";
        auto op = conditional("UpdateItem", write.request(m_table, key(m_lease)));
        if (!co_await guard(std::move(op))) {
            throw Error(ErrorKind::busy, "DynamoDB state table " + m_table +
                                             ": lease lost (another run took over the scope)");
        }
    }

    // Deletes the lease only if it is still ours: a lease taken over is not ours to release.
    asio::awaitable<void> release_lease(std::string_view owner) override {
        Write write;
        write.name("o", "owner").value("me", attr_s(owner));
        write.condition = "#o = :me";
        auto op = conditional("DeleteItem", write.request(m_table, key(m_lease)));
        co_await guard(std::move(op));
        // m_owner stays: a checkpoint after the release is refused (the lease is gone), never
        // written unconditionally.
    }

private:
    // FILE#D#PATH while that fits a sort key, else FILE#D#/<sha256 hex of PATH> with the path in
    // `p`. A vault path never starts with '/' (sync::path_policy refuses absolute paths), so the
    // hashed form never meets a verbatim one, and short keys stay what older versions wrote.
    std::string file_key(std::string_view path) const {
        if (m_file_prefix.size() + path.size() <= k_max_sort_key) {
            return m_file_prefix + std::string(path);
        }
        return m_file_prefix + "/" + sha256_hex_of(path);
    }

    std::string refused_key(const std::string& refusal_key) const {
        return m_refused_prefix + sha256_hex_of(refusal_key);
    }

    bj::object key(std::string_view item) const {
        bj::object out;
        out["vault_id"] = attr_s(m_vault);
        out["item"] = attr_s(item);
        return out;
    }

    std::int64_t expiry(std::chrono::seconds ttl) const {
        return m_now() + std::chrono::duration_cast<std::chrono::milliseconds>(ttl).count();
    }

    // The missing table is a configuration problem with a known fix; the rest stays AwsError.
    [[noreturn]] void rethrow(const aws::AwsError& error) const {
        if (error.failure() == aws::AwsFailure::resource_not_found) {
            throw Error(ErrorKind::config,
                        "DynamoDB state table '" + m_table + "' not found (" + error.what() +
                            "); create it with: obsync state-init --state dynamodb://" + m_table);
        }
        throw;
    }

    template <typename T>
    asio::awaitable<T> guard(asio::awaitable<T> op) {
        try {
            co_return co_await std::move(op);
        } catch (const aws::AwsError& error) {
            rethrow(error);
        }
    }

    asio::awaitable<void> guard(asio::awaitable<void> op) {
        try {
            co_await std::move(op);
        } catch (const aws::AwsError& error) {
            rethrow(error);
        }
    }

    // An UpdateItem/DeleteItem whose ConditionExpression may fail: false when it did.
    asio::awaitable<bool> conditional(std::string operation, bj::object request) {
        bool refused = false;
        try {
            co_await m_db.call(operation, request);
        } catch (const aws::AwsError& error) {
            if (error.failure() != aws::AwsFailure::conditional_check_failed) {
                throw;
            }
            refused = true;
        }
        co_return !refused;
    }

    // Every write of META refreshes its ttl and last_updated.
    void touch(Write& write) const {
        const std::int64_t now = m_now();
        write.set("lu", "lu", attr_n(now)).set("ttl", "ttl", attr_n(now / 1000 + m_ttl.count()));
    }

    asio::awaitable<sync::StateSnapshot> do_load() {
        bj::object get;
        get["TableName"] = m_table;
        get["Key"] = key(m_meta);
        get["ConsistentRead"] = true;
        const std::string operation = "GetItem";
        bj::object reply = co_await m_db.call(operation, get);
        sync::StateSnapshot snapshot;
        const auto* found = reply.if_contains("Item");
        const bj::object* meta =
            found != nullptr && found->is_object() ? &found->as_object() : nullptr;
        // Read-only, also in a dry run and before the lease is taken: FILE and REFUSED items
        // without META (its ttl expired) or under a reset-pending META are stale and simply not
        // reported. The first write of this store removes them, under the lease (ensure_meta).
        m_meta_ready = false;
        if (meta != nullptr && !aws::item_bool(*meta, "rp").value_or(false)) {
            snapshot.files = co_await load_files();
            snapshot.refused = co_await load_refused();
        }
        if (meta != nullptr) {
            snapshot.cursor.version = aws::item_int(*meta, "v").value_or(0);
            snapshot.cursor.initial = aws::item_bool(*meta, "i").value_or(true);
            snapshot.vault_name = aws::item_string(*meta, "n").value_or("");
            if (const auto started = aws::item_int(*meta, "rs")) {
                sync::RunRecord& run = snapshot.last_run.emplace();
                run.started_ms = *started;
                run.finished_ms = aws::item_int(*meta, "rf").value_or(0);
                run.complete = aws::item_bool(*meta, "rc").value_or(false);
                run.ok = aws::item_bool(*meta, "ro").value_or(false);
                run.created = aws::item_int(*meta, "rn").value_or(0);
                run.updated = aws::item_int(*meta, "ru").value_or(0);
                run.deleted = aws::item_int(*meta, "rd").value_or(0);
                run.failed = aws::item_int(*meta, "rx").value_or(0);
                run.bytes = aws::item_int(*meta, "rb").value_or(0);
                run.error = aws::item_string(*meta, "re").value_or("");
            }
        }
        co_return snapshot;
    }

    // Every item of the scope whose sort key starts with `prefix`: only the keys, or everything.
    asio::awaitable<std::vector<bj::object>> query_prefix(const std::string& prefix,
                                                          bool keys_only) {
        bj::object query;
        query["TableName"] = m_table;
        query["KeyConditionExpression"] = "#pk = :pk AND begins_with(#sk, :prefix)";
        query["ConsistentRead"] = true;
        bj::object names;
        names["#pk"] = "vault_id";
        names["#sk"] = "item";
        if (keys_only) {
            query["ProjectionExpression"] = "#sk";
        }
        query["ExpressionAttributeNames"] = std::move(names);
        bj::object values;
        values[":pk"] = attr_s(m_vault);
        values[":prefix"] = attr_s(prefix);
        query["ExpressionAttributeValues"] = std::move(values);
        const std::string operation = "Query";
        co_return co_await m_db.query_all(operation, query);
    }

    asio::awaitable<std::vector<sync::FileState>> load_files() {
        const std::vector<bj::object> items = co_await query_prefix(m_file_prefix, false);
        std::vector<sync::FileState> files;
        files.reserve(items.size());
        for (const bj::object& item : items) {
            const std::string sort_key = aws::item_string(item, "item").value_or("");
            if (sort_key.size() <= m_file_prefix.size()) {
                continue;
            }
            sync::FileState& f = files.emplace_back();
            // A hashed key keeps the path in `p`; a verbatim one is the path.
            f.path = aws::item_string(item, "p").value_or(sort_key.substr(m_file_prefix.size()));
            f.hash = aws::item_string(item, "h").value_or("");
            f.uid = aws::item_int(item, "u").value_or(0);
            f.mtime = aws::item_int(item, "m").value_or(0);
            f.size = aws::item_int(item, "s").value_or(0);
            f.folder = aws::item_bool(item, "f").value_or(false);
        }
        co_return files;
    }

    asio::awaitable<std::vector<sync::RefusedRecord>> load_refused() {
        const std::vector<bj::object> items = co_await query_prefix(m_refused_prefix, false);
        std::vector<sync::RefusedRecord> refused;
        refused.reserve(items.size());
        for (const bj::object& item : items) {
            sync::RefusedRecord& r = refused.emplace_back();
            r.path = aws::item_bytes(item, "p").value_or("");
            r.uid = aws::item_int(item, "u").value_or(0);
            r.reason = aws::item_bytes(item, "r").value_or("");
        }
        co_return refused;
    }

    // Deletes every FILE and REFUSED item of the scope.
    asio::awaitable<void> purge_items() {
        bj::array deletes;
        const std::array<std::string, 2> prefixes = {m_file_prefix, m_refused_prefix};
        for (const std::string& prefix : prefixes) {
            const std::vector<bj::object> items = co_await query_prefix(prefix, true);
            for (const bj::object& item : items) {
                const std::string sort_key = aws::item_string(item, "item").value_or("");
                bj::object request;
                request["DeleteRequest"].emplace_object()["Key"] = key(sort_key);
                deletes.push_back(std::move(request));
            }
        }
        co_await m_db.batch_write(m_table, std::move(deletes));
    }

    // Makes sure a usable META exists before anything else is written to the scope: if there is
    // none (or a reset was interrupted), the stale FILE items go first, else creating META would
    // bring them back to life.
    asio::awaitable<void> ensure_meta() {
        Write refresh;
        touch(refresh);
        refresh.name("v", "v").name("rp", "rp");
        refresh.condition = "attribute_exists(#v) AND attribute_not_exists(#rp)";
        auto op = conditional("UpdateItem", refresh.request(m_table, key(m_meta)));
        if (!co_await std::move(op)) {
            co_await purge_items();
            Write create;
            touch(create);
            create.remove("rp", "rp").name("v", "v").name("i", "i");
            create.sets.push_back("#v = if_not_exists(#v, :zero)");
            create.sets.push_back("#i = if_not_exists(#i, :initial)");
            create.value("zero", attr_n(0)).value("initial", attr_bool(true));
            const std::string operation = "UpdateItem";
            bj::object request = create.request(m_table, key(m_meta));
            co_await m_db.call(operation, std::move(request));
        }
        m_meta_ready = true;
    }

    // set_vault_name, record_run: META is created (initial cursor) when missing, as a fresh
    // SQLite scope accepts them before its first commit.
    asio::awaitable<void> update_meta(Write write) {
        if (!m_meta_ready) {
            co_await ensure_meta();
        }
        touch(write);
        const std::string operation = "UpdateItem";
        bj::object request = write.request(m_table, key(m_meta));
        co_await m_db.call(operation, std::move(request));
    }

    asio::awaitable<void> do_commit(const sync::Checkpoint& checkpoint) {
        if (!m_meta_ready) {
            co_await ensure_meta();
        }
        // A key may appear only once per batch. Removals win over upserts of the same path:
        // forgetting a file is the safe side (the next run fetches it again).
        const std::unordered_set<std::string_view> removed(checkpoint.removals.begin(),
                                                           checkpoint.removals.end());
        std::unordered_map<std::string_view, const sync::FileState*> latest;
        for (const sync::FileState& f : checkpoint.upserts) {
            latest[f.path] = &f;
        }
        bj::array writes;
        writes.reserve(latest.size() + removed.size());
        for (const sync::FileState& f : checkpoint.upserts) {
            if (latest[f.path] != &f || removed.count(f.path) != 0) {
                continue;
            }
            const std::string item_key = file_key(f.path);
            bj::object item = key(item_key);
            if (item_key.size() != m_file_prefix.size() + f.path.size()) {
                item["p"] = attr_s(f.path);
            }
            put_if(item, "h", f.hash);
            item["u"] = attr_n(f.uid);
            item["m"] = attr_n(f.mtime);
            item["s"] = attr_n(f.size);
            if (f.folder) {
                item["f"] = attr_bool(true);
            }
            bj::object request;
            request["PutRequest"].emplace_object()["Item"] = std::move(item);
            writes.push_back(std::move(request));
        }
        for (const std::string_view path : removed) {
            bj::object request;
            request["DeleteRequest"].emplace_object()["Key"] = key(file_key(path));
            writes.push_back(std::move(request));
        }
        // Refusals in the same batches, before the cursor, like the files. A key both recorded and
        // cleared in one checkpoint ends up cleared, as removals win over upserts.
        std::unordered_map<std::string, const sync::RefusedRecord*> refusals;
        for (const sync::RefusedRecord& r : checkpoint.refusals) {
            refusals[sync::refusal_key(r)] = &r;
        }
        const std::unordered_set<std::string> cleared(checkpoint.cleared_refusals.begin(),
                                                      checkpoint.cleared_refusals.end());
        for (const auto& [refusal, record] : refusals) {
            if (cleared.count(refusal) != 0) {
                continue;
            }
            bj::object item = key(refused_key(refusal));
            if (!record->path.empty()) {
                item["p"] = aws::attr_b(record->path);
            }
            item["u"] = attr_n(record->uid);
            if (!record->reason.empty()) {
                item["r"] = aws::attr_b(record->reason);
            }
            bj::object request;
            request["PutRequest"].emplace_object()["Item"] = std::move(item);
            writes.push_back(std::move(request));
        }
        for (const std::string& refusal : cleared) {
            bj::object request;
            request["DeleteRequest"].emplace_object()["Key"] = key(refused_key(refusal));
            writes.push_back(std::move(request));
        }
        if (m_owner.empty()) {
            co_await m_db.batch_write(m_table, std::move(writes));
        } else {
            co_await write_under_lease(std::move(writes));
        }
        if (!checkpoint.cursor) {
            co_return;
        }
        // Only forwards: a stale writer must not undo the progress of a newer one. A refused move
        // keeps the newer cursor and is not an error.
        Write cursor;
        cursor.set("v", "v", attr_n(checkpoint.cursor->version))
            .set("i", "i", attr_bool(checkpoint.cursor->initial));
        touch(cursor);
        cursor.condition = "attribute_not_exists(#v) OR #v <= :v";
        if (m_owner.empty()) {
            // No lease taken through this store (state tools, tests): nothing to check it against.
            auto op = conditional("UpdateItem", cursor.request(m_table, key(m_meta)));
            co_await std::move(op);
            co_return;
        }
        co_await move_cursor_under_lease(std::move(cursor));
    }

    // The file and refusal items of a checkpoint, in transactions of up to 99 items each with the
    // lease check: a run thawed after another took its lease over must not overwrite the newer
    // run's records either (their cursor is past them: nothing would repair them). Each chunk
    // holds true facts about the destination, so chunks that applied before a refusal are fine.
    asio::awaitable<void> write_under_lease(bj::array writes) {
        constexpr std::size_t k_per_transaction = 99;  // TransactWriteItems takes 100
        for (std::size_t begin = 0; begin < writes.size(); begin += k_per_transaction) {
            Write lease;
            lease.name("o", "owner").value("me", attr_s(m_owner));
            lease.condition = "#o = :me";
            bj::array items;
            items.push_back(bj::object{{"ConditionCheck", lease.request(m_table, key(m_lease))}});
            const std::size_t end = std::min(writes.size(), begin + k_per_transaction);
            for (std::size_t i = begin; i < end; ++i) {
                bj::object& write = writes[i].as_object();
                if (auto* put = write.if_contains("PutRequest")) {
                    items.push_back(
                        bj::object{{"Put", bj::object{{"TableName", m_table},
                                                      {"Item", put->as_object().at("Item")}}}});
                } else {
                    items.push_back(bj::object{
                        {"Delete",
                         bj::object{{"TableName", m_table},
                                    {"Key", write.at("DeleteRequest").as_object().at("Key")}}}});
                }
            }
            auto op = m_db.transact_write(std::move(items));
            const std::vector<std::string> reasons = co_await std::move(op);
            if (!reasons.empty()) {
                throw Error(ErrorKind::busy, "DynamoDB state table " + m_table +
                                                 ": the lease was taken over by another run; this "
                                                 "run's progress is not recorded");
            }
        }
    }

    // The cursor moves in one transaction with a check that the lease is still ours, so a run
    // that was frozen (a Lambda container thawed, a suspended laptop) while another run took its
    // expired lease over cannot write its cursor over the newer run's. The check is on the owner
    // only, not the expiry: a lease is ours until another run takes it (renew_lease extends it
    // past its expiry too), and a takeover changes the owner, which is unique per run
    // (unique_run_owner()), so a lease once lost never reads as ours again.
    asio::awaitable<void> move_cursor_under_lease(Write cursor) {
        Write lease;
        lease.name("o", "owner").value("me", attr_s(m_owner));
        lease.condition = "#o = :me";
        bj::array items;
        items.push_back(bj::object{{"ConditionCheck", lease.request(m_table, key(m_lease))}});
        items.push_back(bj::object{{"Update", cursor.request(m_table, key(m_meta))}});
        auto op = m_db.transact_write(std::move(items));
        const std::vector<std::string> reasons = co_await std::move(op);
        if (!reasons.empty() && reasons.front() == "ConditionalCheckFailed") {
            throw Error(ErrorKind::busy, "DynamoDB state table " + m_table +
                                             ": the lease was taken over by another run; this "
                                             "run's progress is not recorded");
        }
        // Otherwise only the forward-only condition can have failed: the cursor is ahead already.
    }

    // Keeps the vault name, the last run and the lease (they describe the scope, not its
    // progress), as the SQLite store does. META is marked reset-pending first, so that an
    // interruption before every FILE item is gone is finished by the next load().
    asio::awaitable<void> do_reset() {
        Write mark;
        mark.set("v", "v", attr_n(0))
            .set("i", "i", attr_bool(true))
            .set("rp", "rp", attr_bool(true));
        touch(mark);
        mark.condition = "attribute_exists(#v)";
        auto op = conditional("UpdateItem", mark.request(m_table, key(m_meta)));
        const bool had_meta = co_await std::move(op);
        co_await purge_items();
        m_meta_ready = false;
        if (had_meta) {
            co_await ensure_meta();
        }
    }

    // Free, ours, or expired. Unlike the SQLite store, a lease whose owner looks like a dead
    // process of this host is not taken over before it expires: the table is shared by hosts
    // (every Lambda container may have the same host name and pid), so a pid proves nothing.
    asio::awaitable<bool> do_acquire_lease(std::string owner, std::chrono::seconds ttl) {
        Write take;
        take.set("o", "owner", attr_s(owner))
            .set("e", "expires_ms", attr_n(expiry(ttl)))
            .value("now", attr_n(m_now()));
        take.condition = "attribute_not_exists(#o) OR #o = :o OR #e <= :now";
        bj::object request = take.request(m_table, key(m_lease));
        request["ReturnValues"] = "UPDATED_OLD";  // to tell a take-over from a fresh lease
        bj::object reply;
        try {
            const std::string operation = "UpdateItem";
            reply = co_await m_db.call(operation, std::move(request));
        } catch (const aws::AwsError& error) {
            if (error.failure() != aws::AwsFailure::conditional_check_failed) {
                throw;
            }
            co_return false;
        }
        if (const auto* old = reply.if_contains("Attributes"); old != nullptr && old->is_object()) {
            const auto previous = aws::item_string(old->as_object(), "owner").value_or("");
            if (!previous.empty() && previous != owner) {
                if (Logger* log = process_logger()) {
                    log->warning("expired lease taken over",
                                 {{"vault_id", m_vault}, {"previous_owner", previous}});
                }
            }
        }
        co_return true;
    }

    aws::DynamoDb m_db;
    std::string m_table;
    std::string m_vault;
    std::chrono::seconds m_ttl;
    std::function<std::int64_t()> m_now;
    std::string m_meta;
    std::string m_lease;
    std::string m_file_prefix;
    std::string m_refused_prefix;
    bool m_meta_ready = false;  // META is known to exist, without reset-pending
    std::string m_owner;        // the lease this store took, empty when none
};

}  // namespace

std::unique_ptr<sync::StateStore> open_dynamodb_state(aws::AwsClient& client,
                                                      DynamoStateOptions options) {
    return std::make_unique<DynamoStateStore>(client, std::move(options));
}

}  // namespace obsync::state
