#include "aws/retry.h"

#include <gtest/gtest.h>

#include <deque>
#include <vector>

namespace shoal::aws {
namespace {

using namespace std::chrono_literals;

// Returns the queued values in order, then repeats the last one.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::deque<double> values) : values_(std::move(values)) {}
  double uniform() override {
    double value = values_.front();
    if (values_.size() > 1) values_.pop_front();
    return value;
  }

 private:
  std::deque<double> values_;
};

// Advances a ManualClock instead of sleeping, and records every delay.
class ManualSleeper final : public Sleeper {
 public:
  explicit ManualSleeper(ManualClock& clock) : clock_(clock) {}
  bool sleep_for(std::chrono::milliseconds delay) override {
    delays.push_back(delay);
    clock_.advance(delay.count());
    return !interrupted;
  }
  std::vector<std::chrono::milliseconds> delays;
  bool interrupted = false;

 private:
  ManualClock& clock_;
};

TEST(RetryClassifyTest, ThrottlingCodesAreThrottling) {
  for (const char* code :
       {"ProvisionedThroughputExceededException", "ProvisionedThroughputExceeded",
        "LimitExceededException", "KMSThrottlingException", "ThrottlingException", "Throttling",
        "RequestLimitExceeded", "com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException",
        "ThrottlingException:http://internal.amazon.com/coral/"}) {
    EXPECT_EQ(classify_aws_error(400, code), RetryClass::kThrottling) << code;
  }
  EXPECT_EQ(classify_aws_error(429, ""), RetryClass::kThrottling);
}

TEST(RetryClassifyTest, InternalFailureAnd5xxAreTransient) {
  EXPECT_EQ(classify_aws_error(500, "InternalFailure"), RetryClass::kTransient);
  EXPECT_EQ(classify_aws_error(503, "ServiceUnavailable"), RetryClass::kTransient);
  EXPECT_EQ(classify_aws_error(400, "ServiceUnavailableException"), RetryClass::kTransient);
  EXPECT_EQ(classify_aws_error(502, ""), RetryClass::kTransient);
  EXPECT_EQ(classify_aws_error(504, "<html>"), RetryClass::kTransient);
}

TEST(RetryClassifyTest, ValidationAndAccessErrorsAreNeverRetried) {
  for (const char* code :
       {"ValidationException", "InvalidArgumentException", "AccessDeniedException",
        "AccessDenied", "ResourceNotFoundException", "ExpiredIteratorException",
        "UnrecognizedClientException", "InvalidSignatureException", "KMSAccessDeniedException",
        "ResourceInUseException", "MissingAuthenticationToken", "IncompleteSignature"}) {
    EXPECT_EQ(classify_aws_error(400, code), RetryClass::kNone) << code;
  }
  EXPECT_EQ(classify_aws_error(403, "AccessDenied"), RetryClass::kNone);
  EXPECT_EQ(classify_aws_error(200, ""), RetryClass::kNone);
  EXPECT_EQ(classify_aws_error(501, "NotImplemented"), RetryClass::kNone);
}

TEST(RetryClassifyTest, TransportErrors) {
  EXPECT_EQ(classify_transport_error({ErrorCode::kTimeout, ""}), RetryClass::kTimeout);
  EXPECT_EQ(classify_transport_error({ErrorCode::kUnavailable, ""}), RetryClass::kTransient);
  EXPECT_EQ(classify_transport_error({ErrorCode::kCancelled, ""}), RetryClass::kNone);
  EXPECT_EQ(classify_transport_error({ErrorCode::kResourceExhausted, ""}), RetryClass::kNone);
  EXPECT_EQ(classify_transport_error({ErrorCode::kInvalidArgument, ""}), RetryClass::kNone);
}

TEST(RetryPolicyTest, BackoffIsFullJitterOfExponentialCeilingCapped) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryOptions options;
  options.base_delay = 50ms;
  options.throttling_base_delay = 100ms;
  options.max_backoff = 20s;
  RetryPolicy policy(options, clock, random);
  EXPECT_EQ(policy.backoff(RetryClass::kTransient, 1), 25ms);
  EXPECT_EQ(policy.backoff(RetryClass::kTransient, 2), 50ms);
  EXPECT_EQ(policy.backoff(RetryClass::kTransient, 4), 200ms);
  EXPECT_EQ(policy.backoff(RetryClass::kThrottling, 1), 50ms);
  EXPECT_EQ(policy.backoff(RetryClass::kThrottling, 3), 200ms);
  EXPECT_EQ(policy.backoff(RetryClass::kTransient, 20), 10s);   // 0.5 * the 20 s cap
  EXPECT_EQ(policy.backoff(RetryClass::kTransient, 1000), 10s);  // no overflow
}

