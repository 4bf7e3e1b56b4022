#pragma once
// StsStandIn: an STS endpoint for tests, on HttpTestServer. It verifies the SigV4 signature of
// AssumeRole requests against a known identity (secret and credential-scope region included),
// checks the role ARN and ExternalId like a trust policy would, and answers with the documented
// XML, or with AccessDenied / ExpiredToken / a 500 when told to.
// Threading: start()/stop() from the test thread; the setters are safe while serving.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "tests/support/http_test_server.h"

namespace shoal::test {

struct StsStandInOptions {
  // The caller's identity.
  std::string access_key_id = "AKIDSTANDIN";
  std::string secret_access_key = "stand-in-secret-key";
  std::string session_token;  // when set, requests must carry it
  std::string region = "us-east-1";
  // The role and its trust policy.
  std::string role_arn = "arn:aws:iam::123456789012:role/shoal-export";
  std::string external_id;  // when set, AssumeRole must send exactly this ExternalId
};

class StsStandIn {
 public:
  enum class Mode { kNormal, kAccessDenied, kExpiredToken, kInternalError };

  // `clock` stamps the issued credentials' Expiration (now + DurationSeconds).
  StsStandIn(StsStandInOptions options, const Clock& clock);

  Status start() { return server_.start(); }
  void stop() { server_.stop(); }
  std::string endpoint() const { return server_.base_url(); }

  void set_mode(Mode mode) { mode_.store(mode); }
  int assume_role_calls() const { return calls_.load(); }
  int credentials_issued() const { return issued_.load(); }
  // The decoded form fields of the last request.
  std::vector<std::pair<std::string, std::string>> last_form() const;

  // What the n-th issued credentials are (1-based): "ASIASTANDIN<n>", "issued-secret-<n>",
  // "issued-token-<n>".
  static std::string issued_access_key_id(int n);
  static std::string issued_secret(int n);
  static std::string issued_token(int n);

 private:
  TestHttpResponse handle(const TestHttpRequest& request);

  StsStandInOptions options_;
  const Clock& clock_;
  HttpTestServer server_;
  std::atomic<Mode> mode_{Mode::kNormal};
  std::atomic<int> calls_{0};
  std::atomic<int> issued_{0};
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> last_form_;
};

}  // namespace shoal::test
