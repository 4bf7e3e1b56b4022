#include "engine/timer_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <queue>
#include <random>
#include <vector>

namespace shoal::engine {
namespace {

using Entry = TimerQueue::Entry;
using Reference = std::priority_queue<Entry, std::vector<Entry>, std::greater<>>;

// Pops every entry due at the smallest due from both queues: the same due, the same ids (in
// any order within one due).
void expect_same_next_due(TimerQueue& queue, Reference& reference) {
  ASSERT_FALSE(queue.empty());
  const TimestampMs due = reference.top().first;
  ASSERT_EQ(queue.top().first, due);
  std::vector<std::uint64_t> got, want;
  while (!reference.empty() && reference.top().first == due) {
    want.push_back(reference.top().second);
    reference.pop();
  }
  while (!queue.empty() && queue.top().first == due) {
    got.push_back(queue.top().second);
    queue.pop();
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want) << "due " << due;
  EXPECT_EQ(queue.size(), reference.size());
}

// Mostly as the engine uses it (new timers due after the last one taken), with some below it
// to exercise the side heap, over the whole range of dues.
TEST(TimerQueueTest, OrdersLikeAPriorityQueueUnderRandomOperations) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    std::mt19937_64 rng(seed);
    TimerQueue queue;
    Reference reference;
    TimestampMs now = -5'000;
    for (int step = 0; step < 20'000; ++step) {
      const auto r = rng() % 100;
      if (r < 55 || reference.empty()) {
        TimestampMs due;
        if (r < 5) {
          due = now - static_cast<TimestampMs>(rng() % 1'000);  // below the last taken
        } else if (r < 10) {
          due = now;  // due right now
        } else if (r < 30) {
          due = now + static_cast<TimestampMs>(rng() % 16);  // many equal dues
        } else {
          due = now + static_cast<TimestampMs>(rng() % 10'000'000);
        }
        const std::uint64_t id = rng() % 500;
        queue.emplace(due, id);
        reference.emplace(due, id);
      } else {
        now = std::max(now, reference.top().first);
        expect_same_next_due(queue, reference);
      }
      ASSERT_EQ(queue.size(), reference.size());
    }
    while (!reference.empty()) expect_same_next_due(queue, reference);
    EXPECT_TRUE(queue.empty());
  }
}

TEST(TimerQueueTest, HoldsTheExtremeDues) {
  TimerQueue queue;
  const TimestampMs lo = std::numeric_limits<TimestampMs>::min();
  const TimestampMs hi = std::numeric_limits<TimestampMs>::max();
  queue.emplace(hi, 1);
  queue.emplace(0, 2);
  queue.emplace(lo, 3);
  queue.emplace(-1, 4);
  std::vector<TimestampMs> order;
  while (!queue.empty()) {
    order.push_back(queue.top().first);
    queue.pop();
  }
  EXPECT_EQ(order, (std::vector<TimestampMs>{lo, -1, 0, hi}));
  // After taking the largest, a smaller one still comes out first.
  queue.emplace(hi, 5);
  queue.emplace(7, 6);
  EXPECT_EQ(queue.top(), (Entry{7, 6}));
  queue.pop();
  EXPECT_EQ(queue.top(), (Entry{hi, 5}));
}

}  // namespace
}  // namespace shoal::engine
