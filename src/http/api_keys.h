#pragma once
// ApiKeys: the server's API keys. Only the SHA-256 of a token is stored (record kApiKey);
// authenticate() compares against every stored hash in constant time. Roles: admin (every
// route) and data (collect only). Thread-safe; writes go straight to the store.
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/crypto.h"
#include "core/clock.h"
#include "core/result.h"
#include "storage/store.h"

namespace shoal::http {

enum class Role : char { kAdmin = 'a', kData = 'd' };

std::string_view role_name(Role role);
Result<Role> parse_role(std::string_view text);

struct ApiKey {
  std::string id;  // public handle, for listing and revoking
  std::string name;
  Role role = Role::kData;
  TimestampMs created_ms = 0;
};

struct CreatedKey {
  ApiKey key;
  std::string token;  // shown once, never stored
};

class ApiKeys {
 public:
  explicit ApiKeys(storage::Store& store) : store_(store) {}

  Status load();
  // Creates a key with a new random token, or with `token` when given (SHOAL_ADMIN_KEY).
  Result<CreatedKey> create(std::string name, Role role, TimestampMs now,
                            std::string token = {});
  std::optional<ApiKey> authenticate(std::string_view token) const;
  std::vector<ApiKey> list() const;
  // kNotFound; kFailedPrecondition when it is the last admin key.
  Status revoke(std::string_view id);
  std::size_t admin_count() const;

 private:
  struct Entry {
    ApiKey key;
    aws::Sha256Digest hash;
  };
  storage::Store& store_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

// Makes sure an admin key exists on first start: `env_token` (SHOAL_ADMIN_KEY) when set and not
// yet stored, else a generated one when there is no admin key. Returns the token to print once
// (a generated one), or nullopt.
Result<std::optional<std::string>> ensure_admin_key(ApiKeys& keys, std::string_view env_token,
                                                    TimestampMs now);

}  // namespace shoal::http
