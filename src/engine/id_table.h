#pragma once
// IdTable: a map from a dense 64-bit id (the engine's profile ids, a creation sequence) to a
// value with a stable address, as a two-level array: id -> page -> slot -> the value's own
// heap block. A lookup reads the page directory (small: one pointer per 4,096 ids, mostly in
// the CPU cache) and the id's slot, then the value; a node-based hash map read its bucket, the
// node before the bucket's first and the node, and divided by a prime (7% of the engine thread
// at 1M profiles, BENCHMARKS.md "engine"). Ids of neighbouring creation share slot cache lines,
// so the busiest (oldest) profiles' slots stay cached. Iteration is in id order.
//
// A page is freed when its last value is erased, so a sparse table (a few cached profiles among
// many ids) costs one directory pointer per 4,096 ids plus the pages in use.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace shoal::engine {

template <class T>
class IdTable {
 public:
  IdTable() = default;
  IdTable(const IdTable&) = delete;
  IdTable& operator=(const IdTable&) = delete;
  ~IdTable() { clear(); }

  T* find(std::uint64_t id) const {
    const std::uint64_t page = id >> kPageBits;
    if (page >= pages_.size() || !pages_[page]) return nullptr;
    return pages_[page]->slots[id & kPageMask];
  }
  bool contains(std::uint64_t id) const { return find(id) != nullptr; }

  // Stores `value` under `id` unless the id is taken; returns the stored value and whether it
  // was inserted (as std::unordered_map::try_emplace).
  std::pair<T*, bool> insert(std::uint64_t id, T&& value) {
    const std::uint64_t page = id >> kPageBits;
    if (page >= pages_.size()) pages_.resize(page + 1);
    if (!pages_[page]) pages_[page] = std::make_unique<Page>();
    Page& p = *pages_[page];
    T*& slot = p.slots[id & kPageMask];
    if (slot) return {slot, false};
    slot = new T(std::move(value));
    ++p.count;
    ++size_;
    return {slot, true};
  }

  // Destroys the value under `id`; false when there is none.
  bool erase(std::uint64_t id) {
    const std::uint64_t page = id >> kPageBits;
    if (page >= pages_.size() || !pages_[page]) return false;
    Page& p = *pages_[page];
    T*& slot = p.slots[id & kPageMask];
    if (!slot) return false;
    delete slot;
    slot = nullptr;
    --size_;
    if (--p.count == 0) pages_[page].reset();
    return true;
  }

  void clear() {
    for (auto& page : pages_) {
      if (!page) continue;
      for (T* value : page->slots) delete value;
    }
    pages_.clear();
    size_ = 0;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // One past the largest id the directory covers: every stored id is below it.
  std::uint64_t id_bound() const { return static_cast<std::uint64_t>(pages_.size()) << kPageBits; }

  // Calls f(id, value) for every entry in ascending id order. f must not insert or erase.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t page = 0; page < pages_.size(); ++page) {
      if (!pages_[page]) continue;
      const std::uint64_t base = static_cast<std::uint64_t>(page) << kPageBits;
      for (std::size_t i = 0; i < kPageSize; ++i) {
        if (T* value = pages_[page]->slots[i]) f(base + i, *value);
      }
    }
  }

  // Erases every entry for which drop(id, value) is true, in ascending id order; returns how
  // many.
  template <class Drop>
  std::size_t erase_if(Drop&& drop) {
    std::size_t erased = 0;
    for (std::size_t page = 0; page < pages_.size(); ++page) {
      if (!pages_[page]) continue;
      const std::uint64_t base = static_cast<std::uint64_t>(page) << kPageBits;
      for (std::size_t i = 0; i < kPageSize && pages_[page]; ++i) {
        T* value = pages_[page]->slots[i];
        if (value && drop(base + i, *value)) {
          erase(base + i);
          ++erased;
        }
      }
    }
    return erased;
  }

 private:
  static constexpr unsigned kPageBits = 12;
  static constexpr std::size_t kPageSize = std::size_t{1} << kPageBits;
  static constexpr std::uint64_t kPageMask = kPageSize - 1;
  struct Page {
    std::array<T*, kPageSize> slots{};
    std::size_t count = 0;
  };
  std::vector<std::unique_ptr<Page>> pages_;
  std::size_t size_ = 0;
};

}  // namespace shoal::engine
