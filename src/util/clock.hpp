#pragma once

#include <cstdint>

namespace obsync {

// Wall-clock time as Unix epoch milliseconds: what the protocol, the state stores and the run
// records write. Durations and timeouts use std::chrono::steady_clock instead.
std::int64_t epoch_ms();

}  // namespace obsync
