#include "storage/codec.h"

#include <cstring>

#include "core/varint.h"

namespace shoal::storage {
namespace {

// Format 3 stores memberships and timers as their in-memory bytes (model/ordinal_times.h).
// Still read: format 2 (the lists as (ordinal gap, zigzag instant delta) varint pairs) and
// format 1 (counted lists of (ordinal, zigzag instant) varints).
constexpr std::uint8_t kProfileFormatV1 = 1;
constexpr std::uint8_t kProfileFormatV2 = 2;
constexpr std::uint8_t kProfileFormat = 3;

void put_string(std::string& out, std::string_view s) { put_bytes(out, s); }

Error corrupt(std::string_view what) {
  return make_error(ErrorCode::kCorruption, "stored record is corrupt: " + std::string(what));
}

Result<std::uint64_t> get_varint(std::string_view& in) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return corrupt("truncated varint");
    auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return v;
  }
  return corrupt("varint too long");
}

Result<std::int64_t> get_svarint(std::string_view& in) {
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t v, get_varint(in));
  return unzigzag(v);
}

Result<std::string> get_string(std::string_view& in) {
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
  if (n > in.size()) return corrupt("truncated string");
  std::string s(in.substr(0, n));
  in.remove_prefix(n);
  return s;
}

void put_i64_biased_be(std::string& out, std::int64_t v) {
  append_u64_be(out, static_cast<std::uint64_t>(v) ^ (1ull << 63));
}

void append_partitioned(std::string& key, RecordType type, PartitionId partition) {
  key.push_back(static_cast<char>(type));
  key.push_back(static_cast<char>(partition >> 8));
  key.push_back(static_cast<char>(partition & 0xff));
}

std::string partitioned(RecordType type, PartitionId partition) {
  std::string key;
  append_partitioned(key, type, partition);
  return key;
}

}  // namespace

void append_u64_be(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}

std::uint64_t read_u64_be(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return v;
}

std::string meta_key(std::string_view name) {
  std::string key(1, static_cast<char>(RecordType::kMeta));
  key.append(name);
  return key;
}

std::string segment_key(model::SegmentOrdinal ordinal) {
  std::string key(1, static_cast<char>(RecordType::kSegment));
  for (int i = 3; i >= 0; --i) key.push_back(static_cast<char>((ordinal.value >> (i * 8)) & 0xff));
  return key;
}

std::string mapping_key(std::string_view stream) {
  std::string key(1, static_cast<char>(RecordType::kMapping));
  key.append(stream);
  return key;
}

std::string profile_prefix(PartitionId partition) {
  return partitioned(RecordType::kProfile, partition);
}

std::string profile_key(PartitionId partition, model::ProfileId id) {
  std::string key = profile_prefix(partition);
  append_u64_be(key, id.value);
  return key;
}

std::string identity_key(PartitionId partition, std::string_view field, std::string_view value) {
  std::string key = partitioned(RecordType::kIdentity, partition);
  key.append(field);
  key.push_back('\0');
  key.append(value);
  return key;
}

std::string identity_prefix(PartitionId partition) {
  return partitioned(RecordType::kIdentity, partition);
}

std::string timer_prefix(PartitionId partition) { return partitioned(RecordType::kTimer, partition); }

std::string timer_key(PartitionId partition, TimestampMs due, model::ProfileId id) {
  std::string key;
  assign_timer_key(key, partition, due, id);
  return key;
}

void assign_timer_key(std::string& key, PartitionId partition, TimestampMs due,
                      model::ProfileId id) {
  key.clear();
  append_partitioned(key, RecordType::kTimer, partition);
  put_i64_biased_be(key, due);
  append_u64_be(key, id.value);
}

bool parse_timer_key(std::string_view key, TimestampMs& due, model::ProfileId& id) {
  if (key.size() != 3 + 16 || key[0] != static_cast<char>(RecordType::kTimer)) return false;
  due = static_cast<TimestampMs>(read_u64_be(key.substr(3)) ^ (1ull << 63));
  id.value = read_u64_be(key.substr(11));
  return true;
}

std::string outbox_key(std::uint64_t sequence) {
  std::string key(1, static_cast<char>(RecordType::kOutbox));
  append_u64_be(key, sequence);
  return key;
}

std::string command_log_key(std::uint64_t sequence) {
  std::string key(1, static_cast<char>(RecordType::kCommandLog));
  append_u64_be(key, sequence);
  return key;
}

std::string position_key(std::string_view source) {
  std::string key(1, static_cast<char>(RecordType::kPosition));
  key.append(source);
  return key;
}

