#include "segment/plan.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "segment/catalog.h"

namespace shoal::segment {
namespace {

using model::SegmentOrdinal;
using model::Value;

Value profile(model::ValueMap fields) {
  model::normalize_map(fields);
  return Value(std::move(fields));
}

// The reference: the parsed tree under evaluate_condition, INCLUDE resolved through the catalog.
class TreeResolver final : public IncludeResolver {
 public:
  explicit TreeResolver(const Catalog& catalog) : catalog_(catalog) {}
  bool evaluate_include(const Condition& include, const model::FieldSource& source,
                        TimestampMs now) const override {
    const Segment* s = catalog_.find(include.alias);
    return s != nullptr && evaluate_condition(*s->condition, source, now, this);
  }
  void include_change_candidates(const Condition& include, const model::FieldSource& source,
                                 TimestampMs now, std::vector<TimestampMs>& out) const override {
    const Segment* s = catalog_.find(include.alias);
    if (s != nullptr) collect_change_candidates(*s->condition, source, now, this, out);
  }
  bool evaluate(SegmentOrdinal ordinal, const model::FieldSource& source, TimestampMs now) const {
    return evaluate_condition(*catalog_.get(ordinal)->condition, source, now, this);
  }

 private:
  const Catalog& catalog_;
};

void register_all(Catalog& catalog, const std::vector<std::string>& texts) {
  auto batch = catalog.register_batch(texts);
  for (const auto& o : batch.outcomes) {
    ASSERT_TRUE(o.result.ok()) << o.text << ": " << o.result.error().message;
  }
}

// For every millisecond of [from, to], the plan's answer must be the tree's, and at every
// `stride`-th one next_change must name exactly the first later millisecond whose tree answer
// differs (or a time past `to` when none does).
void check_against_brute_force(const Catalog& catalog, const model::FieldSource& source,
                               TimestampMs from, TimestampMs to, int stride,
                               const std::string& context) {
  TreeResolver tree(catalog);
  for (SegmentOrdinal ordinal : catalog.ordinals()) {
    const std::string& alias = catalog.get(ordinal)->alias;
    std::vector<bool> answer;
    for (TimestampMs now = from; now <= to; ++now) {
      answer.push_back(tree.evaluate(ordinal, source, now));
      ASSERT_EQ(catalog.evaluate(ordinal, source, now), answer.back())
          << alias << " " << context << " now " << now - from;
    }
    std::vector<TimestampMs> next(answer.size(), model::kNoTime);
    for (std::size_t i = answer.size() - 1; i-- > 0;) {
      next[i] = answer[i + 1] != answer[i] ? from + static_cast<TimestampMs>(i + 1) : next[i + 1];
    }
    for (std::size_t i = 0; i + 1 < answer.size(); i += static_cast<std::size_t>(stride)) {
      const TimestampMs now = from + static_cast<TimestampMs>(i);
      const TimestampMs got = catalog.next_change(ordinal, source, now);
      const SegmentAnswer both = catalog.evaluate_with_next_change(ordinal, source, now);
      ASSERT_EQ(both.member, answer[i]) << alias << " " << context;
      ASSERT_EQ(both.next_change, got) << alias << " " << context;
      if (next[i] != model::kNoTime) {
        ASSERT_EQ(got, next[i]) << alias << " " << context << " now " << now - from;
      } else {
        ASSERT_TRUE(got == model::kNoTime || got > to)
            << alias << " " << context << " now " << now - from << " got " << got - from;
      }
    }
  }
  // All segments at once (shared field lookups) answer as one at a time.
  const std::vector<SegmentOrdinal> all = catalog.ordinals();
  std::vector<SegmentAnswer> answers;
  for (TimestampMs now = from; now <= to; now += 97) {
    catalog.evaluate_with_next_change(all, source, now, answers);
    ASSERT_EQ(answers.size(), all.size());
    for (std::size_t k = 0; k < all.size(); ++k) {
      const SegmentAnswer one = catalog.evaluate_with_next_change(all[k], source, now);
      EXPECT_EQ(answers[k].member, one.member) << catalog.get(all[k])->alias << " " << context;
      EXPECT_EQ(answers[k].next_change, one.next_change) << catalog.get(all[k])->alias;
    }
  }
}

// countsince against an integer: the k-th newest timestamp gives the boundary directly; equal
// timestamps make the count skip values, which == and != must not miss.
TEST(PlanTest, CountSinceNextChangeMatchesBruteForceWithRepeatedTimestamps) {
  const TimestampMs base = 1'700'000'000'000;
  std::vector<std::string> texts;
  const char* ops[] = {">=", ">", "<=", "<", "==", "!="};
  int n = 0;
  for (const char* op : ops) {
    for (int k : {0, 1, 2, 3, 5, 8}) {
      for (const char* window : {"now-1s", "now-2s"}) {
        texts.push_back("FILTER countsince(p, \"" + std::string(window) + "\") " + op + " " +
                        std::to_string(k) + " ALIAS c" + std::to_string(n++));
      }
    }
  }
  texts.push_back("FILTER countsince(p, \"now+1s\") == 0 ALIAS future_window");
  texts.push_back("FILTER countsince(p, \"now-2s\") >= \"2\" ALIAS string_literal");
  texts.push_back("FILTER countsince(p, \"now-2s\") > 1.5 ALIAS float_literal");
  texts.push_back("FILTER countsince(missing, \"now-2s\") == 0 ALIAS missing_series");
  Catalog catalog;
  register_all(catalog, texts);
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 8; ++trial) {
    model::TimeSeries series;
    const int size = trial < 2 ? 0 : 2 + static_cast<int>(rng() % 12);
    for (int k = 0; k < size; ++k) {
      // A coarse grid makes equal timestamps common.
      series.push_back(base + static_cast<TimestampMs>(rng() % 12) * 250);
    }
    std::sort(series.rbegin(), series.rend());
    Value p = profile({{"p", Value(series)}});
    model::MapFieldSource source(p);
    // From after the newest timestamp (the closed form) and from before it (the tree's way).
    check_against_brute_force(catalog, source, base + 3000, base + 7000, 5,
                              "trial " + std::to_string(trial));
    check_against_brute_force(catalog, source, base - 200, base + 6000, 11,
                              "early trial " + std::to_string(trial));
  }
}

// A date field (Date or epoch ms) against date math or now(), alone, under NOT, and in AND/OR
// with several time-dependent leaves, where the answer changes only at some leaf changes.
TEST(PlanTest, CombinedLeavesNextChangeMatchesBruteForce) {
  const TimestampMs base = 1'700'000'000'000;
  Catalog catalog;
  register_all(
      catalog,
      {
          "FILTER a > \"now-2s\" ALIAS a_gt",
          "FILTER a == now() ALIAS a_now",
          "FILTER n <= \"now-1s\" ALIAS int_le",
          "FILTER s < \"now-1s\" ALIAS string_date",
          "FILTER \"now-1s\" < a ALIAS reversed",
          "FILTER NOT NOT a >= \"now-3s\" ALIAS not_not",
          "FILTER AND (a > \"now-3s\", b <= \"now-1s\", countsince(p, \"now-2s\") >= 1) ALIAS "
          "three",
          "FILTER OR (a > \"now-1s\", AND (b > \"now-4s\", NOT c > \"now-2s\")) ALIAS nested",
          "FILTER OR (INCLUDE a_gt, INCLUDE int_le, plan == \"pro\") ALIAS includes",
          "FILTER AND (NOT INCLUDE three, x == 1) ALIAS not_include",
          "FILTER a BETWEEN \"now-3s\" AND \"now-1s\" ALIAS between",
          "FILTER list > \"now-1s\" ALIAS list_any",
      });
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 8; ++trial) {
    auto t = [&](int spread) {
      return base + static_cast<TimestampMs>(rng() % static_cast<std::uint64_t>(spread));
    };
    model::TimeSeries series{t(4000), t(4000), t(4000)};
    std::sort(series.rbegin(), series.rend());
    Value p = profile({{"a", Value(model::Date{t(3000)})},
                       {"b", Value(model::Date{t(3000)})},
                       {"c", Value(model::Date{t(3000)})},
                       {"n", Value(t(3000))},
                       {"s", Value("2023-11-14T22:13:21.500Z")},
                       {"p", Value(series)},
                       {"x", Value(trial % 2)},
                       {"plan", Value(trial % 3 == 0 ? "pro" : "free")},
                       {"list", Value(model::ValueList{Value(model::Date{t(3000)}),
                                                       Value(model::Date{t(3000)})})}});
    model::MapFieldSource source(p);
    check_against_brute_force(catalog, source, base - 500, base + 7000, 7,
                              "trial " + std::to_string(trial));
  }
}

