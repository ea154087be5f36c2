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

}  // namespace
}  // namespace spamsink::aio
