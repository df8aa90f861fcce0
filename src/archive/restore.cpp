#include "archive/restore.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "archive/readers.hpp"
#include "crypto/sha256.hpp"
#include "sink/local_dir.hpp"
#include "sync/path_policy.hpp"
#include "sync/sink.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/hex.hpp"
#include "util/parallel.hpp"

namespace obsync::archive {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using Kind = RestoreStep::Kind;

bool under(std::string_view path, std::string_view root) {
    return path == root || (path.starts_with(root) && path.size() > root.size() &&
                            (root == "/" || path[root.size()] == '/'));
}

// Restoring into the backup, or a backup into a folder inside it, would read what it writes.
void check_overlap(const BackupReader& reader, const std::string& target) {
    const std::string source = reader.describe();
    if (source.starts_with("s3://")) {
        return;
    }
    if (under(target, source) || under(source, target)) {
        throw Error(ErrorKind::config, "--to " + display_name(target) + " and the backup " +
                                           display_name(source) +
                                           " overlap: restore into a folder outside the backup");
    }
}

class Restore {
public:
    Restore(BackupReader& reader, const std::filesystem::path& to, const RestoreOptions& options,
            const RestoreProgressFn& progress)
        : m_reader(reader),
          m_target(sink::local_root_name(to)),
          m_root(m_target),
          m_options(options),
          m_progress(progress) {}

