#include "segment/condition.h"

#include <gtest/gtest.h>

#include "core/time_format.h"
#include "model/json.h"
#include "segment/filter.h"

namespace shoal::segment {
namespace {

using model::Value;

TimestampMs at(std::string_view iso) { return parse_iso8601(iso).value(); }

Value json(std::string_view text) {
  model::JsonParser parser;
  auto v = parser.parse(text);
  EXPECT_TRUE(v.ok()) << v.error().message;
  return v.ok() ? std::move(v).value() : Value();
}

ConditionPtr parse(std::string_view text, ParseOptions options = {}) {
  auto tokens = tokenize(text);
  EXPECT_TRUE(tokens.ok()) << tokens.error().message;
  std::size_t pos = 0;
  auto c = parse_condition(*tokens, pos, options);
  EXPECT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ((*tokens)[pos].kind, TokenKind::kEnd) << text;
  return c.ok() ? c.value() : nullptr;
}

std::string parse_error(std::string_view text, ParseOptions options = {}) {
  auto tokens = tokenize(text);
  if (!tokens.ok()) return tokens.error().message;
  std::size_t pos = 0;
  auto c = parse_condition(*tokens, pos, options);
  if (c.ok()) return "parsed; stopped at token " + std::to_string(pos);
  return c.error().message;
}

bool eval(std::string_view cond, std::string_view data, TimestampMs now = 0) {
  auto c = parse(cond);
  if (!c) return false;
  Value v = json(data);
  model::MapFieldSource source(v);
  return evaluate_condition(*c, source, now);
}

TEST(ConditionTest, StopsBeforeTheFirstTokenThatCannotContinue) {
  auto tokens = tokenize("a == 1 AND b > 2 ALIAS x").value();
  std::size_t pos = 0;
  auto c = parse_condition(tokens, pos);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->kind, ConditionKind::kAnd);
  EXPECT_TRUE(is_keyword(tokens[pos], "ALIAS"));
}

TEST(ConditionTest, InfixOrBindsLooserThanAnd) {
  EXPECT_TRUE(eval("a == 1 OR b == 1 AND c == 1", R"({"a":1,"b":0,"c":0})"));
  EXPECT_FALSE(eval("(a == 1 OR b == 1) AND c == 1", R"({"a":1,"b":0,"c":0})"));
}

TEST(ConditionTest, NewlineInsideListStartsANewChild) {
  auto c = parse("AND (\n  a == 1\n  OR (b == 2, c == 3)\n)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->kind, ConditionKind::kAnd);
  EXPECT_EQ(c->children.size(), 2u);
  EXPECT_EQ(c->children[1]->kind, ConditionKind::kOr);
}

TEST(ConditionTest, MissingFieldIsFalseAndNotInvertsIt) {
  EXPECT_FALSE(eval("x == 1", "{}"));
  EXPECT_TRUE(eval("x != 1", "{}"));
  EXPECT_TRUE(eval("x NOT IN (1, 2)", "{}"));
  EXPECT_FALSE(eval("x IN (1, 2)", "{}"));
  EXPECT_TRUE(eval("NOT x > 1", "{}"));
}

TEST(ConditionTest, MappingStyleWhereClauseParses) {
  EXPECT_TRUE(eval(R"(_bot = "f" OR NOT EXISTS _bot)", "{}"));
  EXPECT_FALSE(eval(R"(_bot = "f" OR NOT EXISTS _bot)", R"({"_bot":"t"})"));
}

TEST(ConditionTest, IncludeCanBeDisallowed) {
  EXPECT_EQ(parse_error("INCLUDE other", ParseOptions{.allow_include = false}),
            "line 1, col 1: INCLUDE is not allowed here");
}

TEST(ConditionTest, GlobMatchesStarPercentAndQuestionMark) {
  EXPECT_TRUE(glob_match("a*c", "abbbc"));
  EXPECT_TRUE(glob_match("a%c", "ac"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_FALSE(glob_match("A*", "abc"));
  EXPECT_TRUE(glob_match("*", ""));
}

TEST(ConditionTest, FixedDateMathCrossesAtThresholdMinusOffset) {
  std::vector<TimestampMs> out;
  date_math_crossings(DateMath{-7, 'd'}, 1000, 0, out);
  EXPECT_EQ(out, (std::vector<TimestampMs>{1000 + 7 * 86'400'000LL, 1001 + 7 * 86'400'000LL}));
}

TEST(ConditionTest, ClampedMonthBoundaryIsFoundBySearchNotByAddingAMonth) {
  // f = 2024-01-30T12:00; now-1M stays below f until 2024-03-01T00:00 (Feb 29 - 1M = Jan 29).
  auto c = parse(R"(f > "now-1M")");
  Value v = json(R"({"f":"2024-01-30T12:00:00Z"})");
  model::MapFieldSource source(v);
  TimestampMs now = at("2024-02-20T00:00:00Z");
  EXPECT_TRUE(evaluate_condition(*c, source, now));
  EXPECT_EQ(next_change(*c, source, now), at("2024-03-01T00:00:00Z"));
}

}  // namespace
}  // namespace shoal::segment
