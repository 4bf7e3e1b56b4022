#include "model/value.h"

#include <gtest/gtest.h>

#include "model/json.h"
#include "model/kind.h"
#include "model/merge.h"
#include "model/profile.h"

namespace shoal::model {
namespace {

Value parse(std::string_view text) {
  JsonParser parser;
  auto v = parser.parse(text);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  return v.ok() ? *v : Value();
}

TEST(ValueTest, LooksUpExactNamesBeforeNestedPaths) {
  Value event = parse(R"({"a.b": 1, "a": {"b": 2, "c": {"d": "x"}}, "z": null})");
  EXPECT_EQ(*lookup_path(event, "a.b"), Value(1));
  EXPECT_EQ(*lookup_path(event, "a.c.d"), Value("x"));
  EXPECT_EQ(lookup_path(event, "a.q"), nullptr);
  EXPECT_TRUE(lookup_path(event, "z")->is_empty());
}

TEST(JsonTest, RejectsMalformedAndTooDeepDocuments) {
  JsonParser parser(JsonLimits{.max_depth = 4, .max_bytes = 1000});
  EXPECT_FALSE(parser.parse("{\"a\":").ok());
  auto deep = parser.parse("[[[[[[1]]]]]]");
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.error().message.find("deeper"), std::string::npos);
  EXPECT_FALSE(parser.parse(std::string(2000, ' ')).ok());
}

TEST(JsonTest, WritesSortedKeysAndEscapes) {
  Value v = parse(R"({"b": [1, 2.5, "q\"\n"], "a": true})");
  EXPECT_EQ(to_json(v), R"({"a":true,"b":[1,2.5,"q\"\n"]})");
}

TEST(KindTest, CoercesAndExplainsMismatches) {
  EXPECT_EQ(*coerce_to_kind(Value("42"), Kind::kInt), Value(42));
  EXPECT_EQ(*coerce_to_kind(Value(7), Kind::kString), Value("7"));
  EXPECT_EQ(*coerce_to_kind(Value("2024-01-01"), Kind::kDate), Value(Date{1704067200000}));
  auto bad = coerce_to_kind(Value("abc"), Kind::kInt);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("\"abc\" is not an integer"), std::string::npos);
  EXPECT_EQ(*coerce_to_kind(Value("x"), Kind::kStringList), Value(ValueList{Value("x")}));
  EXPECT_FALSE(parse_kind("strung").ok());
  EXPECT_EQ(*parse_kind("MAP[string]INT"), Kind::kIntMap);
}

TEST(MergeTest, LatestBreaksTimestampTiesBySequence) {
  FieldValue cur{Value("a"), 100, 5};
  EXPECT_FALSE(merge_field(cur, FieldValue{Value("b"), 100, 4}, MergeOp::kLatest, {}));
  EXPECT_TRUE(merge_field(cur, FieldValue{Value("c"), 100, 6}, MergeOp::kLatest, {}));
  EXPECT_EQ(cur.value, Value("c"));
  EXPECT_TRUE(merge_field(cur, FieldValue{Value("d"), 99, 1}, MergeOp::kOldest, {}));
  EXPECT_EQ(cur.value, Value("d"));
}

TEST(MergeTest, SumSetAndAppend) {
  FieldValue n{Value(2), 1, 1};
  merge_field(n, FieldValue{Value(3), 2, 2}, MergeOp::kSum, {});
  EXPECT_EQ(n.value, Value(5));
  FieldValue s{Value(ValueList{Value("a")}), 1, 1};
  merge_field(s, FieldValue{Value(ValueList{Value("b"), Value("a")}), 2, 2}, MergeOp::kSet, {});
  EXPECT_EQ(s.value, Value(ValueList{Value("a"), Value("b")}));
  FieldValue t{Value(TimeSeries{30, 10}), 1, 1};
  merge_field(t, FieldValue{Value(TimeSeries{20, 5}), 2, 2}, MergeOp::kAppend,
              MergeOptions{.series_cap = 3});
  EXPECT_EQ(t.value, Value(TimeSeries{30, 20, 10}));
}

TEST(MergeTest, AppendKeepsNewestFirstAndDropsWhatFallsOffTheCap) {
  MergeOptions cap3{.series_cap = 3};
  FieldValue t{Value(TimeSeries{30, 20, 10}), 1, 1};
  EXPECT_FALSE(merge_field(t, FieldValue{Value(TimeSeries{5}), 2, 2}, MergeOp::kAppend, cap3));
  EXPECT_EQ(t.value, Value(TimeSeries{30, 20, 10}));
  EXPECT_TRUE(merge_field(t, FieldValue{Value(TimeSeries{25}), 2, 2}, MergeOp::kAppend, cap3));
  EXPECT_EQ(t.value, Value(TimeSeries{30, 25, 20}));
  EXPECT_TRUE(merge_field(t, FieldValue{Value(TimeSeries{40}), 3, 3}, MergeOp::kAppend, cap3));
  EXPECT_EQ(t.value, Value(TimeSeries{40, 30, 25}));
  // Equal timestamps are a multiset: both are kept.
  EXPECT_TRUE(merge_field(t, FieldValue{Value(TimeSeries{40}), 4, 4}, MergeOp::kAppend, cap3));
  EXPECT_EQ(t.value, Value(TimeSeries{40, 40, 30}));
}

TEST(ProfileTest, FieldSourceReadsFieldsIdentitiesAndMapKeys) {
  Profile p;
  p.created_ms = 5;
  p.field_slot("plan").value = Value("pro");
  p.field_slot("hits").value = Value(ValueMap{{"home", Value(3)}});
  EXPECT_TRUE(p.add_identity("email", "a@x.com"));
  EXPECT_FALSE(p.add_identity("email", "a@x.com"));
  ProfileFieldSource src(p);
  EXPECT_EQ(*src.find("plan"), Value("pro"));
  EXPECT_EQ(*src.find("hits.home"), Value(3));
  EXPECT_EQ(*src.find("email"), Value(ValueList{Value("a@x.com")}));
  EXPECT_EQ(*src.find("_created"), Value(Date{5}));
  EXPECT_EQ(src.find("nope"), nullptr);
}

}  // namespace
}  // namespace shoal::model
