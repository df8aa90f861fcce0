#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace obsync {

// Runs job(0) .. job(count - 1) with at most `workers` of them in flight at once, on the calling
// coroutine's executor (one thread: the jobs interleave at their co_awaits). Returns when every
// started job has finished. The first job that throws stops new ones from starting; its exception
// is rethrown once the others in flight are done. A job that must not stop the rest catches.
inline boost::asio::awaitable<void> for_each_parallel(
    std::size_t count, int workers, std::function<boost::asio::awaitable<void>(std::size_t)> job) {
    namespace asio = boost::asio;
    const auto executor = co_await asio::this_coro::executor;
    const std::size_t lanes =
        std::min<std::size_t>(count, static_cast<std::size_t>(std::max(1, workers)));
    if (lanes == 0) {
        co_return;
    }
    std::size_t next = 0;
    std::size_t running = lanes;
    std::exception_ptr failure;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    const auto lane = [&]() -> asio::awaitable<void> {
        while (!failure && next < count) {
            const std::size_t index = next++;
            co_await job(index);
        }
    };
    for (std::size_t i = 0; i < lanes; ++i) {
        asio::co_spawn(executor, lane(), [&](const std::exception_ptr& error) {
            if (error && !failure) {
                failure = error;
            }
            if (--running == 0) {
                all_done.cancel();
            }
        });
    }
    if (running != 0) {
        co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
}

}  // namespace obsync
