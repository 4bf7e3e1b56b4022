// The trigger message against golden JSON (the seed's example), the 2099 rule, export fields,
// partition keys, subscription validation, dead-letter encoding and the shard rate limiter.
#include "export/message.h"

#include <gtest/gtest.h>

#include "core/time_format.h"
#include "export/dead_letter.h"
#include "export/sink.h"
#include "export/subscription.h"

namespace shoal::exports {
namespace {

TimestampMs at(const char* text) { return parse_iso8601(text).value(); }

struct SeedFixture {
  segment::Catalog catalog;
  model::Profile profile;
  model::SegmentOrdinal demo, another;
  SeedFixture() {
    auto batch = catalog.register_batch({"FILTER plan == \"pro\" ALIAS demo_segment",
                                         "FILTER plan == \"free\" ALIAS another_segment"});
    demo = batch.outcomes[0].result.value();
    another = batch.outcomes[1].result.value();
    profile.id = model::ProfileId{42};
    profile.created_ms = at("2016-06-29T18:50:16.902Z");
    profile.modified_ms = at("2017-03-18T06:12:36.829Z");
    profile.add_identity("user_id", "user123");
    profile.field_slot("email").value = model::Value(std::string("[email protected]"));
    profile.set_membership(another, at("2017-03-02T06:12:36.829Z"));
  }
  std::string id(model::SegmentOrdinal o) const { return catalog.get(o)->id; }
};

TEST(MessageTest, SeedExampleMatchesGoldenJson) {
  SeedFixture f;
  MessageInput in;
  in.id = "0123456789abcdef0123456789abcdef";
  in.subscription_id = "7e2b8804bbe162cd3f9c0c5991bf3078";
  in.ts = at("2017-03-18T06:12:36.829Z");
  in.profile = &f.profile;
  in.events = {{f.demo, engine::TriggerEvent::kExit, at("2017-03-02T06:12:36.829Z"), in.ts},
               {f.another, engine::TriggerEvent::kEnter, at("2017-03-02T06:12:36.829Z"), 0}};
  std::string out;
  build_message_json(in, f.catalog, out);
  std::string expected =
      R"({"data":{"_created":"2016-06-29T18:50:16.902000000Z",)"
      R"("_modified":"2017-03-18T06:12:36.829000000Z","email":"[email protected]",)"
      R"("user_id":"user123","segment_events":[{"id":")" + f.id(f.demo) +
      R"(","event":"exit","enter":"2017-03-02T06:12:36.829000000Z",)"
      R"("exit":"2017-03-18T06:12:36.829000000Z","slug":"demo_segment"},{"id":")" +
      f.id(f.another) +
      R"(","event":"enter","enter":"2017-03-02T06:12:36.829000000Z",)"
      R"("exit":"2099-03-18T06:12:36.829000000Z","slug":"another_segment"}]},)"
      R"("id":"0123456789abcdef0123456789abcdef",)"
      R"("subscription_id":"7e2b8804bbe162cd3f9c0c5991bf3078",)"
      R"("timestamp":"2017-03-18T06:12:36.829000000Z"})";
  EXPECT_EQ(out, expected);
}

TEST(MessageTest, ExportFieldsKeepOnlyTheSelectedUserFields) {
  SeedFixture f;
  f.profile.field_slot("plan").value = model::Value(std::string("pro"));
  std::vector<std::string> fields{"plan"};
  MessageInput in;
  in.id = "x";
  in.subscription_id = "s";
  in.ts = at("2020-01-01T00:00:00Z");
  in.profile = &f.profile;
  in.fields = &fields;
  in.events = {{f.demo, engine::TriggerEvent::kEnter, in.ts, 0}};
  std::string out;
  build_message_json(in, f.catalog, out);
  EXPECT_EQ(out.find("email"), std::string::npos) << out;
  EXPECT_EQ(out.find("user_id"), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"data":{"_created":"2016-06-29T18:50:16.902000000Z","_modified")"),
            std::string::npos) << out;
  EXPECT_NE(out.find(R"("plan":"pro","segment_events")"), std::string::npos) << out;
}

