#include "export/dead_letter.h"

namespace shoal::exports {
namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}

bool get_u32(std::string_view& in, std::uint32_t& v) {
  if (in.size() < 4) return false;
  v = 0;
  for (int b = 0; b < 4; ++b) v = (v << 8) | static_cast<std::uint8_t>(in[b]);
  in.remove_prefix(4);
  return true;
}

bool get_bytes(std::string_view& in, std::string& out) {
  std::uint32_t n;
  if (!get_u32(in, n) || in.size() < n) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

void encode_dead_letter(const DeadLetter& l, std::string& out) {
  out.push_back(1);  // format
  put_u32(out, l.attempts);
  auto t = static_cast<std::uint64_t>(l.failed_ms);
  put_u32(out, static_cast<std::uint32_t>(t >> 32));
  put_u32(out, static_cast<std::uint32_t>(t));
  put_u32(out, static_cast<std::uint32_t>(l.partition_key.size()));
  out += l.partition_key;
  put_u32(out, static_cast<std::uint32_t>(l.error.size()));
  out += l.error;
  put_u32(out, static_cast<std::uint32_t>(l.message.size()));
  out += l.message;
}

bool decode_dead_letter(std::string_view in, DeadLetter& l) {
  if (in.empty() || in.front() != 1) return false;
  in.remove_prefix(1);
  std::uint32_t hi, lo;
  if (!get_u32(in, l.attempts) || !get_u32(in, hi) || !get_u32(in, lo)) return false;
  l.failed_ms = static_cast<TimestampMs>((static_cast<std::uint64_t>(hi) << 32) | lo);
  return get_bytes(in, l.partition_key) && get_bytes(in, l.error) && get_bytes(in, l.message) &&
         in.empty();
}

}  // namespace shoal::exports
