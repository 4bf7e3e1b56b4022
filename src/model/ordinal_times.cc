#include "model/ordinal_times.h"

#include <algorithm>
#include <cassert>

#include "core/varint.h"

namespace shoal::model {
namespace {

// The bytes were checked when they came in (parse) or written by a Builder: no bounds checks.
inline std::uint64_t read_trusted_varint(const char*& p) {
  std::uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    auto byte = static_cast<std::uint8_t>(*p++);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
}

// Instants are added as unsigned deltas, so no pair of them can overflow.
inline TimestampMs add_delta(TimestampMs base, std::int64_t delta) {
  return static_cast<TimestampMs>(static_cast<std::uint64_t>(base) +
                                  static_cast<std::uint64_t>(delta));
}

}  // namespace

void OrdinalTimes::Iterator::decode() {
  if (pos_ == end_) return;
  const char* p = pos_;
  const std::uint64_t ordinal = next_ordinal_ + read_trusted_varint(p);
  current_.segment.value = static_cast<std::uint32_t>(ordinal);
  current_.at = add_delta(current_.at, unzigzag(read_trusted_varint(p)));
  next_ordinal_ = ordinal + 1;
  next_ = p;
}

void OrdinalTimes::Builder::append(SegmentOrdinal segment, TimestampMs at) {
  assert(segment.value >= next_ordinal_);
  char buf[2 * kMaxVarintBytes];
  char* p = write_varint(buf, segment.value - next_ordinal_);
  p = write_varint(p, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(at) -
                                                       static_cast<std::uint64_t>(previous_at_))));
  bytes_.append(buf, static_cast<std::size_t>(p - buf));
  next_ordinal_ = static_cast<std::uint64_t>(segment.value) + 1;
  previous_at_ = at;
}

bool OrdinalTimes::parse(std::string_view bytes, OrdinalTimes& out) {
  ByteReader in(bytes);
  std::uint64_t next_ordinal = 0;
  while (!in.done()) {
    std::uint64_t delta = 0, at = 0;
    if (!in.varint(delta) || !in.varint(at)) return false;
    if (delta > UINT32_MAX || next_ordinal + delta > UINT32_MAX) return false;
    next_ordinal += delta + 1;
  }
  out.assign_bytes(bytes);
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

TimestampMs OrdinalTimes::min_at() const {
  TimestampMs least = kNoTime;
  for (const OrdinalTime& e : *this) least = std::min(least, e.at);
  return least;
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

void OrdinalTimes::assign(const Builder& builder) { assign_bytes(builder.bytes()); }

void OrdinalTimes::assign_bytes(std::string_view bytes) {
  if (bytes.size() == bytes_.size()) {
    std::copy(bytes.begin(), bytes.end(), bytes_.begin());
  } else {
    bytes_ = std::string(bytes);  // exact capacity: no growth slack kept per cached profile
  }
}

}  // namespace shoal::model
