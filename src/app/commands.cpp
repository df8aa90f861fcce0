#include "app/commands.hpp"

#include <algorithm>
#include <array>
#include <ctime>
#include <iostream>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <unistd.h>

#include "app/account.hpp"
#include "app/progress.hpp"
#include "app/run_coro.hpp"
#include "crypto/totp.hpp"
#include "crypto/vault_cipher.hpp"
#include "net/http_client.hpp"
#include "obsidian/api.hpp"
#include "sink/local_dir.hpp"
#include "state/sqlite_store.hpp"
#include "sync/engine.hpp"
#include "sync/sink.hpp"
#include "util/error.hpp"
#include "util/process_owner.hpp"

namespace obsync::app {

namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

int exit_code_for(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::auth:
        case ErrorKind::mfa:
        case ErrorKind::crypto:
            return k_exit_login;
        case ErrorKind::not_found:
            return k_exit_not_found;
        case ErrorKind::config:
        case ErrorKind::bad_input:
            return k_exit_usage;
        default:
            return k_exit_partial;
    }
}

std::string iso_time(std::int64_t ms) {
    if (ms <= 0) {
        return "never";
    }
    const std::time_t seconds = ms / 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    std::array<char, 32> text{};
    std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text.data();
}

// A vault name that is safe as one folder name, or nothing.
std::optional<std::string> folder_name(const std::string& name) {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos || name.size() > 200) {
        return std::nullopt;
    }
    return name;
}

// The state of a scope that has never been synced, for dry runs: reading it must not create
// anything, and a dry run never writes.
class NoStateYet final : public sync::StateStore {
public:
    asio::awaitable<sync::StateSnapshot> load() override { co_return sync::StateSnapshot{}; }
    asio::awaitable<void> commit(const sync::Checkpoint&) override { co_return refuse(); }
    asio::awaitable<void> set_vault_name(std::string_view) override { co_return refuse(); }
    asio::awaitable<void> record_run(const sync::RunRecord&) override { co_return refuse(); }
    asio::awaitable<void> reset() override { co_return refuse(); }
    asio::awaitable<bool> acquire_lease(std::string_view, std::chrono::seconds) override {
        co_return true;
    }
    asio::awaitable<void> renew_lease(std::string_view, std::chrono::seconds) override {
        co_return;
    }
    asio::awaitable<void> release_lease(std::string_view) override { co_return; }

private:
    static void refuse() { throw Error(ErrorKind::storage, "a dry run writes no state"); }
};

std::unique_ptr<sync::StateStore> open_state(const Paths& paths, const sync::StateScope& scope,
                                             bool dry_run) {
    if (dry_run) {
        const auto scopes = state::list_sqlite_scopes(paths.state_db());
        const bool exists = std::any_of(scopes.begin(), scopes.end(), [&](const auto& s) {
            return s.vault_id == scope.vault_id && s.destination == scope.destination;
        });
        if (!exists) {
            return std::make_unique<NoStateYet>();
        }
    }
    return state::open_sqlite_state(paths.state_db(), scope);
}

// Reports an error on stderr (and, with --json, as the summary) and returns its exit code.
int report(const GlobalOptions& global, const Error& e) {
    if (global.json) {
        boost::json::object out;
        out["ok"] = false;
        out["error"] = e.what();
        out["kind"] = std::string(to_string(e.kind()));
        std::cout << boost::json::serialize(out) << std::endl;
    }
    std::cerr << "obsync: " << e.what() << std::endl;
    return exit_code_for(e.kind());
}

boost::json::object result_json(const obsidian::VaultInfo& vault, const std::string& dest,
                                const sync::EngineResult& r) {
    boost::json::object o;
    o["id"] = vault.id;
    o["name"] = vault.name;
    o["destination"] = dest;
    o["ok"] = r.failures.empty();
    o["complete"] = r.complete;
    o["created"] = r.created;
    o["updated"] = r.updated;
    o["deleted"] = r.deleted;
    o["unchanged"] = r.unchanged;
    o["failed"] = r.failed();
    o["bytes"] = r.bytes;
    o["duration_ms"] = r.duration.count();
    o["cursor"] = r.cursor.version;
    boost::json::array errors;
    for (const auto& f : r.failures) {
        errors.push_back({{"path", f.path}, {"uid", f.uid}, {"message", f.message}});
    }
    o["errors"] = std::move(errors);
    return o;
}

