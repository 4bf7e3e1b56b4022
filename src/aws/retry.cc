#include "aws/retry.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace shoal::aws {

namespace {

// Compares `code` with `name` with or without an "Exception" suffix on either side.
bool code_matches(std::string_view code, std::string_view name) {
  constexpr std::string_view kSuffix = "Exception";
  auto base = [&](std::string_view s) {
    if (s.size() > kSuffix.size() && s.substr(s.size() - kSuffix.size()) == kSuffix) {
      s.remove_suffix(kSuffix.size());
    }
    return s;
  };
  return base(code) == base(name);
}

constexpr std::array<std::string_view, 15> kThrottlingCodes = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceeded",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "KMSThrottling",
};

constexpr std::array<std::string_view, 8> kTransientCodes = {
    "InternalFailure", "InternalError",  "InternalServerError", "ServiceUnavailable",
    "RequestTimeout",  "KMSInternal",    "InternalServiceError", "IDPCommunicationError",
};

}  // namespace

std::string_view retry_class_name(RetryClass retry_class) {
  switch (retry_class) {
    case RetryClass::kNone: return "none";
    case RetryClass::kTransient: return "transient";
    case RetryClass::kThrottling: return "throttling";
    case RetryClass::kTimeout: return "timeout";
  }
  return "unknown";
}

std::string_view strip_error_code_prefix(std::string_view code) {
  if (auto hash = code.rfind('#'); hash != std::string_view::npos) code.remove_prefix(hash + 1);
  if (auto colon = code.find(':'); colon != std::string_view::npos) code = code.substr(0, colon);
  return code;
}

bool is_throttling_error_code(std::string_view code) {
  code = strip_error_code_prefix(code);
  return std::any_of(kThrottlingCodes.begin(), kThrottlingCodes.end(),
                     [&](std::string_view name) { return code_matches(code, name); });
}

bool is_transient_error_code(std::string_view code) {
  code = strip_error_code_prefix(code);
  return std::any_of(kTransientCodes.begin(), kTransientCodes.end(),
                     [&](std::string_view name) { return code_matches(code, name); });
}

RetryClass classify_aws_error(int http_status, std::string_view code) {
  if (http_status >= 200 && http_status < 300) return RetryClass::kNone;
  if (is_throttling_error_code(code) || http_status == 429) return RetryClass::kThrottling;
  if (is_transient_error_code(code)) return RetryClass::kTransient;
  if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504) {
    return RetryClass::kTransient;
  }
  return RetryClass::kNone;
}

RetryClass classify_transport_error(const Error& error) {
  switch (error.code) {
    case ErrorCode::kTimeout: return RetryClass::kTimeout;
    case ErrorCode::kUnavailable: return RetryClass::kTransient;
    default: return RetryClass::kNone;
  }
}

double SeededRandom::uniform() {
  std::lock_guard lock(mutex_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
}

bool InterruptibleSleeper::sleep_for(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !cv_.wait_for(lock, delay, [this] { return interrupted_; });
}

void InterruptibleSleeper::interrupt() {
  {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
  }
  cv_.notify_all();
}

RetryPolicy::RetryPolicy(RetryOptions options, const Clock& clock, RandomSource& random)
    : options_(options), clock_(clock), random_(random), tokens_(options.token_bucket_capacity) {}

std::chrono::milliseconds RetryPolicy::backoff(RetryClass retry_class, int failed_attempts) {
  auto base = retry_class == RetryClass::kThrottling ? options_.throttling_base_delay
                                                     : options_.base_delay;
  double ceiling = static_cast<double>(base.count()) *
                   std::pow(2.0, std::min(std::max(failed_attempts - 1, 0), 62));
  ceiling = std::min(ceiling, static_cast<double>(options_.max_backoff.count()));
  double r = std::clamp(random_.uniform(), 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::floor(r * ceiling)));
}

int RetryPolicy::available_tokens() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

bool RetryPolicy::withdraw(int cost) {
  std::lock_guard lock(mutex_);
  if (tokens_ < cost) return false;
  tokens_ -= cost;
  return true;
}

void RetryPolicy::deposit(int amount) {
  std::lock_guard lock(mutex_);
  tokens_ = std::min(tokens_ + amount, options_.token_bucket_capacity);
}

RetryDecision RetryPolicy::Call::on_failure(RetryClass retry_class) {
  RetryDecision decision;
  if (retry_class == RetryClass::kNone) {
    decision.reason = "not retryable";
    return decision;
  }
  const RetryOptions& options = policy_->options_;
  if (attempts_ >= options.max_attempts) {
    decision.reason = "gave up after " + std::to_string(attempts_) + " attempts";
    return decision;
  }
  std::chrono::milliseconds delay = policy_->backoff(retry_class, attempts_);
  if (deadline_ && policy_->clock_.now_ms() + delay.count() > *deadline_) {
    decision.reason = "no time left before the deadline after " + std::to_string(attempts_) +
                      " attempts";
    return decision;
  }
  int cost = retry_class == RetryClass::kTimeout ? options.timeout_retry_cost : options.retry_cost;
  if (!policy_->withdraw(cost)) {
    decision.reason = "retry budget exhausted after " + std::to_string(attempts_) +
                      " attempts (too many recent failures)";
    return decision;
  }
  last_cost_ = cost;
  ++attempts_;
  decision.retry = true;
  decision.delay = delay;
  return decision;
}

void RetryPolicy::Call::on_success() {
  policy_->deposit(last_cost_ > 0 ? last_cost_ : policy_->options_.success_increment);
}

}  // namespace shoal::aws
