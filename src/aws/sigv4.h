#pragma once
// AWS Signature Version 4 (header signing) for the services shoal calls (kinesis, sts), and the
// matching verifier that test stand-ins use. S3's variant (no path normalization, single
// encoding) is the `normalize_path = false` option.
// Threading: a SigV4Signer is immutable except for its signing-key cache (mutex-guarded):
// share one per (region, service) between threads.
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/credentials.h"
#include "aws/crypto.h"
#include "aws/http_types.h"
#include "core/clock.h"
#include "core/result.h"

namespace shoal::aws {

struct SigV4Options {
  bool normalize_path = true;          // remove dot segments and repeated slashes (not for S3)
  bool add_content_sha256 = false;     // add and sign X-Amz-Content-Sha256 (S3 style)
  bool sign_session_token = true;      // false: add X-Amz-Security-Token after signing
};

// The intermediate values of one signature, for tests and diagnostics.
struct SigV4Trace {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // lowercase hex
  std::string authorization;   // the Authorization header value
};

class SigV4Signer {
 public:
  SigV4Signer(std::string region, std::string service, SigV4Options options = {});

  // Adds Host (when absent, derived from the url), X-Amz-Date, X-Amz-Security-Token when the
  // credentials have a token, and Authorization; an earlier signature's headers are replaced.
  void sign(HttpRequest& request, const Credentials& credentials, TimestampMs now) const;
  SigV4Trace sign_traced(HttpRequest& request, const Credentials& credentials,
                         TimestampMs now) const;

  const std::string& region() const { return region_; }
  const std::string& service() const { return service_; }

 private:
  Sha256Digest signing_key(const Credentials& credentials, const std::string& date) const;

  std::string region_;
  std::string service_;
  SigV4Options options_;

  // One cached key: SigV4 keys change once a day, and a signer serves one identity at a time.
  mutable std::mutex cache_mutex_;
  mutable std::string cached_date_;
  mutable Sha256Digest cached_secret_hash_{};
  mutable Sha256Digest cached_key_{};
};

namespace sigv4 {

// "20150830T123600Z" and "20150830".
std::string amz_date(TimestampMs t);
std::string amz_day(TimestampMs t);
// Parses "20150830T123600Z".
Result<TimestampMs> parse_amz_date(std::string_view text);

// RFC 3986 percent-encoding of every byte except A-Z a-z 0-9 - _ . ~ (and '/' if keep_slash).
std::string uri_encode(std::string_view bytes, bool keep_slash);
// Decodes %XX sequences; malformed sequences are kept as they are.
std::string percent_decode(std::string_view text);
// Removes "." and ".." segments and repeated slashes, keeping a trailing slash.
std::string normalize_path(std::string_view path);

std::string canonical_uri(std::string_view raw_path, bool normalize);
std::string canonical_query(std::string_view raw_query);
// Lowercase name, value trimmed with inner whitespace runs folded to one space.
std::string canonical_header_value(std::string_view value);
// Whether SigV4 signs this header (all but Authorization, User-Agent, Expect, X-Amzn-Trace-Id).
bool is_signable_header(std::string_view name);

// The canonical request over `signed_headers` (lowercase names, sorted, unique).
std::string canonical_request(std::string_view method, std::string_view raw_path,
                              std::string_view raw_query, const HttpHeaders& headers,
                              const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash, bool normalize);
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);
Sha256Digest derive_signing_key(std::string_view secret, std::string_view day,
                                std::string_view region, std::string_view service);

// The fields of an "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." header.
struct Authorization {
  std::string access_key_id;
  std::string day;
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;
  std::string signature;
};
Result<Authorization> parse_authorization(std::string_view header);

// What a verifying server expects.
struct VerifyOptions {
  std::string access_key_id;
  std::string secret_access_key;
  std::string region;     // the credential scope's region must be this one
  std::string service;
  std::string session_token;  // when set, X-Amz-Security-Token must equal it
  bool normalize_path = true;
  std::optional<TimestampMs> now;               // when set, X-Amz-Date must be within max_skew_ms
  TimestampMs max_skew_ms = 5 * 60 * 1000;
};

// Checks a received request's signature as AWS would. `target` is the request line's path and
// query. Errors carry AWS's error code first: "SignatureDoesNotMatch: ...",
// "IncompleteSignature: ...", "InvalidClientTokenId: ...", "MissingAuthenticationToken: ...", "RequestTimeTooSkewed: ...".
Status verify(std::string_view method, std::string_view target, const HttpHeaders& headers,
              std::string_view body, const VerifyOptions& options);

}  // namespace sigv4

}  // namespace shoal::aws