// A batch remembers each plan's answer at its instant (so an included segment is evaluated once
// per profile): the memory must not reach another profile, another instant or a stepped
// evaluation inside next_change. Segments included by several, at several depths, on profiles
// that alternate, each batch compared with the unmemoized one-at-a-time answers.
TEST(PlanTest, BatchesWithSharedIncludesAnswerAsSegmentsAlone) {
  const TimestampMs base = 1'700'000'000'000;
  Catalog catalog;
  register_all(catalog, {
                            "FILTER a > \"now-2s\" ALIAS recent",
                            "FILTER n >= 3 ALIAS many",
                            "FILTER AND (INCLUDE recent, INCLUDE many) ALIAS both",
                            "FILTER OR (INCLUDE recent, plan == \"pro\") ALIAS recent_or_pro",
                            "FILTER AND (NOT INCLUDE both, INCLUDE recent_or_pro) ALIAS deeper",
                            "FILTER OR (INCLUDE deeper, b <= \"now-1s\") ALIAS deepest",
                        });
  const std::vector<SegmentOrdinal> all = catalog.ordinals();
  // Included ones last as well as first: the memo fills from either side.
  const std::vector<SegmentOrdinal> reversed(all.rbegin(), all.rend());
  std::mt19937_64 rng(5);
  std::vector<Value> profiles;
  for (int k = 0; k < 6; ++k) {
    profiles.push_back(
        profile({{"a", Value(model::Date{base + static_cast<TimestampMs>(rng() % 3000)})},
                 {"b", Value(model::Date{base + static_cast<TimestampMs>(rng() % 3000)})},
                 {"n", Value(static_cast<std::int64_t>(rng() % 6))},
                 {"plan", Value(k % 2 == 0 ? "pro" : "free")}}));
  }
  std::vector<SegmentAnswer> answers;
  for (TimestampMs now = base - 200; now <= base + 5000; now += 131) {
    for (std::size_t k = 0; k < profiles.size(); ++k) {
      model::MapFieldSource source(profiles[k]);
      for (const std::vector<SegmentOrdinal>* order : {&all, &reversed}) {
        catalog.evaluate_with_next_change(*order, source, now, answers);
        for (std::size_t i = 0; i < order->size(); ++i) {
          const SegmentOrdinal ordinal = (*order)[i];
          const std::string& alias = catalog.get(ordinal)->alias;
          EXPECT_EQ(answers[i].member, catalog.evaluate(ordinal, source, now))
              << alias << " profile " << k << " now " << now - base;
          EXPECT_EQ(answers[i].next_change, catalog.next_change(ordinal, source, now))
              << alias << " profile " << k << " now " << now - base;
        }
      }
    }
  }
}

