#pragma once
// Little-endian base-128 varints (zigzag for signed values) and length-prefixed bytes: the
// building blocks of the stored record formats. ByteReader checks every length against what is
// left, so a corrupt record ends in `false`, never in a read past its end.
#include <cstdint>
#include <string>
#include <string_view>

namespace shoal {

// The longest varint: 64 bits in 7-bit groups.
inline constexpr std::size_t kMaxVarintBytes = 10;

// Writes v at p (room for kMaxVarintBytes) and returns the end.
inline char* write_varint(char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

inline void put_varint(std::string& out, std::uint64_t v) {
  // One append instead of a push_back (and its capacity check) per byte.
  char buf[kMaxVarintBytes];
  out.append(buf, static_cast<std::size_t>(write_varint(buf, v) - buf));
}

inline std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

inline std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

inline void put_svarint(std::string& out, std::int64_t v) { put_varint(out, zigzag(v)); }

inline void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return false;
      auto byte = static_cast<std::uint8_t>(in_.front());
      in_.remove_prefix(1);
      v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return true;
    }
    return false;
  }
  bool svarint(std::int64_t& v) {
    std::uint64_t u = 0;
    if (!varint(u)) return false;
    v = unzigzag(u);
    return true;
  }
  // A length-prefixed string, viewed in place (valid as long as the input is).
  bool bytes(std::string_view& s) {
    std::uint64_t n = 0;
    if (!varint(n) || n > in_.size()) return false;
    s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool bytes(std::string& s) {
    std::string_view view;
    if (!bytes(view)) return false;
    s.assign(view);
    return true;
  }
  bool byte(std::uint8_t& b) {
    if (in_.empty()) return false;
    b = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return true;
  }
  bool done() const { return in_.empty(); }
  std::size_t remaining() const { return in_.size(); }
  // What is left; a caller that decodes a piece itself moves on with skip().
  std::string_view rest() const { return in_; }
  void skip(std::size_t n) { in_.remove_prefix(n); }

 private:
  std::string_view in_;
};

}  // namespace shoal
