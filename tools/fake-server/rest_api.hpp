#pragma once

#include <string>
#include <string_view>

#include "server_options.hpp"
#include "store.hpp"

namespace obsync::fake {

struct RestReply {
    std::string body;   // always a JSON object, sent with HTTP 200 (§1.1)
    std::string error;  // the `error` text when the call failed, for the log; empty on success
};

// The REST endpoints of §1.2 and §7, independent of HTTP: the listener hands over the request
// path and body and sends back `body`.
class RestApi {
public:
    // `host` is what /vault/list hands out as every vault's sync host ("127.0.0.1:PORT").
    RestApi(Store& store, const ServerOptions& options, std::string host);

    RestReply handle(std::string_view path, std::string_view body);

private:
    Store& m_store;
    const ServerOptions& m_options;
    std::string m_host;
};

}  // namespace obsync::fake