// The specialised atoms answer as the tree does for every kind of value, not only the common
// strings and numbers.
TEST(PlanTest, SpecialisedAtomsAgreeWithTheTreeOnEveryValueKind) {
  Catalog catalog;
  register_all(catalog, {
                            "FILTER f == \"5\" ALIAS eq_string",
                            "FILTER f != \"abc\" ALIAS ne_string",
                            "FILTER f > 4 ALIAS gt_int",
                            "FILTER f <= 4.5 ALIAS le_float",
                            "FILTER f == true ALIAS eq_bool",
                            "FILTER f == NULL ALIAS eq_null",
                            "FILTER f < \"b\" ALIAS lt_string",
                            "FILTER f IN (\"5\", \"abc\", \"k\") ALIAS in_strings",
                            "FILTER f IN (5, \"abc\", true) ALIAS in_mixed",
                            "FILTER f INTERSECTS (\"k\", \"x\") ALIAS intersects",
                            "FILTER NOT f IN (\"abc\") ALIAS not_in",
                            "FILTER EXISTS f ALIAS exists",
                            "FILTER f > \"now-1d\" ALIAS date_gt",
                            "FILTER f != \"now\" ALIAS date_ne",
                            "FILTER countsince(f, \"now-1d\") >= 1 ALIAS count",
                            "FILTER countsince(f, \"now-1M\") == 0 ALIAS count_calendar",
                        });
  const TimestampMs now = 1'700'000'000'000;
  const std::vector<Value> values = {
      Value(nullptr),
      Value(true),
      Value(false),
      Value(5),
      Value(std::int64_t{4}),
      Value(4.5),
      Value("5"),
      Value(" 5 "),
      Value("abc"),
      Value(""),
      Value("k"),
      Value("2023-11-14T00:00:00Z"),
      Value(model::Date{now - 1000}),
      Value(now - 90'000'000),
      Value(model::ValueList{}),
      Value(model::ValueList{Value("x"), Value(5)}),
      Value(model::ValueList{Value(model::ValueList{Value("k")}), Value("abc")}),
      Value(model::ValueList{Value(model::Date{now - 5}), Value("2023-11-14T22:13:00Z")}),
      Value(model::TimeSeries{}),
      Value(model::TimeSeries{now - 10, now - 100'000'000}),
      profile({{"k", Value(1)}, {"abc", Value(2)}}),
      profile({}),
  };
  TreeResolver tree(catalog);
  for (std::size_t i = 0; i < values.size(); ++i) {
    Value p = profile({{"f", values[i]}});
    model::MapFieldSource source(p);
    for (SegmentOrdinal ordinal : catalog.ordinals()) {
      for (TimestampMs at : {now, now + 86'400'000}) {
        EXPECT_EQ(catalog.evaluate(ordinal, source, at), tree.evaluate(ordinal, source, at))
            << catalog.get(ordinal)->alias << " value " << i;
        EXPECT_EQ(catalog.next_change(ordinal, source, at),
                  next_change(*catalog.get(ordinal)->condition, source, at, &tree))
            << catalog.get(ordinal)->alias << " value " << i;
      }
    }
  }
  Value empty = profile({});
  model::MapFieldSource none(empty);
  for (SegmentOrdinal ordinal : catalog.ordinals()) {
    EXPECT_EQ(catalog.evaluate(ordinal, none, now), tree.evaluate(ordinal, none, now))
        << catalog.get(ordinal)->alias << " missing";
  }
}

