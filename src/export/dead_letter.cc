#include "export/dead_letter.h"

#include "export/be_bytes.h"

namespace shoal::exports {
namespace {

bool get_bytes(std::string_view& in, std::string& out) {
  std::uint64_t n = 0;
  if (!get_be(in, 4, n) || in.size() < n) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

}  // namespace

void encode_dead_letter(const DeadLetter& l, std::string& out) {
  out.push_back(1);  // format
  put_be(out, l.attempts, 4);
  put_be(out, static_cast<std::uint64_t>(l.failed_ms), 8);
  put_be(out, l.partition_key.size(), 4);
  out += l.partition_key;
  put_be(out, l.error.size(), 4);
  out += l.error;
  put_be(out, l.message.size(), 4);
  out += l.message;
}

bool decode_dead_letter(std::string_view in, DeadLetter& l) {
  if (in.empty() || in.front() != 1) return false;
  in.remove_prefix(1);
  std::uint64_t attempts = 0, failed = 0;
  if (!get_be(in, 4, attempts) || !get_be(in, 8, failed)) return false;
  l.attempts = static_cast<std::uint32_t>(attempts);
  l.failed_ms = static_cast<TimestampMs>(failed);
  return get_bytes(in, l.partition_key) && get_bytes(in, l.error) && get_bytes(in, l.message) &&
         in.empty();
}

}  // namespace shoal::exports
