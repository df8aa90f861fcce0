// obsync-lambda: the AWS Lambda face of obsync (the package's `bootstrap`), a custom runtime that
// serves invocations through the Lambda Runtime API until Lambda stops it (docs/lambda.md).
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>

#include <boost/asio/io_context.hpp>

#include "lambda/config.hpp"
#include "lambda/function.hpp"
#include "lambda/runtime_client.hpp"
#include "net/http_client.hpp"
#include "util/env.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/run_coro.hpp"

using namespace obsync;
using namespace obsync::lambda;

namespace asio = boost::asio;

namespace {

// Posts the answer; a response Lambda refuses (too large) becomes a function error instead, so
// the invocation never stays without an answer.
void post_reply(asio::io_context& io, RuntimeClient& runtime, Logger& log,
                const std::string& request_id, const Reply& reply) {
    try {
        if (reply.error) {
            run_coro(io,
                     runtime.post_error(request_id, reply.error->error_type, reply.error->message));
        } else {
            run_coro(io, runtime.post_response(request_id, reply.body));
        }
        return;
    } catch (const Error& e) {
        log.error("the Runtime API refused the answer", {{"error", e.what()}});
        if (reply.error) {
            return;
        }
    }
    try {
        run_coro(io, runtime.post_error(request_id, "Obsync.ResponseRejected",
                                        "the Runtime API refused the response"));
    } catch (const Error& e) {
        log.error("the Runtime API refused the error report", {{"error", e.what()}});
    }
}

}  // namespace

int main() {
    const auto api = env_var("AWS_LAMBDA_RUNTIME_API");
    if (!api) {
        std::cerr << "obsync-lambda: AWS_LAMBDA_RUNTIME_API is not set: this program runs as an "
                     "AWS Lambda function (custom runtime); on a command line use `obsync sync`"
                  << std::endl;
        return 2;
    }
    asio::io_context io;
    net::HttpClient runtime_http(io.get_executor());
    RuntimeClient runtime(runtime_http, *api);
    Logger log(std::cout, LogFormat::json, LogLevel::info);
    set_process_logger(&log);  // retries, reconnects and take-overs deep inside are logged too

    std::unique_ptr<Function> function;
    try {
        LambdaConfig config = LambdaConfig::from_environment();
        log.set_threshold(config.log_level);
        log.set_context("function_name", config.function_name);
        log.set_context("function_memory_size", config.memory_mb);
        function = std::make_unique<Function>(io, std::move(config), log, env_var);
    } catch (const std::exception& e) {
        // Reported once through init/error: Lambda shows it and does not loop on a crash.
        const bool config = dynamic_cast<const Error*>(&e) != nullptr;
        log.error("the function cannot start", {{"error", e.what()}});
        try {
            run_coro(io, runtime.post_init_error(config ? "Obsync.ConfigError" : "Obsync.InitError",
                                                 config ? e.what() : "internal error at start"));
        } catch (const Error& post) {
            log.error("the Runtime API refused the init error", {{"error", post.what()}});
        }
        return 1;
    }

    for (bool cold = true;; cold = false) {
        Invocation invocation;
        try {
            run_coro(io,
                     [&]() -> asio::awaitable<void> { invocation = co_await runtime.next(); }());
        } catch (const Error& e) {
            // Without the Runtime API there is nothing to serve: Lambda starts a new process.
            log.error("cannot get the next invocation", {{"error", e.what()}});
            return 1;
        }
        if (invocation.trace_id.empty()) {
            ::unsetenv("_X_AMZN_TRACE_ID");
        } else {
            ::setenv("_X_AMZN_TRACE_ID", invocation.trace_id.c_str(), 1);
        }
        log.set_context("cold_start", cold);
        log.set_context("function_arn", invocation.function_arn);
        log.set_context("function_request_id", invocation.request_id);
        log.set_context("xray_trace_id", invocation.trace_id);

        Reply reply;
        try {
            reply = function->handle(invocation, cold);
        } catch (const std::exception& e) {
            // A bug, not a failure of the backup: answered, and the loop goes on (an escaping
            // exception would end the process and every warm invocation after it).
            log.error("the handler failed", {{"error", e.what()}});
            // The exception's text stays in the (masked) log: an answer carries none of it.
            reply = Reply{"", FunctionError{"Obsync.InternalError",
                                            "internal error: see the function's log for request " +
                                                invocation.request_id}};
        } catch (...) {
            log.error("the handler failed with an unknown exception");
            reply = Reply{"", FunctionError{"Obsync.InternalError", "internal error"}};
        }
        post_reply(io, runtime, log, invocation.request_id, reply);
    }
}
