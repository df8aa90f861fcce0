#include "app/output.hpp"

#include <array>
#include <ctime>
#include <iostream>

#include <boost/json.hpp>

#include "aws/client.hpp"

namespace obsync::app {

int exit_code_for(const Error& error) {
    if (const auto* aws_error = dynamic_cast<const aws::AwsError*>(&error)) {
        switch (aws_error->failure()) {
            case aws::AwsFailure::access_denied:
            case aws::AwsFailure::no_such_bucket:
            case aws::AwsFailure::resource_not_found:
                return k_exit_usage;
            default:
                return k_exit_partial;
        }
    }
    switch (error.kind()) {
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

int report(const GlobalOptions& global, const Error& e) {
    if (global.json) {
        boost::json::object out;
        out["ok"] = false;
        out["error"] = e.what();
        out["kind"] = std::string(to_string(e.kind()));
        std::cout << boost::json::serialize(out) << std::endl;
    }
    std::cerr << "obsync: " << e.what() << std::endl;
    return exit_code_for(e);
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

boost::json::object result_json(const obsidian::VaultInfo& vault, const std::string& dest,
                                const sync::EngineResult& r) {
    boost::json::object o;
    o["id"] = vault.id;
    o["name"] = vault.name;
    o["destination"] = dest;
    o["ok"] = r.ok();
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
    boost::json::array refused;
    for (const auto& record : r.refused) {
        refused.push_back({{"path", record.path}, {"uid", record.uid}, {"reason", record.reason}});
    }
    o["refused"] = std::move(refused);
    o["foreign_kept"] = r.foreign_kept;
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

}  // namespace obsync::app
