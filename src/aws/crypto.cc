#include "aws/crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cassert>

namespace shoal::aws {

Sha256Digest sha256(std::string_view data) {
  Sha256Digest digest{};
  unsigned int length = 0;
  [[maybe_unused]] int ok =
      EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr);
  assert(ok == 1 && length == digest.size());
  return digest;
}

Sha256Digest hmac_sha256(std::string_view key, std::string_view data) {
  Sha256Digest digest{};
  unsigned int length = 0;
  [[maybe_unused]] unsigned char* out =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(), &length);
  assert(out != nullptr && length == digest.size());
  return digest;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string hex_encode(const Sha256Digest& digest) { return hex_encode(as_view(digest)); }

std::string sha256_hex(std::string_view data) { return hex_encode(sha256(data)); }

}  // namespace shoal::aws
