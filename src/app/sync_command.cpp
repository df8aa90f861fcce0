#include <algorithm>
#include <iostream>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "app/account.hpp"
#include "app/commands.hpp"
#include "app/output.hpp"
#include "app/progress.hpp"
#include "app/run_coro.hpp"
#include "app/storage.hpp"
#include "crypto/vault_cipher.hpp"
#include "obsidian/api.hpp"
#include "sync/engine.hpp"
#include "sync/path_filter.hpp"
#include "sync/path_policy.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"

namespace obsync::app {

namespace asio = boost::asio;

namespace {

// A vault name that is safe as one folder name, or nothing: one segment that the vault paths'
// own rules accept (no control character, valid UTF-8, not "..", not ".obsync").
std::optional<std::string> folder_name(const std::string& name) {
    if (name.find('/') != std::string::npos || name.size() > 200 ||
        sync::unsafe_path_reason(name)) {
        return std::nullopt;
    }
    return name;
}

}  // namespace

int run_sync(const GlobalOptions& global, const SyncRequest& request) {
    try {
        // Everything the command line alone can refute fails here, before any sign-in.
        if (request.dest.empty()) {
            throw Error(ErrorKind::config, "--dest is empty: give a folder or s3://BUCKET/PREFIX");
        }
        sync::PathFilter::check_globs(request.excludes);
        Session session(global);
        StorageOptions storage_options;
        storage_options.dest = request.dest;
        storage_options.state = request.state;
        storage_options.sse = request.sse;
        storage_options.sse_kms_key_id = request.sse_kms_key_id;
        storage_options.sync_time = iso_time(epoch_ms());
        Storage storage(session.io(), session.paths(), storage_options);

        std::string token;
        std::vector<obsidian::VaultInfo> chosen;
        run_coro(session.io(), [&]() -> asio::awaitable<void> {
            auto [t, vaults] = co_await session.vaults();
            token = t;
            if (request.all) {
                chosen = vaults;
            } else {
                chosen.push_back(obsidian::find_vault(vaults, *request.vault));
            }
        }());

        boost::json::array results;
        int exit_code = k_exit_ok;
        std::set<std::string> used_folders;
        for (const obsidian::VaultInfo& vault : chosen) {
            std::string folder;
            if (request.all) {
                const auto name = folder_name(vault.name);
                folder = name && !used_folders.contains(*name) ? *name : vault.id;
                used_folders.insert(folder);
            }
            try {
                const auto password =
                    vault.managed_password
                        ? vault.managed_password
                        : session.credentials().password_for_vault(vault.id, vault.name);
                if (!password) {
                    throw Error(ErrorKind::auth,
                                "vault \"" + vault.name +
                                    "\" is end-to-end encrypted: give its password "
                                    "with --password or OBSIDIAN_VAULT_PASSWORD");
                }
                const crypto::VaultCipher cipher = crypto::VaultCipher::from_password(
                    *password, vault.salt,
                    crypto::encryption_version_from_int(vault.encryption_version));
                obsidian::Api api(session.http(), session.api_url());
                // A wrong password fails here, before a sink or a state entry exists.
                run_coro(session.io(), api.check_access(token, vault, cipher.keyhash()));
                auto sink = storage.open_sink(folder);
                const sync::StateScope scope{vault.id, sink->describe()};
                auto state = storage.open_state(scope, request.dry_run);
                sync::EngineOptions options;
                options.full = request.full;
                options.dry_run = request.dry_run;
                options.keep_deleted = request.keep_deleted;
                options.concurrency = request.concurrency;
                options.excludes = request.excludes;
                options.lease_owner = unique_run_owner();
                options.vault_name = vault.name;
                ProgressReporter progress(display_name(vault.name));
                sync::EngineResult result;
                run_coro(session.io(), [&]() -> asio::awaitable<void> {
                    const obsidian::SessionTarget target{vault.host, vault.id, token};
                    sync::Engine engine(session.io().get_executor(), target, cipher, *sink, *state,
                                        options);
                    const sync::Engine::ProgressFn on_progress = [&](const sync::Progress& p) {
                        progress.update(p);
                    };
                    result = co_await engine.run(on_progress);
                }());
                progress.finish();
                if (!result.ok()) {
                    exit_code = std::max<int>(exit_code, k_exit_partial);
                }
                if (global.json) {
                    auto entry = result_json(vault, sink->describe(), result);
                    if (request.dry_run) {
                        boost::json::array plan;
                        for (const auto& a : result.plan) {
                            boost::json::object step{{"action", action_word(a.kind)}};
                            put_path(step, a.path);
                            plan.push_back(std::move(step));
                        }
                        entry["plan"] = std::move(plan);
                    }
                    results.push_back(std::move(entry));
                } else {
                    if (request.dry_run) {
                        for (const auto& a : result.plan) {
                            std::cout << action_word(a.kind) << "  " << display_name(a.path)
                                      << "\n";
                        }
                    }
                    std::cerr << display_name(vault.name) << ": "
                              << (request.dry_run ? "would create " : "created ") << result.created
                              << ", updated " << result.updated << ", deleted " << result.deleted
                              << ", unchanged " << result.unchanged << ", failed "
                              << result.failed() << ", "
                              << human_bytes(static_cast<double>(result.bytes)) << " in "
                              << static_cast<double>(result.duration.count()) / 1000.0 << " s"
                              << std::endl;
                    for (const auto& f : result.failures) {
                        std::cerr << "  failed: "
                                  << (f.path.empty() ? "record " + std::to_string(f.uid)
                                                     : display_name(f.path))
                                  << ": " << display_message(f.message) << std::endl;
                    }
                    // Refusals stand until the server replaces them: every run says so.
                    if (!result.refused.empty()) {
                        std::cerr << "  " << result.refused.size()
                                  << " record(s) refused, not in the backup:" << std::endl;
                    }
                    for (const auto& r : result.refused) {
                        std::cerr << "  refused: "
                                  << (r.path.empty() ? "record " + std::to_string(r.uid)
                                                     : display_name(r.path))
                                  << ": " << display_message(r.reason) << std::endl;
                    }
                    if (result.foreign_kept > 0) {
                        std::cerr << "  kept " << result.foreign_kept
                                  << " file(s) at the destination that this backup did not write"
                                  << std::endl;
                    }
                    std::cerr << portability_text(result.portability) << std::flush;
                }
            } catch (const Error& e) {
                std::cerr << "obsync: " << display_name(vault.name) << ": "
                          << display_message(e.what()) << std::endl;
                const int code = exit_code_for(e);
                // With --all one failing vault does not stop the others, and the run reports 1.
                exit_code = request.all ? std::max<int>(exit_code, k_exit_partial)
                                        : std::max(exit_code, code);
                if (global.json) {
                    results.push_back({{"id", vault.id},
                                       {"name", vault.name},
                                       {"ok", false},
                                       {"error", e.what()},
                                       {"kind", std::string(to_string(e.kind()))}});
                }
            }
        }
        if (global.json) {
            print_json(std::cout,
                       boost::json::object{{"ok", exit_code == k_exit_ok}, {"vaults", results}});
        }
        return exit_code;
    } catch (const Error& e) {
        return report(global, e);
    }
}

}  // namespace obsync::app
