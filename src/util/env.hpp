#pragma once

#include <functional>
#include <optional>
#include <string>

namespace obsync {

// The value of an environment variable, or nothing when it is unset or empty: `FOO=` on a
// command line is how one switches a setting off, so an empty value never counts as a setting.
std::optional<std::string> env_var(const char* name);

// A way to read variables (env_var, or a map in tests and for configuration built by hand).
using EnvLookup = std::function<std::optional<std::string>(const char*)>;

}  // namespace obsync
