#pragma once
// OrdinalTimes: a map from segment ordinal to an instant, sorted by ordinal and kept as bytes
// (varint deltas). A profile's memberships (segment -> when it entered) and its timers
// (segment -> when the answer changes by time alone) are two of these. A profile belongs to
// dozens of segments and the engine caches hundreds of thousands of profiles: as vectors of
// 16-byte entries the two lists were over half of a cached profile (BENCHMARKS.md, "engine");
// here an entry takes 2 bytes when its instant equals the previous entry's, ~5-7 otherwise.
//
// Encoding, per entry in ordinal order: varint(ordinal - previous ordinal - 1) (the first
// entry: its ordinal), then zigzag varint(instant - previous instant) (the first: the instant
// itself). The encoding of a given content is unique, so equal bytes mean equal maps.
#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
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

// Reads a varint of more than one byte, its first byte already read.
std::uint64_t read_long_varint(const char*& p, std::uint8_t first);

// The bytes were checked when they came in (OrdinalTimes::parse) or written by a Builder: no
// bounds checks. Most deltas fit one byte: that path is inline, the rest out of line.
inline std::uint64_t read_trusted_varint(const char*& p) {
  const auto first = static_cast<std::uint8_t>(*p++);
  if (!(first & 0x80)) [[likely]] return first;
  return read_long_varint(p, first);
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
      prefix_min_ = std::min(prefix_min_, current_.at);
      pos_ = next_;
      decode();
      return *this;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.pos_ == b.pos_; }

   private:
    friend class OrdinalTimes;
    friend class OrdinalTimes::Builder;
    Iterator(const char* begin, const char* pos, const char* end)
        : begin_(begin), pos_(pos), end_(end) {
      decode();
    }
    // Inline: the engine walks both lists of a profile on every evaluation.
    [[gnu::always_inline]] void decode() {
      base_ordinal_ = next_ordinal_;
      base_at_ = current_.at;
      if (pos_ == end_) return;
      const char* p = pos_;
      const std::uint64_t ordinal = next_ordinal_ + ordinal_times_detail::read_trusted_varint(p);
      current_.segment.value = static_cast<std::uint32_t>(ordinal);
      current_.at = ordinal_times_detail::add_delta(current_.at, ordinal_times_detail::read_trusted_varint(p));
      next_ordinal_ = ordinal + 1;
      next_ = p;
    }

    const char* begin_ = nullptr;  // the list's first byte
    const char* pos_ = nullptr;    // the current entry's first byte (end_: past the end)
    const char* next_ = nullptr;   // the next entry's first byte
    const char* end_ = nullptr;
    std::uint64_t next_ordinal_ = 0;  // the smallest ordinal the next entry may have
    OrdinalTime current_;
    // The encoder's state before the current entry: what a copy of [begin_, pos_) leaves.
    std::uint64_t base_ordinal_ = 0;
    TimestampMs base_at_ = 0;
    TimestampMs prefix_min_ = kNoTime;  // the smallest instant before the current entry
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
      // (~2% of the engine thread at 1M profiles).
      reserve(size_ + 2 * kMaxVarintBytes);
      char* p = write_varint(buffer_.get() + size_, segment.value - next_ordinal_);
      p = write_varint(p, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(at) -
                                                           static_cast<std::uint64_t>(previous_at_))));
      size_ = static_cast<std::size_t>(p - buffer_.get());
      next_ordinal_ = static_cast<std::uint64_t>(segment.value) + 1;
      previous_at_ = at;
      min_at_ = std::min(min_at_, at);
    }
    void append(const OrdinalTime& entry) { append(entry.segment, entry.at); }
    // Starts the builder (it must be empty) with the entries of a list before `upto`, an
    // iterator of that list reached from its begin(), copied as bytes: a walk that finds its
    // first change part-way through a list re-encodes only from there on.
    void copy_prefix(const Iterator& upto);
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

  Iterator begin() const {
    return Iterator(bytes_.data(), bytes_.data(), bytes_.data() + bytes_.size());
  }
  Iterator end() const {
    const char* e = bytes_.data() + bytes_.size();
    return Iterator(bytes_.data(), e, e);
  }
  bool empty() const { return bytes_.empty(); }
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