TEST(MessageTest, DeletedProfileCarriesItsIdentitiesFromTheTrigger) {
  SeedFixture f;
  std::vector<model::Identity> identities(1);
  identities[0].field = model::FieldName::intern("email");
  identities[0].values = model::ValueList{model::Value(std::string("a@b.c")),
                                          model::Value(std::string("d@e.f"))};
  MessageInput in;
  in.id = "x";
  in.subscription_id = "s";
  in.ts = at("2020-01-01T00:00:00Z");
  in.identities = &identities;
  in.events = {{f.demo, engine::TriggerEvent::kExit, at("2019-01-01T00:00:00Z"), in.ts}};
  std::string out;
  build_message_json(in, f.catalog, out);
  EXPECT_NE(out.find(R"("email":["a@b.c","d@e.f"])"), std::string::npos) << out;
  EXPECT_EQ(out.find("_created"), std::string::npos) << out;
}

TEST(MessageTest, Year2099KeepsTheInstantAndClampsFebruary29) {
  EXPECT_EQ(format_rfc3339_nanos(with_year_2099(at("2017-03-18T06:12:36.829Z"))),
            "2099-03-18T06:12:36.829000000Z");
  EXPECT_EQ(format_rfc3339_nanos(with_year_2099(at("2024-02-29T10:00:00Z"))),
            "2099-02-28T10:00:00.000000000Z");
}

TEST(MessageTest, PartitionKeyIsTheIdentifierFieldElseTheProfileIdAndLongKeysAreHashed) {
  SeedFixture f;
  EXPECT_EQ(partition_key_for("user_id", &f.profile, f.profile.id, nullptr), "user123");
  EXPECT_EQ(partition_key_for("email", &f.profile, f.profile.id, nullptr), "[email protected]");
  EXPECT_EQ(partition_key_for("phone", &f.profile, f.profile.id, nullptr), "42");
  EXPECT_EQ(partition_key_for("", &f.profile, f.profile.id, nullptr), "42");
  f.profile.add_identity("user_id", "second");  // several values: the first
  EXPECT_EQ(partition_key_for("user_id", &f.profile, f.profile.id, nullptr), "user123");
  f.profile.field_slot("long").value = model::Value(std::string(300, 'k'));
  std::string hashed = partition_key_for("long", &f.profile, f.profile.id, nullptr);
  EXPECT_EQ(hashed.size(), 64u);
  EXPECT_NE(hashed, std::string(64, 'k'));
}

TEST(MessageTest, OutboxEntryRoundTripsAndRejectsTruncation) {
  std::string bytes;
  encode_outbox_entry("key", "{\"m\":1}", bytes);
  std::string_view key, message;
  ASSERT_TRUE(decode_outbox_entry(bytes, key, message));
  EXPECT_EQ(key, "key");
  EXPECT_EQ(message, "{\"m\":1}");
  EXPECT_FALSE(decode_outbox_entry(std::string_view(bytes).substr(0, 5), key, message));
  RetryState retry{3, 99, "old"};
  ASSERT_TRUE(decode_outbox_entry(bytes, key, message, &retry));
  EXPECT_EQ(retry.attempts, 0u);  // a message that never failed has no retry state
  EXPECT_EQ(retry.first_failure_ms, 0);
  EXPECT_TRUE(retry.last_error.empty());
}

TEST(MessageTest, AFailedOutboxEntryKeepsItsAttemptsAgeAndError) {
  std::string bytes;
  encode_outbox_entry("user-7", "{\"m\":2}",
                      RetryState{4, 1700000000123, "ProvisionedThroughputExceededException"}, bytes);
  std::string_view key, message;
  RetryState retry;
  ASSERT_TRUE(decode_outbox_entry(bytes, key, message, &retry));
  EXPECT_EQ(key, "user-7");
  EXPECT_EQ(message, "{\"m\":2}");
  EXPECT_EQ(retry.attempts, 4u);
  EXPECT_EQ(retry.first_failure_ms, 1700000000123);
  EXPECT_EQ(retry.last_error, "ProvisionedThroughputExceededException");
  // Every truncation of the retry header is refused, not read as a plain entry.
  std::size_t header = 1 + 4 + 8 + 4 + retry.last_error.size();
  for (std::size_t n = 1; n < header + 4; ++n) {
    EXPECT_FALSE(decode_outbox_entry(std::string_view(bytes).substr(0, n), key, message, &retry))
        << n;
  }
  // No retry state given: written as a plain entry.
  std::string plain;
  encode_outbox_entry("user-7", "{}", RetryState{}, plain);
  std::string expected;
  encode_outbox_entry("user-7", "{}", expected);
  EXPECT_EQ(plain, expected);
}

