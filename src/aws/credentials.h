#pragma once
// AWS credentials and the providers that find them (static keys, environment, shared profile
// files, the default chain). STS AssumeRole is in aws/sts.h.
// Secrets never leave through to_string(), error messages or logs: print with redacted().
#include <functional>
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

// Always answers the same credentials.
class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials, std::string description = "static");
  Result<Credentials> get(TimestampMs now) override;
  std::string describe() const override { return description_; }

 private:
  Credentials credentials_;
  std::string description_;
};

// Reads an environment variable; injected so tests need not touch the process environment.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvironmentLookup process_environment();

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, read at each get().
class EnvironmentCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentCredentialsProvider(EnvironmentLookup env = process_environment());
  Result<Credentials> get(TimestampMs now) override;
  std::string describe() const override { return "environment"; }

 private:
  EnvironmentLookup env_;
};

// An INI file as the AWS shared files use it: "[section]" headers, "key = value" lines, '#' and
// ';' comment lines; indented lines under a key without a value are its nested settings (kept
// raw, one per line). Section and key names are kept as written; keys are matched case-insensitively.
struct IniFile {
  std::map<std::string, std::map<std::string, std::string>> sections;
  const std::map<std::string, std::string>* section(const std::string& name) const;
};
Result<IniFile> parse_ini(std::string_view text, std::string_view source_name);

// A profile's settings merged from ~/.aws/config ("[profile name]", "[default]") and
// ~/.aws/credentials ("[name]"); the credentials file wins.
struct ProfileFiles {
  std::string credentials_file;  // "" = AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials
  std::string config_file;       // "" = AWS_CONFIG_FILE or ~/.aws/config
  std::string profile;           // "" = AWS_PROFILE or "default"
};
// Fills the empty fields from the environment and HOME.
ProfileFiles resolve_profile_files(ProfileFiles files, const EnvironmentLookup& env);
// The settings of `profile` (keys lowercase). kNotFound when neither file has the profile.
Result<std::map<std::string, std::string>> load_profile(const ProfileFiles& files,
                                                        const std::string& profile);

class HttpClient;

// Credentials of a shared-file profile: static keys (aws_access_key_id, aws_secret_access_key,
// aws_session_token), or role_arn + source_profile [+ external_id, role_session_name,
// duration_seconds, region] through STS AssumeRole. Files are read on the first get().
class ProfileCredentialsProvider final : public CredentialsProvider {
 public:
  // `http` is needed only for role profiles (may be null otherwise); `sts_endpoint` overrides
  // the STS endpoint (tests).
  ProfileCredentialsProvider(ProfileFiles files, HttpClient* http,
                             EnvironmentLookup env = process_environment(),
                             std::string sts_endpoint = "");
  ~ProfileCredentialsProvider() override;
  Result<Credentials> get(TimestampMs now) override;
  std::string describe() const override;

 private:
  Result<std::unique_ptr<CredentialsProvider>> build(const std::string& profile, int depth);

  ProfileFiles files_;
  HttpClient* http_;
  std::string sts_endpoint_;
  std::mutex mutex_;
  std::unique_ptr<CredentialsProvider> resolved_;
};

// The standard chain, in order: environment, then the shared-file profile. Remembers the first
// provider that answered.
class DefaultCredentialsChain final : public CredentialsProvider {
 public:
  DefaultCredentialsChain(HttpClient* http, EnvironmentLookup env = process_environment());
  Result<Credentials> get(TimestampMs now) override;
  std::string describe() const override;

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  std::mutex mutex_;
  CredentialsProvider* chosen_ = nullptr;
};

}  // namespace shoal::aws
