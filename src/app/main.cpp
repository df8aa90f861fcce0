// obsync: back up Obsidian Sync vaults. The command names and flags are a contract (docs/cli.md).
#include <charconv>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/commands.hpp"
#include "util/display.hpp"
#include "util/duration.hpp"
#include "util/error.hpp"

using namespace obsync::app;

namespace {

// Adds an option that fills an std::optional<std::string>.
CLI::Option* add_optional(CLI::App* app, const std::string& name, std::optional<std::string>& out,
                          const std::string& help) {
    return app->add_option_function<std::string>(
        name, [&out](const std::string& value) { out = value; }, help);
}

// A whole number from `low` to `high`. CLI11's own Range only says a value "could not be
// converted"; this says what was wrong and what is wanted.
CLI::Validator whole_number(int low, int high) {
    const std::string wanted =
        "a whole number from " + std::to_string(low) + " to " + std::to_string(high);
    return CLI::Validator(
        [low, high, wanted](std::string& value) -> std::string {
            int number = 0;
            const char* end = value.data() + value.size();
            const auto [stop, ec] = std::from_chars(value.data(), end, number);
            if (ec == std::errc::result_out_of_range) {
                return value + " is out of range: give " + wanted;
            }
            if (ec != std::errc{} || stop != end) {
                return "\"" + value + "\" is not a number: give " + wanted;
            }
            if (number < low || number > high) {
                return value + " is out of range: give " + wanted;
            }
            return {};
        },
        "INT in [" + std::to_string(low) + " - " + std::to_string(high) + "]");
}

// With no subcommand recognised, the first word left over is the one the user meant as a command.
// CLI11 would only say the argument "was not expected" (or that a subcommand is required): name
// it and list the commands instead.
bool explain_unknown_command(CLI::App& app, const CLI::ParseError& error) {
    if (!app.get_subcommands().empty()) {
        return false;
    }
    const std::vector<std::string> rest = app.remaining();
    std::string command;
    for (const std::string& word : rest) {
        if (!word.empty() && word.front() != '-') {
            command = word;
            break;
        }
    }
    std::string names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (command.empty()) {
        if (dynamic_cast<const CLI::RequiredError*>(&error) == nullptr) {
            return false;  // CLI11's own message says what is wrong
        }
        if (!rest.empty()) {
            std::cerr << "obsync: unknown option \"" << rest.front() << "\"" << std::endl;
        }
        std::cerr << "obsync: name a command: " << names << std::endl;
    } else {
        std::cerr << "obsync: unknown command \"" << command << "\"; the commands are: " << names
                  << std::endl;
    }
    std::cerr << "Run with --help for more information." << std::endl;
    return true;
}

int run(int argc, char** argv) {
    CLI::App app{
        "obsync: back up Obsidian Sync vaults (complete or incremental, end-to-end "
        "encrypted included)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("obsync ") + OBSYNC_VERSION);
    GlobalOptions global;
    app.add_option("--api-url", global.api_url,
                   "Obsidian API base URL (env OBSIDIAN_API_URL; default https://api.obsidian.md)");

    std::optional<std::string> mfa;
    auto* login = app.add_subcommand("login", "Sign in and save the token");
    add_optional(login, "--email", global.flags.email, "Account email (env OBSIDIAN_EMAIL)");
    add_optional(login, "--password", global.flags.password,
                 "Account password (env OBSIDIAN_PASSWORD)");
    auto* totp_flag =
        add_optional(login, "--totp-secret", global.flags.totp_secret,
                     "Base32 2FA secret; the code is computed (env OBSIDIAN_TOTP_SECRET)");
    add_optional(login, "--mfa", mfa, "A 2FA code")->excludes(totp_flag);

    auto* logout = app.add_subcommand("logout", "Sign out and forget the token");

    auto* vaults = app.add_subcommand("vaults", "List the account's vaults (own and shared)");
    vaults->add_flag("--json", global.json, "Print JSON");

    SyncRequest sync;
    auto* sync_cmd =
        app.add_subcommand("sync", "Back up one vault, or all with --all, into --dest");
    auto* vault_arg = add_optional(sync_cmd, "vault", sync.vault, "Vault id or exact name");
    auto* all_flag =
        sync_cmd->add_flag("--all", sync.all, "Every vault, each into DEST/<vault name>");
    vault_arg->excludes(all_flag);
    sync_cmd->add_option("--dest", sync.dest, "Destination folder, or s3://BUCKET/PREFIX")
        ->required();
    add_optional(sync_cmd, "--state", sync.state,
                 "Where sync state lives: sqlite://PATH (default: the local state database) or "
                 "dynamodb://TABLE");
    sync_cmd->add_option("--sse", sync.sse, "S3 server-side encryption: AES256 or aws:kms")
        ->check(CLI::IsMember({"AES256", "aws:kms"}));
    sync_cmd->add_option("--sse-kms-key-id", sync.sse_kms_key_id, "KMS key for --sse aws:kms");
    add_optional(sync_cmd, "--password", global.flags.vault_password,
                 "Vault password (env OBSIDIAN_VAULT_PASSWORD; managed vaults need none)");
    sync_cmd->add_flag("--full", sync.full, "Complete sync from a fresh snapshot; remove extras");
    sync_cmd->add_flag("--dry-run", sync.dry_run, "Print the plan, write nothing");
    sync_cmd->add_option("--concurrency", sync.concurrency, "Parallel sessions (1-16)")
        ->check(whole_number(1, 16));
    auto* exclude_opt =
        sync_cmd->add_option("--exclude", sync.excludes, "Glob of paths to skip (repeatable)");
    sync_cmd
        ->add_flag("--encrypted", sync.encrypted,
                   "Keep the vault's end-to-end encryption: store the server's encrypted files, "
                   "readable only with the vault password (docs/encryption-at-rest.md)")
        ->excludes(exclude_opt);
    sync_cmd->add_flag("--keep-deleted", sync.keep_deleted, "Never remove anything from DEST");
    sync_cmd
        ->add_option_function<std::string>(
            "--time-limit",
            [&sync](const std::string& value) {
                sync.time_limit = obsync::parse_duration(value);
                if (!sync.time_limit || sync.time_limit->count() == 0) {
                    throw CLI::ValidationError("--time-limit",
                                               "\"" + value +
                                                   "\" is not a time limit: give e.g. 90s, 10m "
                                                   "or 1h30m (at most 720h)");
                }
            },
            "Stop within this time (e.g. 10m), resumable; exit code 5 when stopped early")
        ->type_name("DURATION");
    sync_cmd->add_flag("--json", global.json, "Print one JSON summary on stdout");
    sync_cmd
        ->add_option_function<std::string>(
            "--log-format",
            [&global](const std::string& value) { global.json_logs = value == "json"; },
            "text (default) or json: one JSON log record per line on stderr, as on Lambda")
        ->check(CLI::IsMember({"text", "json"}))
        ->type_name("FORMAT");

    VerifyCommand verify;
    auto* verify_cmd = app.add_subcommand(
        "verify", "Check that the backup at --dest equals the server's vault (writes nothing)");
    auto* verify_vault = add_optional(verify_cmd, "vault", verify.vault, "Vault id or exact name");
    verify_vault->excludes(
        verify_cmd->add_flag("--all", verify.all, "Every vault, each in DEST/<vault name>"));
    verify_cmd->add_option("--dest", verify.dest, "The backup: a folder, or s3://BUCKET/PREFIX")
        ->required();
    add_optional(verify_cmd, "--state", verify.state,
                 "The backup's sync state: sqlite://PATH (default: the local state database) or "
                 "dynamodb://TABLE");
    add_optional(verify_cmd, "--password", global.flags.vault_password,
                 "Vault password (env OBSIDIAN_VAULT_PASSWORD; managed vaults need none)");
    // A flag, so that `--deep VAULT` never takes the vault for a percentage: a share is given
    // as --deep=PERCENT.
    verify_cmd
        ->add_flag("--deep{100}", verify.deep_percent,
                   "S3: download and hash every object; --deep=PERCENT a random share per run")
        ->check(whole_number(1, 100));
    verify_cmd->add_option("--exclude", verify.excludes,
                           "Glob of paths the backup skips (repeatable; as given to sync)");
    verify_cmd->add_flag("--json", global.json, "Print one JSON report on stdout");

    std::string init_state;
    auto* state_init = app.add_subcommand(
        "state-init", "Create the DynamoDB state table (on-demand, TTL on `ttl`) if it is missing");
    state_init->add_option("--state", init_state, "dynamodb://TABLE")->required();

    std::optional<std::string> status_vault;
    auto* status = app.add_subcommand("status", "Show the saved state of each backup");
    add_optional(status, "vault", status_vault, "Vault id or name");
    status->add_flag("--json", global.json, "Print JSON");

    std::optional<std::string> reset_vault;
    bool reset_all = false;
    auto* reset = app.add_subcommand("reset", "Forget saved state: the next sync is complete");
    auto* reset_arg = add_optional(reset, "vault", reset_vault, "Vault id or name");
    reset_arg->excludes(reset->add_flag("--all", reset_all, "Every vault"));

    RestoreRequest restore;
    auto* restore_cmd = app.add_subcommand(
        "restore", "Write a backup (or the part under --path, or as it was --at a moment) to --to");
    restore_cmd->add_option("--from", restore.from, "The backup: a folder or s3://BUCKET/PREFIX")
        ->required();
    auto* to_opt = restore_cmd->add_option("--to", restore.to, "The folder to restore into");
    add_optional(restore_cmd, "--at", restore.at,
                 "As it was at this moment: 2026-11-20T10:00:00Z, or an age such as -3d, -12h "
                 "(S3 with versioning)")
        ->type_name("TIME");
    restore_cmd->add_option("--path", restore.paths, "Only this file or folder (repeatable)")
        ->type_name("PATH");
    restore_cmd->add_flag("--overwrite", restore.overwrite,
                          "Replace existing files whose bytes differ from the backup's");
    restore_cmd->add_flag("--dry-run", restore.dry_run,
                          "List what would be written, write nothing");
    restore_cmd->add_option("--concurrency", restore.concurrency, "Files at once (1-64)")
        ->check(whole_number(1, 64));
    add_optional(restore_cmd, "--state", restore.state,
                 "Where a local backup's state lives (its recorded hashes): sqlite://PATH or "
                 "dynamodb://TABLE");
    add_optional(restore_cmd, "--password", global.flags.vault_password,
                 "Vault password of an encrypted backup (env OBSIDIAN_VAULT_PASSWORD; managed "
                 "vaults: the account's)");
    auto* versions_opt =
        add_optional(restore_cmd, "--list-versions", restore.list_versions,
                     "Show the versions of one file of an S3 backup (time, size, hash)")
            ->type_name("PATH");
    versions_opt->excludes(to_opt);
    restore_cmd->add_flag("--json", global.json, "Print one JSON summary on stdout");

    std::string keyhash_vault;
    auto* keyhash_cmd = app.add_subcommand(
        "keyhash",
        "Print a vault's keyhash (checked with the server), to put in the credentials instead of "
        "its password");
    keyhash_cmd->footer(
        "With the keyhash in the credentials (\"keyhash\" in the vault's entry, or "
        "OBSIDIAN_VAULT_KEYHASH) in place of the vault password, the backup host can only make "
        "encrypted backups (sync --encrypted): it holds nothing that decrypts a note. Keep the "
        "keyhash like a secret all the same: it decrypts nothing, but with the account's token "
        "it downloads the vault's ciphertext.");
    keyhash_cmd->add_option("vault", keyhash_vault, "Vault id or exact name")->required();
    add_optional(keyhash_cmd, "--password", global.flags.vault_password,
                 "Vault password (env OBSIDIAN_VAULT_PASSWORD; managed vaults need none)");
    keyhash_cmd->add_flag("--json", global.json,
                          "Print {\"vault_id\",\"vault_name\",\"encryption_version\",\"keyhash\"}");

    auto* totp = app.add_subcommand("totp", "Print the current 2FA code");
    add_optional(totp, "--secret", global.flags.totp_secret,
                 "Base32 secret (env OBSIDIAN_TOTP_SECRET)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() != 0 && explain_unknown_command(app, e)) {
            return k_exit_usage;
        }
        const int rc = app.exit(e);
        return rc == 0 ? k_exit_ok : k_exit_usage;
    }

    if (login->parsed()) {
        return run_login(global, mfa);
    }
    if (logout->parsed()) {
        return run_logout(global);
    }
    if (vaults->parsed()) {
        return run_vaults(global);
    }
    if (sync_cmd->parsed()) {
        if (!sync.all && !sync.vault) {
            std::cerr << "obsync sync: name a VAULT or give --all" << std::endl;
            return k_exit_usage;
        }
        return run_sync(global, sync);
    }
    if (verify_cmd->parsed()) {
        if (!verify.all && !verify.vault) {
            std::cerr << "obsync verify: name a VAULT or give --all" << std::endl;
            return k_exit_usage;
        }
        return run_verify(global, verify);
    }
    if (state_init->parsed()) {
        return run_state_init(global, init_state);
    }
    if (status->parsed()) {
        return run_status(global, status_vault);
    }
    if (reset->parsed()) {
        if (!reset_all && !reset_vault) {
            std::cerr << "obsync reset: name a VAULT or give --all" << std::endl;
            return k_exit_usage;
        }
        return run_reset(global, reset_vault, reset_all);
    }
    if (restore_cmd->parsed()) {
        if (!restore.list_versions && restore.to.empty()) {
            std::cerr << "obsync restore: give --to DIR (or --list-versions PATH)" << std::endl;
            return k_exit_usage;
        }
        return run_restore(global, restore);
    }
    if (keyhash_cmd->parsed()) {
        return run_keyhash(global, keyhash_vault);
    }
    return run_totp(global);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        // Unexpected: still one clear line and a usable exit code, never a crash dump.
        std::cerr << "obsync: internal error: " << obsync::display_message(e.what()) << std::endl;
        return k_exit_partial;
    }
}