// A date field against now plus a fixed offset is answered in closed form in batches
// (Plan::answer_directly): every operator and offset sign, dates and epoch integers, the edges
// of the range the closed form accepts, and the values it leaves to the general path, each
// compared with evaluate/next_change (checked against the tree elsewhere) and, near ordinary
// instants, with the tree millisecond by millisecond.
TEST(PlanTest, DateAgainstAFixedOffsetAnswersInClosedFormAsTheGeneralPath) {
  const TimestampMs base = 1'700'000'000'000;
  Catalog catalog;
  std::vector<std::string> texts;
  const char* ops[] = {"==", "!=", ">", ">=", "<", "<="};
  const char* offsets[] = {"\"now-2s\"", "\"now+1s\"", "now()", "\"now-0s\""};
  int k = 0;
  for (const char* op : ops) {
    for (const char* offset : offsets) {
      texts.push_back(std::string("FILTER f ") + op + " " + offset + " ALIAS s" +
                      std::to_string(k++));
    }
  }
  register_all(catalog, texts);
  const TimestampMs safe = TimestampMs{1} << 61;
  const std::vector<Value> values = {
      Value(model::Date{base}),
      Value(base + 1500),
      Value(model::Date{base - 7}),
      Value(model::Date{safe - 1}),
      Value(model::Date{safe}),
      Value(-safe + 1),
      Value(-safe),
      Value(model::Date{INT64_MAX}),
      Value(INT64_MIN),
      Value("2023-11-14T22:13:21.500Z"),
      Value(4.5),
      Value(nullptr),
  };
  const std::vector<SegmentOrdinal> all = catalog.ordinals();
  std::vector<SegmentAnswer> batch;
  for (std::size_t i = 0; i < values.size(); ++i) {
    Value p = profile({{"f", values[i]}});
    model::MapFieldSource source(p);
    for (TimestampMs now :
         {base - 3000, base, base + 1, base + 5000, safe - 2, safe, -safe + 1, INT64_MIN + 1}) {
      catalog.evaluate_with_next_change(all, source, now, batch);
      for (std::size_t j = 0; j < all.size(); ++j) {
        const std::string context = catalog.get(all[j])->alias + " value " + std::to_string(i) +
                                    " now " + std::to_string(now);
        EXPECT_EQ(batch[j].member, catalog.evaluate(all[j], source, now)) << context;
        EXPECT_EQ(batch[j].next_change, catalog.next_change(all[j], source, now)) << context;
      }
    }
    if (i < 3) {
      check_against_brute_force(catalog, source, base - 3000, base + 3000, 1,
                                "value " + std::to_string(i));
    }
  }
  Value empty = profile({});
  model::MapFieldSource none(empty);
  catalog.evaluate_with_next_change(all, none, base, batch);
  for (std::size_t j = 0; j < all.size(); ++j) {
    EXPECT_EQ(batch[j].member, catalog.evaluate(all[j], none, base));
    EXPECT_EQ(batch[j].next_change, catalog.next_change(all[j], none, base));
  }
}

