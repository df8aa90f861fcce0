#pragma once

#include <cstdint>
#include <string>

#include <boost/json/object.hpp>

#include "app/commands.hpp"
#include "obsidian/vault.hpp"
#include "sync/engine.hpp"
#include "util/error.hpp"

namespace obsync::app {

// The exit code of a failure of this kind (see ExitCode). AWS refusals that only configuration
// can fix (access denied, no such bucket or table) are configuration errors, not login ones.
int exit_code_for(const Error& error);

// Reports an error on stderr (and, with --json, as the summary on stdout); returns its exit code.
int report(const GlobalOptions& global, const Error& error);

// "2026-11-26T12:00:00Z", or "never" for 0.
std::string iso_time(std::int64_t ms);

// One vault's entry of the `sync --json` summary.
boost::json::object result_json(const obsidian::VaultInfo& vault, const std::string& dest,
                                const sync::EngineResult& result);

// "create", "update", "delete", "mkdir", "rmdir": the words of a dry-run plan.
const char* action_word(sync::PlannedAction::Kind kind);

}  // namespace obsync::app
