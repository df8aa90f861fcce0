#pragma once

#include <exception>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace obsync {

// Runs one coroutine to completion on `io` and rethrows its exception.
template <typename Awaitable>
void run_coro(boost::asio::io_context& io, Awaitable awaitable) {
    std::exception_ptr failure;
    boost::asio::co_spawn(io, std::move(awaitable),
                          [&](const std::exception_ptr& e) { failure = e; });
    io.restart();
    io.run();
    if (failure) {
        std::rethrow_exception(failure);
    }
}

}  // namespace obsync
