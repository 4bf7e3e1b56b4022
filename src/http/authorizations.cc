#include "http/authorizations.h"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>

#include "aws/crypto.h"
#include "aws/sts.h"
#include "http/json_records.h"
#include "storage/codec.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

std::string record_key(std::string_view id) {
  return json_record_key(storage::RecordType::kAuthorization, id);
}

std::string aad_for(std::string_view id) { return "shoal-auth:" + std::string(id); }

Result<std::string> random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    return make_error(ErrorCode::kInternal, "the system's random generator failed");
  }
  return aws::hex_encode(raw);
}

std::string hex_decode(std::string_view hex) {
  std::string out;
  auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1]));
  }
  return out;
}

}  // namespace

Status Authorizations::load() {
  std::vector<Entry> loaded;
  SHOAL_RETURN_IF_ERROR(scan_json_records(
      store_, storage::RecordType::kAuthorization, "authorization", [&](const json::object& o) {
        Entry entry;
        entry.auth.id = json_text(o, "id");
        entry.auth.provider = json_text(o, "provider");
        entry.auth.method = json_text(o, "method");
        entry.auth.label = json_text(o, "label");
        entry.auth.description = json_text(o, "description");
        entry.auth.role_arn = json_text(o, "role_arn");
        entry.auth.external_id = json_text(o, "external_id");
        entry.auth.created_ms = json_int(o, "created");
        entry.auth.updated_ms = json_int(o, "updated");
        entry.sealed = hex_decode(json_text(o, "sealed"));
        loaded.push_back(std::move(entry));
      }));
  std::lock_guard lock(mutex_);
  entries_ = std::move(loaded);
  return ok_status();
}

Status Authorizations::write(const Entry& entry) {
  const Authorization& a = entry.auth;
  json::object o{{"id", a.id},
                 {"provider", a.provider},
                 {"method", a.method},
                 {"label", a.label},
                 {"description", a.description},
                 {"role_arn", a.role_arn},
                 {"external_id", a.external_id},
                 {"created", a.created_ms},
                 {"updated", a.updated_ms},
                 {"sealed", aws::hex_encode(entry.sealed)}};
  storage::Batch batch;
  batch.put(record_key(a.id), json::serialize(o));
  return store_.write(batch);
}

Result<Authorization> Authorizations::create(Authorization auth, const AwsKeys& keys,
                                             TimestampMs now) {
  if (auth.provider.empty()) auth.provider = "aws";
  if (auth.provider != "aws") {
    return make_error(ErrorCode::kInvalidArgument, "provider must be \"aws\"");
  }
  Entry entry;
  SHOAL_ASSIGN_OR_RETURN(auth.id, random_hex(8));
  if (auth.method == "keys") {
    if (keys.access_key.empty() || keys.secret_key.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "method \"keys\" needs config.access_key and config.secret_key");
    }
    json::object secret{{"access_key", keys.access_key}, {"secret_key", keys.secret_key}};
    SHOAL_ASSIGN_OR_RETURN(entry.sealed,
                           seal(key_, json::serialize(secret), aad_for(auth.id)));
    auth.role_arn.clear();
  } else if (auth.method == "role") {
    if (auth.role_arn.rfind("arn:", 0) != 0 || auth.role_arn.find(":role/") == std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "method \"role\" needs config.role_arn like "
                        "arn:aws:iam::123456789012:role/ShoalKinesis");
    }
    SHOAL_ASSIGN_OR_RETURN(auth.external_id, random_hex(16));
  } else {
    return make_error(ErrorCode::kInvalidArgument, "method must be \"keys\" or \"role\"");
  }
  auth.created_ms = now;
  auth.updated_ms = now;
  entry.auth = auth;
  SHOAL_RETURN_IF_ERROR(write(entry));
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return auth;
}

std::vector<Authorization> Authorizations::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Authorization> out;
  for (const Entry& e : entries_) out.push_back(e.auth);
  return out;
}

std::optional<Authorization> Authorizations::get(std::string_view id) const {
  std::lock_guard lock(mutex_);
  for (const Entry& e : entries_) {
    if (e.auth.id == id) return e.auth;
  }
  return std::nullopt;
}

Status Authorizations::remove(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const Entry& e) { return e.auth.id == id; });
  if (it == entries_.end()) {
    return make_error(ErrorCode::kNotFound, "no authorization has id \"" + std::string(id) + "\"");
  }
  storage::Batch batch;
  batch.erase(record_key(id));
  SHOAL_RETURN_IF_ERROR(store_.write(batch));
  entries_.erase(it);
  return ok_status();
}

Result<std::unique_ptr<aws::CredentialsProvider>> Authorizations::credentials(
    std::string_view id, aws::HttpClient& http, const std::string& region,
    const std::string& sts_endpoint) const {
  Entry entry;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& e) { return e.auth.id == id; });
    if (it == entries_.end()) {
      return make_error(ErrorCode::kNotFound,
                        "no authorization has id \"" + std::string(id) + "\"");
    }
    entry = *it;
  }
  if (entry.auth.method == "role") {
    aws::AssumeRoleOptions options;
    options.role_arn = entry.auth.role_arn;
    options.external_id = entry.auth.external_id;
    options.region = region;
    options.endpoint = sts_endpoint;
    std::unique_ptr<aws::CredentialsProvider> provider = std::make_unique<aws::AssumeRoleProvider>(
        options, std::make_unique<aws::DefaultCredentialsChain>(&http), http);
    return provider;
  }
  SHOAL_ASSIGN_OR_RETURN(std::string plain, unseal(key_, entry.sealed, aad_for(entry.auth.id)));
  json::error_code ec;
  json::value v = json::parse(plain, ec);
  if (ec || !v.is_object()) {
    return make_error(ErrorCode::kCorruption, "a sealed authorization secret is corrupt");
  }
  aws::Credentials credentials;
  credentials.access_key_id = std::string(v.at("access_key").as_string());
  credentials.secret_access_key = std::string(v.at("secret_key").as_string());
  std::unique_ptr<aws::CredentialsProvider> provider =
      std::make_unique<aws::StaticCredentialsProvider>(std::move(credentials),
                                                       "authorization " + entry.auth.id);
  return provider;
}

}  // namespace shoal::http
