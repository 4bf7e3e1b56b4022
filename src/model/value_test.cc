#include "model/value.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

TEST(ValueTest, AHintedFindAnswersAsASearchWhateverTheHint) {
  const Value event = parse(R"({"a": 1, "b": 2, "c": 3, "d": 4})");
  const Value other = parse(R"({"b": 20, "d": 40})");
  for (std::string_view key : {"a", "b", "c", "d", "e", ""}) {
    for (std::size_t start : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{4},
                              std::size_t{99}, SIZE_MAX}) {
      std::size_t hint = start;
      EXPECT_EQ(event.find(key, hint), event.find(key)) << key << " from " << start;
      // The hint now points at the key (when present): the next map is searched anew.
      EXPECT_EQ(other.find(key, hint), other.find(key)) << key << " from " << start;
    }
  }
  std::size_t hint = 0;
  EXPECT_EQ(event.find("c", hint), event.find("c"));
  EXPECT_EQ(hint, 2u);
  EXPECT_EQ(Value(1).find("a", hint), nullptr);
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

// Created at 5, fields plan and hits (a map), identity email.
Profile field_source_profile() {
  Profile p;
  p.created_ms = 5;
  p.field_slot("plan").value = Value("pro");
  p.field_slot("hits").value = Value(ValueMap{{"home", Value(3)}});
  EXPECT_TRUE(p.add_identity("email", "a@x.com"));
  return p;
}

TEST(ProfileTest, FieldSourceReadsFieldsIdentitiesAndMapKeys) {
  Profile p = field_source_profile();
  EXPECT_FALSE(p.add_identity("email", "a@x.com"));
  ProfileFieldSource src(p);
  EXPECT_EQ(*src.find("plan"), Value("pro"));
  EXPECT_EQ(*src.find("hits.home"), Value(3));
  EXPECT_EQ(*src.find("email"), Value(ValueList{Value("a@x.com")}));
  EXPECT_EQ(*src.find("_created"), Value(Date{5}));
  EXPECT_EQ(src.find("nope"), nullptr);
}

TEST(ProfileTest, AFieldLookupWithAHintAnswersAsWithoutWhateverTheHint) {
  Profile p;
  for (const char* name : {"age", "country", "plan", "visits", "z"}) {
    p.field_slot(name).value = Value(std::string(name));
  }
  for (const char* text : {"age", "country", "plan", "visits", "z", "missing", "", "aa"}) {
    const FieldName name = FieldName::intern(text);
    for (std::size_t start :
         {std::size_t{0}, std::size_t{2}, std::size_t{4}, std::size_t{5}, std::size_t{99}}) {
      std::size_t hint = start;
      FieldValue* with_hint = p.mutable_field(name, hint);
      EXPECT_EQ(with_hint, p.mutable_field(name)) << name << " hint " << start;
      if (with_hint) {
        // The hint now points at the field: the next lookup finds it first.
        EXPECT_EQ(&p.fields.value(hint), with_hint) << name;
      } else {
        EXPECT_EQ(hint, start) << name;
      }
    }
  }
}

TEST(FieldNameTest, EqualTextsAreOneNameOrderedByText) {
  const FieldName a = FieldName::intern("visits");
  const FieldName b = FieldName::intern(std::string("vis") + "its");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.text().data(), b.text().data());
  EXPECT_EQ(a, std::string_view("visits"));
  EXPECT_FALSE(a == FieldName::intern("visit"));
  EXPECT_EQ(FieldName(), FieldName::intern(""));
  // std::string's order: unsigned bytes, then length.
  EXPECT_LT(FieldName::intern("visit"), a);
  EXPECT_LT(FieldName::intern("Z"), FieldName::intern("a"));
  EXPECT_LT(FieldName::intern("z"), FieldName::intern("\xc3\xa9"));
  EXPECT_FALSE(a < b);
}

