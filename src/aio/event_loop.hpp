// aio/event_loop: a worker thread's loop over its io_context. Asio's run(),
// except that after a burst the thread may wait a few tens of microseconds
// on its own timer and poll again instead of sleeping in epoll_wait
// (aio/batch_wait.hpp says when). Used by the server's workers and by
// smtpsend's.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

namespace asio {
class io_context;
}

namespace spamsink::aio {

// Runs `ctx` until it runs out of work or is stopped, like run(). `wait` is asked before
// every decision, so a reload can change it; zero turns waiting off.
// `sessions` tells how many sessions are open on the loop (BatchWait's
// busy rule). Exceptions from handlers propagate, as from run().
void run_batched(asio::io_context& ctx, const std::function<std::chrono::nanoseconds()>& wait,
                 const std::function<std::size_t()>& sessions);

}  // namespace spamsink::aio