// A long series: the closed form reads the k-th newest timestamp, and is still exact.
TEST(PlanTest, CountSinceOverALongSeriesIsExact) {
  const TimestampMs day = 86'400'000, now = 1'700'000'000'000;
  Catalog catalog;
  register_all(catalog, {"FILTER countsince(p, \"now-7d\") >= 3 ALIAS at_least",
                         "FILTER countsince(p, \"now-7d\") == 400 ALIAS exactly"});
  model::TimeSeries series;
  for (int k = 0; k < 1000; ++k) series.push_back(now - k * (day / 100));  // 100 a day
  Value p = profile({{"p", Value(series)}});
  model::MapFieldSource source(p);
  // 700 in (now-7d, now]: the third newest leaves 7 days after it.
  EXPECT_TRUE(catalog.evaluate(catalog.find("at_least")->ordinal, source, now));
  EXPECT_EQ(catalog.next_change(catalog.find("at_least")->ordinal, source, now),
            series[2] + 7 * day);
  // The count falls through 400 when the 401st newest leaves and leaves it for the 400th.
  const SegmentOrdinal exactly = catalog.find("exactly")->ordinal;
  EXPECT_FALSE(catalog.evaluate(exactly, source, now));
  const TimestampMs enter = catalog.next_change(exactly, source, now);
  EXPECT_EQ(enter, series[400] + 7 * day);
  EXPECT_TRUE(catalog.evaluate(exactly, source, enter));
  EXPECT_FALSE(catalog.evaluate(exactly, source, enter - 1));
  EXPECT_EQ(catalog.next_change(exactly, source, enter), series[399] + 7 * day);
}

// Past Catalog::kMaxFieldSlots distinct fields, the rest are read without remembering.
TEST(PlanTest, ManyDistinctFieldsAnswerAsTheTree) {
  std::vector<std::string> texts;
  model::ValueMap fields;
  for (int i = 0; i < 90; ++i) {
    const std::string n = std::to_string(i);
    std::string text = "FILTER AND (f";
    text += n;
    text += " >= " + std::to_string(i % 7);
    text += ", EXISTS g" + std::to_string(i % 5);
    text += ") ALIAS s";
    text += n;
    texts.push_back(text);
    fields.emplace_back(std::string("f").append(n), Value(i % 11));
  }
  fields.emplace_back("g1", Value("x"));
  fields.emplace_back("g3", Value(""));
  Catalog catalog;
  register_all(catalog, texts);
  Value p = profile(std::move(fields));
  model::MapFieldSource source(p);
  TreeResolver tree(catalog);
  std::vector<SegmentAnswer> answers;
  const std::vector<SegmentOrdinal> all = catalog.ordinals();
  catalog.evaluate_with_next_change(all, source, 0, answers);
  for (std::size_t k = 0; k < all.size(); ++k) {
    EXPECT_EQ(answers[k].member, tree.evaluate(all[k], source, 0)) << k;
    EXPECT_EQ(catalog.evaluate(all[k], source, 0), answers[k].member) << k;
  }
}

