#pragma once

#include "server_options.hpp"
#include "store.hpp"

namespace obsync::fake {

// `serve`: listens on 127.0.0.1 only, prints {"api":...,"host":...} on stdout once ready, and
// serves REST and WebSocket on the same port until SIGINT or SIGTERM. Returns the exit code.
int run_server(Store& store, const ServerOptions& options);

}  // namespace obsync::fake
