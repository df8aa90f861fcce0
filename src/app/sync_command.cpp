#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include <boost/json.hpp>

#include "app/account.hpp"
#include "app/commands.hpp"
#include "app/output.hpp"
#include "app/progress.hpp"
#include "backup/log_observer.hpp"
#include "backup/service.hpp"
#include "backup/storage.hpp"
#include "sync/path_filter.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/process_owner.hpp"

namespace obsync::app {

namespace {

// Prints each vault as it finishes: a progress bar while it runs, then its summary lines on
// stderr (text) or its entry of the JSON summary. Also works out the exit code.
class CliObserver final : public backup::BackupObserver {
public:
    CliObserver(const GlobalOptions& global, const SyncRequest& request, Logger* log)
        : m_global(global), m_request(request) {
        if (log != nullptr) {
            m_logging.emplace(*log);
        }
    }

    void vault_started(const obsidian::VaultInfo& vault) override {
        if (m_logging) {
            m_logging->vault_started(vault);
            return;
        }
        m_progress = std::make_unique<ProgressReporter>(display_name(vault.name));
    }

    void progress(const sync::Progress& progress) override {
        if (m_progress) {
            m_progress->update(progress);
        }
    }

    void vault_finished(const obsidian::VaultInfo& vault, const backup::VaultOutcome& outcome,
                        const sync::EngineResult* result) override {
        if (m_progress) {
            m_progress->finish();
            m_progress.reset();
        }
        if (m_logging) {
            m_logging->vault_finished(vault, outcome, result);
        }
        if (outcome.error) {
            failed(vault, *outcome.error);
        } else if (result != nullptr) {
            finished(vault, outcome, *result);
        } else {
            // Never started: the time limit had passed.
            m_stopped_early = true;
            if (m_logging) {
                // Already logged.
            } else if (m_global.json) {
                m_results.push_back({{"id", vault.id},
                                     {"name", vault.name},
                                     {"ok", true},
                                     {"stopped_early", true}});
            } else {
                std::cerr << display_name(vault.name) << ": not started, the time limit was reached"
                          << std::endl;
            }
        }
    }

    // A run cut short by --time-limit is not complete: 5 tells a script to run it again (a
    // failure outranks it).
    int exit_code() const {
        return m_exit_code == k_exit_ok && m_stopped_early ? k_exit_stopped : m_exit_code;
    }
    bool stopped_early() const { return m_stopped_early; }
    boost::json::array& results() { return m_results; }

private:
    void finished(const obsidian::VaultInfo& vault, const backup::VaultOutcome& outcome,
                  const sync::EngineResult& result) {
        if (!result.failures.empty() || !result.refused.empty()) {
            m_exit_code = std::max<int>(m_exit_code, k_exit_partial);
        }
        m_stopped_early = m_stopped_early || result.stopped_early;
        if (m_global.json) {
            auto entry = result_json(vault, outcome.destination, result);
            if (m_request.dry_run) {
                boost::json::array plan;
                for (const auto& a : result.plan) {
                    boost::json::object step{{"action", action_word(a.kind)}};
                    put_path(step, a.path);
                    plan.push_back(std::move(step));
                }
                entry["plan"] = std::move(plan);
            }
            m_results.push_back(std::move(entry));
            return;
        }
        if (m_logging) {
            return;
        }
        if (m_request.dry_run) {
            for (const auto& a : result.plan) {
                std::cout << action_word(a.kind) << "  " << display_name(a.path) << "\n";
            }
        }
        std::cerr << display_name(vault.name) << ": "
                  << (m_request.dry_run ? "would create " : "created ") << result.created
                  << ", updated " << result.updated << ", deleted " << result.deleted
                  << ", unchanged " << result.unchanged << ", failed " << result.failed() << ", "
                  << human_bytes(static_cast<double>(result.bytes)) << " in "
                  << static_cast<double>(result.duration.count()) / 1000.0 << " s" << std::endl;
        if (result.stopped_early) {
            std::cerr << "  stopped at the time limit: " << result.not_attempted
                      << " change(s) left for the next run" << std::endl;
        }
        for (const auto& f : result.failures) {
            std::cerr << "  failed: "
                      << (f.path.empty() ? "record " + std::to_string(f.uid) : display_name(f.path))
                      << ": " << display_message(f.message) << std::endl;
        }
        // Refusals stand until the server replaces them: every run says so.
        if (!result.refused.empty()) {
            std::cerr << "  " << result.refused.size()
                      << " record(s) refused, not in the backup:" << std::endl;
        }
        for (const auto& r : result.refused) {
            std::cerr << "  refused: "
                      << (r.path.empty() ? "record " + std::to_string(r.uid) : display_name(r.path))
                      << ": " << display_message(r.reason) << std::endl;
        }
        if (result.foreign_kept > 0) {
            std::cerr << "  kept " << result.foreign_kept
                      << " file(s) at the destination that this backup did not write" << std::endl;
        }
        std::cerr << portability_text(result.portability) << std::flush;
    }

