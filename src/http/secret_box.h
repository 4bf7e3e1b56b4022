#pragma once
// Secrets at rest: AES-256-GCM (OpenSSL) under a 32-byte master key. The key comes from
// SHOAL_MASTER_KEY (64 hex characters) or from a file that is created with mode 0600 on first
// start. A sealed value is nonce (12) | ciphertext | tag (16); `aad` binds it to its record.
#include <array>
#include <string>
#include <string_view>

#include "core/result.h"

namespace shoal::http {

struct MasterKey {
  std::array<unsigned char, 32> bytes{};
};

struct LoadedMasterKey {
  MasterKey key;
  bool created = false;  // a new file was written
};

// `env_hex` wins when not empty; otherwise reads `path`, or creates it (0600) when absent.
Result<LoadedMasterKey> load_master_key(const std::string& path, std::string_view env_hex);

Result<std::string> seal(const MasterKey& key, std::string_view plaintext, std::string_view aad);
// kCorruption when the value was altered or sealed under another key.
Result<std::string> unseal(const MasterKey& key, std::string_view sealed, std::string_view aad);

}  // namespace shoal::http
