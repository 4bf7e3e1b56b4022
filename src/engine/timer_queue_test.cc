#include "engine/timer_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <queue>
#include <random>
#include <set>
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
        ASSERT_NO_FATAL_FAILURE(expect_same_next_due(queue, reference));
      }
      ASSERT_EQ(queue.size(), reference.size());
    }
    while (!reference.empty()) ASSERT_NO_FATAL_FAILURE(expect_same_next_due(queue, reference));
    EXPECT_TRUE(queue.empty());
  }
}

// ahead(k) answers the due of the k-th next entry (the ids of equal dues in any order),
// whatever the mix of emplaces, pops and earlier looks ahead; what it shows is what comes out.
TEST(TimerQueueTest, AheadShowsTheDuesThatComeOutNextUnderRandomOperations) {
  for (std::uint64_t seed : {4u, 5u, 6u}) {
    std::mt19937_64 rng(seed);
    TimerQueue queue;
    Reference reference;
    std::multiset<Entry> sorted;  // the same entries, for the k-th smallest
    TimestampMs now = 0;
    for (int step = 0; step < 20'000; ++step) {
      const auto r = rng() % 100;
      if (r < 45 || reference.empty()) {
        TimestampMs due = r < 5    ? now - static_cast<TimestampMs>(rng() % 100)
                          : r < 25 ? now + static_cast<TimestampMs>(rng() % 8)
                                   : now + static_cast<TimestampMs>(rng() % 5'000);
        const std::uint64_t id = rng() % 300;
        queue.emplace(due, id);
        reference.emplace(due, id);
        sorted.emplace(due, id);
      } else if (r < 75) {
        const std::size_t k = rng() % 24;
        const Entry* shown = queue.ahead(k);
        if (k >= sorted.size()) {
          EXPECT_EQ(shown, nullptr) << "k " << k << " of " << sorted.size();
        } else {
          ASSERT_NE(shown, nullptr) << "k " << k << " of " << sorted.size();
          EXPECT_EQ(shown->first, std::next(sorted.begin(), static_cast<std::ptrdiff_t>(k))->first)
              << "k " << k;
          EXPECT_EQ(*queue.ahead(0), queue.top());
        }
      } else {
        now = std::max(now, reference.top().first);
        const TimestampMs due = reference.top().first;
        ASSERT_NO_FATAL_FAILURE(expect_same_next_due(queue, reference));
        sorted.erase(sorted.begin(), sorted.upper_bound(Entry{due, ~std::uint64_t{0}}));
      }
      ASSERT_EQ(queue.size(), reference.size());
    }
    while (!reference.empty()) ASSERT_NO_FATAL_FAILURE(expect_same_next_due(queue, reference));
    EXPECT_TRUE(queue.empty());
    EXPECT_EQ(queue.ahead(0), nullptr);
  }
}

TEST(TimerQueueTest, EntriesComeOutInTheOrderAheadShowedThemWithNewOnesInTheirPlace) {
  TimerQueue queue;
  for (std::uint64_t id = 0; id < 200; ++id)
    queue.emplace(static_cast<TimestampMs>(id % 50) * 10, id);
  std::vector<Entry> shown;
  for (std::size_t k = 0; k < 100; ++k) shown.push_back(*queue.ahead(k));
  // Among the entries looked at: before all, between two, equal to one, after the last shown.
  queue.emplace(-5, 1000);
  queue.emplace(125, 1001);
  queue.emplace(120, 1002);
  queue.emplace(shown.back().first + 1, 1003);
  std::vector<Entry> expected = shown;
  const auto place = [&](Entry e) {
    expected.insert(std::upper_bound(expected.begin(), expected.end(), e.first,
                                     [](TimestampMs d, const Entry& x) { return d < x.first; }),
                    e);
  };
  place({-5, 1000});
  place({125, 1001});
  place({120, 1002});
  std::vector<Entry> got;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    got.push_back(queue.top());
    queue.pop();
  }
  EXPECT_EQ(got, expected);
  EXPECT_EQ(queue.top(), (Entry{shown.back().first + 1, 1003}));
  EXPECT_EQ(queue.size(), 200u + 4u - expected.size());
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
