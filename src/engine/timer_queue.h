#pragma once
// TimerQueue: the engine's due-timer index in memory, a min-queue of (due, profile id).
//
// The engine's clock only moves forward and a new timer is due after the instant that set it,
// so keys almost never go below the last one taken out: a radix heap (Ahuja, Mehlhorn, Orlin,
// Tarjan 1990) serves that case with appends to 65 buckets and occasional sequential
// redistribution, where a binary heap of ~1M entries took a chain of cache misses per pop.
// A key below the last one taken (not expected; kept correct anyway) goes to a small binary
// heap beside it, so the queue orders exactly like a priority queue in every case. Entries of
// equal due come out in no particular order.
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace shoal::engine {

class TimerQueue {
 public:
  using Entry = std::pair<TimestampMs, std::uint64_t>;  // (due, profile id)

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  void emplace(TimestampMs due, std::uint64_t id) {
    ++size_;
    const std::uint64_t k = key(due);
    if (k < last_) {
      late_.emplace(due, id);
      return;
    }
    buckets_[bucket_of(k)].emplace_back(due, id);
  }

  // The entry with the smallest due (of several, any). Not empty.
  const Entry& top() {
    if (!late_.empty() && (buckets_empty() || late_.top().first <= radix_top().first)) {
      return late_.top();
    }
    return radix_top();
  }

  // Removes top(). Not empty.
  void pop() {
    if (!late_.empty() && (buckets_empty() || late_.top().first <= radix_top().first)) {
      late_.pop();
    } else {
      radix_top();  // brings the smallest into bucket 0
      buckets_[0].pop_back();
    }
    --size_;
  }

 private:
  // Order-preserving map of the signed due onto unsigned keys.
  static std::uint64_t key(TimestampMs due) {
    return static_cast<std::uint64_t>(due) ^ (std::uint64_t{1} << 63);
  }
  // 0 for keys equal to last_, else 1 + the highest bit in which they differ from it.
  std::size_t bucket_of(std::uint64_t k) const {
    return k == last_ ? 0 : static_cast<std::size_t>(64 - __builtin_clzll(k ^ last_));
  }
  bool buckets_empty() const { return size_ - late_.size() == 0; }

  // The radix part's smallest entry, moved to the back of bucket 0. Not empty.
  const Entry& radix_top() {
    if (buckets_[0].empty()) {
      std::size_t i = 1;
      while (buckets_[i].empty()) ++i;
      std::vector<Entry>& from = buckets_[i];
      const auto smallest = std::min_element(
          from.begin(), from.end(), [](const Entry& a, const Entry& b) { return a.first < b.first; });
      last_ = key(smallest->first);
      // Every entry of bucket i now differs from last_ in a lower bit: each moves down.
      for (const Entry& e : from) buckets_[bucket_of(key(e.first))].push_back(e);
      from.clear();
    }
    return buckets_[0].back();
  }

  std::array<std::vector<Entry>, 65> buckets_;
  std::uint64_t last_ = 0;  // the key of the last smallest entry found; buckets hold keys >= it
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> late_;
  std::size_t size_ = 0;
};

}  // namespace shoal::engine