// Random conditions over random values: the plan answers as the tree does, and its next change is
// the tree's when the tree may try every candidate (so both are exact).
TEST(PlanTest, RandomConditionsAgreeWithTheTree) {
  const TimestampMs base = 1'700'000'000'000;
  std::mt19937_64 rng(2026);
  auto pick = [&](std::initializer_list<const char*> options) {
    return std::string(*(options.begin() + rng() % options.size()));
  };
  auto atom = [&]() -> std::string {
    const std::string field = pick({"f", "g", "missing"});
    const std::string op = pick({"==", "!=", ">", ">=", "<", "<="});
    switch (rng() % 9) {
      case 0:
        return field + " " + op + " " + pick({"1", "\"a\"", "2.5", "true", "NULL", "\"3\""});
      case 1:
        return field + " IN (" + pick({"1", "\"a\""}) + ", " + pick({"\"b\"", "3"}) + ")";
      case 2:
        return field + " INTERSECTS (\"a\", \"k\")";
      case 3:
        return "EXISTS " + field;
      case 4:
        return field + " " + op + " " + pick({"\"now-1s\"", "\"now-3s\"", "now()", "\"now+1s\""});
      case 5:
        return "countsince(" + pick({"p", "f"}) + ", " + pick({"\"now-1s\"", "\"now-2s\""}) + ") " +
               op + " " + pick({"0", "1", "2", "3"});
      case 6:
        return field + " BETWEEN \"now-3s\" AND \"now-1s\"";
      case 7:
        return "NOT " + field + " CONTAINS \"a\"";
      default:
        return "len(" + field + ") > 1";
    }
  };
  std::function<std::string(int)> phrase = [&](int depth) -> std::string {
    if (depth == 0 || rng() % 3 == 0) return atom();
    switch (rng() % 3) {
      case 0:
        return "NOT (" + phrase(depth - 1) + ")";
      case 1:
        return "AND (" + phrase(depth - 1) + ", " + phrase(depth - 1) + ")";
      default:
        return "OR (" + phrase(depth - 1) + ", " + phrase(depth - 1) + ", " + atom() + ")";
    }
  };
  std::vector<std::string> texts;
  for (int i = 0; i < 120; ++i) {
    std::string body = phrase(3);
    if (i >= 10 && rng() % 4 == 0)
      body = "OR (INCLUDE r" + std::to_string(rng() % i) + ", " + body + ")";
    texts.push_back("FILTER " + body + " ALIAS r" + std::to_string(i));
  }
  Catalog catalog;
  register_all(catalog, texts);
  auto value = [&]() -> Value {
    const TimestampMs t = base + static_cast<TimestampMs>(rng() % 4000);
    switch (rng() % 10) {
      case 0:
        return Value(model::Date{t});
      case 1:
        return Value(t);
      case 2:
        return Value(static_cast<std::int64_t>(rng() % 4));
      case 3:
        return Value(pick({"a", "k", "3", "abc", ""}));
      case 4:
        return Value(2.5);
      case 5:
        return Value(model::ValueList{Value("a"), Value(model::Date{t}), Value(1)});
      case 6: {
        model::TimeSeries times{t, t - 500, base};
        std::sort(times.rbegin(), times.rend());
        return Value(times);
      }
      case 7:
        return profile({{"a", Value(1)}, {"z", Value(2)}});
      case 8:
        return Value(true);
      default:
        return Value(nullptr);
    }
  };
  TreeResolver tree(catalog);
  std::vector<TimestampMs> scratch;
  for (int trial = 0; trial < 40; ++trial) {
    model::TimeSeries series;
    for (int k = static_cast<int>(rng() % 6); k > 0; --k) {
      series.push_back(base + static_cast<TimestampMs>(rng() % 8) * 500);
    }
    std::sort(series.rbegin(), series.rend());
    Value p = profile({{"f", value()}, {"g", value()}, {"p", Value(series)}});
    model::MapFieldSource source(p);
    for (int sample = 0; sample < 6; ++sample) {
      const TimestampMs now = base - 1000 + static_cast<TimestampMs>(rng() % 8000);
      for (SegmentOrdinal ordinal : catalog.ordinals()) {
        const Segment& s = *catalog.get(ordinal);
        ASSERT_EQ(catalog.evaluate(ordinal, source, now), tree.evaluate(ordinal, source, now))
            << s.text << " trial " << trial;
        ASSERT_EQ(catalog.next_change(ordinal, source, now),
                  next_change(*s.condition, source, now, &tree, 1'000'000, scratch))
            << s.text << " trial " << trial << " now " << now - base;
      }
    }
  }
}

}  // namespace
}  // namespace shoal::segment