    asio::awaitable<RestoreResult> run() {
        const auto started = Clock::now();
        check_overlap(m_reader, m_target);
        std::vector<std::string> roots;
        for (const std::string& path : m_options.paths) {
            roots.push_back(normalize_restore_path(path));
        }
        std::vector<ArchivedEntry> listed = co_await m_reader.list();
        m_result.skipped = m_reader.skipped();
        // Entries that cannot be placed fail whatever --path says: where they belong is unknown.
        for (const UnreadableEntry& entry : m_reader.unreadable()) {
            m_result.failures.push_back({entry.name, entry.message, entry.kind});
        }
        for (ArchivedEntry& entry : listed) {
            const bool wanted =
                roots.empty() || std::any_of(roots.begin(), roots.end(), [&](const auto& root) {
                    return under(entry.path, root);
                });
            if (wanted) {
                m_entries.push_back(std::move(entry));
            }
        }
        for (const std::string& root : roots) {
            if (std::none_of(m_entries.begin(), m_entries.end(),
                             [&](const ArchivedEntry& e) { return under(e.path, root); })) {
                throw Error(ErrorKind::not_found, "nothing in " +
                                                      display_name(m_reader.describe()) + " at \"" +
                                                      display_name(root) + "\"");
            }
        }

        m_sink = sink::open_local_dir(m_target);
        m_existing = open_local_reader(m_target, {});
        co_await plan();
        if (m_options.dry_run || m_result.stopped_by_conflicts(m_options.overwrite)) {
            m_result.duration = elapsed(started);
            co_return std::move(m_result);
        }
        co_await write();
        m_result.duration = elapsed(started);
        co_return std::move(m_result);
    }

private:
    static std::chrono::milliseconds elapsed(Clock::time_point since) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since);
    }

    // What each entry needs, from what the target already holds: file sizes first, then (same
    // size) the hashes of both sides, so a rerun reads the existing files but downloads nothing.
    asio::awaitable<void> plan() {
        m_steps.assign(m_entries.size(), RestoreStep{});
        const std::function<asio::awaitable<void>(std::size_t)> job =
            [this](std::size_t i) -> asio::awaitable<void> { co_await plan_one(i); };
        co_await for_each_parallel(m_entries.size(), m_options.concurrency, job);
        for (std::size_t i = 0; i < m_entries.size(); ++i) {
            const RestoreStep& step = m_steps[i];
            if (step.kind == Kind::conflict || step.kind == Kind::blocked) {
                m_result.conflicts.push_back({step.path, step.reason, step.kind == Kind::blocked});
            }
            if (step.kind == Kind::identical && !m_entries[i].folder) {
                ++m_result.identical;
            }
            m_result.plan.push_back(step);
        }
    }

    // Whether a folder above `path` at the target is something else (a file, a link): then
    // nothing can be written below it. Answers are kept: siblings share their folders.
    std::optional<std::string> blocked_above(std::string_view path) {
        for (std::size_t slash = path.find('/'); slash != std::string_view::npos;
             slash = path.find('/', slash + 1)) {
            const std::string above(path.substr(0, slash));
            auto known = m_above.find(above);
            if (known == m_above.end()) {
                std::error_code ec;
                const auto type = std::filesystem::symlink_status(m_root / above, ec).type();
                std::optional<std::string> reason;
                if (type == std::filesystem::file_type::not_found) {
                    reason = "";  // missing: made on the way, and so is everything below
                } else if (type != std::filesystem::file_type::directory) {
                    reason = "\"" + above + "\" is " +
                             (type == std::filesystem::file_type::symlink ? "a symbolic link"
                                                                          : "not a folder") +
                             " at the target";
                }
                known = m_above.emplace(above, reason).first;
            }
            if (known->second) {
                if (known->second->empty()) {
                    return std::nullopt;
                }
                return known->second;
            }
        }
        return std::nullopt;
    }

    asio::awaitable<void> plan_one(std::size_t i) {
        ArchivedEntry& entry = m_entries[i];
        RestoreStep& step = m_steps[i];
        step.path = entry.path;
        step.size = entry.size;
        if (auto reason = blocked_above(entry.path)) {
            step.kind = Kind::blocked;
            step.reason = std::move(*reason);
            co_return;
        }
        const std::optional<sync::EntryInfo> there = co_await m_sink->stat(entry.path);
        if (!there) {
            // Nothing, or something the sink does not count as a file or folder (a symbolic
            // link, a fifo): replaced only with --overwrite, like a file with other bytes.
            std::error_code ec;
            const auto type = std::filesystem::symlink_status(m_root / entry.path, ec).type();
            if (type == std::filesystem::file_type::not_found) {
                step.kind = entry.folder ? Kind::folder : Kind::write;
            } else if (entry.folder) {
                step.kind = Kind::blocked;
                step.reason = "a symbolic link or special file is where the folder belongs";
            } else {
                step.kind = m_options.overwrite ? Kind::replace : Kind::conflict;
                step.reason = "a symbolic link or special file is in the way";
            }
            co_return;
        }
        if (entry.folder || there->folder) {
            // A folder over a folder is there already; a file and a folder never replace each
            // other, even with --overwrite (that would throw a whole tree away).
            if (entry.folder && there->folder) {
                step.kind = Kind::identical;
            } else {
                step.kind = Kind::blocked;
                step.reason = entry.folder ? "a file is where the folder belongs"
                                           : "a folder is where the file belongs";
            }
            co_return;
        }
        if (there->size == entry.size) {
            if (!entry.described) {
                co_await m_reader.describe(entry);
            }
            std::optional<std::string> wanted = entry.recorded.content_hash;
            if (!wanted) {
                // Nothing recorded: the bytes decide.
                wanted = (co_await read_hashed(m_reader, entry)).hash;
            }
            ArchivedEntry existing;
            existing.path = entry.path;
            if ((co_await read_hashed(*m_existing, existing)).hash == *wanted) {
                step.kind = Kind::identical;
                co_return;
            }
        }
        step.kind = m_options.overwrite ? Kind::replace : Kind::conflict;
        step.reason = "a file with other bytes is there";
    }

    asio::awaitable<void> write() {
        co_await m_sink->prepare();  // the folder itself, and no leftovers of a killed restore
        std::vector<std::size_t> files;
        for (std::size_t i = 0; i < m_steps.size(); ++i) {
            const Kind kind = m_steps[i].kind;
            if (kind == Kind::folder) {
                co_await m_sink->create_folder(m_entries[i].path);
                ++m_result.folders;
            } else if (kind == Kind::write || kind == Kind::replace) {
                files.push_back(i);
                m_progress_state.bytes_total += static_cast<std::int64_t>(m_entries[i].size);
            }
        }
        m_progress_state.files_total = static_cast<std::int64_t>(files.size());
        report();
        const std::function<asio::awaitable<void>(std::size_t)> job =
            [&](std::size_t n) -> asio::awaitable<void> {
            co_await write_one(files[n]);
            ++m_progress_state.files_done;
            report();
        };
        co_await for_each_parallel(files.size(), m_options.concurrency, job);
        std::sort(m_result.failures.begin(), m_result.failures.end(),
                  [](const RestoreFailure& a, const RestoreFailure& b) { return a.path < b.path; });
        if (m_result.written > 0) {
            co_await m_sink->flush();
        }
    }

    // One file: streamed from the backup into a temp file while hashed, renamed into place only
    // when its size and hash are those recorded. Failures are the file's, never the run's.
    asio::awaitable<void> write_one(std::size_t i) {
        const ArchivedEntry& entry = m_entries[i];
        try {
            std::unique_ptr<sync::FileWriter> writer;
            crypto::Sha256 hasher;
            std::uint64_t size = 0;
            const RecordedHandler on_recorded =
                [&](const Recorded& recorded) -> asio::awaitable<void> {
                sync::FileMeta meta;
                meta.mtime_ms =
                    recorded.mtime_ms.value_or(entry.stored_ms > 0 ? entry.stored_ms : epoch_ms());
                meta.size = entry.size;
                meta.content_hash = recorded.content_hash.value_or("");
                // Only a planned replacement replaces: anything that appeared since the plan
                // (another program, a name the file system folds onto another) is kept.
                meta.replace = m_steps[i].kind == Kind::replace;
                writer = co_await m_sink->create_file(entry.path, meta);
            };
            const ByteHandler on_bytes = [&](ByteView bytes) -> asio::awaitable<void> {
                hasher.update(bytes);
                size += bytes.size();
                m_progress_state.bytes_done += static_cast<std::int64_t>(bytes.size());
                co_await writer->write(bytes);
            };
            const Recorded recorded = co_await m_reader.read(entry, on_recorded, on_bytes);
            const std::string hash = to_hex(hasher.finish());
            if (size != entry.size) {
                throw Error(ErrorKind::storage, "read " + std::to_string(size) +
                                                    " bytes where the backup lists " +
                                                    std::to_string(entry.size) + ": not written");
            }
            if (recorded.content_hash && *recorded.content_hash != hash) {
                throw Error(ErrorKind::storage,
                            "the bytes do not match the hash recorded with them (" +
                                recorded.content_hash->substr(0, 12) + "…, read " +
                                hash.substr(0, 12) + "…): not written");
            }
            co_await writer->commit();
            ++m_result.written;
            m_result.bytes += static_cast<std::int64_t>(size);
            if (m_steps[i].kind == Kind::replace) {
                ++m_result.replaced;
            }
            if (!recorded.content_hash) {
                ++m_result.unverified;
            }
        } catch (const Error& error) {
            m_result.failures.push_back({entry.path, error.what(), error.kind()});
        }
    }

    void report() {
        if (m_progress) {
            m_progress(m_progress_state);
        }
    }

    BackupReader& m_reader;
    const std::string m_target;
    const std::filesystem::path m_root;
    std::map<std::string, std::optional<std::string>> m_above;  // blocked_above's answers
    const RestoreOptions& m_options;
    const RestoreProgressFn& m_progress;
    std::vector<ArchivedEntry> m_entries;
    std::vector<RestoreStep> m_steps;
    std::unique_ptr<sync::Sink> m_sink;
    std::unique_ptr<BackupReader> m_existing;
    RestoreProgress m_progress_state;
    RestoreResult m_result;
};

}  // namespace

bool RestoreResult::stopped_by_conflicts(bool overwrite) const {
    return std::any_of(conflicts.begin(), conflicts.end(),
                       [overwrite](const RestoreConflict& c) { return c.blocked || !overwrite; });
}

std::string normalize_restore_path(std::string_view path) {
    while (!path.empty() && path.front() == '/') {
        path.remove_prefix(1);
    }
    while (!path.empty() && path.back() == '/') {
        path.remove_suffix(1);
    }
    if (path.empty()) {
        throw Error(ErrorKind::config, "--path is empty: give a file or folder of the vault");
    }
    if (const auto reason = sync::unsafe_path_reason(path)) {
        throw Error(ErrorKind::config,
                    "--path \"" + display_name(path) + "\" is not a vault path: " + *reason);
    }
    return std::string(path);
}

asio::awaitable<RestoreResult> restore(BackupReader& reader, const std::filesystem::path& to,
                                       const RestoreOptions& options,
                                       const RestoreProgressFn& progress) {
    Restore run(reader, to, options, progress);
    co_return co_await run.run();
}

}  // namespace obsync::archive