namespace {

// a - b modulo 2^64: the same as a - b wherever that does not overflow.
std::int64_t wrapping_sub(std::int64_t a, std::int64_t b) {
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
}

// At least the bytes encode_value writes for `value` (each varint counted at its maximum).
std::size_t encoded_bound(const model::Value& value) {
  using model::ValueType;
  switch (value.type()) {
    case ValueType::kNull:
      return 1;
    case ValueType::kBool:
      return 2;
    case ValueType::kInt:
    case ValueType::kDate:
      return 1 + kMaxVarintBytes;
    case ValueType::kNumber:
      return 1 + 8;
    case ValueType::kString:
      return 1 + kMaxVarintBytes + value.as_string().size();
    case ValueType::kList: {
      std::size_t n = 1 + kMaxVarintBytes;
      for (const model::Value& v : value.as_list()) n += encoded_bound(v);
      return n;
    }
    case ValueType::kTimes:
      return 1 + (value.as_times().size() + 1) * kMaxVarintBytes;
    case ValueType::kMap: {
      std::size_t n = 1 + kMaxVarintBytes;
      for (const auto& [k, v] : value.as_map()) n += kMaxVarintBytes + k.size() + encoded_bound(v);
      return n;
    }
  }
  return 0;
}

char* write_bytes(char* p, std::string_view s) {
  p = write_varint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Writes value's encoding at p, which has room for encoded_bound(value); returns the end.
char* write_value(const model::Value& value, char* p) {
  using model::ValueType;
  *p++ = static_cast<char>(value.type());
  switch (value.type()) {
    case ValueType::kNull: break;
    case ValueType::kBool:
      *p++ = value.as_bool() ? 1 : 0;
      break;
    case ValueType::kInt:
      p = write_varint(p, zigzag(value.as_int()));
      break;
    case ValueType::kNumber: {
      const double d = value.as_number();
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      for (int shift = 56; shift >= 0; shift -= 8) *p++ = static_cast<char>(bits >> shift);
      break;
    }
    case ValueType::kString:
      p = write_bytes(p, value.as_string());
      break;
    case ValueType::kDate:
      p = write_varint(p, zigzag(value.as_date()));
      break;
    case ValueType::kList:
      p = write_varint(p, value.as_list().size());
      for (const model::Value& v : value.as_list()) p = write_value(v, p);
      break;
    case ValueType::kTimes: {
      // Newest first: the first absolutely, then non-negative gaps.
      const model::TimeSeries& times = value.as_times();
      p = write_varint(p, times.size());
      TimestampMs prev = 0;
      for (std::size_t i = 0; i < times.size(); ++i) {
        // Gaps wrap as unsigned: any two instants have one (a series is not checked for range).
        p = write_varint(p, zigzag(i == 0 ? times[i] : wrapping_sub(prev, times[i])));
        prev = times[i];
      }
      break;
    }
    case ValueType::kMap:
      p = write_varint(p, value.as_map().size());
      for (const auto& [k, v] : value.as_map()) {
        p = write_bytes(p, k);
        p = write_value(v, p);
      }
      break;
  }
  return p;
}

}  // namespace

void encode_value(const model::Value& value, std::string& out) {
  // Sized once and written in place: an append per scalar (a capacity check and a memcpy call
  // each) made this ~4% of the engine thread, which logs every event's data with it.
  const std::size_t start = out.size();
  out.resize(start + encoded_bound(value));
  char* const begin = out.data();
  out.resize(static_cast<std::size_t>(write_value(value, begin + start) - begin));
}

Result<model::Value> decode_value(std::string_view& in) {
  using model::ValueType;
  if (in.empty()) return corrupt("truncated value");
  auto type = static_cast<std::uint8_t>(in.front());
  in.remove_prefix(1);
  switch (static_cast<ValueType>(type)) {
    case ValueType::kNull: return model::Value();
    case ValueType::kBool: {
      if (in.empty()) return corrupt("truncated bool");
      bool b = in.front() != 0;
      in.remove_prefix(1);
      return model::Value(b);
    }
    case ValueType::kInt: {
      SHOAL_ASSIGN_OR_RETURN(std::int64_t v, get_svarint(in));
      return model::Value(v);
    }
    case ValueType::kNumber: {
      if (in.size() < 8) return corrupt("truncated number");
      std::uint64_t bits = read_u64_be(in);
      in.remove_prefix(8);
      double d;
      std::memcpy(&d, &bits, sizeof d);
      return model::Value(d);
    }
    case ValueType::kString: {
      SHOAL_ASSIGN_OR_RETURN(std::string s, get_string(in));
      return model::Value(std::move(s));
    }
    case ValueType::kDate: {
      SHOAL_ASSIGN_OR_RETURN(std::int64_t v, get_svarint(in));
      return model::Value(model::Date{v});
    }
    case ValueType::kList: {
      SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
      if (n > in.size()) return corrupt("list length");
      model::ValueList list;
      list.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) {
        SHOAL_ASSIGN_OR_RETURN(model::Value v, decode_value(in));
        list.push_back(std::move(v));
      }
      return model::Value(std::move(list));
    }
    case ValueType::kTimes: {
      SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
      if (n > in.size()) return corrupt("series length");
      model::TimeSeries times;
      times.reserve(n);
      TimestampMs prev = 0;
      for (std::uint64_t i = 0; i < n; ++i) {
        SHOAL_ASSIGN_OR_RETURN(std::int64_t v, get_svarint(in));
        prev = i == 0 ? v : wrapping_sub(prev, v);
        times.push_back(prev);
      }
      return model::Value(std::move(times));
    }
    case ValueType::kMap: {
      SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
      if (n > in.size()) return corrupt("map length");
      model::ValueMap map;
      map.reserve(n);
      for (std::uint64_t i = 0; i < n; ++i) {
        SHOAL_ASSIGN_OR_RETURN(std::string k, get_string(in));
        SHOAL_ASSIGN_OR_RETURN(model::Value v, decode_value(in));
        map.emplace_back(std::move(k), std::move(v));
      }
      return model::Value(std::move(map));
    }
  }
  return corrupt("unknown value type " + std::to_string(type));
}

