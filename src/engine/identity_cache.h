#pragma once
// IdentityCache: the engine's cache of the identity index, "field\0value" -> the profile that
// holds it, or "the store has no such identity" (a cached miss).
//
// An open-addressing table with linear probing over 32-byte slots that hold the key's 64-bit
// hash and, for keys of up to 15 bytes, the key itself: a lookup of a cached key reads one or
// two neighbouring slots, usually one cache line. A node-based hash map took three dependent
// cache misses per lookup (its bucket, the node before the bucket's first, the node) and a
// division; at 1M profiles that was 7% of the engine thread (BENCHMARKS.md, "engine").
// Longer keys live in a heap block of their own, read only when the hash matches.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "model/ids.h"

namespace shoal::engine {

class IdentityCache {
 public:
  IdentityCache();
  ~IdentityCache();
  IdentityCache(const IdentityCache&) = delete;
  IdentityCache& operator=(const IdentityCache&) = delete;

  // True when `key` is cached; then `id` is its profile, or nullopt for a cached miss.
  bool find(std::string_view key, std::optional<model::ProfileId>& id) const;
  // Starts loading the slot where a lookup of `key` begins (a hint: it changes nothing).
  void prefetch(std::string_view key) const;
  // Inserts or replaces.
  void set(std::string_view key, std::optional<model::ProfileId> id);
  // Removes `key` if cached; true when it was.
  bool erase(std::string_view key);

  std::size_t size() const { return size_; }
  // Slots and out-of-line keys.
  std::size_t memory_bytes() const;

  // Visits entries in table order and drops those `droppable(key)` allows until at most
  // `target` remain (or every entry was visited); returns how many were dropped.
  std::size_t shrink_to(std::size_t target, const std::function<bool(std::string_view)>& droppable);

 private:
  struct Slot;
  static std::uint64_t hash_of(std::string_view key);
  static std::string_view key_of(const Slot& slot);
  void release_key(Slot& slot);  // frees an out-of-line key and empties the slot
  const Slot* find_slot(std::string_view key, std::uint64_t hash) const;
  // Stores a key known to be absent; the table has room.
  void insert_new(std::string_view key, std::uint64_t hash, std::optional<model::ProfileId> id);
  void rehash(std::size_t capacity);

  std::unique_ptr<Slot[]> slots_;
  std::size_t capacity_ = 0;  // a power of two, or 0
  std::size_t size_ = 0;
  std::size_t heap_key_bytes_ = 0;
};

}  // namespace shoal::engine
