// obsync verify: is the backup the server's vault? (docs/cli.md, "Verify")
#include <algorithm>
#include <iostream>

#include <boost/json.hpp>

#include "app/account.hpp"
#include "app/commands.hpp"
#include "app/output.hpp"
#include "app/progress.hpp"
#include "backup/storage.hpp"
#include "backup/verify.hpp"
#include "util/display.hpp"
#include "util/error.hpp"

namespace obsync::app {

namespace {

constexpr archive::DriftKind k_kinds[] = {archive::DriftKind::missing, archive::DriftKind::extra,
                                          archive::DriftKind::stale, archive::DriftKind::corrupt};

boost::json::object vault_json(const backup::VaultVerification& v) {
    boost::json::object o{{"id", v.id}, {"name", v.name}, {"ok", v.ok()}};
    if (v.error) {
        o["error"] = v.error->message;
        o["kind"] = std::string(to_string(v.error->kind));
        if (!v.destination.empty()) {
            o["destination"] = v.destination;
        }
        return o;
    }
    o["destination"] = v.destination;
    o["files"] = v.files;
    o["checked_deep"] = v.checked_deep;
    o["bytes_hashed"] = v.bytes_hashed;
    o["heads"] = v.heads;
    o["server_files"] = v.server_files;
    o["undecryptable"] = v.undecryptable;
    o["unsafe"] = v.unsafe;
    o["refused"] = v.refused;
    o["skipped"] = v.skipped;
    o["duration_ms"] = v.duration.count();
    boost::json::array drift;
    for (const archive::Drift& d : v.drift) {
        boost::json::object entry;
        put_path(entry, d.path);
        entry["kind"] = std::string(archive::to_string(d.kind));
        entry["detail"] = d.detail;
        entry["pending"] = d.pending;
        drift.push_back(std::move(entry));
    }
    o["drift"] = std::move(drift);
    boost::json::object counts;
    for (const archive::DriftKind kind : k_kinds) {
        counts[archive::to_string(kind)] = v.count(kind);
    }
    o["counts"] = std::move(counts);
    o["pending"] = v.pending();
    return o;
}

// The drift on stdout, one line each ("missing  notes/a.md  (not in the backup)", with a
// "(pending: ...)" suffix when the next backup fixes it by itself), and the vault's summary line
// on stderr.
void print_text(const backup::VaultVerification& v) {
    if (v.error) {
        std::cerr << "obsync: " << display_name(v.name) << ": " << display_message(v.error->message)
                  << std::endl;
        return;
    }
    for (const archive::Drift& d : v.drift) {
        std::cout << archive::to_string(d.kind) << "  " << display_name(d.path) << "  ("
                  << display_message(d.detail) << ")";
        if (d.pending) {
            std::cout << "  (pending: changed on the server since the last backup)";
        }
        std::cout << "\n";
    }
    std::cout << std::flush;
    std::cerr << display_name(v.name) << ": " << v.files << " file(s) checked, " << v.checked_deep
              << " read (" << human_bytes(static_cast<double>(v.bytes_hashed)) << "), " << v.heads
              << " HEAD(s), in " << static_cast<double>(v.duration.count()) / 1000.0 << " s: ";
    if (v.drift.empty()) {
        std::cerr << "the backup equals the server";
    } else {
        std::cerr << v.drift.size() << " path(s) differ (";
        const char* separator = "";
        for (const archive::DriftKind kind : k_kinds) {
            std::cerr << separator << v.count(kind) << " " << archive::to_string(kind);
            separator = ", ";
        }
        std::cerr << ")";
        if (const std::int64_t pending = v.pending(); pending > 0) {
            std::cerr << ", " << pending
                      << " of them pending (changed on the server since the last backup)";
        }
    }
    std::cerr << std::endl;
    if (v.undecryptable + v.unsafe > 0) {
        std::cerr << "  " << v.undecryptable + v.unsafe
                  << " server record(s) refused by the backup (undecryptable or unsafe path): "
                     "not counted"
                  << std::endl;
    }
    if (v.refused > 0) {
        std::cerr
            << "  " << v.refused
            << " server path(s) the backup refused for good (each backup lists them): not counted"
            << std::endl;
    }
    if (v.skipped > 0) {
        std::cerr << "  " << v.skipped
                  << " name(s) at the destination no vault path can have: not counted" << std::endl;
    }
}

}  // namespace

int run_verify(const GlobalOptions& global, const VerifyCommand& request) {
    try {
        // Everything the command line alone can refute fails here, before any sign-in.
        check_destination_flags(request.dest, request.excludes);
        Session session(global);
        backup::StorageOptions storage_options;
        storage_options.dest = request.dest;
        storage_options.state = request.state;
        storage_options.sqlite_file = session.paths().state_db();
        backup::Storage storage(session.io(), storage_options);

        backup::VerifyRequest verify;
        if (!request.all) {
            verify.vault = request.vault;
        }
        verify.folder_per_vault = request.all;
        verify.deep_percent = request.deep_percent;
        verify.deep_requires_password = true;  // asked for here: say what it needs, never skip
        verify.excludes = request.excludes;
        backup::KeyCache keys;
        backup::VerifyService service(session.io(), session.http(), session.account(), keys);
        const backup::VerifyReport report = service.run(verify, storage);
        if (report.error) {
            return report_failure(global, *report.error);
        }

        int code = k_exit_ok;
        boost::json::array vaults;
        for (const backup::VaultVerification& v : report.vaults) {
            if (v.error) {
                // With --all one failing vault does not stop the others, and the run reports 1.
                code = request.all ? std::max<int>(code, k_exit_partial)
                                   : std::max(code, exit_code_for(*v.error));
            } else if (!v.drift.empty()) {
                code = std::max<int>(code, k_exit_partial);
            }
            if (global.json) {
                vaults.push_back(vault_json(v));
            } else {
                print_text(v);
            }
        }
        if (global.json) {
            print_json(std::cout, boost::json::object{{"ok", report.ok()}, {"vaults", vaults}});
        }
        return code;
    } catch (const Error& e) {
        return report(global, e);
    }
}

}  // namespace obsync::app