TEST(RetryPolicyTest, BackoffSpansZeroToCeiling) {
  ManualClock clock;
  ScriptedRandom zero({0.0});
  ScriptedRandom almost_one({0.999999});
  RetryPolicy low({}, clock, zero);
  RetryPolicy high({}, clock, almost_one);
  EXPECT_EQ(low.backoff(RetryClass::kTransient, 3), 0ms);
  EXPECT_EQ(high.backoff(RetryClass::kTransient, 3), 199ms);
}

TEST(RetryPolicyTest, RetriesUntilMaxAttempts) {
  ManualClock clock;
  ScriptedRandom random({1.0 - 1e-12});
  RetryOptions options;
  options.max_attempts = 3;
  RetryPolicy policy(options, clock, random);
  auto call = policy.begin();
  auto first = call.on_failure(RetryClass::kTransient);
  EXPECT_TRUE(first.retry);
  EXPECT_EQ(first.delay, 49ms);
  auto second = call.on_failure(RetryClass::kTransient);
  EXPECT_TRUE(second.retry);
  EXPECT_EQ(second.delay, 99ms);
  auto third = call.on_failure(RetryClass::kTransient);
  EXPECT_FALSE(third.retry);
  EXPECT_EQ(third.reason, "gave up after 3 attempts");
  EXPECT_EQ(call.attempts(), 3);
}

TEST(RetryPolicyTest, NonRetryableFailureIsNotRetriedAndCostsNothing) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryPolicy policy({}, clock, random);
  auto call = policy.begin();
  EXPECT_FALSE(call.on_failure(RetryClass::kNone).retry);
  EXPECT_EQ(policy.available_tokens(), 500);
}

TEST(RetryPolicyTest, TokenBucketChargesFiveForRetriesTenForTimeoutsAndRefundsOnSuccess) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryOptions options;
  options.max_attempts = 10;
  RetryPolicy policy(options, clock, random);
  auto call = policy.begin();
  ASSERT_TRUE(call.on_failure(RetryClass::kThrottling).retry);
  EXPECT_EQ(policy.available_tokens(), 495);
  ASSERT_TRUE(call.on_failure(RetryClass::kTimeout).retry);
  EXPECT_EQ(policy.available_tokens(), 485);
  call.on_success();  // refunds the last retry's cost
  EXPECT_EQ(policy.available_tokens(), 495);
  auto clean = policy.begin();
  clean.on_success();  // a first-try success adds one token
  EXPECT_EQ(policy.available_tokens(), 496);
  for (int i = 0; i < 10; ++i) policy.begin().on_success();
  EXPECT_EQ(policy.available_tokens(), 500);  // never above capacity
}

TEST(RetryPolicyTest, EmptyBudgetStopsRetriesAcrossCalls) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryOptions options;
  options.token_bucket_capacity = 12;
  RetryPolicy policy(options, clock, random);
  EXPECT_TRUE(policy.begin().on_failure(RetryClass::kTransient).retry);  // 7 left
  EXPECT_TRUE(policy.begin().on_failure(RetryClass::kTransient).retry);  // 2 left
  auto decision = policy.begin().on_failure(RetryClass::kTransient);
  EXPECT_FALSE(decision.retry);
  EXPECT_NE(decision.reason.find("retry budget exhausted"), std::string::npos);
  EXPECT_EQ(policy.available_tokens(), 2);
}

