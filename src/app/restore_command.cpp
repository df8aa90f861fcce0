// obsync restore: a backup (or part of it, or the backup as it was at a moment) back into a folder;
// obsync restore --list-versions: the versions of one file of an S3 backup (docs/restore.md).
// An encrypted backup (sync --encrypted) is opened with the vault password first.
#include <algorithm>
#include <iostream>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "app/account.hpp"
#include "app/commands.hpp"
#include "app/output.hpp"
#include "app/progress.hpp"
#include "archive/encrypted_reader.hpp"
#include "archive/readers.hpp"
#include "archive/restore.hpp"
#include "aws/s3.hpp"
#include "backup/storage.hpp"
#include "backup/vault_choice.hpp"
#include "crypto/vault_cipher.hpp"
#include "sink/backup_marker.hpp"
#include "sink/encrypted_sink.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/error.hpp"
#include "util/run_coro.hpp"

namespace obsync::app {

namespace {

namespace asio = boost::asio;
using archive::RestoreStep;

const char* step_word(RestoreStep::Kind kind) {
    switch (kind) {
        case RestoreStep::Kind::write:
            return "write";
        case RestoreStep::Kind::replace:
            return "replace";
        case RestoreStep::Kind::folder:
            return "mkdir";
        case RestoreStep::Kind::identical:
            return "same";
        case RestoreStep::Kind::conflict:
            return "differs";
        case RestoreStep::Kind::blocked:
            return "blocked";
    }
    return "?";
}

std::optional<std::int64_t> moment_of(const std::optional<std::string>& at) {
    if (!at) {
        return std::nullopt;
    }
    const auto moment = parse_moment(*at, epoch_ms());
    if (!moment) {
        throw Error(ErrorKind::config, "--at \"" + display_name(*at) +
                                           "\" is not a moment: give an ISO-8601 UTC time such as "
                                           "2026-11-20T10:00:00Z, or an age such as -3d or -12h");
    }
    return moment;
}

boost::json::object summary_json(const RestoreRequest& request,
                                 const std::optional<std::int64_t>& at,
                                 const archive::RestoreResult& r) {
    boost::json::object o{{"ok", r.ok()},
                          {"from", request.from},
                          {"to", request.to},
                          {"dry_run", request.dry_run},
                          {"written", r.written},
                          {"replaced", r.replaced},
                          {"folders", r.folders},
                          {"identical", r.identical},
                          {"unverified", r.unverified},
                          {"bytes", r.bytes},
                          {"duration_ms", r.duration.count()}};
    if (at) {
        o["at"] = iso8601_utc(*at);
    }
    boost::json::array conflicts;
    for (const archive::RestoreConflict& c : r.conflicts) {
        boost::json::object entry{{"reason", c.reason}, {"blocked", c.blocked}};
        put_path(entry, c.path);
        conflicts.push_back(std::move(entry));
    }
    o["conflicts"] = std::move(conflicts);
    boost::json::array failures;
    for (const archive::RestoreFailure& f : r.failures) {
        boost::json::object entry{{"error", f.message}, {"kind", std::string(to_string(f.kind))}};
        put_path(entry, f.path);
        failures.push_back(std::move(entry));
    }
    o["failures"] = std::move(failures);
    boost::json::array skipped;
    for (const std::string& name : r.skipped) {
        boost::json::object entry;
        put_path(entry, name);
        skipped.push_back(std::move(entry));
    }
    o["skipped"] = std::move(skipped);
    if (request.dry_run) {
        boost::json::array plan;
        for (const RestoreStep& step : r.plan) {
            boost::json::object entry{{"action", step_word(step.kind)}, {"size", step.size}};
            if (!step.reason.empty()) {
                entry["reason"] = step.reason;
            }
            put_path(entry, step.path);
            plan.push_back(std::move(entry));
        }
        o["plan"] = std::move(plan);
    }
    return o;
}

void print_text(const RestoreRequest& request, const archive::RestoreResult& r) {
    if (request.dry_run) {
        for (const RestoreStep& step : r.plan) {
            if (step.kind != RestoreStep::Kind::identical) {
                std::cout << step_word(step.kind) << "  " << display_name(step.path) << "\n";
            }
        }
    }
    std::int64_t to_write = 0;
    std::int64_t to_write_bytes = 0;
    for (const RestoreStep& step : r.plan) {
        if (step.kind == RestoreStep::Kind::write || step.kind == RestoreStep::Kind::replace) {
            ++to_write;
            to_write_bytes += static_cast<std::int64_t>(step.size);
        }
    }
    const bool stopped = r.stopped_by_conflicts(request.overwrite);
    if (request.dry_run) {
        std::cerr << "would write " << to_write << " file(s), "
                  << human_bytes(static_cast<double>(to_write_bytes)) << "; " << r.identical
                  << " already there" << std::endl;
    } else if (!stopped) {
        std::cerr << "restored " << r.written << " file(s) and " << r.folders << " folder(s), "
                  << human_bytes(static_cast<double>(r.bytes)) << ", into "
                  << display_name(request.to) << "; " << r.identical << " already there; failed "
                  << r.failures.size() << "; in "
                  << static_cast<double>(r.duration.count()) / 1000.0 << " s" << std::endl;
    }
    if (stopped) {
        const bool any_blocked =
            std::any_of(r.conflicts.begin(), r.conflicts.end(),
                        [](const archive::RestoreConflict& c) { return c.blocked; });
        std::cerr << (request.dry_run ? "a restore would write nothing: " : "nothing written: ")
                  << r.conflicts.size() << " path(s) at " << display_name(request.to)
                  << " are in the way; "
                  << (any_blocked ? "move the ones marked \"blocked\" away (nothing replaces a "
                                    "folder by a file or a file by a folder), "
                                  : "")
                  << (request.overwrite ? "" : "give --overwrite to replace the others, ")
                  << "or restore into an empty folder:" << std::endl;
        for (const archive::RestoreConflict& c : r.conflicts) {
            std::cerr << "  " << (c.blocked ? "blocked" : "differs") << ": " << display_name(c.path)
                      << " (" << display_message(c.reason) << ")" << std::endl;
        }
    }
    for (const archive::RestoreFailure& f : r.failures) {
        std::cerr << "  failed: " << display_name(f.path) << ": " << display_message(f.message)
                  << std::endl;
    }
    if (r.unverified > 0) {
        std::cerr << "warning: " << r.unverified
                  << " file(s) had no recorded hash to check them against (a local backup without "
                     "its saved state, or objects obsync did not write)"
                  << std::endl;
    }
    if (!r.skipped.empty()) {
        std::cerr << "skipped " << r.skipped.size()
                  << " entries of the backup: symbolic links, special files, names no vault "
                     "path can have, or encrypted bodies without their sidecar or metadata "
                     "(listed with --json)"
                  << std::endl;
    }
}

// The password of a vault with managed encryption, from the account's vault list: its key
// comes from the account, so the account must be at hand.
std::string managed_password(const GlobalOptions& global, const sink::BackupMarker& marker,
                             const std::string& where) {
    const std::string hint = where +
                             " is an encrypted backup of a vault with managed encryption, whose "
                             "key comes from the Obsidian account: sign in (obsync login, or "
                             "OBSIDIAN_EMAIL and OBSIDIAN_PASSWORD), or give the vault's password "
                             "with --password";
    if (marker.vault_id.empty()) {
        throw Error(ErrorKind::auth, hint + " (its manifest names no vault)");
    }
    Session session(global);
    std::optional<std::string> password;
    try {
        password =
            backup::choose_vaults(session.account(), marker.vault_id).chosen.at(0).managed_password;
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::auth && e.kind() != ErrorKind::not_found) {
            throw;
        }
        throw Error(ErrorKind::auth, hint + " (" + e.what() + ")");
    }
    if (!password) {
        throw Error(ErrorKind::auth, where +
                                         " is an encrypted backup of a vault the account no longer "
                                         "manages the key of: give its password with --password");
    }
    return *password;
}

// The key of an encrypted backup, from its manifest (salt, version) and the vault password:
// --password, OBSIDIAN_VAULT_PASSWORD or the credentials, or for a managed vault the account's.
// The manifest's keyhash tells a wrong password before anything is read or written.
crypto::VaultCipher unlock_backup(const GlobalOptions& global, const sink::BackupMarker& marker,
                                  const std::string& where) {
    const sync::EncryptedLayout& layout = *marker.encrypted;
    if (layout.salt.empty() || layout.keyhash.empty()) {
        throw Error(ErrorKind::config, where +
                                           " is an encrypted backup whose manifest names no salt "
                                           "or keyhash (.obsync/backup.json): it cannot be opened");
    }
    const crypto::EncryptionVersion version =
        crypto::encryption_version_from_int(layout.encryption_version);
    std::optional<std::string> password =
        cli_credentials(global).password_for_vault(marker.vault_id, marker.vault_name);
    if (!password && layout.managed) {
        password = managed_password(global, marker, where);
    }
    if (!password) {
        throw Error(ErrorKind::auth, where +
                                         " is an encrypted backup (sync --encrypted): give the "
                                         "vault password with --password or "
                                         "OBSIDIAN_VAULT_PASSWORD to restore it");
    }
    crypto::VaultCipher cipher =
        crypto::VaultCipher::from_password(*password, layout.salt, version);
    if (cipher.keyhash() != layout.keyhash) {
        throw Error(ErrorKind::auth,
                    "the password does not open " + where +
                        ": it is not the password the backup was made with (a wrong password, or "
                        "the vault's password changed after this backup: give the one it had "
                        "then). Nothing was written");
    }
    return cipher;
}

// A plaintext backup needs no password: one given on the command line is said to be unused
// (one from the environment or the credentials is not: it serves the other commands).
void warn_unused_password(const GlobalOptions& global) {
    if (global.flags.vault_password) {
        std::cerr << "obsync: warning: the backup is not encrypted: --password is not used"
                  << std::endl;
    }
}

// The root of a `sync --all` destination may hold encrypted backups, each under its own
// manifest and key: restored from there, their blobs would come back as files. Such a backup
// is found by its entries ("<folder>/e/<sha256>") and its folder's manifest, and refused.
asio::awaitable<void> refuse_nested_encrypted(backup::Storage& storage,
                                              archive::BackupReader& reader,
                                              const std::string& from) {
    std::set<std::string> folders;
    const std::vector<archive::ArchivedEntry> listed = co_await reader.list();
    for (const archive::ArchivedEntry& entry : listed) {
        const std::size_t slash = entry.path.find('/');
        if (!entry.folder && slash != std::string::npos &&
            sink::is_encrypted_entry_name(std::string_view(entry.path).substr(slash + 1))) {
            folders.insert(entry.path.substr(0, slash));
        }
    }
    const std::optional<std::int64_t> now;  // named, as every argument of a co_await'ed call
    for (const std::string& folder : folders) {
        const auto below = co_await storage.open_reader(folder, now);
        const std::optional<std::string> document = co_await below->marker();
        if (document && sink::parse_backup_marker(*document).encrypted) {
            throw Error(ErrorKind::config,
                        display_name(from) + "/" + display_name(folder) +
                            " is an encrypted backup, opened with its own password: restore it "
                            "on its own (--from " +
                            display_name(from) + "/" + display_name(folder) +
                            " --password …), and each other vault with its own --from");
        }
    }
}

// The backup named by --from itself (no vault folder), as it was at `at`, and its marker (the
// current one): whether it is encrypted decides how it is read.
struct OpenedBackup {
    std::unique_ptr<archive::BackupReader> reader;
    bool has_marker = false;
    sink::BackupMarker marker;
};

OpenedBackup open_backup(asio::io_context& io, backup::Storage& storage,
                         std::optional<std::int64_t> at) {
    OpenedBackup out;
    std::optional<std::string> document;
    run_coro(io, [&]() -> asio::awaitable<void> {
        const std::string whole;  // named, as every argument of a co_await'ed call
        out.reader = co_await storage.open_reader(whole, at);
        document = co_await out.reader->marker();
    }());
    if (document) {
        out.has_marker = true;
        out.marker = sink::parse_backup_marker(*document);
    }
    return out;
}

int list_versions(const GlobalOptions& global, const RestoreRequest& request) {
    if (!request.from.starts_with("s3://")) {
        throw Error(ErrorKind::config,
                    "--list-versions needs an S3 backup (--from s3://BUCKET/PREFIX): a local "
                    "folder keeps one version of each file");
    }
    const std::string path = archive::normalize_restore_path(*request.list_versions);
    asio::io_context io;
    backup::StorageOptions options;
    options.dest = request.from;
    backup::Storage storage(io, options);
    const sink::BackupMarker marker = open_backup(io, storage, std::nullopt).marker;
    // An encrypted backup keeps the file as "e/<sha256 of its encoded path>".
    std::optional<crypto::VaultCipher> cipher;
    std::string stored = path;
    if (marker.encrypted) {
        cipher.emplace(unlock_backup(global, marker, display_name(request.from)));
        stored = sink::encrypted_entry_name(cipher->encode(path));
    } else {
        warn_unused_password(global);
    }
    std::vector<archive::FileVersion> versions;
    run_coro(io, [&]() -> asio::awaitable<void> {
        // Named: a temporary inside a co_await expression is destroyed twice by g++ 12.
        const aws::S3Location location = aws::parse_s3_location(request.from);
        versions = co_await archive::list_file_versions(storage.aws(), location, stored);
    }());
    if (cipher) {
        for (archive::FileVersion& v : versions) {
            v.size = crypto::blob_plaintext_size(v.size);
            if (v.recorded.content_hash) {
                try {
                    v.recorded.content_hash = cipher->decode(*v.recorded.content_hash);
                } catch (const Error&) {
                    v.recorded.content_hash.reset();  // changed behind the backup's back
                }
            }
        }
    }
    if (versions.empty()) {
        throw Error(ErrorKind::not_found, "no version of \"" + display_name(path) + "\" in " +
                                              display_name(request.from));
    }
    if (global.json) {
        boost::json::array list;
        for (const archive::FileVersion& v : versions) {
            boost::json::object entry{{"version_id", v.version_id},
                                      {"stored", iso8601_utc(v.stored_ms)},
                                      {"deleted", v.deleted},
                                      {"latest", v.latest}};
            if (!v.deleted) {
                entry["size"] = v.size;
                entry["content_hash"] = v.recorded.content_hash.value_or("");
                if (v.recorded.mtime_ms) {
                    entry["mtime"] = iso8601_utc_ms(*v.recorded.mtime_ms);
                }
            }
            list.push_back(std::move(entry));
        }
        boost::json::object out{{"versions", std::move(list)}};
        put_path(out, path);
        print_json(std::cout, out);
        return k_exit_ok;
    }
    for (const archive::FileVersion& v : versions) {
        std::cout << iso8601_utc(v.stored_ms) << "  ";
        if (v.deleted) {
            std::cout << "deleted";
        } else {
            std::cout << human_bytes(static_cast<double>(v.size)) << "  "
                      << (v.recorded.content_hash ? display_name(*v.recorded.content_hash)
                                                  : std::string("(no hash)"));
        }
        // Both come from the bucket (S3's version id, metadata anyone who can write the bucket
        // sets): shown escaped, as every name the program did not make.
        std::cout << "  " << display_name(v.version_id) << (v.latest ? "  (latest)" : "") << "\n";
    }
    return k_exit_ok;
}

}  // namespace

