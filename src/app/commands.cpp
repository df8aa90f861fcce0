#include "app/commands.hpp"

#include <ctime>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "app/account.hpp"
#include "app/output.hpp"
#include "app/progress.hpp"
#include "backup/storage.hpp"
#include "crypto/totp.hpp"
#include "obsidian/api.hpp"
#include "state/sqlite_store.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/run_coro.hpp"

namespace obsync::app {

namespace asio = boost::asio;

int run_login(const GlobalOptions& global, const std::optional<std::string>& mfa_code) {
    try {
        Session session(global);
        session.account().sign_in(mfa_code);
        const std::string email = *session.credentials().email;
        std::cerr << "Logged in as " << display_name(email) << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_logout(const GlobalOptions& global) {
    try {
        Session session(global);
        if (const auto saved = session.tokens().load()) {
            obsidian::Api api(session.http(), saved->api_url.empty() ? session.account().api_url()
                                                                     : saved->api_url);
            try {
                run_coro(session.io(), api.signout(saved->token));
            } catch (const Error&) {
                // The token is forgotten locally either way.
            }
        }
        // Also when the file is unreadable or corrupt (load() warned): logout always works.
        session.tokens().forget();
        std::cerr << "Logged out" << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_vaults(const GlobalOptions& global) {
    try {
        Session session(global);
        const std::vector<obsidian::VaultInfo> vaults = session.account().vaults().second;
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
            print_json(std::cout, boost::json::object{{"vaults", list}});
        } else {
            for (const auto& v : vaults) {
                std::cout << display_name(v.id) << "  " << display_name(v.name)
                          << (v.shared ? "  (shared)" : "")
                          << (v.managed() ? "  (managed encryption)" : "") << "\n";
            }
        }
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_state_init(const GlobalOptions& global, const std::string& state) {
    try {
        asio::io_context io;
        backup::StorageOptions options;
        options.state = state;
        options.sqlite_file = Paths::from_environment().state_db();
        backup::Storage storage(io, options);
        storage.init_state_table();
        std::cerr << "State table ready: " << state << std::endl;
        return k_exit_ok;
    } catch (const Error& e) {
        return report(global, e);
    }
}

int run_status(const GlobalOptions& global, const std::optional<std::string>& vault) {
    try {
        const Paths paths = Paths::from_environment();
        boost::json::array list;
        bool found = false;
        for (const auto& scope : state::list_sqlite_scopes(paths.state_db())) {
            if (vault && scope.vault_id != *vault && scope.vault_name != *vault) {
                continue;
            }
            found = true;
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
                o["refused"] = refused_json(scope.refused);
                list.push_back(std::move(o));
            } else {
                std::cout << display_name(scope.vault_name) << " (" << display_name(scope.vault_id)
                          << ") -> " << printable(scope.destination) << "\n  last sync "
                          << (run ? iso_time(run->finished_ms) : "never")
                          << (run ? (run->ok ? ", ok" : ", failed: " + display_message(run->error))
                                  : "")
                          << "\n  cursor " << scope.cursor.version << ", " << scope.file_count
                          << " files, " << human_bytes(static_cast<double>(scope.total_bytes))
                          << "\n";
                if (!scope.refused.empty()) {
                    std::cout << "  " << scope.refused.size()
                              << " record(s) refused, not in the backup:\n";
                }
                for (const auto& record : scope.refused) {
                    std::cout << "    "
                              << (record.path.empty() ? "record " + std::to_string(record.uid)
                                                      : display_name(record.path))
                              << ": " << display_message(record.reason) << "\n";
                }
            }
        }
        if (vault && !found) {
            throw Error(ErrorKind::not_found, "no saved state for vault \"" + *vault + "\"");
        }
        if (global.json) {
            print_json(std::cout, boost::json::object{{"backups", list}});
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
        const backup::Credentials credentials = cli_credentials(global);
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
