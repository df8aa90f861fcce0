#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "app/commands.hpp"
#include "backup/report.hpp"
#include "obsidian/vault.hpp"
#include "sync/engine.hpp"
#include "util/error.hpp"

namespace obsync::app {

// The exit code of a failure (see ExitCode). AWS refusals that only configuration can fix
// (access denied, no such bucket or table) are configuration errors, not login ones.
int exit_code_for(const backup::Failure& failure);
int exit_code_for(const Error& error);

// The text of a JSON document as the CLI prints it (docs/cli.md, "Names and paths in the
// output"). Every JSON writer goes through here because Boost.JSON serialises strings byte for
// byte: a path that is not UTF-8 would make the document invalid. So every string (keys too)
// has each byte outside well-formed UTF-8 replaced by U+FFFD, and the code points a terminal acts
// on that JSON leaves raw (DEL, C1 and bidi controls, U+2028/9) are written as \uXXXX, which
// any JSON reader decodes to the same string: json::serialize_line, as the log lines.
std::string json_text(const boost::json::value& document);
// json_text() and a newline on `out`.
void print_json(std::ostream& out, const boost::json::value& document);

// Sets "path" to `path` and, only when `path` is not valid UTF-8 (and so "path" shows U+FFFD
// in place of the bad bytes), "path_hex" to the exact bytes in lowercase hex.
void put_path(boost::json::object& object, std::string_view path);

// The refused records of a backup, as `--json` and `status --json` list them:
// [{"path" (+ "path_hex"), "uid", "reason"}].
boost::json::array refused_json(const std::vector<sync::RefusedRecord>& refused);

// Reports an error on stderr (and, with --json, as the summary on stdout); returns its exit code.
int report(const GlobalOptions& global, const Error& error);
int report_failure(const GlobalOptions& global, const backup::Failure& failure);

// "2026-11-26T12:00:00Z", or "never" for 0.
std::string iso_time(std::int64_t ms);

// One vault's entry of the `sync --json` summary.
boost::json::object result_json(const obsidian::VaultInfo& vault, const std::string& dest,
                                const sync::EngineResult& result);

// The run's portability warning for text output (stderr), "" when there is nothing to say: one
// line "warning: N names may not restore on Windows or macOS:", then at most
// k_portability_shown lines "  PATH: REASON", then "  and M more".
inline constexpr std::size_t k_portability_shown = 20;
std::string portability_text(const std::vector<sync::PortabilityIssue>& issues);
// The "portability" array of a vault in `sync --json`: [{"path", "reason"}] for every issue.
boost::json::array portability_json(const std::vector<sync::PortabilityIssue>& issues);

// "create", "update", "delete", "mkdir", "rmdir": the words of a dry-run plan.
const char* action_word(sync::PlannedAction::Kind kind);

}  // namespace obsync::app
