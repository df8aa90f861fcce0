#include "app/output.hpp"

#include <iostream>

#include <boost/json.hpp>

#include "aws/client.hpp"
#include "util/clock.hpp"
#include "util/display.hpp"
#include "util/hex.hpp"
#include "util/json.hpp"

namespace obsync::app {

int exit_code_for(const backup::Failure& failure) {
    if (failure.configuration) {
        return k_exit_usage;  // AWS access denied, no such bucket or table, wrong region
    }
    switch (failure.kind) {
        case ErrorKind::auth:
        case ErrorKind::mfa:
        case ErrorKind::crypto:
            return k_exit_login;
        case ErrorKind::not_found:
            return k_exit_not_found;
        case ErrorKind::config:
        case ErrorKind::bad_input:
        // AWS refused this role or these keys: only the configuration (a policy, the keys) can
        // fix it, as for the AWS refusals above.
        case ErrorKind::denied:
            return k_exit_usage;
        case ErrorKind::protocol:
        case ErrorKind::network:
        case ErrorKind::throttled:
        case ErrorKind::unavailable:
        case ErrorKind::busy:
        case ErrorKind::storage:
            return k_exit_partial;
    }
    return k_exit_partial;
}

int exit_code_for(const Error& error) {
    return exit_code_for(backup::failure_of(error));
}

std::string json_text(const boost::json::value& document) {
    // The same terminal-safe text as the log lines (util/json.hpp).
    return json::serialize_line(document);
}

void print_json(std::ostream& out, const boost::json::value& document) {
    out << json_text(document) << std::endl;
}

void put_path(boost::json::object& object, std::string_view path) {
    object["path"] = path;
    if (!is_valid_utf8(path)) {
        object["path_hex"] = to_hex(as_bytes(path));
    }
}

int report_failure(const GlobalOptions& global, const backup::Failure& failure) {
    if (global.json) {
        print_json(std::cout, boost::json::object{{"ok", false},
                                                  {"error", failure.message},
                                                  {"kind", std::string(to_string(failure.kind))}});
    }
    std::cerr << "obsync: " << display_message(failure.message) << std::endl;
    return exit_code_for(failure);
}

int report(const GlobalOptions& global, const Error& e) {
    return report_failure(global, backup::failure_of(e));
}

std::string iso_time(std::int64_t ms) {
    if (ms <= 0) {
        return "never";
    }
    return iso8601_utc(ms);
}

boost::json::array refused_json(const std::vector<sync::RefusedRecord>& refused) {
    boost::json::array out;
    for (const auto& record : refused) {
        boost::json::object entry;
        put_path(entry, record.path);
        entry["uid"] = record.uid;
        entry["reason"] = record.reason;
        out.push_back(std::move(entry));
    }
    return out;
}

boost::json::object result_json(const obsidian::VaultInfo& vault, const std::string& dest,
                                const sync::EngineResult& r) {
    boost::json::object o;
    o["id"] = vault.id;
    o["name"] = vault.name;
    o["destination"] = dest;
    o["ok"] = r.ok();
    o["complete"] = r.complete;
    o["stopped_early"] = r.stopped_early;
    o["not_attempted"] = r.not_attempted;
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
        boost::json::object error;
        put_path(error, f.path);
        error["uid"] = f.uid;
        error["message"] = f.message;
        error["kind"] = std::string(to_string(f.kind));
        errors.push_back(std::move(error));
    }
    o["errors"] = std::move(errors);
    o["refused"] = refused_json(r.refused);
    o["foreign_kept"] = r.foreign_kept;
    o["portability"] = portability_json(r.portability);
    return o;
}

std::string portability_text(const std::vector<sync::PortabilityIssue>& issues) {
    if (issues.empty()) {
        return "";
    }
    std::string out = "warning: " + std::to_string(issues.size()) +
                      (issues.size() == 1 ? " name" : " names") +
                      " may not restore on Windows or macOS:\n";
    const std::size_t shown = std::min(issues.size(), k_portability_shown);
    for (std::size_t i = 0; i < shown; ++i) {
        out +=
            "  " + display_name(issues[i].path) + ": " + display_message(issues[i].reason) + "\n";
    }
    if (shown < issues.size()) {
        out += "  and " + std::to_string(issues.size() - shown) + " more\n";
    }
    return out;
}

boost::json::array portability_json(const std::vector<sync::PortabilityIssue>& issues) {
    boost::json::array out;
    for (const auto& issue : issues) {
        boost::json::object entry;
        put_path(entry, issue.path);
        entry["reason"] = issue.reason;
        out.push_back(std::move(entry));
    }
    return out;
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

}  // namespace obsync::app