namespace {

Status decode_ordinal_times(std::string_view& in, std::string_view what,
                            model::OrdinalTimes& out) {
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
  if (n > in.size() || !model::OrdinalTimes::parse(in.substr(0, n), out)) {
    return corrupt(std::string(what) + " list");
  }
  in.remove_prefix(n);
  return ok_status();
}

// Format 2: the list's byte count, then per entry in ordinal order varint(ordinal gap) and
// zigzag varint(instant - previous instant).
Status decode_ordinal_times_v2(std::string_view& in, std::string_view what,
                               model::OrdinalTimes& out) {
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
  if (n > in.size()) return corrupt(std::string(what) + " list");
  std::string_view list = in.substr(0, n);
  in.remove_prefix(n);
  model::OrdinalTimes::Builder builder;
  std::uint64_t next_ordinal = 0;
  TimestampMs at = 0;
  while (!list.empty()) {
    SHOAL_ASSIGN_OR_RETURN(std::uint64_t gap, get_varint(list));
    SHOAL_ASSIGN_OR_RETURN(std::uint64_t zigzag_delta, get_varint(list));
    if (gap > UINT32_MAX || next_ordinal + gap > UINT32_MAX) {
      return corrupt(std::string(what) + " list");
    }
    const std::uint64_t ordinal = next_ordinal + gap;
    at = model::ordinal_times_detail::add_delta(at, zigzag_delta);
    builder.append(model::SegmentOrdinal{static_cast<std::uint32_t>(ordinal)}, at);
    next_ordinal = ordinal + 1;
  }
  out.assign(builder);
  return ok_status();
}

// Format 1: a count, then (ordinal, zigzag instant) pairs in ordinal order.
Status decode_ordinal_times_v1(std::string_view& in, std::string_view what,
                               model::OrdinalTimes& out) {
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
  if (n > in.size()) return corrupt(std::string(what) + " count");
  model::OrdinalTimes::Builder builder;
  std::uint64_t next_ordinal = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    SHOAL_ASSIGN_OR_RETURN(std::uint64_t ordinal, get_varint(in));
    SHOAL_ASSIGN_OR_RETURN(std::int64_t at, get_svarint(in));
    if (ordinal < next_ordinal || ordinal > UINT32_MAX) {
      return corrupt(std::string(what) + " ordinals out of order");
    }
    builder.append(model::SegmentOrdinal{static_cast<std::uint32_t>(ordinal)}, at);
    next_ordinal = ordinal + 1;
  }
  out.assign(builder);
  return ok_status();
}

}  // namespace

void encode_profile(const model::Profile& p, std::string& out) {
  out.push_back(static_cast<char>(kProfileFormat));
  put_varint(out, p.id.value);
  put_varint(out, zigzag(p.created_ms));
  put_varint(out, zigzag(p.modified_ms - p.created_ms));
  put_varint(out, p.change_counter);
  put_varint(out, p.identities.size());
  for (const model::Identity& id : p.identities) {
    put_string(out, id.field);
    put_varint(out, id.values.as_list().size());
    for (const model::Value& v : id.values.as_list()) put_string(out, v.as_string());
  }
  put_varint(out, p.fields.size());
  for (const auto& [name, f] : p.fields) {
    put_string(out, name);
    out.push_back(static_cast<char>(f.merge));
    put_varint(out, zigzag(f.ts));
    put_varint(out, f.seq);
    encode_value(f.value, out);
  }
  put_bytes(out, p.memberships.bytes());
  put_varint(out, zigzag(p.timer_key_due));
  put_bytes(out, p.timers.bytes());
}

