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
//
// ahead(k) shows the entries after top() without taking them out: the engine fetches the
// profiles of the next few timers from memory while it evaluates the current one. They are
// moved in order into a short sorted run before the radix part; an entry that belongs among
// them is inserted there, so every entry of the run stays <= every entry behind it.
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
    if (run_head_ < run_.size() && due < run_.back().first) {
      const auto at =
          std::upper_bound(run_.begin() + static_cast<std::ptrdiff_t>(run_head_), run_.end(), due,
                           [](TimestampMs d, const Entry& e) { return d < e.first; });
      run_.insert(at, Entry{due, id});
      return;
    }
    rest_emplace(due, id);
  }

  // The entry with the smallest due (of several, any). Not empty.
  const Entry& top() {
    if (run_head_ == run_.size()) pull();
    return run_[run_head_];
  }

  // Removes top(). Not empty.
  void pop() {
    top();
    ++run_head_;
    --size_;
    if (run_head_ == run_.size()) {
      run_.clear();
      run_head_ = 0;
    } else if (run_head_ >= 64 && run_head_ * 2 >= run_.size()) {
      run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(run_head_));
      run_head_ = 0;
    }
  }

  // The entry that comes out k places after top() (k = 0: top() itself), or nullptr when the
  // queue holds k entries or fewer. Entries of equal due keep the order ahead() shows.
  const Entry* ahead(std::size_t k) {
    while (run_.size() - run_head_ <= k) {
      if (rest_size_ == 0) return nullptr;
      pull();
    }
    return &run_[run_head_ + k];
  }

 private:
  // The rest's smallest entry moves to the back of the run. The rest is not empty.
  void pull() {
    run_.push_back(rest_top());
    rest_pop();
  }

  void rest_emplace(TimestampMs due, std::uint64_t id) {
    ++rest_size_;
    const std::uint64_t k = key(due);
    if (k < last_) {
      late_.emplace(due, id);
      return;
    }
    buckets_[bucket_of(k)].emplace_back(due, id);
  }
  const Entry& rest_top() {
    if (!late_.empty() && (buckets_empty() || late_.top().first <= radix_top().first)) {
      return late_.top();
    }
    return radix_top();
  }
  void rest_pop() {
    if (!late_.empty() && (buckets_empty() || late_.top().first <= radix_top().first)) {
      late_.pop();
    } else {
      radix_top();  // brings the smallest into bucket 0
      buckets_[0].pop_back();
    }
    --rest_size_;
  }

  // Order-preserving map of the signed due onto unsigned keys.
  static std::uint64_t key(TimestampMs due) {
    return static_cast<std::uint64_t>(due) ^ (std::uint64_t{1} << 63);
  }
  // 0 for keys equal to last_, else 1 + the highest bit in which they differ from it.
  std::size_t bucket_of(std::uint64_t k) const {
    return k == last_ ? 0 : static_cast<std::size_t>(64 - __builtin_clzll(k ^ last_));
  }
  bool buckets_empty() const { return rest_size_ - late_.size() == 0; }

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
  std::size_t rest_size_ = 0;  // entries in the radix part and the side heap
  std::vector<Entry> run_;     // entries taken out of the rest in order, from run_head_ on
  std::size_t run_head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace shoal::engine
