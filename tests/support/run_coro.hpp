#pragma once

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace obsync::test {

// Runs one coroutine to completion on `io` (with whatever servers share it) and rethrows its
// exception. A coroutine still running after `limit` fails the test instead of hanging CI.
template <typename Awaitable>
void run_coro(boost::asio::io_context& io, Awaitable awaitable,
              std::chrono::seconds limit = std::chrono::seconds(30)) {
    bool done = false;
    std::exception_ptr failure;
    boost::asio::co_spawn(io, std::move(awaitable), [&](std::exception_ptr e) {
        failure = std::move(e);
        done = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) {
            io.restart();
        }
        io.run_one_for(std::chrono::milliseconds(50));
    }
    if (!done) {
        throw std::runtime_error("coroutine did not finish in time");
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
}

// run_coro for a coroutine with a result: returns it.
template <typename T>
T run_coro_value(boost::asio::io_context& io, boost::asio::awaitable<T> op,
                 std::chrono::seconds limit = std::chrono::seconds(30)) {
    std::optional<T> out;
    // Parameters, not captures: a coroutine's parameters live in its frame.
    auto store = [](boost::asio::awaitable<T> inner,
                    std::optional<T>& slot) -> boost::asio::awaitable<void> {
        slot.emplace(co_await std::move(inner));
    };
    run_coro(io, store(std::move(op), out), limit);
    return std::move(*out);
}

}  // namespace obsync::test