int run_restore(const GlobalOptions& global, const RestoreRequest& request) {
    try {
        if (request.from.empty()) {
            throw Error(ErrorKind::config,
                        "--from is empty: give a backup folder or "
                        "s3://BUCKET/PREFIX");
        }
        if (request.list_versions) {
            return list_versions(global, request);
        }
        if (request.to.empty()) {
            throw Error(ErrorKind::config, "--to is empty: give the folder to restore into");
        }
        const std::optional<std::int64_t> at = moment_of(request.at);
        if (at && *at > epoch_ms()) {
            throw Error(ErrorKind::config, "--at " + iso8601_utc(*at) + " is in the future");
        }
        for (const std::string& path : request.paths) {
            archive::normalize_restore_path(path);  // refused before anything is read
        }
        asio::io_context io;
        backup::StorageOptions options;
        options.dest = request.from;
        options.state = request.state;
        options.sqlite_file = Paths::from_environment().state_db();
        backup::Storage storage(io, options);
        // The marker says whether the backup is encrypted: then the password opens it before
        // anything is listed or written (a wrong one writes nothing, not even --to).
        OpenedBackup opened = open_backup(io, storage, at);
        std::unique_ptr<archive::BackupReader> reader = std::move(opened.reader);
        const sink::BackupMarker& marker = opened.marker;
        std::optional<crypto::VaultCipher> cipher;
        if (marker.encrypted) {
            cipher.emplace(unlock_backup(global, marker, display_name(request.from)));
            reader = storage.encrypted_reader(std::move(reader), &*cipher);
        } else {
            warn_unused_password(global);
            if (!opened.has_marker) {
                run_coro(io, refuse_nested_encrypted(storage, *reader, request.from));
            }
        }
        archive::RestoreOptions restore_options;
        restore_options.paths = request.paths;
        restore_options.overwrite = request.overwrite;
        restore_options.dry_run = request.dry_run;
        restore_options.concurrency = request.concurrency;
        std::unique_ptr<ProgressReporter> bar;
        if (!global.json && !request.dry_run) {
            bar = std::make_unique<ProgressReporter>("restore");
        }
        const archive::RestoreProgressFn progress = [&](const archive::RestoreProgress& p) {
            if (bar) {
                bar->update(
                    sync::Progress{p.files_total, p.files_done, p.bytes_total, p.bytes_done});
            }
        };
        archive::RestoreResult result;
        run_coro(io, [&]() -> asio::awaitable<void> {
            result = co_await archive::restore(*reader, request.to, restore_options, progress);
        }());
        if (bar) {
            bar->finish();
        }
        if (global.json) {
            print_json(std::cout, summary_json(request, at, result));
        } else {
            print_text(request, result);
        }
        return result.ok() ? k_exit_ok : k_exit_partial;
    } catch (const Error& e) {
        return report(global, e);
    }
}

}  // namespace obsync::app