TEST(RetryPolicyTest, DeadlineStopsRetryThatWouldStartTooLate) {
  ManualClock clock(1000);
  ScriptedRandom random({0.5});
  RetryOptions options;
  options.max_attempts = 10;
  RetryPolicy policy(options, clock, random);
  auto call = policy.begin(/*deadline=*/1030);
  EXPECT_TRUE(call.on_failure(RetryClass::kTransient).retry);  // 25 ms: starts at 1025
  clock.advance(25);
  auto late = call.on_failure(RetryClass::kTransient);  // 50 ms: would start at 1075
  EXPECT_FALSE(late.retry);
  EXPECT_NE(late.reason.find("deadline"), std::string::npos);
}

TEST(RunWithRetriesTest, RetriesThrottlingThenSucceeds) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryPolicy policy({}, clock, random);
  ManualSleeper sleeper(clock);
  int calls = 0;
  auto result = run_with_retries<int>(
      policy, sleeper,
      [&]() -> Result<int> {
        if (++calls < 3) return make_error(ErrorCode::kResourceExhausted, "throttled");
        return 42;
      },
      [](const Result<int>& r) { return r.ok() ? RetryClass::kNone : RetryClass::kThrottling; });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(*result, 42);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(sleeper.delays, (std::vector<std::chrono::milliseconds>{50ms, 100ms}));
  EXPECT_EQ(clock.now_ms(), 150);
  EXPECT_EQ(policy.available_tokens(), 495);  // 2 x 5 taken, the last retry's 5 refunded
}

TEST(RunWithRetriesTest, GivesUpWithReasonInMessage) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryPolicy policy({}, clock, random);
  ManualSleeper sleeper(clock);
  int calls = 0;
  auto result = run_with_retries<int>(
      policy, sleeper,
      [&]() -> Result<int> {
        ++calls;
        return make_error(ErrorCode::kUnavailable, "InternalFailure: Internal Service Failure");
      },
      [](const Result<int>& r) { return r.ok() ? RetryClass::kNone : RetryClass::kTransient; });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(result.error().message,
            "InternalFailure: Internal Service Failure (gave up after 3 attempts)");
  EXPECT_EQ(policy.available_tokens(), 490);
}

TEST(RunWithRetriesTest, NonRetryableErrorReturnsAtOnce) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryPolicy policy({}, clock, random);
  ManualSleeper sleeper(clock);
  int calls = 0;
  auto result = run_with_retries<int>(
      policy, sleeper,
      [&]() -> Result<int> {
        ++calls;
        return make_error(ErrorCode::kPermissionDenied, "AccessDeniedException: no");
      },
      [](const Result<int>&) { return RetryClass::kNone; });
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeper.delays.empty());
}

TEST(RunWithRetriesTest, InterruptedSleepCancels) {
  ManualClock clock;
  ScriptedRandom random({0.5});
  RetryPolicy policy({}, clock, random);
  ManualSleeper sleeper(clock);
  sleeper.interrupted = true;
  auto result = run_with_retries<int>(
      policy, sleeper, []() -> Result<int> { return make_error(ErrorCode::kTimeout, "slow"); },
      [](const Result<int>&) { return RetryClass::kTimeout; });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled);
}

TEST(InterruptibleSleeperTest, InterruptEndsSleepsNowAndLater) {
  InterruptibleSleeper sleeper;
  sleeper.interrupt();
  auto begin = std::chrono::steady_clock::now();
  EXPECT_FALSE(sleeper.sleep_for(1h));
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
}

}  // namespace
}  // namespace shoal::aws
