#include "engine/identity_cache.h"

#include <cassert>
#include <cstring>
#include <utility>
#include <vector>

#include "engine/linear_probing.h"

namespace shoal::engine {

// 32 bytes: two per cache line. `hash` 0 marks an empty slot (a key hashing to 0 is stored as
// 1). `key` holds up to 15 bytes inline, or (kHeapKey) a pointer to a block of a 4-byte length
// and the key's bytes.
struct IdentityCache::Slot {
  std::uint64_t hash = 0;
  std::uint64_t profile = 0;
  char key[15] = {};
  std::uint8_t flags = 0;  // the inline length, kHeapKey, kCachedMiss
};

namespace {

constexpr std::uint8_t kInlineLengthMask = 0x0f;
constexpr std::uint8_t kHeapKey = 0x40;
constexpr std::uint8_t kCachedMiss = 0x80;
constexpr std::size_t kInlineKeyBytes = 15;
constexpr std::size_t kMinCapacity = 16;

static_assert(sizeof(char*) <= kInlineKeyBytes);

char* heap_block(const char* inline_bytes) {
  char* block;
  std::memcpy(&block, inline_bytes, sizeof(block));
  return block;
}

// At most 3/4 full: a lookup of a cached key then reads 2.5 slots on average.
bool over_load(std::size_t size, std::size_t capacity) { return size * 4 > capacity * 3; }

}  // namespace

IdentityCache::IdentityCache() = default;

IdentityCache::~IdentityCache() {
  static_assert(sizeof(Slot) == 32, "two slots per cache line");
  for (std::size_t i = 0; i < capacity_; ++i) release_key(slots_[i]);
}

std::uint64_t IdentityCache::hash_of(std::string_view key) {
  const std::uint64_t h = std::hash<std::string_view>{}(key);
  return h == 0 ? 1 : h;
}

std::string_view IdentityCache::key_of(const Slot& slot) {
  if (slot.flags & kHeapKey) {
    const char* block = heap_block(slot.key);
    std::uint32_t length;
    std::memcpy(&length, block, sizeof(length));
    return std::string_view(block + sizeof(length), length);
  }
  return std::string_view(slot.key, slot.flags & kInlineLengthMask);
}

void IdentityCache::release_key(Slot& slot) {
  if (slot.hash != 0 && (slot.flags & kHeapKey)) {
    heap_key_bytes_ -= sizeof(std::uint32_t) + key_of(slot).size();
    delete[] heap_block(slot.key);
  }
  slot = Slot{};
}

const IdentityCache::Slot* IdentityCache::find_slot(std::string_view key,
                                                    std::uint64_t hash) const {
  if (capacity_ == 0) return nullptr;
  const std::size_t mask = capacity_ - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.hash == 0) return nullptr;
    if (slot.hash == hash && key_of(slot) == key) return &slot;
  }
}

bool IdentityCache::find(std::string_view key, std::optional<model::ProfileId>& id) const {
  const Slot* slot = find_slot(key, hash_of(key));
  if (slot == nullptr) return false;
  if (slot->flags & kCachedMiss) {
    id.reset();
  } else {
    id = model::ProfileId{slot->profile};
  }
  return true;
}

void IdentityCache::prefetch(std::string_view key) const {
  if (capacity_ != 0) __builtin_prefetch(&slots_[hash_of(key) & (capacity_ - 1)]);
}

void IdentityCache::insert_new(std::string_view key, std::uint64_t hash,
                               std::optional<model::ProfileId> id) {
  const std::size_t mask = capacity_ - 1;
  std::size_t i = hash & mask;
  while (slots_[i].hash != 0) i = (i + 1) & mask;
  Slot& slot = slots_[i];
  slot.hash = hash;
  slot.profile = id ? id->value : 0;
  slot.flags = id ? 0 : kCachedMiss;
  if (key.size() <= kInlineKeyBytes) {
    std::memcpy(slot.key, key.data(), key.size());
    slot.flags |= static_cast<std::uint8_t>(key.size());
  } else {
    const auto length = static_cast<std::uint32_t>(key.size());
    char* block = new char[sizeof(length) + key.size()];
    std::memcpy(block, &length, sizeof(length));
    std::memcpy(block + sizeof(length), key.data(), key.size());
    std::memcpy(slot.key, &block, sizeof(block));
    slot.flags |= kHeapKey;
    heap_key_bytes_ += sizeof(length) + key.size();
  }
  ++size_;
}

void IdentityCache::set(std::string_view key, std::optional<model::ProfileId> id) {
  const std::uint64_t hash = hash_of(key);
  if (const Slot* found = find_slot(key, hash)) {
    Slot& slot = const_cast<Slot&>(*found);
    slot.profile = id ? id->value : 0;
    slot.flags = static_cast<std::uint8_t>((slot.flags & ~kCachedMiss) | (id ? 0 : kCachedMiss));
    return;
  }
  if (capacity_ == 0 || over_load(size_ + 1, capacity_)) {
    rehash(capacity_ == 0 ? kMinCapacity : capacity_ * 2);
  }
  insert_new(key, hash, id);
}

bool IdentityCache::erase(std::string_view key) {
  const Slot* found = find_slot(key, hash_of(key));
  if (found == nullptr) return false;
  const std::size_t mask = capacity_ - 1;
  const auto hole = static_cast<std::size_t>(found - slots_.get());
  release_key(slots_[hole]);
  --size_;
  close_probe_gap(
      slots_.get(), mask, hole, [](const Slot& slot) { return slot.hash != 0; },
      [mask](const Slot& slot) { return static_cast<std::size_t>(slot.hash & mask); });
  return true;
}

std::size_t IdentityCache::memory_bytes() const {
  return capacity_ * sizeof(Slot) + heap_key_bytes_;
}

void IdentityCache::rehash(std::size_t capacity) {
  assert((capacity & (capacity - 1)) == 0 && !over_load(size_, capacity));
  std::unique_ptr<Slot[]> old = std::move(slots_);
  const std::size_t old_capacity = capacity_;
  slots_ = std::make_unique<Slot[]>(capacity);
  capacity_ = capacity;
  const std::size_t mask = capacity - 1;
  for (std::size_t j = 0; j < old_capacity; ++j) {
    const Slot& slot = old[j];
    if (slot.hash == 0) continue;
    std::size_t i = slot.hash & mask;
    while (slots_[i].hash != 0) i = (i + 1) & mask;
    slots_[i] = slot;  // moves the heap key's ownership with it
  }
}

std::size_t IdentityCache::shrink_to(std::size_t target,
                                     const std::function<bool(std::string_view)>& droppable) {
  std::vector<std::size_t> drop;
  for (std::size_t i = 0; i < capacity_ && size_ - drop.size() > target; ++i) {
    const Slot& slot = slots_[i];
    if (slot.hash != 0 && droppable(key_of(slot))) drop.push_back(i);
  }
  if (drop.empty()) return 0;
  for (std::size_t i : drop) release_key(slots_[i]);
  size_ -= drop.size();
  // Emptied slots break probe runs: re-place every entry (the same capacity, or less).
  std::size_t capacity = capacity_;
  while (capacity > kMinCapacity && !over_load(size_, capacity / 2) && size_ * 4 < capacity) {
    capacity /= 2;
  }
  rehash(capacity);
  return drop.size();
}

}  // namespace shoal::engine
