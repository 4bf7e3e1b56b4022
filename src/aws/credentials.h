#pragma once
// AWS credentials and the providers that find them (static keys, environment, shared profile
// files, the default chain). STS AssumeRole is in aws/sts.h.
// Secrets never leave through to_string(), error messages or logs: print with redacted().
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

namespace shoal::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;             // empty for long-term keys
  std::optional<TimestampMs> expiration;  // none for long-term keys

  bool empty() const { return access_key_id.empty() || secret_access_key.empty(); }
  // "Credentials{access_key_id=AKIA****MPLE, secret_access_key=<redacted>, ...}".
  std::string to_string() const;
};

// An access key id with all but its first 4 and last 4 characters masked ("AKIA****MPLE").
std::string redact_access_key_id(std::string_view access_key_id);

// A source of credentials. get() is thread-safe and may block (file reads, STS calls);
// `now` decides expiry and refresh.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  virtual Result<Credentials> get(TimestampMs now) = 0;
  // A short, secret-free description for logs ("environment", "profile 'prod'").
  virtual std::string describe() const = 0;
};

}  // namespace shoal::aws
