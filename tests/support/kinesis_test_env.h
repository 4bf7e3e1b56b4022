#pragma once
// Pieces shared by Kinesis tests: fixed credentials, a KinesisClient wired to an endpoint, and
// unique stream names. Header-only; test code only.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <memory>
#include <string>

#include "aws/credentials.h"
#include "aws/http_client.h"
#include "core/clock.h"
#include "kinesis/kinesis_client.h"

namespace shoal::test {

inline constexpr const char* kTestAccessKeyId = "AKIDEXAMPLE";
inline constexpr const char* kTestSecretAccessKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// Always returns the same credentials (or, after fail_with(), an error).
class FixedCredentialsProvider final : public aws::CredentialsProvider {
 public:
  explicit FixedCredentialsProvider(aws::Credentials credentials = {kTestAccessKeyId,
                                                                    kTestSecretAccessKey,
                                                                    "",
                                                                    std::nullopt})
      : credentials_(std::move(credentials)) {}
  Result<aws::Credentials> get(TimestampMs) override {
    if (error_) return *error_;
    return credentials_;
  }
  std::string describe() const override { return "fixed test credentials"; }
  void fail_with(Error error) { error_ = std::move(error); }

 private:
  aws::Credentials credentials_;
  std::optional<Error> error_;
};

// A KinesisClient with its own HttpClient, credentials and wall clock.
struct KinesisTestClient {
  explicit KinesisTestClient(const std::string& endpoint, std::string region = "us-east-1",
                             aws::HttpClientOptions http_options = default_http_options())
      : http(http_options),
        client(kinesis::KinesisClientOptions{std::move(region), endpoint}, http, credentials,
               clock) {}

  static aws::HttpClientOptions default_http_options() {
    aws::HttpClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(5000);
    options.request_timeout = std::chrono::milliseconds(20000);
    return options;
  }

  FixedCredentialsProvider credentials;
  WallClock clock;
  aws::HttpClient http;
  kinesis::KinesisClient client;
};

// "<prefix>-<pid>-<n>": unique within a test run, valid as a stream name.
inline std::string unique_stream_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace shoal::test
