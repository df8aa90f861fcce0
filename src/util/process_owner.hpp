#pragma once

#include <string>
#include <string_view>

namespace obsync {

// "<host>:<pid>": names this process.
std::string local_process_owner();

// "<host>:<pid>:<16 random hex digits>": names one run, as the owner of a lease or a lock. Unique
// per call, so that two runs of one process (the vaults of `--all`, the invocations of a warm
// Lambda container) or of two hosts with the same name and pid never look like one owner: a run
// whose lease was taken over never sees it as its own again. The random part comes from the
// kernel (getrandom), not from crypto/, which util does not depend on.
std::string unique_run_owner();

// True when `owner` ("<host>:<pid>" or "<host>:<pid>:<random>") names a process of this host that
// no longer exists (so its lease may be taken over at once, as lock files are). False for other
// hosts and for other owner formats. Only for state kept on this host (SQLite): a table or a
// bucket shared by hosts cannot tell one host's pid from another's.
bool is_dead_local_owner(std::string_view owner);

}  // namespace obsync
