#include "aio/event_loop.hpp"

#include <sys/prctl.h>
#include <time.h>

#include <asio/io_context.hpp>

#include "aio/batch_wait.hpp"

namespace spamsink::aio {

void run_batched(asio::io_context& ctx, const std::function<std::chrono::nanoseconds()>& wait,
                 const std::function<std::size_t()>& sessions) {
  // The wait is tens of microseconds: the default timer slack (50 us)
  // would double it. Per thread; lowering it needs no privilege.
  (void)::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  BatchWait policy(false);
  for (;;) {
    const std::chrono::nanoseconds w = wait();
    policy.set_enabled(w.count() > 0);
    // poll() runs what is ready and returns once its last look at epoll
    // (timeout 0) found nothing more: no second poll() is needed to know.
    const std::size_t ran = ctx.poll();
    if (ctx.stopped()) return;  // out of work, or stop(): as run() returns
    switch (policy.after_poll(ran, sessions())) {
      case BatchWait::Next::kWait: {
        const timespec ts{static_cast<time_t>(w.count() / 1'000'000'000), static_cast<long>(w.count() % 1'000'000'000)};
        ::nanosleep(&ts, nullptr);
        break;
      }
      case BatchWait::Next::kBlock:
        if (ctx.run_one() == 0) return;  // out of work, or stop()
        policy.after_block();
        break;
    }
  }
}

}  // namespace spamsink::aio
