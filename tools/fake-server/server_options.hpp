#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace obsync::fake {

// The knobs of `serve` (see main.cpp for the command line). Defaults match the official service
// as far as the protocol doc knows it.
struct ServerOptions {
    std::uint16_t port = 0;  // 0 picks a free port
    std::chrono::milliseconds latency{0};
    std::chrono::milliseconds pull_latency{0};  // added to `latency` for replies to pulls
    std::optional<std::string> pull_log;        // a file: one line per pull request, its uid
    std::uint64_t piece_size = 2097152;         // pull frames; the client pushes 2 MiB pieces too
    std::uint64_t per_file_max = 208666624;     // 199 MiB, the client's own default (§4.2)
    std::uint64_t drop_after = 0;               // 0 = never drop connections
    bool drop_repeat = false;
    std::optional<std::string> refuse_init;
    std::int64_t token_ttl_seconds = 0;  // 0 = tokens never expire
    bool verbose = false;
};

}  // namespace obsync::fake
