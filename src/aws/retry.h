#pragma once
// Retries like the AWS SDKs' "standard" mode: exponential backoff with full jitter, capped, and a
// retry budget (a token bucket shared by every call of one client) so that a struggling service
// is not hit by a storm of retries. The clock and the random source are injected.
// Threading: RetryPolicy is thread-safe; a RetryPolicy::Call belongs to one logical request.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

#include "core/clock.h"
#include "core/result.h"

namespace shoal::aws {

// Why (and whether) a failed attempt may be retried.
enum class RetryClass {
  kNone,        // success, or an error that retrying cannot fix (validation, access, not found)
  kTransient,   // 5xx, InternalFailure, ServiceUnavailable, connection reset or refused
  kThrottling,  // the service asks us to slow down
  kTimeout,     // no answer in time (costs the budget more: the service may be overloaded)
};

std::string_view retry_class_name(RetryClass retry_class);

// The AWS error code without the "namespace#" prefix some protocols add
// ("com.amazonaws.kinesis#ProvisionedThroughputExceededException" -> the part after '#').
std::string_view strip_error_code_prefix(std::string_view code);
bool is_throttling_error_code(std::string_view code);
bool is_transient_error_code(std::string_view code);
// Classifies an AWS error answer from its HTTP status and its error code (`__type` or <Code>).
RetryClass classify_aws_error(int http_status, std::string_view code);
// Classifies a transport failure from HttpClient::send().
RetryClass classify_transport_error(const Error& error);

// A source of uniform doubles in [0, 1). Implementations must be thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual double uniform() = 0;
};

// A seeded std::mt19937_64 behind a mutex.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}
  double uniform() override;

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

// Waits between attempts. Real code uses InterruptibleSleeper; tests advance a ManualClock.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Returns false when the wait was interrupted (shutdown): the caller then gives up.
  virtual bool sleep_for(std::chrono::milliseconds delay) = 0;
};

// Sleeps on the real clock until the delay passes or interrupt() is called (which also makes
// every later sleep_for return false at once). Thread-safe.
class InterruptibleSleeper final : public Sleeper {
 public:
  bool sleep_for(std::chrono::milliseconds delay) override;
  void interrupt();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool interrupted_ = false;
};

struct RetryOptions {
  int max_attempts = 3;                               // first attempt included
  std::chrono::milliseconds base_delay{50};           // transient errors and timeouts
  std::chrono::milliseconds throttling_base_delay{100};
  std::chrono::milliseconds max_backoff{20000};
  int token_bucket_capacity = 500;
  int retry_cost = 5;
  int timeout_retry_cost = 10;
  int success_increment = 1;  // tokens a first-attempt success adds back
};

struct RetryDecision {
  bool retry = false;
  std::chrono::milliseconds delay{0};
  std::string reason;  // why not, when retry is false ("gave up after 3 attempts", ...)
};

class RetryPolicy {
 public:
  RetryPolicy(RetryOptions options, const Clock& clock, RandomSource& random);

  // The retry state of one logical request.
  class Call {
   public:
    // Decides about the attempt that just failed; withdraws budget tokens when it retries.
    RetryDecision on_failure(RetryClass retry_class);
    // Refunds the tokens of the last retry (or adds success_increment after a first-try success).
    void on_success();
    int attempts() const { return attempts_; }

   private:
    friend class RetryPolicy;
    Call(RetryPolicy& policy, std::optional<TimestampMs> deadline)
        : policy_(&policy), deadline_(deadline) {}
    RetryPolicy* policy_;
    std::optional<TimestampMs> deadline_;
    int attempts_ = 1;
    int last_cost_ = 0;
  };

  // `deadline`: no retry is scheduled to start after it.
  Call begin(std::optional<TimestampMs> deadline = std::nullopt) { return Call(*this, deadline); }

  // Full jitter: uniform in [0, min(max_backoff, base * 2^(attempt-1))).
  std::chrono::milliseconds backoff(RetryClass retry_class, int failed_attempts);

  int available_tokens() const;
  const RetryOptions& options() const { return options_; }
  const Clock& clock() const { return clock_; }

 private:
  bool withdraw(int cost);
  void deposit(int amount);

  RetryOptions options_;
  const Clock& clock_;
  RandomSource& random_;
  mutable std::mutex mutex_;
  int tokens_;
};

// Runs `attempt()` (returning Result<T>) until it succeeds, fails in a way `classify(result)`
// calls kNone, or the policy gives up; waits with `sleeper` between attempts. A final error
// keeps its code, and its message says why retrying stopped.
template <class T, class Attempt, class Classify>
Result<T> run_with_retries(RetryPolicy& policy, Sleeper& sleeper, Attempt&& attempt,
                           Classify&& classify,
                           std::optional<TimestampMs> deadline = std::nullopt) {
  RetryPolicy::Call call = policy.begin(deadline);
  for (;;) {
    Result<T> result = attempt();
    RetryClass retry_class = classify(result);
    if (result.ok()) {
      call.on_success();
      return result;
    }
    if (retry_class == RetryClass::kNone) return result;
    RetryDecision decision = call.on_failure(retry_class);
    if (!decision.retry) {
      Error error = result.take_error();
      error.message += " (" + decision.reason + ")";
      return error;
    }
    if (!sleeper.sleep_for(decision.delay)) {
      return make_error(ErrorCode::kCancelled,
                        "retrying stopped by shutdown after: " + result.error().message);
    }
  }
}

}  // namespace shoal::aws