TEST(DeadLetterTest, RoundTripsAndRejectsCorruptBytes) {
  DeadLetter in{"pk", "{\"a\":1}", "ResourceNotFoundException: gone", 7, 1700000000123};
  std::string bytes;
  encode_dead_letter(in, bytes);
  DeadLetter out;
  ASSERT_TRUE(decode_dead_letter(bytes, out));
  EXPECT_EQ(out.partition_key, "pk");
  EXPECT_EQ(out.message, "{\"a\":1}");
  EXPECT_EQ(out.error, "ResourceNotFoundException: gone");
  EXPECT_EQ(out.attempts, 7u);
  EXPECT_EQ(out.failed_ms, 1700000000123);
  EXPECT_FALSE(decode_dead_letter(bytes.substr(0, bytes.size() - 1), out));
}

TEST(SubscriptionTest, TheSeedBodyParsesWithDefaults) {
  auto s = parse_subscription(R"({"name":"kinesis_subscription","channel":"kinesis",
      "stream":"lytics_triggers_stream","region":"us-west-2","identifier_field":"user_id",
      "segment_ids":["demo_segment"],
      "role_arn":"arn:aws:iam::111111111:role/LyticsWriteToKinesis"})");
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->stream, "lytics_triggers_stream");
  EXPECT_TRUE(s->send_enter);
  EXPECT_TRUE(s->send_exit);
  EXPECT_FALSE(s->with_backfill);
  EXPECT_EQ(s->delivery.linger_ms, 50);
  EXPECT_EQ(s->delivery.max_batch_records, 500u);
  auto back = subscription_from_json(subscription_to_json(*s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->role_arn, s->role_arn);
  EXPECT_EQ(back->segment_ids, s->segment_ids);
}

TEST(SubscriptionTest, ValidationErrorsNameTheField) {
  auto message = [](const char* body) {
    auto s = parse_subscription(body);
    return s.ok() ? std::string("ok") : s.error().message;
  };
  EXPECT_EQ(message(R"({"stream":"bad name!","region":"us-west-2","segment_ids":["a"]})")
                .rfind("stream:", 0), 0u);
  EXPECT_EQ(message(R"({"stream":"s","region":"mars","segment_ids":["a"]})").rfind("region:", 0),
            0u);
  EXPECT_NE(message(R"({"stream":"s","region":"mars","segment_ids":["a"]})")
                .find("\"mars\" is not an AWS region name (like us-west-2)"),
            std::string::npos);
  EXPECT_EQ(message(R"({"stream":"s","region":"us-west-2"})").rfind("segment_ids:", 0), 0u);
  EXPECT_EQ(message(R"({"channel":"sqs","segment_ids":["a"]})").rfind("channel:", 0), 0u);
  EXPECT_EQ(message(R"({"stream":"s","region":"us-west-2","segment_ids":["a"],
                        "events":["leave"]})").rfind("events:", 0), 0u);
  EXPECT_EQ(message(R"({"channel":"webhook","segment_ids":["a"]})").rfind("webhook_url:", 0), 0u);
  EXPECT_EQ(message(R"({"stream":"s","region":"us-west-2","segment_ids":["a"],
                        "delivery":{"max_batch_records":501}})").rfind("delivery: max_batch", 0),
            0u);
  EXPECT_EQ(message(R"({"stream":"s","region":"us-west-2","segment_ids":"a,b",
                        "events":["enter"]})"), "ok");
}

TEST(ShardRateLimiterTest, EachShardGetsItsRateAndRefillsWithTime) {
  ShardRateLimiter limiter(10, 1000);
  TimestampMs t = 1000;
  int taken = 0;
  while (limiter.take("s1", 10, t)) ++taken;
  EXPECT_EQ(taken, 10);
  EXPECT_TRUE(limiter.take("s2", 10, t));  // another shard has its own bucket
  EXPECT_FALSE(limiter.take("s1", 10, t + 50));
  EXPECT_TRUE(limiter.take("s1", 10, t + 100));  // 100 ms = one record at 10/s
  EXPECT_FALSE(limiter.take("s1", 10, t + 100));
  // Bytes limit too: 1000 B/s.
  ShardRateLimiter bytes(1000, 1000);
  EXPECT_TRUE(bytes.take("s", 900, t));
  EXPECT_FALSE(bytes.take("s", 200, t));
  EXPECT_TRUE(bytes.take("s", 200, t + 200));
}

}  // namespace
}  // namespace shoal::exports
