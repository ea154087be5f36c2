// Tests for aio/batch_wait: when a worker waits for more events instead of
// blocking, and when it stops doing so.
#include "aio/batch_wait.hpp"

#include <gtest/gtest.h>

namespace spamsink::aio {
namespace {

using Next = BatchWait::Next;
constexpr std::size_t kMin = BatchWait::kMinBurst;

TEST(BatchWait, IdleAlwaysBlocks) {
  BatchWait b(true);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.after_poll(0), Next::kBlock);
  EXPECT_EQ(b.waits(), 0u);
}

TEST(BatchWait, SmallBurstsBlock) {
  BatchWait b(true);
  b.after_block();
  EXPECT_EQ(b.after_poll(kMin - 2), Next::kBlock);  // 1 + kMin - 2 < kMin
}

TEST(BatchWait, ABurstEarnsAWaitAndAGoodWaitAnother) {
  BatchWait b(true);
  b.after_block();
  EXPECT_EQ(b.after_poll(kMin - 1), Next::kWait);  // 1 + kMin - 1
  // The wait gathered a full burst: wait again.
  EXPECT_EQ(b.after_poll(kMin), Next::kWait);
  EXPECT_EQ(b.waits(), 2u);
}

TEST(BatchWait, AThinWaitTurnsWaitingOffForABackoff) {
  BatchWait b(true);
  b.after_block();
  ASSERT_EQ(b.after_poll(kMin), Next::kWait);
  EXPECT_EQ(b.after_poll(1), Next::kBlock);  // the wait gathered one handler
  // Bursts during the backoff block, until it has run out.
  for (std::uint32_t i = 1; i < BatchWait::kBackoff; ++i) {
    b.after_block();
    ASSERT_EQ(b.after_poll(kMin * 4), Next::kBlock) << i;
  }
  b.after_block();
  EXPECT_EQ(b.after_poll(kMin), Next::kWait);
}

TEST(BatchWait, NothingGatheredIsAThinWait) {
  BatchWait b(true);
  b.after_block();
  ASSERT_EQ(b.after_poll(kMin), Next::kWait);
  EXPECT_EQ(b.after_poll(0), Next::kBlock);
  b.after_block();
  EXPECT_EQ(b.after_poll(kMin * 4), Next::kBlock);  // backing off
}

TEST(BatchWait, DisabledNeverWaits) {
  BatchWait b(false);
  for (int i = 0; i < 5; ++i) {
    b.after_block();
    EXPECT_EQ(b.after_poll(kMin * 10), Next::kBlock);
  }
  b.set_enabled(true);
  b.after_block();
  EXPECT_EQ(b.after_poll(kMin), Next::kWait);
}

constexpr std::size_t kBusy = BatchWait::kBusySessions;

TEST(BatchWait, ManySessionsWaitAfterAnyWork) {
  BatchWait b(true);
  b.after_block();
  EXPECT_EQ(b.after_poll(0, kBusy), Next::kWait);  // the one handler the block ran
  EXPECT_EQ(b.after_poll(BatchWait::kBusyGather, kBusy), Next::kWait);  // a good wait: again
  EXPECT_EQ(b.waits(), 2u);
  // One session fewer and the burst rule is back: the wait above gathered
  // less than a burst, so it backs off, and a lone handler never waits.
  EXPECT_EQ(b.after_poll(0, kBusy - 1), Next::kBlock);
  b.after_block();
  EXPECT_EQ(b.after_poll(0, kBusy - 1), Next::kBlock);
  EXPECT_EQ(b.waits(), 2u);
}

TEST(BatchWait, ManySessionsOneActiveClientWaitsOnlyNowAndThen) {
  // Idle sessions hold the count up while one client works: each wait
  // gathers its single next command, which is not enough to go on waiting.
  // Each exchange is one handler: run by a block, or gathered by a wait.
  BatchWait b(true);
  int waits = 0, exchanges = 0;
  while (exchanges < 100) {
    b.after_block();
    ++exchanges;
    if (b.after_poll(0, kBusy * 10) == Next::kWait) {
      ++waits;
      ++exchanges;  // the wait gathers the client's next command, and only it
      ASSERT_EQ(b.after_poll(1, kBusy * 10), Next::kBlock) << exchanges;
    }
  }
  // One exchange in kBusyBackoff + 1 waited for; the others were served
  // as soon as they came.
  EXPECT_EQ(waits, exchanges / static_cast<int>(BatchWait::kBusyBackoff + 1));
}

TEST(BatchWait, ManySessionsStillIdleBlocks) {
  BatchWait b(true);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.after_poll(0, 10000), Next::kBlock);
  EXPECT_EQ(b.waits(), 0u);
}

TEST(BatchWait, ManySessionsBackOffAfterAThinWait) {
  BatchWait b(true);
  b.after_block();
  ASSERT_EQ(b.after_poll(0, kBusy), Next::kWait);
  EXPECT_EQ(b.after_poll(BatchWait::kBusyGather - 1, kBusy), Next::kBlock);  // gathered too little
  for (std::uint32_t i = 1; i < BatchWait::kBusyBackoff; ++i) {
    b.after_block();
    ASSERT_EQ(b.after_poll(kMin, kBusy), Next::kBlock) << i;
  }
  b.after_block();
  EXPECT_EQ(b.after_poll(0, kBusy), Next::kWait);
}

TEST(BatchWait, ManySessionsShortenALongBackoff) {
  BatchWait b(true);
  b.after_block();
  ASSERT_EQ(b.after_poll(kMin), Next::kWait);
  ASSERT_EQ(b.after_poll(1), Next::kBlock);  // a thin wait: kBackoff blocks
  for (std::uint32_t i = 0; i < BatchWait::kBusyBackoff; ++i) {
    b.after_block();
    ASSERT_EQ(b.after_poll(0, kBusy), Next::kBlock) << i;
  }
  b.after_block();
  EXPECT_EQ(b.after_poll(0, kBusy), Next::kWait);
}

TEST(BatchWait, ManySessionsDisabledNeverWaits) {
  BatchWait b(false);
  b.after_block();
  EXPECT_EQ(b.after_poll(kMin, kBusy), Next::kBlock);
}

}  // namespace
}  // namespace spamsink::aio
