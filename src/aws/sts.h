#pragma once
// STS AssumeRole: credentials for a role that trusts shoal's own identity (optionally only with
// an ExternalId), refreshed before they expire: from 15 minutes ahead a refresh is tried and the
// old credentials are kept if it fails; from 10 minutes ahead the caller waits for a refresh.
// Threading: AssumeRoleProvider::get() is thread-safe; one refresh runs at a time.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "aws/sigv4.h"

namespace shoal::aws {

struct AssumeRoleOptions {
  std::string role_arn;
  std::string role_session_name = "shoal";
  std::string external_id;                  // empty: not sent
  std::chrono::seconds duration{3600};      // 900 .. the role's maximum (at most 43200)
  std::string region = "us-east-1";         // signing region; selects the regional endpoint
  std::string endpoint;                     // override, e.g. "http://127.0.0.1:4000"; empty = AWS
  std::chrono::minutes advisory_refresh{15};
  std::chrono::minutes mandatory_refresh{10};
};

// "https://sts.<region>.amazonaws.com" (".amazonaws.com.cn" in China), or the override.
std::string sts_endpoint(const AssumeRoleOptions& options);

// The form body: Action=AssumeRole&Version=2011-06-15&RoleArn=...&RoleSessionName=...
// [&ExternalId=...]&DurationSeconds=...
std::string assume_role_form_body(const AssumeRoleOptions& options);

// Percent-encodes for application/x-www-form-urlencoded the way AWS SDKs do (RFC 3986
// unreserved characters kept, everything else %XX).
std::string form_encode(std::string_view text);
// Decodes a form value ('+' is a space).
std::string form_decode(std::string_view text);

// The text of the first <name>...</name> element inside `xml` (entities decoded, whitespace
// trimmed), or nullopt. `name` may be a path "A/B/C" of nested elements.
std::optional<std::string> xml_element_text(std::string_view xml, std::string_view path);
// Escapes & < > " ' for XML text.
std::string xml_escape(std::string_view text);

// Credentials from an AssumeRoleResponse body.
Result<Credentials> parse_assume_role_response(std::string_view xml);
// A clear error for an STS error answer (<ErrorResponse><Error><Code>...).
Error assume_role_error(int http_status, std::string_view body, std::string_view role_arn);

class AssumeRoleProvider final : public CredentialsProvider {
 public:
  // `source` gives the identity that calls STS (the server's own credentials); `http` is shared.
  AssumeRoleProvider(AssumeRoleOptions options, std::unique_ptr<CredentialsProvider> source,
                     HttpClient& http);

  Result<Credentials> get(TimestampMs now) override;
  std::string describe() const override;

  // The error of the last failed refresh while old credentials were still served; empty if none.
  std::string last_refresh_error() const;

 private:
  Result<Credentials> assume_role(TimestampMs now);

  AssumeRoleOptions options_;
  std::unique_ptr<CredentialsProvider> source_;
  HttpClient& http_;
  SigV4Signer signer_;

  std::mutex refresh_mutex_;  // held while calling STS
  mutable std::mutex state_mutex_;
  std::optional<Credentials> cached_;
  std::string last_refresh_error_;
};

}  // namespace shoal::aws
