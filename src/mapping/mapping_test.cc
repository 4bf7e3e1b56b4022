// Behaviour of the mapping API beyond the golden files: metadata, reuse of MappedEvent,
// and the parsed structure the engine relies on.
#include "mapping/mapping.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace shoal::mapping {
namespace {

model::Value event_of(model::ValueMap entries) {
  model::normalize_map(entries);
  return model::Value(std::move(entries));
}

TEST(MappingTest, KeepsTextStreamAliasAndIdentityOrder) {
  std::string text = "SELECT a, b, c FROM clicks INTO user BY c OR a ALIAS m1";
  auto mapping = parse_mapping(text);
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  EXPECT_EQ(mapping->text, text);
  EXPECT_EQ(mapping->stream, "clicks");
  EXPECT_EQ(mapping->alias, "m1");
  EXPECT_EQ(mapping->identity_fields, (std::vector<std::string>{"c", "a"}));
  ASSERT_EQ(mapping->identity_columns, (std::vector<std::size_t>{2, 0}));
  EXPECT_TRUE(mapping->columns[0].is_identity);
  EXPECT_FALSE(mapping->columns[1].is_identity);
  EXPECT_EQ(mapping->columns[2].identity_priority, 0);
  EXPECT_EQ(mapping->columns[0].identity_priority, 1);
  EXPECT_EQ(mapping->where, nullptr);
}

TEST(MappingTest, ColumnRecordsWhatWasExplicit) {
  auto mapping = parse_mapping(
      "SELECT id, amount AS total KIND int SHORTDESC \"Total\" LONGDESC \"All orders\", "
      "sum(amount) AS s FROM s INTO user BY id");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  const Column* total = mapping->find_column("total");
  ASSERT_NE(total, nullptr);
  EXPECT_TRUE(total->kind_explicit);
  EXPECT_FALSE(total->merge_explicit);
  EXPECT_EQ(total->kind, model::Kind::kInt);
  EXPECT_EQ(total->merge, model::MergeOp::kLatest);
  EXPECT_EQ(total->shortdesc, "Total");
  EXPECT_EQ(total->longdesc, "All orders");
  EXPECT_EQ(total->line, 1);
  EXPECT_EQ(total->column, 12);
  const Column* sum = mapping->find_column("s");
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(sum->aggregate, Aggregate::kSum);
  EXPECT_FALSE(sum->kind_explicit);
  EXPECT_EQ(sum->kind, model::Kind::kNumber);
  EXPECT_EQ(sum->merge, model::MergeOp::kSum);
  EXPECT_EQ(mapping->find_column("amount"), nullptr);
}

TEST(MappingTest, BareFieldColumnsAreReadDirectly) {
  auto mapping = parse_mapping("SELECT id, a.b AS x, tolower(c) AS y, _ts AS t FROM s INTO user BY id");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  EXPECT_TRUE(mapping->columns[1].reads_field_directly);
  EXPECT_EQ(mapping->columns[1].field_path, "a.b");
  EXPECT_FALSE(mapping->columns[2].reads_field_directly);
  EXPECT_TRUE(mapping->columns[3].reads_timestamp);
}

TEST(MappingTest, ReusedMappedEventHoldsOnlyTheLatestEvent) {
  auto mapping = parse_mapping(
      "SELECT id, email, name, age KIND int FROM s INTO user BY id OR email");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  MappedEvent out;
  apply_mapping(*mapping,
                event_of({{"id", "u1"}, {"email", "a@x"}, {"name", "A"}, {"age", "old"}}), 10, 10,
                1, out);
  ASSERT_TRUE(out.where_matched);
  ASSERT_EQ(out.identities.size(), 2u);
  ASSERT_EQ(out.fields.size(), 1u);
  ASSERT_EQ(out.dropped.size(), 1u);
  const std::size_t capacity = out.fields.capacity();

  apply_mapping(*mapping, event_of({{"id", "u2"}, {"age", 3}}), 20, 25, 2, out);
  ASSERT_EQ(out.identities.size(), 1u);
  EXPECT_EQ(out.identities[0].field, "id");
  EXPECT_EQ(out.identities[0].values, model::Value(model::ValueList{"u2"}));
  ASSERT_EQ(out.fields.size(), 1u);
  EXPECT_EQ(out.fields[0].name, "age");
  EXPECT_EQ(out.fields[0].value,
            (model::FieldValue{model::Value(std::int64_t{3}), 20, 2, model::MergeOp::kLatest}));
  EXPECT_TRUE(out.dropped.empty());
  EXPECT_EQ(out.fields.capacity(), capacity);
}

// Columns remember where their field was among the last event's keys: events of other shapes,
// nested paths, expressions, IF conditions and another mapping through the same MappedEvent
// must give what a fresh MappedEvent gives.
TEST(MappingTest, KeyPositionHintsNeverChangeWhatIsRead) {
  auto first = parse_mapping(
      "SELECT id, a.b AS nested, tolower(c) AS lower, e IF f > 1, `a.b` AS dotted "
      "FROM s INTO user BY id");
  auto second = parse_mapping("SELECT c AS id, id AS other FROM t INTO user BY id");
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(second.ok()) << second.error().message;
  const std::vector<std::pair<std::string, model::Value>> members = {
      {"0", model::Value(1)},
      {"a", model::Value(model::ValueMap{{"b", model::Value("in a")}})},
      {"a.b", model::Value("dotted")},
      {"c", model::Value("MiXeD")},
      {"e", model::Value("e")},
      {"f", model::Value(2)},
      {"id", model::Value("u")},
      {"zz", model::Value(true)}};
  std::mt19937_64 rng(11);
  MappedEvent reused;
  for (int i = 0; i < 300; ++i) {
    model::ValueMap entries;
    for (const auto& member : members) {
      if (rng() % 3 != 0) entries.emplace_back(member);
    }
    const model::Value event = event_of(std::move(entries));
    const Mapping& mapping = (rng() % 4 == 0) ? *second : *first;
    MappedEvent fresh;
    apply_mapping(mapping, event, 100 + i, 100 + i, static_cast<std::uint64_t>(i), fresh);
    apply_mapping(mapping, event, 100 + i, 100 + i, static_cast<std::uint64_t>(i), reused);
    ASSERT_EQ(reused.identities, fresh.identities) << "event " << i;
    ASSERT_EQ(reused.fields.size(), fresh.fields.size()) << "event " << i;
    for (std::size_t k = 0; k < fresh.fields.size(); ++k) {
      EXPECT_EQ(reused.fields[k].name, fresh.fields[k].name) << "event " << i;
      EXPECT_EQ(reused.fields[k].value, fresh.fields[k].value) << "event " << i;
    }
  }
}

// The engine reuses one MappedEvent: a slot that held one kind (or a dropped value) must not
// leak into the next event. Each event's output through the reused slots equals a fresh one.
TEST(MappingTest, ReusedSlotsAnswerAsFreshOnesWhateverTheEarlierKinds) {
  auto mapping = parse_mapping(
      "SELECT id, s, n KIND int, x KIND number, d KIND date, append(d) AS series, "
      "set(tag) AS tags, count(*) AS seen, sum(x) AS total, min(n) AS least "
      "FROM s INTO user BY id");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  const std::vector<model::Value> choices = {
      model::Value(nullptr),
      model::Value("text long enough to live on the heap, not in the string"),
      model::Value("7"),
      model::Value(std::int64_t{7}),
      model::Value(2.5),
      model::Value(model::Date{1'700'000'000'000}),
      model::Value("2023-11-14T22:13:20Z"),
      model::Value(model::ValueList{model::Value("a"), model::Value("b")}),
      model::Value(model::ValueList{}),
      model::Value(true),
  };
  const char* names[] = {"s", "n", "x", "d", "tag"};
  std::mt19937_64 rng(5);
  MappedEvent reused;
  for (int i = 0; i < 400; ++i) {
    model::ValueMap entries{{"id", model::Value("u" + std::to_string(i % 3))}};
    for (const char* name : names) {
      if (rng() % 4 != 0) entries.emplace_back(name, choices[rng() % choices.size()]);
    }
    const model::Value event = event_of(std::move(entries));
    MappedEvent fresh;
    apply_mapping(*mapping, event, 100 + i, 100 + i, static_cast<std::uint64_t>(i), fresh);
    apply_mapping(*mapping, event, 100 + i, 100 + i, static_cast<std::uint64_t>(i), reused);
    ASSERT_EQ(reused.where_matched, fresh.where_matched) << "event " << i;
    ASSERT_EQ(reused.identities, fresh.identities) << "event " << i;
    ASSERT_EQ(reused.fields.size(), fresh.fields.size()) << "event " << i;
    for (std::size_t k = 0; k < fresh.fields.size(); ++k) {
      EXPECT_EQ(reused.fields[k].name, fresh.fields[k].name) << "event " << i;
      EXPECT_EQ(reused.fields[k].value, fresh.fields[k].value)
          << "event " << i << " field " << fresh.fields[k].name;
    }
    ASSERT_EQ(reused.dropped.size(), fresh.dropped.size()) << "event " << i;
  }
}

TEST(MappingTest, WhereRejectionLeavesNothingFromAnEarlierEvent) {
  auto mapping = parse_mapping("SELECT id FROM s INTO user BY id WHERE kind == \"real\"");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  MappedEvent out;
  apply_mapping(*mapping, event_of({{"id", "u1"}, {"kind", "real"}}), 1, 1, 1, out);
  ASSERT_TRUE(out.where_matched);
  ASSERT_EQ(out.identities.size(), 1u);
  apply_mapping(*mapping, event_of({{"id", "u1"}, {"kind", "bot"}}), 2, 2, 2, out);
  EXPECT_FALSE(out.where_matched);
  EXPECT_TRUE(out.identities.empty());
  EXPECT_TRUE(out.fields.empty());
}

// The engine's look-ahead maps only the identities: they must be apply_mapping's, with WHERE,
// IF, expressions, lists, numbers, null and dropped values, whatever the reused slot held.
TEST(MappingTest, MapIdentitiesGivesApplyMappingsIdentities) {
  auto mapping = parse_mapping(
      "SELECT user_id, email(mail) AS email IF ok == 1, tolower(handle) AS handle, plan "
      "FROM s INTO user BY user_id OR email OR handle WHERE kind != \"bot\"");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message;
  const std::vector<model::Value> ids = {
      model::Value(nullptr),
      model::Value(""),
      model::Value("u1"),
      model::Value(std::int64_t{42}),
      model::Value(2.5),
      model::Value(model::ValueList{model::Value("a"), model::Value("b"), model::Value("a")}),
      model::Value(model::ValueMap{{"k", model::Value("v")}}),
  };
  const std::vector<model::Value> mails = {model::Value("Ann@Example.COM"), model::Value("nope"),
                                           model::Value(nullptr)};
  std::mt19937_64 rng(17);
  MappedEvent ahead;
  int with_identities = 0, rejected = 0;
  for (int i = 0; i < 400; ++i) {
    model::ValueMap entries{{"plan", model::Value("pro")}};
    if (rng() % 4 != 0) entries.emplace_back("user_id", ids[rng() % ids.size()]);
    if (rng() % 2 != 0) entries.emplace_back("mail", mails[rng() % mails.size()]);
    if (rng() % 2 != 0) entries.emplace_back("ok", model::Value(static_cast<int>(rng() % 2)));
    if (rng() % 3 == 0) entries.emplace_back("handle", model::Value("MiXeD"));
    if (rng() % 5 == 0) entries.emplace_back("kind", model::Value("bot"));
    const model::Value event = event_of(std::move(entries));
    MappedEvent full;
    apply_mapping(*mapping, event, 100 + i, 100 + i, static_cast<std::uint64_t>(i), full);
    map_identities(*mapping, event, 100 + i, 100 + i, ahead);
    ASSERT_EQ(ahead.where_matched, full.where_matched) << "event " << i;
    ASSERT_EQ(ahead.identities, full.identities) << "event " << i;
    EXPECT_TRUE(ahead.fields.empty()) << "event " << i;
    with_identities += !full.identities.empty();
    rejected += !full.where_matched;
  }
  // The draws covered both sides of each branch.
  EXPECT_GT(with_identities, 100);
  EXPECT_GT(rejected, 20);
}

TEST(MappingTest, CopiedMappingAppliesLikeTheOriginal) {
  auto parsed = parse_mapping("SELECT id, count(*) AS n IF x > 1 FROM s INTO user BY id");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  Mapping copy = *parsed;
  MappedEvent a, b;
  model::Value event = event_of({{"id", "u"}, {"x", 2}});
  apply_mapping(*parsed, event, 5, 5, 1, a);
  apply_mapping(copy, event, 5, 5, 1, b);
  ASSERT_EQ(a.fields.size(), 1u);
  ASSERT_EQ(b.fields.size(), 1u);
  EXPECT_EQ(a.fields[0].value, b.fields[0].value);
}

// Inputs the fuzzer crashed on (none so far) and odd edge inputs live in fuzz_regressions/: each
// must parse, or fail with a positioned message, and a parsed one must apply.
TEST(MappingTest, FuzzRegressionInputsParseOrFailWithAPosition) {
  std::filesystem::path dir =
      std::filesystem::path(SHOAL_SOURCE_DIR) / "src/mapping/testdata/fuzz_regressions";
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++inputs;
    SCOPED_TRACE(entry.path().filename().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    auto mapping = parse_mapping(buffer.str());
    if (mapping.ok()) {
      MappedEvent out;
      apply_mapping(*mapping, event_of({{"a", "x"}}), 1, 1, 1, out);
    } else {
      EXPECT_EQ(mapping.error().message.rfind("line ", 0), 0u) << mapping.error().message;
      EXPECT_NE(mapping.error().message.find(", col "), std::string::npos);
    }
  }
  EXPECT_GE(inputs, 3);
}

}  // namespace
}  // namespace shoal::mapping
