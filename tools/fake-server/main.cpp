// obsync-fake-server: a faithful Obsidian Sync test server (protocol doc §7) for tests, `make
// demo` and benchmarks. The command line below is a contract: scripts depend on it.
#include <csignal>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "crypto/totp.hpp"
#include "http_server.hpp"
#include "seeding.hpp"
#include "store.hpp"
#include "util/error.hpp"

namespace {

using namespace obsync::fake;

// EMAIL:PASSWORD[:TOTP_SECRET]. The password therefore cannot contain ':'; test accounts never
// need one.
void apply_user(Store& store, const std::string& spec) {
    const auto first = spec.find(':');
    if (first == std::string::npos || first == 0) {
        throw obsync::Error(obsync::ErrorKind::config,
                            "--user expects EMAIL:PASSWORD[:TOTP_SECRET]");
    }
    const auto second = spec.find(':', first + 1);
    const std::string email = spec.substr(0, first);
    const std::string password = spec.substr(first + 1, second - first - 1);
    const std::string totp = second == std::string::npos ? "" : spec.substr(second + 1);
    if (password.empty()) {
        throw obsync::Error(obsync::ErrorKind::config, "--user " + email + ": empty password");
    }
    if (!totp.empty()) {
        obsync::crypto::base32_decode(totp);  // reject a bad secret now, not at signin
    }
    store.accounts().set_credentials(email, password, totp);
}

void setup_logging(bool verbose) {
    auto logger = spdlog::stderr_logger_st("fake-server");
    logger->set_pattern("[fake-server %H:%M:%S.%e] %v");
    logger->set_level(verbose ? spdlog::level::info : spdlog::level::warn);
    spdlog::set_default_logger(logger);
}

}  // namespace

int run(int argc, char** argv) {
    CLI::App app{"Obsidian Sync test server (REST + WebSocket) on 127.0.0.1"};
    app.require_subcommand(1);

    std::string data_dir;
    ServerOptions server;
    std::vector<std::string> users;
    std::int64_t latency_ms = 0;
    std::int64_t pull_latency_ms = 0;
    auto* serve = app.add_subcommand("serve", "Serve REST and WebSocket until SIGTERM/SIGINT");
    serve->add_option("--data", data_dir, "State directory")->required();
    serve->add_option("--port", server.port, "Port on 127.0.0.1 (0 picks a free one)");
    serve->add_option("--latency-ms", latency_ms, "Delay every reply by N ms")
        ->check(CLI::NonNegativeNumber);
    serve->add_option("--pull-latency-ms", pull_latency_ms, "Delay replies to pulls by N ms more")
        ->check(CLI::NonNegativeNumber);
    serve->add_option("--pull-log", server.pull_log, "Append the uid of every pull to this file");
    serve->add_option("--piece-size", server.piece_size, "Pull frame size in bytes")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{64} << 20));
    serve->add_option("--user", users, "EMAIL:PASSWORD[:TOTP_SECRET], repeatable");
    serve->add_option("--per-file-max", server.per_file_max, "perFileMax of the init reply")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 40));
    serve
        ->add_option("--drop-after", server.drop_after,
                     "Drop a WebSocket connection abruptly after the Nth message it sends")
        ->check(CLI::PositiveNumber);
    serve->add_flag("--drop-repeat", server.drop_repeat, "Drop every connection, not just one");
    serve->add_option("--refuse-init", server.refuse_init, "Refuse every init with this message");
    serve->add_option("--token-ttl", server.token_ttl_seconds, "Tokens expire after S seconds")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{10} * 365 * 24 * 3600));
    serve->add_flag("--verbose", server.verbose, "One log line per request on stderr");

    SeedOptions seed;
    auto* seed_cmd = app.add_subcommand("seed", "Create a vault from a folder; prints its id");
    seed_cmd->add_option("--data", data_dir, "State directory")->required();
    seed_cmd->add_option("--owner", seed.owner_email, "Owner's email")->required();
    seed_cmd->add_option("--vault", seed.vault_name, "Vault name")->required();
    seed_cmd->add_option("--password", seed.password, "Vault password")->required();
    seed_cmd->add_option("--encryption-version", seed.encryption_version, "0, 2 or 3")
        ->required()
        ->check(CLI::IsMember({0, 2, 3}));
    seed_cmd->add_flag("--managed", seed.managed, "Managed encryption: list the password");
    seed_cmd->add_option("--share-with", seed.share_with, "Share with this user, repeatable");
    seed_cmd->add_option("SRC_DIR", seed.source_dir, "Folder to upload")->required();

    InjectOptions inject;
    std::string content_file;
    bool folder = false;
    bool deleted = false;
    auto* inject_cmd = app.add_subcommand("inject", "Append one record with a raw path");
    inject_cmd->add_option("--data", data_dir, "State directory")->required();
    inject_cmd->add_option("--vault", inject.vault, "Vault name or id")->required();
    inject_cmd->add_option("--password", inject.password, "Vault password")->required();
    inject_cmd->add_option("--path", inject.raw_path, "Path, encoded as is (\\0 = NUL)")
        ->required();
    auto* content_opt = inject_cmd->add_option("--content-file", content_file, "File content");
    auto* folder_opt = inject_cmd->add_flag("--folder", folder, "A folder record");
    auto* deleted_opt = inject_cmd->add_flag("--deleted", deleted, "A deletion record");
    content_opt->excludes(folder_opt, deleted_opt);
    folder_opt->excludes(deleted_opt);
    inject_cmd->add_option("--mtime", inject.mtime_ms, "mtime in ms");

    std::string corrupt_vault;
    std::string corrupt_password;
    std::string corrupt_path;
    auto* corrupt_cmd = app.add_subcommand("corrupt", "Flip a byte of a file's latest blob");
    corrupt_cmd->add_option("--data", data_dir, "State directory")->required();
    corrupt_cmd->add_option("--vault", corrupt_vault, "Vault name or id")->required();
    corrupt_cmd->add_option("--password", corrupt_password, "Vault password")->required();
    corrupt_cmd->add_option("--path", corrupt_path, "Plaintext vault path")->required();

    CLI11_PARSE(app, argc, argv);
    setup_logging(server.verbose);
    // A test harness that closes our stderr pipe must not kill the server mid-run.
    std::signal(SIGPIPE, SIG_IGN);

    try {
        Store store(data_dir);
        if (serve->parsed()) {
            for (const std::string& user : users) {
                apply_user(store, user);
            }
            server.latency = std::chrono::milliseconds(latency_ms);
            server.pull_latency = std::chrono::milliseconds(pull_latency_ms);
            return run_server(store, server);
        }
        if (seed_cmd->parsed()) {
            std::cout << seed_vault(store, seed) << std::endl;
            return 0;
        }
        if (inject_cmd->parsed()) {
            inject.kind = folder    ? InjectOptions::Kind::folder
                          : deleted ? InjectOptions::Kind::deleted
                                    : InjectOptions::Kind::file;
            if (!content_file.empty()) {
                inject.content_file = content_file;
            }
            std::cout << inject_record(store, inject) << std::endl;
            return 0;
        }
        if (corrupt_cmd->parsed()) {
            std::cout << corrupt_blob(store, corrupt_vault, corrupt_password, corrupt_path)
                      << std::endl;
            return 0;
        }
        return 4;  // unreachable: CLI11 requires exactly one subcommand
    } catch (const std::exception& e) {
        std::cerr << "obsync-fake-server: " << e.what() << std::endl;
        return 1;
    }
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "obsync-fake-server: " << e.what() << std::endl;
        return 1;
    }
}