// Lookups by interned name scan up to kScanLimit fields and search by text above it; both,
// and the lookup by text, must agree on every name, present or not, and keep the fields sorted.
TEST(ProfileTest, FieldsFoundByNameOrTextAtAnySizeAndKeptSorted) {
  for (std::size_t count :
       {std::size_t{0}, std::size_t{1}, std::size_t{7}, ProfileFields::kScanLimit,
        ProfileFields::kScanLimit + 1, std::size_t{100}}) {
    Profile p;
    // Inserted in a scrambled order.
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t k = (i * 37) % count;
      p.field_slot("f" + std::to_string(k)).value = Value(static_cast<std::int64_t>(k));
    }
    ASSERT_EQ(p.fields.size(), count);
    for (std::size_t i = 1; i < p.fields.size(); ++i) {
      EXPECT_LT(p.fields.name(i - 1), p.fields.name(i)) << count;
    }
    for (std::size_t k = 0; k < count + 3; ++k) {
      const std::string text = "f" + std::to_string(k);
      const FieldValue* by_name = p.field(FieldName::intern(text));
      const FieldValue* by_text = p.field(std::string_view(text));
      EXPECT_EQ(by_name, by_text) << text << " of " << count;
      if (k < count) {
        ASSERT_NE(by_name, nullptr) << text << " of " << count;
        EXPECT_EQ(by_name->value, Value(static_cast<std::int64_t>(k)));
      } else {
        EXPECT_EQ(by_name, nullptr) << text << " of " << count;
      }
    }
    if (count > 0) {
      EXPECT_TRUE(p.erase_field("f0"));
      EXPECT_FALSE(p.erase_field("f0"));
      EXPECT_EQ(p.field(FieldName::intern("f0")), nullptr);
      EXPECT_EQ(p.fields.size(), count - 1);
    }
  }
}

// Copies of a profile's fields are deep and equal, moves leave the source empty, and inserts
// and erases anywhere (across reallocations) keep every other value intact. Heap strings make
// a double free or a lost value visible under the sanitizers.
TEST(ProfileTest, FieldsCopyMoveInsertAndEraseKeepEveryValue) {
  auto long_text = [](int k) { return std::string(40, static_cast<char>('a' + k % 26)); };
  Profile p;
  for (int k : {5, 1, 9, 3, 7, 0, 8, 2, 6, 4}) {  // inserts at the front, middle and end
    p.field_slot("f" + std::to_string(k)).value = Value(long_text(k));
  }
  Profile copy = p;
  EXPECT_EQ(copy, p);
  copy.field_slot("f3").value = Value(std::string("changed"));
  EXPECT_EQ(p.field("f3")->value, Value(long_text(3)));
  EXPECT_FALSE(copy == p);

  EXPECT_TRUE(p.erase_field("f4"));  // the middle
  EXPECT_TRUE(p.erase_field("f9"));  // the end
  ASSERT_EQ(p.fields.size(), 8u);
  for (int k : {0, 1, 2, 3, 5, 6, 7, 8}) {
    const FieldValue* f = p.field("f" + std::to_string(k));
    ASSERT_NE(f, nullptr) << k;
    EXPECT_EQ(f->value, Value(long_text(k))) << k;
  }

  ProfileFields moved = std::move(p.fields);
  EXPECT_TRUE(p.fields.empty());  // NOLINT(bugprone-use-after-move): a moved-from list is empty
  EXPECT_EQ(p.field("f0"), nullptr);
  ASSERT_EQ(moved.size(), 8u);
  EXPECT_EQ(moved.value(0).value, Value(long_text(0)));
  p.fields = moved;  // copy-assigned back
  const ProfileFields& same = p.fields;
  p.fields = same;  // self-assignment changes nothing
  EXPECT_EQ(p.fields, moved);
  copy.fields = std::move(moved);
  EXPECT_EQ(copy.fields, p.fields);
}

TEST(ProfileTest, FieldsAppendOnlyInOrder) {
  ProfileFields fields;
  EXPECT_TRUE(fields.append(FieldName::intern("b"), FieldValue{Value(1)}));
  EXPECT_FALSE(fields.append(FieldName::intern("a"), FieldValue{Value(2)}));
  EXPECT_FALSE(fields.append(FieldName::intern("b"), FieldValue{Value(3)}));
  EXPECT_TRUE(fields.append(FieldName::intern("c"), FieldValue{Value(4)}));
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields.name(0), std::string_view("b"));
  EXPECT_EQ(fields.value(1).value, Value(4));
}

TEST(ProfileTest, FieldSourceFindsByInternedNameAsByText) {
  const Profile p = field_source_profile();
  ProfileFieldSource src(p);
  const FieldSource& base = src;
  for (const char* path : {"plan", "hits", "hits.home", "email", "_created", "_modified", "nope"}) {
    EXPECT_EQ(base.find(FieldName::intern(path)), base.find(std::string_view(path))) << path;
  }
  EXPECT_NE(base.find(FieldName::intern("email")), nullptr);
  EXPECT_NE(base.find(FieldName::intern("hits.home")), nullptr);
}