Result<model::Profile> decode_profile(std::string_view in) {
  const auto format = in.empty() ? 0 : static_cast<std::uint8_t>(in.front());
  if (format > kProfileFormat) {
    // Data written by a newer build: say so, rather than calling it corrupt.
    return make_error(ErrorCode::kFailedPrecondition,
                      "a stored profile is in format " + std::to_string(format) +
                          ", written by a newer shoal; this build reads formats 1-" +
                          std::to_string(kProfileFormat) +
                          ": run the build that wrote this data directory (or a newer one)");
  }
  if (format != kProfileFormat && format != kProfileFormatV2 && format != kProfileFormatV1) {
    return corrupt("unknown profile format " + std::to_string(format));
  }
  in.remove_prefix(1);
  model::Profile p;
  SHOAL_ASSIGN_OR_RETURN(p.id.value, get_varint(in));
  SHOAL_ASSIGN_OR_RETURN(p.created_ms, get_svarint(in));
  SHOAL_ASSIGN_OR_RETURN(std::int64_t modified_delta, get_svarint(in));
  p.modified_ms = p.created_ms + modified_delta;
  SHOAL_ASSIGN_OR_RETURN(p.change_counter, get_varint(in));
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t n_ids, get_varint(in));
  if (n_ids > in.size()) return corrupt("identity count");
  for (std::uint64_t i = 0; i < n_ids; ++i) {
    model::Identity id;
    SHOAL_ASSIGN_OR_RETURN(std::string field, get_string(in));
    id.field = model::FieldName::intern(field);
    SHOAL_ASSIGN_OR_RETURN(std::uint64_t n, get_varint(in));
    if (n > in.size()) return corrupt("identity values");
    for (std::uint64_t j = 0; j < n; ++j) {
      SHOAL_ASSIGN_OR_RETURN(std::string v, get_string(in));
      id.values.as_list().emplace_back(std::move(v));
    }
    p.identities.mutate().push_back(std::move(id));
  }
  SHOAL_ASSIGN_OR_RETURN(std::uint64_t n_fields, get_varint(in));
  if (n_fields > in.size()) return corrupt("field count");
  p.fields.reserve(n_fields);
  for (std::uint64_t i = 0; i < n_fields; ++i) {
    SHOAL_ASSIGN_OR_RETURN(std::string name, get_string(in));
    if (in.empty()) return corrupt("truncated field");
    model::FieldValue f;
    auto merge = static_cast<std::uint8_t>(in.front());
    if (merge > static_cast<std::uint8_t>(model::MergeOp::kAppend)) return corrupt("merge op");
    f.merge = static_cast<model::MergeOp>(merge);
    in.remove_prefix(1);
    SHOAL_ASSIGN_OR_RETURN(f.ts, get_svarint(in));
    SHOAL_ASSIGN_OR_RETURN(f.seq, get_varint(in));
    SHOAL_ASSIGN_OR_RETURN(f.value, decode_value(in));
    if (!p.fields.append(model::FieldName::intern(name), std::move(f))) {
      return corrupt("fields out of order");
    }
  }
  if (format == kProfileFormatV1) {
    SHOAL_RETURN_IF_ERROR(decode_ordinal_times_v1(in, "membership", p.memberships));
    SHOAL_ASSIGN_OR_RETURN(p.timer_key_due, get_svarint(in));
    SHOAL_RETURN_IF_ERROR(decode_ordinal_times_v1(in, "timer", p.timers));
  } else if (format == kProfileFormatV2) {
    SHOAL_RETURN_IF_ERROR(decode_ordinal_times_v2(in, "membership", p.memberships));
    SHOAL_ASSIGN_OR_RETURN(p.timer_key_due, get_svarint(in));
    SHOAL_RETURN_IF_ERROR(decode_ordinal_times_v2(in, "timer", p.timers));
  } else {
    SHOAL_RETURN_IF_ERROR(decode_ordinal_times(in, "membership", p.memberships));
    SHOAL_ASSIGN_OR_RETURN(p.timer_key_due, get_svarint(in));
    SHOAL_RETURN_IF_ERROR(decode_ordinal_times(in, "timer", p.timers));
  }
  if (!in.empty()) return corrupt("trailing bytes after profile");
  return p;
}

}  // namespace shoal::storage
