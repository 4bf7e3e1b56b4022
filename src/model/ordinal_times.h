#pragma once
// OrdinalTimes: a map from segment ordinal to an instant, sorted by ordinal and kept as bytes.
// A profile's memberships (segment -> when it entered) and its timers (segment -> when the
// answer changes by time alone) are two of these. A profile belongs to dozens of segments and
// the engine caches hundreds of thousands of profiles: as vectors of 16-byte entries the two
// lists were over half of a cached profile (BENCHMARKS.md, "engine"); here an entry takes one
// byte when its instant equals the previous entry's and its ordinal follows it, ~5 otherwise.
//
// Encoding, per entry in ordinal order: a tag byte, then the instant's delta.
// - Tag bits 0-3: the ordinal gap g = ordinal - (previous ordinal + 1) (the first entry: its
//   ordinal); 15 means g >= 15 and a varint of g - 15 follows the tag.
// - Tag bits 4-7: L in 0..8, the byte count of zigzag(instant - previous instant) (the first:
//   the instant itself), written little-endian in exactly L bytes (the last one non-zero).
// Fixed-width deltas decode with one load and a mask where base-128 varints took a loop per
// byte (the walk over both lists was ~20% of the engine thread's instructions). The encoding
// of a given content is unique, so equal bytes mean equal maps.
#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/heap_bytes.h"
#include "core/varint.h"
#include "model/ids.h"

namespace shoal::model {

struct OrdinalTime {
  SegmentOrdinal segment;
  TimestampMs at = 0;
  friend bool operator==(const OrdinalTime&, const OrdinalTime&) = default;
};

namespace ordinal_times_detail {

// Deltas are read and written with memcpy of a std::uint64_t.
static_assert(std::endian::native == std::endian::little, "OrdinalTimes assumes little-endian");

inline constexpr std::uint8_t kGapEscape = 15;
inline constexpr int kMaxDeltaBytes = 8;
// Bytes after an entry's tag at most: an escaped gap's varint (< 2^32: 5 bytes) and the delta.
inline constexpr std::size_t kMaxEntryBytes = 1 + 5 + kMaxDeltaBytes;

// Reads a varint of more than one byte, its first byte already read.
std::uint64_t read_long_varint(const char*& p, std::uint8_t first);

// Reads `length` (1..8) little-endian bytes at p, not past `end`.
inline std::uint64_t read_delta(const char* p, const char* end, unsigned length) {
  std::uint64_t v = 0;
  if (end - p >= 8) [[likely]] {
    std::memcpy(&v, p, 8);  // one load; the bytes past the delta are masked off
    return length == 8 ? v : v & ((std::uint64_t{1} << (8 * length)) - 1);
  }
  for (unsigned i = 0; i < length; ++i) {
    v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(p[i])) << (8 * i);
  }
  return v;
}

// The byte count of the little-endian form of v without its high zero bytes (0 for 0).
inline unsigned delta_bytes(std::uint64_t v) {
  return v == 0 ? 0u : static_cast<unsigned>((64 - __builtin_clzll(v) + 7) / 8);
}

// Adds a zigzag-encoded delta; instants wrap as unsigned, so no pair of them overflows.
inline TimestampMs add_delta(TimestampMs base, std::uint64_t zigzag_delta) {
  const std::uint64_t delta = (zigzag_delta >> 1) ^ (0 - (zigzag_delta & 1));
  return static_cast<TimestampMs>(static_cast<std::uint64_t>(base) + delta);
}

}  // namespace ordinal_times_detail

class OrdinalTimes {
 public:
  class Builder;

  // Forward iteration in ordinal order; decodes one entry per step.
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = OrdinalTime;
    using difference_type = std::ptrdiff_t;
    using pointer = const OrdinalTime*;
    using reference = const OrdinalTime&;

    Iterator() = default;
    const OrdinalTime& operator*() const { return current_; }
    const OrdinalTime* operator->() const { return &current_; }
    Iterator& operator++() {
      pos_ = next_;
      decode();
      return *this;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.pos_ == b.pos_; }

   private:
    friend class OrdinalTimes;
    Iterator(const char* pos, const char* end) : pos_(pos), end_(end) { decode(); }
    void decode() {
      if (pos_ == end_) return;
      const char* p = pos_;
      const auto tag = static_cast<std::uint8_t>(*p++);
      std::uint64_t gap = tag & 0x0f;
      if (gap == ordinal_times_detail::kGapEscape) [[unlikely]] {
        gap += read_gap_varint(p);
      }
      const std::uint64_t ordinal = next_ordinal_ + gap;
      current_.segment.value = static_cast<std::uint32_t>(ordinal);
      const unsigned length = tag >> 4;
      if (length != 0) {
        current_.at = ordinal_times_detail::add_delta(
            current_.at, ordinal_times_detail::read_delta(p, end_, length));
        p += length;
      }
      next_ordinal_ = ordinal + 1;
      next_ = p;
    }
    static std::uint64_t read_gap_varint(const char*& p) {
      const auto first = static_cast<std::uint8_t>(*p++);
      if (!(first & 0x80)) return first;
      return ordinal_times_detail::read_long_varint(p, first);
    }

