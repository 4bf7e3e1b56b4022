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
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "model/ids.h"

namespace shoal::model {

struct OrdinalTime {
  SegmentOrdinal segment;
  TimestampMs at = 0;
  friend bool operator==(const OrdinalTime&, const OrdinalTime&) = default;
};

class OrdinalTimes {
 public:
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
    void decode();

    const char* pos_ = nullptr;   // the current entry's first byte (end_: past the end)
    const char* next_ = nullptr;  // the next entry's first byte
    const char* end_ = nullptr;
    std::uint64_t next_ordinal_ = 0;  // the smallest ordinal the next entry may have
    OrdinalTime current_;
  };

  // Appends entries in increasing ordinal order; finish() or OrdinalTimes::assign take them.
  class Builder {
   public:
    void clear() {
      bytes_.clear();
      next_ordinal_ = 0;
      previous_at_ = 0;
    }
    void append(SegmentOrdinal segment, TimestampMs at);
    void append(const OrdinalTime& entry) { append(entry.segment, entry.at); }
    std::string_view bytes() const { return bytes_; }

   private:
    std::string bytes_;
    std::uint64_t next_ordinal_ = 0;
    TimestampMs previous_at_ = 0;
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
  std::size_t size() const;  // counts (decodes) the entries

  std::optional<TimestampMs> find(SegmentOrdinal segment) const;
  // The smallest instant, or kNoTime when empty.
  TimestampMs min_at() const;
  // Inserts or replaces; O(size) (re-encodes).
  void set(SegmentOrdinal segment, TimestampMs at);
  bool erase(SegmentOrdinal segment);
  // Takes a builder's entries (copied into an exactly sized buffer).
  void assign(const Builder& builder);

  std::string_view bytes() const { return bytes_; }
  std::size_t heap_bytes() const { return bytes_.capacity() > 15 ? bytes_.capacity() + 1 : 0; }

  friend bool operator==(const OrdinalTimes& a, const OrdinalTimes& b) {
    return a.bytes_ == b.bytes_;
  }

 private:
  void assign_bytes(std::string_view bytes);

  std::string bytes_;
};

}  // namespace shoal::model
