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

void OrdinalTimes::Builder::copy_prefix(const Iterator& upto) {
  assert(size_ == 0);
  const auto n = static_cast<std::size_t>(upto.pos_ - upto.begin_);
  reserve(n);
  if (n > 0) std::memcpy(buffer_.get(), upto.begin_, n);
  size_ = n;
  next_ordinal_ = upto.base_ordinal_;
  previous_at_ = upto.base_at_;
  min_at_ = upto.prefix_min_;
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
