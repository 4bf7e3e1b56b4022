#include "http/api_keys.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "storage/codec.h"

namespace shoal::http {
namespace {

std::string key_record_key(std::string_view id) {
  std::string key(1, static_cast<char>(storage::RecordType::kApiKey));
  key += id;
  return key;
}

Result<std::string> random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return make_error(ErrorCode::kInternal, "the system's random generator failed");
  }
  return aws::hex_encode(raw);
}

// role (1) | sha256 (32) | created ms (8, BE) | name
std::string encode_entry(const ApiKey& key, const aws::Sha256Digest& hash) {
  std::string out(1, static_cast<char>(key.role));
  out.append(aws::as_view(hash));
  storage::append_u64_be(out, static_cast<std::uint64_t>(key.created_ms));
  out += key.name;
  return out;
}

}  // namespace

std::string_view role_name(Role role) { return role == Role::kAdmin ? "admin" : "data"; }

Result<Role> parse_role(std::string_view text) {
  if (text == "admin") return Role::kAdmin;
  if (text == "data") return Role::kData;
  return make_error(ErrorCode::kInvalidArgument,
                    "role must be \"admin\" or \"data\", not \"" + std::string(text) + "\"");
}

Status ApiKeys::load() {
  std::vector<Entry> loaded;
  bool corrupt = false;
  SHOAL_RETURN_IF_ERROR(store_.scan(
      std::string(1, static_cast<char>(storage::RecordType::kApiKey)),
      [&](std::string_view key, std::string_view value) {
        if (value.size() < 41 || (value[0] != 'a' && value[0] != 'd')) {
          corrupt = true;
          return false;
        }
        Entry entry;
        entry.key.id = std::string(key.substr(1));
        entry.key.role = static_cast<Role>(value[0]);
        std::copy(value.begin() + 1, value.begin() + 33, entry.hash.begin());
        entry.key.created_ms = static_cast<TimestampMs>(storage::read_u64_be(value.substr(33)));
        entry.key.name = std::string(value.substr(41));
        loaded.push_back(std::move(entry));
        return true;
      }));
  if (corrupt) return make_error(ErrorCode::kCorruption, "a stored API key record is corrupt");
  std::lock_guard lock(mutex_);
  entries_ = std::move(loaded);
  return ok_status();
}

Result<CreatedKey> ApiKeys::create(std::string name, Role role, TimestampMs now,
                                   std::string token) {
  if (token.empty()) {
    SHOAL_ASSIGN_OR_RETURN(token, random_hex(24));
  } else if (token.size() < 16) {
    return make_error(ErrorCode::kInvalidArgument, "an API key must have at least 16 characters");
  }
  SHOAL_ASSIGN_OR_RETURN(std::string id, random_hex(8));
  Entry entry;
  entry.key.id = std::move(id);
  entry.key.name = std::move(name);
  entry.key.role = role;
  entry.key.created_ms = now;
  entry.hash = aws::sha256(token);
  storage::Batch batch;
  batch.put(key_record_key(entry.key.id), encode_entry(entry.key, entry.hash));
  SHOAL_RETURN_IF_ERROR(store_.write(batch));
  CreatedKey created{entry.key, std::move(token)};
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return created;
}

std::optional<ApiKey> ApiKeys::authenticate(std::string_view token) const {
  if (token.empty()) return std::nullopt;
  aws::Sha256Digest hash = aws::sha256(token);
  std::lock_guard lock(mutex_);
  const Entry* found = nullptr;
  // Every entry is compared, so the time taken does not say which one matched.
  for (const Entry& entry : entries_) {
    if (CRYPTO_memcmp(entry.hash.data(), hash.data(), hash.size()) == 0) found = &entry;
  }
  if (!found) return std::nullopt;
  return found->key;
}

std::vector<ApiKey> ApiKeys::list() const {
  std::lock_guard lock(mutex_);
  std::vector<ApiKey> out;
  for (const Entry& entry : entries_) out.push_back(entry.key);
  return out;
}

std::size_t ApiKeys::admin_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const Entry& entry : entries_) n += entry.key.role == Role::kAdmin ? 1 : 0;
  return n;
}

Status ApiKeys::revoke(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.key.id == id; });
  if (it == entries_.end()) {
    return make_error(ErrorCode::kNotFound, "no API key has id \"" + std::string(id) + "\"");
  }
  if (it->key.role == Role::kAdmin) {
    std::size_t admins = 0;
    for (const Entry& entry : entries_) admins += entry.key.role == Role::kAdmin ? 1 : 0;
    if (admins == 1) {
      return make_error(ErrorCode::kFailedPrecondition,
                        "this is the last admin key; create another admin key first");
    }
  }
  storage::Batch batch;
  batch.erase(key_record_key(id));
  SHOAL_RETURN_IF_ERROR(store_.write(batch));
  entries_.erase(it);
  return ok_status();
}

Result<std::optional<std::string>> ensure_admin_key(ApiKeys& keys, std::string_view env_token,
                                                    TimestampMs now) {
  if (!env_token.empty()) {
    if (!keys.authenticate(env_token)) {
      SHOAL_ASSIGN_OR_RETURN(auto created,
                             keys.create("SHOAL_ADMIN_KEY", Role::kAdmin, now,
                                         std::string(env_token)));
      (void)created;
    }
    return std::optional<std::string>();
  }
  if (keys.admin_count() > 0) return std::optional<std::string>();
  SHOAL_ASSIGN_OR_RETURN(auto created, keys.create("first admin key", Role::kAdmin, now));
  return std::optional<std::string>(std::move(created.token));
}

}  // namespace shoal::http