const char* action_word(sync::PlannedAction::Kind kind) {
    switch (kind) {
        case sync::PlannedAction::Kind::create:
            return "create";
        case sync::PlannedAction::Kind::update:
            return "update";
        case sync::PlannedAction::Kind::remove:
            return "delete";
        case sync::PlannedAction::Kind::create_folder:
            return "mkdir";
        case sync::PlannedAction::Kind::remove_folder:
            return "rmdir";
    }
    return "?";
}

}  // namespace

int run_login(const GlobalOptions& global, const std::optional<std::string>& mfa_code) {
    try {
        Session session(global);
        std::string email;
        run_coro(session.io(), [&]() -> asio::awaitable<void> {
            co_await session.sign_in(mfa_code);
            email = *session.credentials().email;
        }());
        std::cerr << "Logged in as " << email << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_logout(const GlobalOptions& global) {
    try {
        Session session(global);
        if (const auto saved = load_login(session.paths())) {
            obsidian::Api api(session.http(),
                              saved->api_url.empty() ? session.api_url() : saved->api_url);
            try {
                run_coro(session.io(), api.signout(saved->token));
            } catch (const Error&) {
                // The token is forgotten locally either way.
            }
            forget_login(session.paths());
        }
        std::cerr << "Logged out" << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_vaults(const GlobalOptions& global) {
    try {
        Session session(global);
        std::vector<obsidian::VaultInfo> vaults;
        run_coro(session.io(),
                 [&]() -> asio::awaitable<void> { vaults = (co_await session.vaults()).second; }());
        if (global.json) {
            boost::json::array list;
            for (const auto& v : vaults) {
                list.push_back({{"id", v.id},
                                {"name", v.name},
                                {"region", v.region},
                                {"shared", v.shared},
                                {"encryption_version", v.encryption_version},
                                {"managed", v.managed()}});
            }
            std::cout << boost::json::serialize(boost::json::object{{"vaults", list}}) << std::endl;
        } else {
            for (const auto& v : vaults) {
                std::cout << v.id << "  " << v.name << (v.shared ? "  (shared)" : "")
                          << (v.managed() ? "  (managed encryption)" : "") << "\n";
            }
        }
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_sync(const GlobalOptions& global, const SyncRequest& request) {
    try {
        Session session(global);
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
            fs::path dest = request.dest;
            if (request.all) {
                const auto name = folder_name(vault.name);
                const std::string folder = name && !used_folders.contains(*name) ? *name : vault.id;
                used_folders.insert(folder);
                dest /= folder;
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
                auto sink = sink::open_local_dir(dest);
                auto state =
                    open_state(session.paths(), {vault.id, sink->describe()}, request.dry_run);
                sync::EngineOptions options;
                options.full = request.full;
                options.dry_run = request.dry_run;
                options.keep_deleted = request.keep_deleted;
                options.concurrency = request.concurrency;
                options.excludes = request.excludes;
                options.lease_owner = local_process_owner();
                ProgressReporter progress(vault.name);
                sync::EngineResult result;
                run_coro(session.io(), [&]() -> asio::awaitable<void> {
                    obsidian::Api api(session.http(), session.api_url());
                    // A wrong password fails here, before anything is written.
                    co_await api.check_access(token, vault, cipher.keyhash());
                    if (!request.dry_run) {
                        co_await state->set_vault_name(vault.name);
                    }
                    const obsidian::SessionTarget target{vault.host, vault.id, token};
                    sync::Engine engine(session.io().get_executor(), target, cipher, *sink, *state,
                                        options);
                    const sync::Engine::ProgressFn on_progress = [&](const sync::Progress& p) {
                        progress.update(p);
                    };
                    result = co_await engine.run(on_progress);
                }());
                progress.finish();
                if (!result.failures.empty()) {
                    exit_code = std::max<int>(exit_code, k_exit_partial);
                }
                if (global.json) {
                    auto entry = result_json(vault, sink->describe(), result);
                    if (request.dry_run) {
                        boost::json::array plan;
                        for (const auto& a : result.plan) {
                            plan.push_back({{"action", action_word(a.kind)}, {"path", a.path}});
                        }
                        entry["plan"] = std::move(plan);
                    }
                    results.push_back(std::move(entry));
                } else {
                    if (request.dry_run) {
                        for (const auto& a : result.plan) {
                            std::cout << action_word(a.kind) << "  " << a.path << "\n";
                        }
                    }
                    std::cerr << vault.name << ": "
                              << (request.dry_run ? "would create " : "created ") << result.created
                              << ", updated " << result.updated << ", deleted " << result.deleted
                              << ", unchanged " << result.unchanged << ", failed "
                              << result.failed() << ", "
                              << human_bytes(static_cast<double>(result.bytes)) << " in "
                              << static_cast<double>(result.duration.count()) / 1000.0 << " s"
                              << std::endl;
                    for (const auto& f : result.failures) {
                        std::cerr << "  failed: "
                                  << (f.path.empty() ? "record " + std::to_string(f.uid) : f.path)
                                  << ": " << f.message << std::endl;
                    }
                }
            } catch (const Error& e) {
                std::cerr << "obsync: " << vault.name << ": " << e.what() << std::endl;
                const int code = exit_code_for(e.kind());
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
            std::cout << boost::json::serialize(boost::json::object{{"ok", exit_code == k_exit_ok},
                                                                    {"vaults", results}})
                      << std::endl;
        }
        return exit_code;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_status(const GlobalOptions& global, const std::optional<std::string>& vault) {
    try {
        const Paths paths = Paths::from_environment();
        boost::json::array list;
        for (const auto& scope : state::list_sqlite_scopes(paths.state_db())) {
            if (vault && scope.vault_id != *vault && scope.vault_name != *vault) {
                continue;
            }
            const auto& run = scope.last_run;
            if (global.json) {
                boost::json::object o{{"id", scope.vault_id},
                                      {"name", scope.vault_name},
                                      {"destination", scope.destination},
                                      {"cursor", scope.cursor.version},
                                      {"files", scope.file_count},
                                      {"bytes", scope.total_bytes}};
                if (run) {
                    o["last_sync"] = iso_time(run->finished_ms);
                    o["last_result"] = run->ok ? "ok" : "failed";
                    o["last_error"] = run->error;
                }
                list.push_back(std::move(o));
            } else {
                std::cout << scope.vault_name << " (" << scope.vault_id << ") -> "
                          << scope.destination << "\n  last sync "
                          << (run ? iso_time(run->finished_ms) : "never")
                          << (run ? (run->ok ? ", ok" : ", failed: " + run->error) : "")
                          << "\n  cursor " << scope.cursor.version << ", " << scope.file_count
                          << " files, " << human_bytes(static_cast<double>(scope.total_bytes))
                          << "\n";
            }
        }
        if (global.json) {
            std::cout << boost::json::serialize(boost::json::object{{"backups", list}})
                      << std::endl;
        }
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_reset(const GlobalOptions& global, const std::optional<std::string>& vault, bool all) {
    try {
        const Paths paths = Paths::from_environment();
        int reset = 0;
        asio::io_context io;
        for (const auto& scope : state::list_sqlite_scopes(paths.state_db())) {
            if (!all && scope.vault_id != *vault && scope.vault_name != *vault) {
                continue;
            }
            auto store =
                state::open_sqlite_state(paths.state_db(), {scope.vault_id, scope.destination});
            run_coro(io, store->reset());
            ++reset;
        }
        if (!all && reset == 0) {
            throw Error(ErrorKind::not_found, "no saved state for vault \"" + *vault + "\"");
        }
        std::cerr << "Reset " << reset << " backup state(s): the next sync is complete"
                  << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_totp(const GlobalOptions& global) {
    try {
        Credentials credentials = Credentials::from_environment();
        credentials.override_with(global.flags);
        if (!credentials.totp_secret) {
            throw Error(ErrorKind::config, "no TOTP secret: give --secret or OBSIDIAN_TOTP_SECRET");
        }
        std::cout << crypto::totp_from_base32(*credentials.totp_secret, std::time(nullptr))
                  << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

}  // namespace obsync::app