// Identities are copy-on-write: a shared list (a trigger's snapshot, a copied profile) keeps
// what it had when the profile changes afterwards, and the profile sees its own change.
TEST(ProfileTest, IdentitiesSharedWithASnapshotOrACopyAreCopiedOnChange) {
  Profile p;
  EXPECT_TRUE(p.identities.empty());
  EXPECT_TRUE(p.identities.share()->empty());
  EXPECT_TRUE(p.add_identity("user_id", "u1"));
  const auto snapshot = p.identities.share();
  Profile copy = p;
  // An identity already there changes nothing and copies nothing.
  EXPECT_FALSE(p.add_identity("user_id", "u1"));
  EXPECT_EQ(p.identities.share(), snapshot);
  EXPECT_TRUE(p.add_identity("email", "a@x.com"));
  EXPECT_TRUE(p.add_identity("user_id", "u2"));
  ASSERT_EQ(snapshot->size(), 1u);
  EXPECT_EQ((*snapshot)[0].values, Value(ValueList{Value("u1")}));
  EXPECT_EQ(copy.identities.items(), *snapshot);
  ASSERT_EQ(p.identities.size(), 2u);
  EXPECT_EQ(p.identities[0].field, "email");
  EXPECT_EQ(p.identity("user_id")->values, Value(ValueList{Value("u1"), Value("u2")}));
  EXPECT_NE(p, copy);
  // The copy changes alone too, and equality compares contents, not lists.
  EXPECT_TRUE(copy.add_identity("email", "a@x.com"));
  EXPECT_TRUE(copy.add_identity("user_id", "u2"));
  EXPECT_EQ(p.identities, copy.identities);
  EXPECT_EQ(snapshot->size(), 1u);
}

// Small maps are sorted in place by insertion, large ones by stable_sort: both keep the last of
// equal keys and sort the rest.
TEST(ValueTest, NormalizeMapSortsAndKeepsTheLastOfEqualKeysAtAnySize) {
  for (int n : {0, 1, 7, 32, 33, 100}) {
    ValueMap map;
    for (int i = n - 1; i >= 0; --i) map.emplace_back("k" + std::to_string(1000 + i), Value(i));
    if (n > 0) {
      map.insert(map.begin(), {"k1000", Value("first")});
      map.emplace_back("k1000", Value("last"));
    }
    normalize_map(map);
    ASSERT_EQ(map.size(), static_cast<std::size_t>(n)) << "n=" << n;
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(map[static_cast<std::size_t>(i)].first, "k" + std::to_string(1000 + i)) << "n=" << n;
    }
    if (n > 0) {
      EXPECT_EQ(map[0].second, Value("last")) << "n=" << n;
    }
    if (n > 1) {
      EXPECT_EQ(map[1].second, Value(1)) << "n=" << n;
    }
  }
}

// Objects are put in key order while parsing: every size (the inline and the heap path),
// keys in reverse, shuffled and repeated (the last wins), nested objects, byte order of
// non-ASCII and prefix keys; each compared with the members built in document order and then
// normalized.
TEST(JsonTest, ObjectsComeOutSortedWithTheLastOfEqualKeysAtAnySize) {
  std::mt19937_64 rng(3);
  JsonParser parser;
  for (int n : {0, 1, 2, 15, 16, 17, 40}) {
    for (int round = 0; round < 20; ++round) {
      std::vector<std::string> keys;
      for (int i = 0; i < n; ++i) {
        switch (rng() % 4) {
          case 0:
            keys.push_back("k" + std::to_string(rng() % 8));
            break;  // repeats
          case 1:
            keys.push_back("k");
            break;  // a prefix
          case 2:
            keys.push_back("\xc3\xa9t\xc3\xa9");
            break;  // above ASCII
          default:
            keys.push_back("z" + std::to_string(n - i));
            break;
        }
      }
      std::string text = "{";
      ValueMap expected;
      for (int i = 0; i < n; ++i) {
        if (i > 0) text += ",";
        text += "\"" + keys[static_cast<std::size_t>(i)] + "\":";
        if (i % 3 == 0) {
          text += "{\"b\":" + std::to_string(i) + ",\"a\":" + std::to_string(-i) + "}";
          ValueMap inner{{"b", Value(i)}, {"a", Value(-i)}};
          normalize_map(inner);
          expected.emplace_back(keys[static_cast<std::size_t>(i)], Value(std::move(inner)));
        } else {
          text += std::to_string(i);
          expected.emplace_back(keys[static_cast<std::size_t>(i)], Value(i));
        }
      }
      text += "}";
      normalize_map(expected);
      auto parsed = parser.parse(text);
      ASSERT_TRUE(parsed.ok()) << text;
      ASSERT_TRUE(parsed->is_map()) << text;
      EXPECT_EQ(*parsed, Value(expected)) << text;
    }
  }
}

}  // namespace
}  // namespace shoal::model
