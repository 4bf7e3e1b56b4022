#pragma once
// IdTable: a map from a 64-bit id (the engine's profile ids) to a value with a stable address:
// an open-addressing table (linear probing, backward-shift deletion) of 16-byte slots (id,
// pointer to the value's own heap block), at most 3/4 full. A lookup reads one or two
// neighbouring slots, then the value; a node-based hash map read its bucket, the node before
// the bucket's first and the node, and divided by a prime (7% of the engine thread at 1M
// profiles, BENCHMARKS.md "engine"). Ids are mixed by a Fibonacci multiply, so the dense
// creation sequence spreads over the table.
//
// Memory follows the number of entries, not the largest id: a node caches a few hundred
// thousand profiles of a store that may hold a hundred million. Iteration is in table order.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/linear_probing.h"

namespace shoal::engine {

template <class T>
class IdTable {
 public:
  IdTable() = default;
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;
  ~IdTable() { clear(); }

  T* find(std::uint64_t id) const {
    if (capacity_ == 0) return nullptr;
    for (std::size_t i = home(id);; i = (i + 1) & mask()) {
      const Slot& slot = slots_[i];
      if (slot.value == nullptr) return nullptr;
      if (slot.id == id) return slot.value;
    }
  }
  bool contains(std::uint64_t id) const { return find(id) != nullptr; }
  // Starts fetching the slot where a lookup of `id` begins into the cache; changes nothing.
  void prefetch(std::uint64_t id) const {
    if (capacity_ != 0) __builtin_prefetch(&slots_[home(id)]);
  }

  // Stores `value` under `id` unless the id is taken; returns the stored value and whether it
  // was inserted (as std::unordered_map::try_emplace).
  std::pair<T*, bool> insert(std::uint64_t id, T&& value) {
    if (T* existing = find(id)) return {existing, false};
    if (capacity_ == 0 || (size_ + 1) * 4 > capacity_ * 3) {
      rehash(capacity_ == 0 ? kMinCapacity : capacity_ * 2);
    }
    T* stored = new T(std::move(value));
    place(id, stored);
    ++size_;
    return {stored, true};
  }

  // Destroys the value under `id`; false when there is none.
  bool erase(std::uint64_t id) {
    if (capacity_ == 0) return false;
    std::size_t hole = home(id);
    for (;; hole = (hole + 1) & mask()) {
      if (slots_[hole].value == nullptr) return false;
      if (slots_[hole].id == id) break;
    }
    delete slots_[hole].value;
    slots_[hole] = Slot{};
    --size_;
    close_probe_gap(
        slots_.get(), mask(), hole, [](const Slot& slot) { return slot.value != nullptr; },
        [this](const Slot& slot) { return home(slot.id); });
    return true;
  }

  void clear() {
    for (std::size_t i = 0; i < capacity_; ++i) delete slots_[i].value;
    slots_.reset();
    capacity_ = size_ = 0;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Slots, for sampling: slot(i) for i < slot_count() is an entry's value or nullptr.
  std::size_t slot_count() const { return capacity_; }
  T* slot(std::size_t i) const { return slots_[i].value; }

  // Calls f(id, value) for every entry, in table order. f must not insert or erase.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].value) f(slots_[i].id, *slots_[i].value);
    }
  }

  // Erases every entry for which drop(id, value) is true; returns how many.
  template <class Drop>
  std::size_t erase_if(Drop&& drop) {
    std::vector<std::uint64_t> doomed;
    for_each([&](std::uint64_t id, T& value) {
      if (drop(id, value)) doomed.push_back(id);
    });
    for (std::uint64_t id : doomed) erase(id);
    return doomed.size();
  }

 private:
  struct Slot {
    std::uint64_t id = 0;
    T* value = nullptr;  // nullptr: empty
  };
  static constexpr std::size_t kMinCapacity = 16;

  std::size_t mask() const { return capacity_ - 1; }
  std::size_t home(std::uint64_t id) const {
    // Fibonacci hashing: the top bits of id * 2^64/phi.
    return static_cast<std::size_t>((id * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  void place(std::uint64_t id, T* value) {
    std::size_t i = home(id);
    while (slots_[i].value != nullptr) i = (i + 1) & mask();
    slots_[i] = Slot{id, value};
  }
  void rehash(std::size_t capacity) {
    std::unique_ptr<Slot[]> old = std::move(slots_);
    const std::size_t old_capacity = capacity_;
    slots_ = std::make_unique<Slot[]>(capacity);
    capacity_ = capacity;
    shift_ = 64;
    for (std::size_t c = capacity; c > 1; c >>= 1) --shift_;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      if (old[i].value) place(old[i].id, old[i].value);
    }
  }

  std::unique_ptr<Slot[]> slots_;
  std::size_t capacity_ = 0;  // a power of two, or 0
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

}  // namespace shoal::engine
