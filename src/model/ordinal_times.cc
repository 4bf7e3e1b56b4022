#include "model/ordinal_times.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "core/varint.h"

namespace shoal::model {

std::uint64_t ordinal_times_detail::read_long_varint(const char*& p, std::uint8_t first) {
  std::uint64_t v = first & 0x7f;
  for (int shift = 7;; shift += 7) {
    auto byte = static_cast<std::uint8_t>(*p++);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
}

void OrdinalTimes::Builder::grow(std::size_t bytes) {
  const std::size_t capacity = std::max({bytes, 2 * capacity_, std::size_t{64}});
  auto buffer = std::make_unique<char[]>(capacity);
  if (size_ > 0) std::memcpy(buffer.get(), buffer_.get(), size_);
  buffer_ = std::move(buffer);
  capacity_ = capacity;
}

void OrdinalTimes::Builder::append_all(const OrdinalTime* begin, const OrdinalTime* end) {
  using namespace ordinal_times_detail;
  reserve(size_ + static_cast<std::size_t>(end - begin) * kMaxEntryBytes);
  char* p = buffer_.get() + size_;
  std::uint64_t next_ordinal = next_ordinal_;
  TimestampMs previous_at = previous_at_;
  TimestampMs min_at = min_at_;
  for (const OrdinalTime* e = begin; e != end; ++e) {
    assert(e->segment.value >= next_ordinal);
    const std::uint64_t gap = e->segment.value - next_ordinal;
    const std::uint64_t delta = zigzag(static_cast<std::int64_t>(
        static_cast<std::uint64_t>(e->at) - static_cast<std::uint64_t>(previous_at)));
    const unsigned length = delta_bytes(delta);
    if (gap < kGapEscape) [[likely]] {
      *p++ = static_cast<char>(gap | (length << 4));
    } else {
      *p++ = static_cast<char>(kGapEscape | (length << 4));
      p = write_varint(p, gap - kGapEscape);
    }
    std::memcpy(p, &delta, 8);  // the bytes past `length` are overwritten by the next entry
    p += length;
    next_ordinal = std::uint64_t{e->segment.value} + 1;
    previous_at = e->at;
    min_at = std::min(min_at, e->at);
  }
  size_ = static_cast<std::size_t>(p - buffer_.get());
  next_ordinal_ = next_ordinal;
  previous_at_ = previous_at;
  min_at_ = min_at;
}

std::size_t OrdinalTimes::decode_to(OrdinalTime* out) const {
  using namespace ordinal_times_detail;
  // A delta's bytes are masked off one 8-byte load; entries that leave 8 bytes after their tag
  // are decoded without a bounds check, the last few with read_delta's.
  static constexpr std::uint64_t kMasks[kMaxDeltaBytes + 1] = {0,
                                                               0xff,
                                                               0xffff,
                                                               0xffffff,
                                                               0xffffffff,
                                                               0xffffffffff,
                                                               0xffffffffffff,
                                                               0xffffffffffffff,
                                                               ~std::uint64_t{0}};
  const char* p = bytes_.data();
  const char* const end = p + bytes_.size();
  OrdinalTime* o = out;
  std::uint64_t next_ordinal = 0;
  TimestampMs at = 0;
  while (p != end) {
    const auto tag = static_cast<std::uint8_t>(*p++);
    std::uint64_t gap = tag & 0x0f;
    if (gap == kGapEscape) [[unlikely]] {
      const auto first = static_cast<std::uint8_t>(*p++);
      gap += (first & 0x80) ? read_long_varint(p, first) : first;
    }
    const unsigned length = tag >> 4;
    std::uint64_t delta;
    if (end - p >= 8) [[likely]] {
      std::memcpy(&delta, p, 8);
      delta &= kMasks[length];
    } else {
      delta = read_delta(p, end, length);
    }
    at = add_delta(at, delta);
    p += length;
    const std::uint64_t ordinal = next_ordinal + gap;
    o->segment.value = static_cast<std::uint32_t>(ordinal);
    o->at = at;
    ++o;
    next_ordinal = ordinal + 1;
  }
  return static_cast<std::size_t>(o - out);
}

bool OrdinalTimes::parse(std::string_view bytes, OrdinalTimes& out) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  std::uint64_t next_ordinal = 0;
  TimestampMs at = 0;
  TimestampMs min_at = kNoTime;
  while (p != end) {
    const auto tag = static_cast<std::uint8_t>(*p++);
    std::uint64_t gap = tag & 0x0f;
    if (gap == ordinal_times_detail::kGapEscape) {
      // A canonical varint: complete, at most 5 bytes (the gap is below 2^32), no zero last
      // byte after the first.
      std::uint64_t extra = 0;
      for (int shift = 0;; shift += 7) {
        if (p == end || shift > 28) return false;
        const auto byte = static_cast<std::uint8_t>(*p++);
        extra |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
          if (byte == 0 && shift > 0) return false;
          break;
        }
      }
      gap += extra;
    }
    const unsigned length = tag >> 4;
    if (length > ordinal_times_detail::kMaxDeltaBytes ||
        static_cast<std::size_t>(end - p) < length) {
      return false;
    }
    // The last byte of a delta is its highest and must be non-zero (else a shorter length).
    if (length > 0 && p[length - 1] == 0) return false;
    if (gap > UINT32_MAX || next_ordinal + gap > UINT32_MAX) return false;
    next_ordinal += gap + 1;
    if (length > 0)
      at = ordinal_times_detail::add_delta(at, ordinal_times_detail::read_delta(p, end, length));
    p += length;
    min_at = std::min(min_at, at);
  }
  out.assign_bytes(bytes, min_at);
  return true;
}

std::size_t OrdinalTimes::size() const {
  return static_cast<std::size_t>(std::distance(begin(), end()));
}

std::optional<TimestampMs> OrdinalTimes::find(SegmentOrdinal segment) const {
  for (const OrdinalTime& e : *this) {
    if (e.segment == segment) return e.at;
    if (e.segment > segment) break;
  }
  return std::nullopt;
}

void OrdinalTimes::set(SegmentOrdinal segment, TimestampMs at) {
  Builder b;
  bool placed = false;
  for (const OrdinalTime& e : *this) {
    if (!placed && e.segment >= segment) {
      b.append(segment, at);
      placed = true;
      if (e.segment == segment) continue;
    }
    b.append(e);
  }
  if (!placed) b.append(segment, at);
  assign(b);
}

bool OrdinalTimes::erase(SegmentOrdinal segment) {
  Builder b;
  bool found = false;
  for (const OrdinalTime& e : *this) {
    if (e.segment == segment) {
      found = true;
    } else {
      b.append(e);
    }
  }
  if (found) assign(b);
  return found;
}

void OrdinalTimes::assign(const Builder& builder) {
  assign_bytes(builder.bytes(), builder.min_at_);
}

void OrdinalTimes::assign_bytes(std::string_view bytes, TimestampMs min_at) {
  if (bytes.size() == bytes_.size()) {
    std::copy(bytes.begin(), bytes.end(), bytes_.begin());
  } else {
    bytes_ = std::string(bytes);  // exact capacity: no growth slack kept per cached profile
  }
  min_at_ = min_at;
}

}  // namespace shoal::model
