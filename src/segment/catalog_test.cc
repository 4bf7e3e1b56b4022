#include "segment/catalog.h"

#include <gtest/gtest.h>

#include <random>

#include "core/time_format.h"

namespace shoal::segment {
namespace {

using model::SegmentOrdinal;
using model::Value;

std::vector<std::uint32_t> values(const std::vector<SegmentOrdinal>& ordinals) {
  std::vector<std::uint32_t> out;
  for (auto o : ordinals) out.push_back(o.value);
  return out;
}

// The ordinals of a bitmap over ordinals (bit o % 64 of word o / 64), ascending.
std::vector<std::uint32_t> values(const std::vector<std::uint64_t>& bits) {
  std::vector<std::uint32_t> out;
  for (std::size_t word = 0; word < bits.size(); ++word) {
    for (std::uint32_t bit = 0; bit < 64; ++bit) {
      if (bits[word] >> bit & 1) out.push_back(static_cast<std::uint32_t>(word * 64 + bit));
    }
  }
  return out;
}

SegmentOrdinal must_register(Catalog& catalog, const std::string& text) {
  auto batch = catalog.register_batch({text});
  EXPECT_TRUE(batch.outcomes[0].result.ok()) << batch.outcomes[0].result.error().message;
  return batch.outcomes[0].result.ok() ? batch.outcomes[0].result.value() : SegmentOrdinal{};
}

Value profile(model::ValueMap fields) {
  model::normalize_map(fields);
  return Value(std::move(fields));
}

TEST(CatalogTest, AssignsOrdinalsInRegistrationOrderFromOne) {
  Catalog catalog;
  auto batch = catalog.register_batch({"FILTER a == 1 ALIAS a", "FILTER b == 1 ALIAS b"});
  EXPECT_EQ(batch.outcomes[0].result.value().value, 1u);
  EXPECT_EQ(batch.outcomes[1].result.value().value, 2u);
  EXPECT_EQ(values(batch.changed), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(values(catalog.ordinals()), (std::vector<std::uint32_t>{1, 2}));
}

TEST(CatalogTest, IdsAreStableHexDistinctFromTheAlias) {
  Catalog first, second;
  must_register(first, "FILTER a == 1 ALIAS vip");
  must_register(second, "FILTER b == 2 ALIAS vip");
  const std::string id = first.find("vip")->id;
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, second.find("vip")->id);
  EXPECT_EQ(id, segment_id("vip", SegmentOrdinal{1}));
  EXPECT_NE(id, segment_id("vip", SegmentOrdinal{2}));
}

TEST(CatalogTest, ReplacementKeepsOrdinalAndIdAndReportsIncluders) {
  Catalog catalog;
  must_register(catalog, "FILTER plan == \"pro\" ALIAS pro");
  must_register(catalog, "FILTER INCLUDE pro ALIAS pro_wrapper");
  must_register(catalog, "FILTER x == 1 ALIAS other");
  const std::string id = catalog.find("pro")->id;
  auto batch = catalog.register_batch({"FILTER plan == \"team\" ALIAS pro"});
  ASSERT_TRUE(batch.outcomes[0].result.ok());
  EXPECT_TRUE(batch.outcomes[0].replaced);
  EXPECT_EQ(batch.outcomes[0].result.value().value, 1u);
  EXPECT_EQ(catalog.find("pro")->id, id);
  EXPECT_EQ(catalog.find("pro")->text, "FILTER plan == \"team\" ALIAS pro");
  EXPECT_EQ(values(batch.changed), (std::vector<std::uint32_t>{1, 2}));
}

TEST(CatalogTest, ReplacementClosingACycleThroughRegisteredSegmentsIsRejectedAlone) {
  Catalog catalog;
  must_register(catalog, "FILTER x == 1 ALIAS a");
  must_register(catalog, "FILTER INCLUDE a ALIAS b");
  auto batch = catalog.register_batch({"FILTER INCLUDE b ALIAS a", "FILTER y == 1 ALIAS c"});
  ASSERT_FALSE(batch.outcomes[0].result.ok());
  EXPECT_EQ(batch.outcomes[0].result.error().message,
            "line 1, col 16: INCLUDE 'b' closes a cycle: a -> b -> a");
  EXPECT_TRUE(batch.outcomes[1].result.ok());
  EXPECT_EQ(catalog.find("a")->text, "FILTER x == 1 ALIAS a");
  EXPECT_EQ(values(batch.changed), (std::vector<std::uint32_t>{3}));
}

TEST(CatalogTest, RejectedSegmentChangesNothing) {
  Catalog catalog;
  must_register(catalog, "FILTER x == 1 ALIAS a");
  auto batch = catalog.register_batch({"FILTER x == ALIAS a"});
  EXPECT_FALSE(batch.outcomes[0].result.ok());
  EXPECT_TRUE(batch.changed.empty());
  EXPECT_EQ(catalog.find("a")->text, "FILTER x == 1 ALIAS a");
  // A later new segment still gets the next ordinal: rejections consume none.
  EXPECT_EQ(must_register(catalog, "FILTER y == 1 ALIAS b").value, 2u);
}

TEST(CatalogTest, RemoveIsRefusedWhileIncludedAndOrdinalsAreNotReused) {
  Catalog catalog;
  must_register(catalog, "FILTER x == 1 ALIAS a");
  must_register(catalog, "FILTER INCLUDE a ALIAS b");
  auto refused = catalog.remove("a");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(refused.error().message,
            "segment 'a' is included by 'b'; change or remove 'b' first");
  EXPECT_EQ(values(catalog.remove("b").value()), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(values(catalog.remove("a").value()), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(catalog.remove("a").error().message, "no segment with alias 'a'");
  EXPECT_TRUE(catalog.segment_bits_reading("x").empty());
  EXPECT_EQ(must_register(catalog, "FILTER x == 1 ALIAS a").value, 3u);
}

TEST(CatalogTest, IndexesFieldsThroughIncludeWithPathPrefixes) {
  Catalog catalog;
  must_register(catalog, "FILTER hits.foo.bar > 1 ALIAS a");
  must_register(catalog, "FILTER AND (INCLUDE a, tolower(email) == \"x\") ALIAS b");
  must_register(catalog, "FILTER countsince(buys, \"now-7d\") > 1 ALIAS c");
  EXPECT_EQ(catalog.find("b")->fields_read,
            (std::vector<std::string>{"email", "hits", "hits.foo", "hits.foo.bar"}));
  EXPECT_EQ(values(catalog.segment_bits_reading("hits")), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(values(catalog.segment_bits_reading("email")), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(values(catalog.segment_bits_reading("buys")), (std::vector<std::uint32_t>{3}));
  EXPECT_TRUE(catalog.segment_bits_reading("nothing").empty());
  EXPECT_FALSE(catalog.find("b")->time_dependent);
  EXPECT_TRUE(catalog.find("c")->time_dependent);
  EXPECT_EQ(values(catalog.time_dependent_segments()), (std::vector<std::uint32_t>{3}));
}

TEST(CatalogTest, TheFieldIndexCoversOrdinalsBeyondTheFirst64) {
  Catalog catalog;
  std::vector<std::uint32_t> reading_x, reading_y;
  for (int i = 1; i <= 130; ++i) {
    const bool x = i % 3 != 0;
    const SegmentOrdinal ordinal = must_register(
        catalog, std::string("FILTER ") + (x ? "x" : "y") + " > 1 ALIAS s" + std::to_string(i));
    (x ? reading_x : reading_y).push_back(ordinal.value);
  }
  EXPECT_EQ(values(catalog.segment_bits_reading("x")), reading_x);
  EXPECT_EQ(values(catalog.segment_bits_reading("y")), reading_y);
  EXPECT_EQ(reading_y.back(), 129u);
  ASSERT_TRUE(catalog.remove("s129").ok());
  reading_y.pop_back();
  EXPECT_EQ(values(catalog.segment_bits_reading("y")), reading_y);
}

TEST(CatalogTest, TimeDependenceFlowsThroughInclude) {
  Catalog catalog;
  must_register(catalog, "FILTER seen > \"now-1d\" ALIAS recent");
  must_register(catalog, "FILTER NOT INCLUDE recent ALIAS lapsed");
  EXPECT_TRUE(catalog.find("lapsed")->time_dependent);
  Value p = profile({{"seen", Value(model::Date{1000})}});
  model::MapFieldSource source(p);
  auto lapsed = catalog.find("lapsed")->ordinal;
  EXPECT_FALSE(catalog.evaluate(lapsed, source, 2000));
  EXPECT_EQ(catalog.next_change(lapsed, source, 2000), 1000 + 86'400'000);
  EXPECT_TRUE(catalog.evaluate(lapsed, source, 1000 + 86'400'000));
}

TEST(CatalogTest, RestoreReproducesOrdinalsIdsAndIncludes) {
  Catalog original;
  original.register_batch({"FILTER x == 1 ALIAS a", "FILTER y == 1 ALIAS gone",
                           "FILTER INCLUDE a ALIAS b"});
  ASSERT_TRUE(original.remove("gone").ok());
  Catalog restored;
  // Ascending ordinal order; b's INCLUDE target may come later in the same sequence.
  for (auto o : original.ordinals()) {
    ASSERT_TRUE(restored.restore(o, original.get(o)->text).ok());
  }
  ASSERT_TRUE(restored.finish_restore().ok());
  EXPECT_EQ(values(restored.ordinals()), (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(restored.find("b")->id, original.find("b")->id);
  EXPECT_EQ(values(restored.segment_bits_reading("x")), (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(must_register(restored, "FILTER z == 1 ALIAS c").value, 4u);
}

TEST(CatalogTest, RestoreAcceptsDanglingIncludesUntilFinish) {
  Catalog catalog;
  ASSERT_TRUE(catalog.restore(SegmentOrdinal{1}, "FILTER INCLUDE b ALIAS a").ok());
  ASSERT_TRUE(catalog.restore(SegmentOrdinal{2}, "FILTER x == 1 ALIAS b").ok());
  EXPECT_TRUE(catalog.finish_restore().ok());
  Catalog broken;
  ASSERT_TRUE(broken.restore(SegmentOrdinal{1}, "FILTER INCLUDE zz ALIAS a").ok());
  auto status = broken.finish_restore();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "stored segment 'a' includes unknown segment 'zz'");
}

// Brute force: for every millisecond of a window, next_change(now) must name exactly the first
// later millisecond whose answer differs (or kNoTime when none does within the window's end
// and the answer is final).
TEST(CatalogTest, NextChangeMatchesBruteForceEveryMillisecond) {
  const TimestampMs base = 1'700'000'000'000;
  Catalog catalog;
  const std::vector<std::string> texts = {
      "FILTER a > \"now-2s\" ALIAS gt",
      "FILTER a >= \"now-2s\" ALIAS ge",
      "FILTER a < \"now-1s\" ALIAS lt",
      "FILTER a <= \"now-1s\" ALIAS le",
      "FILTER a == \"now-1s\" ALIAS eq",
      "FILTER a != \"now-1s\" ALIAS ne",
      "FILTER a > \"now+1s\" ALIAS future",
      "FILTER a BETWEEN \"now-3s\" AND \"now-1s\" ALIAS between",
      "FILTER countsince(p, \"now-2s\") >= 2 ALIAS count2",
      "FILTER countsince(p, \"now-1s\") == 1 ALIAS count1",
      "FILTER AND (a > \"now-3s\", NOT b > \"now-1s\") ALIAS and_not",
      "FILTER OR (INCLUDE gt, b <= \"now-2s\") ALIAS or_include",
      "FILTER list > \"now-1s\" ALIAS any_element",
  };
  auto batch = catalog.register_batch(texts);
  for (const auto& o : batch.outcomes) ASSERT_TRUE(o.result.ok()) << o.result.error().message;
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 6; ++trial) {
    auto t = [&](int spread) {
      return base + static_cast<TimestampMs>(rng() % static_cast<std::uint64_t>(spread));
    };
    model::TimeSeries series{t(4000), t(4000), t(4000), t(4000)};
    std::sort(series.rbegin(), series.rend());
    Value p = profile({{"a", Value(model::Date{t(3000)})},
                       {"b", Value(model::Date{t(3000)})},
                       {"p", Value(series)},
                       {"list", Value(model::ValueList{Value(model::Date{t(3000)}),
                                                       Value(model::Date{t(3000)})})}});
    model::MapFieldSource source(p);
    const TimestampMs from = base - 500, to = base + 9000;
    for (auto ordinal : catalog.ordinals()) {
      std::vector<bool> answer;
      for (TimestampMs now = from; now <= to; ++now) {
        answer.push_back(catalog.evaluate(ordinal, source, now));
      }
      // Walk backwards to know, for each ms, the next ms with a different answer.
      std::vector<TimestampMs> next(answer.size(), model::kNoTime);
      for (std::size_t i = answer.size() - 1; i-- > 0;) {
        next[i] = answer[i + 1] != answer[i] ? from + static_cast<TimestampMs>(i + 1)
                                             : next[i + 1];
      }
      for (std::size_t i = 0; i + 1 < answer.size(); i += 7) {
        const TimestampMs now = from + static_cast<TimestampMs>(i);
        const TimestampMs got = catalog.next_change(ordinal, source, now);
        if (next[i] != model::kNoTime) {
          ASSERT_EQ(got, next[i]) << catalog.get(ordinal)->alias << " trial " << trial
                                  << " now " << now - base;
        } else {
          ASSERT_TRUE(got == model::kNoTime || got > to)
              << catalog.get(ordinal)->alias << " trial " << trial << " now " << now - base
              << " got " << got - base;
        }
      }
    }
  }
}

// Calendar units: walk from boundary to boundary across two years and check each reported
// boundary is exact and that no hourly sample in between differs.
TEST(CatalogTest, CalendarNextChangeIsExactAcrossMonthEnds) {
  Catalog catalog;
  auto batch = catalog.register_batch({"FILTER f > \"now-1M\" ALIAS month_gt",
                                       "FILTER f <= \"now-1M\" ALIAS month_le",
                                       "FILTER f == \"now+2M\" ALIAS month_eq",
                                       "FILTER f >= \"now-1y\" ALIAS year_ge",
                                       "FILTER countsince(p, \"now-1M\") >= 1 ALIAS month_count"});
  for (const auto& o : batch.outcomes) ASSERT_TRUE(o.result.ok()) << o.result.error().message;
  const std::vector<std::string> dates = {"2024-01-30T12:00:00Z", "2024-01-31T00:00:00Z",
                                          "2024-02-29T23:59:59.999Z", "2023-03-31T06:30:00Z",
                                          "2024-12-31T00:00:00.001Z", "2024-04-30T12:00:00Z"};
  const TimestampMs hour = 3'600'000;
  for (const std::string& d : dates) {
    const TimestampMs f = parse_iso8601(d).value();
    Value p = profile({{"f", Value(model::Date{f})}, {"p", Value(model::TimeSeries{f})}});
    model::MapFieldSource source(p);
    for (auto ordinal : catalog.ordinals()) {
      TimestampMs now = parse_iso8601("2022-12-01T00:00:00Z").value();
      const TimestampMs end = parse_iso8601("2025-06-01T00:00:00Z").value();
      int steps = 0;
      while (now < end && ++steps < 100) {
        const bool current = catalog.evaluate(ordinal, source, now);
        const TimestampMs next = catalog.next_change(ordinal, source, now);
        const TimestampMs stop = std::min(next, end);
        for (TimestampMs t = now + 1; t < stop; t += hour) {
          ASSERT_EQ(catalog.evaluate(ordinal, source, t), current)
              << catalog.get(ordinal)->alias << " f=" << d << " missed a change near "
              << format_iso8601_ms(t);
        }
        if (next >= end) break;
        ASSERT_EQ(catalog.evaluate(ordinal, source, next - 1), current);
        ASSERT_NE(catalog.evaluate(ordinal, source, next), current)
            << catalog.get(ordinal)->alias << " f=" << d << " spurious boundary "
            << format_iso8601_ms(next);
        now = next;
      }
    }
  }
}

}  // namespace
}  // namespace shoal::segment