    const char* pos_ = nullptr;   // the current entry's first byte (end_: past the end)
    const char* next_ = nullptr;  // the next entry's first byte
    const char* end_ = nullptr;
    std::uint64_t next_ordinal_ = 0;  // the smallest ordinal the next entry may have
    OrdinalTime current_;
  };

  // Appends entries in increasing ordinal order; OrdinalTimes::assign takes them. Meant to be
  // reused (the engine keeps two): its buffer only grows.
  class Builder {
   public:
    void clear() {
      size_ = 0;
      next_ordinal_ = 0;
      previous_at_ = 0;
      min_at_ = kNoTime;
    }
    void append(SegmentOrdinal segment, TimestampMs at) {
      assert(segment.value >= next_ordinal_);
      // Encoded in place: a std::string append per entry was a memcpy call for 2-7 bytes
      // (~2% of the engine thread at 1M profiles). The delta is stored as 8 bytes and the
      // size advanced past its significant ones only.
      reserve(size_ + ordinal_times_detail::kMaxEntryBytes);
      char* p = buffer_.get() + size_;
      const std::uint64_t gap = segment.value - next_ordinal_;
      const std::uint64_t delta = zigzag(static_cast<std::int64_t>(
          static_cast<std::uint64_t>(at) - static_cast<std::uint64_t>(previous_at_)));
      const unsigned length = ordinal_times_detail::delta_bytes(delta);
      const auto tag_gap =
          static_cast<std::uint8_t>(std::min<std::uint64_t>(gap, ordinal_times_detail::kGapEscape));
      *p++ = static_cast<char>(tag_gap | (length << 4));
      if (tag_gap == ordinal_times_detail::kGapEscape) {
        p = write_varint(p, gap - ordinal_times_detail::kGapEscape);
      }
      std::memcpy(p, &delta, 8);  // little-endian (x86-64, AArch64)
      size_ = static_cast<std::size_t>(p + length - buffer_.get());
      next_ordinal_ = static_cast<std::uint64_t>(segment.value) + 1;
      previous_at_ = at;
      min_at_ = std::min(min_at_, at);
    }
    void append(const OrdinalTime& entry) { append(entry.segment, entry.at); }
    // Appends entries in increasing ordinal order (each above the last appended): one loop
    // with one capacity check, for the engine's rewrite of a whole list.
    void append_all(const OrdinalTime* begin, const OrdinalTime* end);
    std::string_view bytes() const { return std::string_view(buffer_.get(), size_); }

   private:
    friend class OrdinalTimes;
    void reserve(std::size_t bytes) {
      if (bytes > capacity_) grow(bytes);
    }
    void grow(std::size_t bytes);
    std::unique_ptr<char[]> buffer_;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
    std::uint64_t next_ordinal_ = 0;
    TimestampMs previous_at_ = 0;
    TimestampMs min_at_ = kNoTime;
  };

  OrdinalTimes() = default;

  // Checks a stored encoding (every varint complete, ordinals increasing and 32-bit); false
  // when `bytes` is not one.
  static bool parse(std::string_view bytes, OrdinalTimes& out);

  Iterator begin() const { return Iterator(bytes_.data(), bytes_.data() + bytes_.size()); }
  Iterator end() const {
    const char* e = bytes_.data() + bytes_.size();
    return Iterator(e, e);
  }
  bool empty() const { return bytes_.empty(); }
  // Decodes every entry into `out`, which must have room for bytes().size() of them (an entry
  // takes at least a byte); returns how many there are. One tight loop: the engine decodes
  // both lists of a profile on every evaluation.
  std::size_t decode_to(OrdinalTime* out) const;
  std::size_t size() const;  // counts (decodes) the entries

  std::optional<TimestampMs> find(SegmentOrdinal segment) const;
  // The smallest instant, or kNoTime when empty; kept, not decoded (the engine asks for a
  // profile's next timer on every change of it).
  TimestampMs min_at() const { return min_at_; }
  // Inserts or replaces; O(size) (re-encodes).
  void set(SegmentOrdinal segment, TimestampMs at);
  bool erase(SegmentOrdinal segment);
  // Takes a builder's entries (copied into an exactly sized buffer).
  void assign(const Builder& builder);

  std::string_view bytes() const { return bytes_; }
  std::size_t heap_bytes() const { return string_heap_bytes(bytes_); }

  friend bool operator==(const OrdinalTimes& a, const OrdinalTimes& b) {
    return a.bytes_ == b.bytes_;
  }

 private:
  void assign_bytes(std::string_view bytes, TimestampMs min_at);

  std::string bytes_;
  TimestampMs min_at_ = kNoTime;
};

}  // namespace shoal::model