    void failed(const obsidian::VaultInfo& vault, const backup::Failure& failure) {
        if (!m_logging) {
            std::cerr << "obsync: " << display_name(vault.name) << ": "
                      << display_message(failure.message) << std::endl;
        }
        // With --all one failing vault does not stop the others, and the run reports 1.
        m_exit_code = m_request.all ? std::max<int>(m_exit_code, k_exit_partial)
                                    : std::max(m_exit_code, exit_code_for(failure));
        if (m_global.json) {
            m_results.push_back({{"id", vault.id},
                                 {"name", vault.name},
                                 {"ok", false},
                                 {"error", failure.message},
                                 {"kind", std::string(to_string(failure.kind))}});
        }
    }

    const GlobalOptions& m_global;
    const SyncRequest& m_request;
    std::unique_ptr<ProgressReporter> m_progress;
    std::optional<backup::LoggingObserver> m_logging;
    boost::json::array m_results;
    int m_exit_code = k_exit_ok;
    bool m_stopped_early = false;
};

}  // namespace

void check_destination_flags(const std::string& dest, const std::vector<std::string>& excludes) {
    if (dest.empty()) {
        throw Error(ErrorKind::config, "--dest is empty: give a folder or s3://BUCKET/PREFIX");
    }
    sync::PathFilter::check_globs(excludes);
}

int run_sync(const GlobalOptions& global, const SyncRequest& request) {
    std::optional<Logger> log;
    if (global.json_logs) {
        log.emplace(std::cerr, LogFormat::json, LogLevel::info);
        set_process_logger(&*log);  // retries, reconnects and take-overs deep inside too
    }
    struct Unset {
        ~Unset() { set_process_logger(nullptr); }
    } unset_at_return;
    const auto fail = [&](const backup::Failure& failure) {
        if (!log) {
            return report_failure(global, failure);
        }
        log->error(failure.message, {{"error_kind", std::string(to_string(failure.kind))}});
        if (global.json) {
            print_json(std::cout,
                       boost::json::object{{"ok", false},
                                           {"error", failure.message},
                                           {"kind", std::string(to_string(failure.kind))}});
        }
        return exit_code_for(failure);
    };
    try {
        if (log) {
            log->set_threshold(parse_log_level(env_var("OBSYNC_LOG_LEVEL").value_or("INFO")));
        }
        const auto started = std::chrono::steady_clock::now();
        // Everything the command line alone can refute fails here, before any sign-in.
        check_destination_flags(request.dest, request.excludes);
        Session session(global);
        backup::StorageOptions storage_options;
        storage_options.dest = request.dest;
        storage_options.state = request.state;
        storage_options.sse = request.sse;
        storage_options.sse_kms_key_id = request.sse_kms_key_id;
        storage_options.sync_time = iso_time(epoch_ms());
        storage_options.sqlite_file = session.paths().state_db();
        backup::Storage storage(session.io(), storage_options);

        backup::BackupRequest backup_request;
        if (!request.all) {
            backup_request.vault = request.vault;
        }
        backup_request.folder_per_vault = request.all;
        backup_request.encrypted = request.encrypted;
        sync::EngineOptions& engine = backup_request.engine;
        engine.full = request.full;
        engine.dry_run = request.dry_run;
        engine.keep_deleted = request.keep_deleted;
        engine.concurrency = request.concurrency;
        engine.excludes = request.excludes;
        engine.lease_owner = unique_run_owner();
        if (request.time_limit) {
            backup::end_by(engine, started + *request.time_limit,
                           backup::default_margin(*request.time_limit));
        }

        backup::KeyCache keys;
        backup::BackupService service(session.io(), session.http(), session.account(), keys);
        CliObserver observer(global, request, log ? &*log : nullptr);
        const backup::BackupReport report = service.run(backup_request, storage, observer);
        if (report.error) {
            return fail(*report.error);
        }
        if (global.json) {
            print_json(std::cout, boost::json::object{{"ok", observer.exit_code() == k_exit_ok},
                                                      {"stopped_early", observer.stopped_early()},
                                                      {"vaults", observer.results()}});
        }
        return observer.exit_code();
    } catch (const Error& e) {
        return fail(backup::failure_of(e));
    }
}

}  // namespace obsync::app
