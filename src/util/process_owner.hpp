#pragma once

#include <string>
#include <string_view>

namespace obsync {

// "<host>:<pid>": names this process as the owner of a lease.
std::string local_process_owner();

// True when `owner` names a process of this host that no longer exists (so its lease may be
// taken over at once, as lock files are). False for other hosts and for other owner formats.
bool is_dead_local_owner(std::string_view owner);

}  // namespace obsync
