// Data-driven tests of the mapping language: src/mapping/testdata/{parse,apply,errors}.txt.
// Format (see testdata/README.md): cases start with "=== <name>"; the mapping text follows up to
// the first line that starts a section ("event:", "expect:", "error:", "parsed:").
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/time_format.h"
#include "mapping/mapping.h"
#include "model/json.h"

namespace shoal::mapping {
namespace {

struct Case {
  std::string name;
  int line = 0;  // line of "=== name" in the file
  std::string mapping;
  std::vector<std::string> body;  // the lines after the mapping text
};

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_section(const std::string& line) {
  for (std::string_view p : {"event:", "expect:", "error:", "parsed:", "ts:", "now:", "seq:"}) {
    if (starts_with(line, p)) return true;
  }
  return false;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\n')) s.pop_back();
  std::size_t start = s.find_first_not_of(' ');
  return start == std::string::npos ? "" : s.substr(start);
}

std::vector<Case> read_cases(const std::string& file) {
  std::ifstream in(std::string(SHOAL_SOURCE_DIR) + "/src/mapping/testdata/" + file);
  EXPECT_TRUE(in.good()) << "cannot read " << file;
  std::vector<Case> cases;
  std::string line;
  int number = 0;
  bool in_mapping = false;
  while (std::getline(in, line)) {
    ++number;
    if (starts_with(line, "=== ")) {
      cases.push_back(Case{line.substr(4), number, "", {}});
      in_mapping = true;
      continue;
    }
    if (cases.empty()) continue;  // file header
    Case& c = cases.back();
    if (in_mapping && !is_section(line)) {
      c.mapping += c.mapping.empty() && trim(line).empty() ? "" : line + "\n";
      continue;
    }
    in_mapping = false;
    if (starts_with(line, "#") || trim(line).empty()) continue;
    c.body.push_back(trim(line));
  }
  for (Case& c : cases) {
    while (!c.mapping.empty() && (c.mapping.back() == '\n' || c.mapping.back() == ' ')) {
      c.mapping.pop_back();
    }
  }
  return cases;
}

std::string value_text(const model::Value& value) {
  return std::string(model::value_type_name(value.type())) + " " + model::to_json(value);
}

std::string render(const MappedEvent& event) {
  std::ostringstream out;
  if (!event.where_matched) {
    out << "where: false\n";
    return out.str();
  }
  for (const model::Identity& identity : event.identities) {
    out << "identity " << identity.field << " " << model::to_json(identity.values) << "\n";
  }
  for (const MappedField& field : event.fields) {
    out << "field " << field.name << " " << value_text(field.value.value) << " "
        << model::merge_op_name(field.value.merge) << "\n";
  }
  for (const DroppedField& dropped : event.dropped) {
    out << "dropped " << dropped.name << ": " << dropped.reason << "\n";
  }
  return out.str();
}

std::string render(const Mapping& mapping) {
  std::ostringstream out;
  out << "stream " << mapping.stream << " alias " << (mapping.alias.empty() ? "-" : mapping.alias)
      << " by";
  for (const std::string& field : mapping.identity_fields) out << " " << field;
  out << "\n";
  if (mapping.where) out << "where " << mapping.where_text << "\n";
  for (const Column& column : mapping.columns) {
    out << "column " << column.name << " " << model::kind_name(column.kind) << " "
        << model::merge_op_name(column.merge);
    if (column.is_identity) out << " identity=" << column.identity_priority;
    out << " expr=" << column.expression_text;
    if (column.condition) out << " if=" << column.condition_text;
    if (!column.shortdesc.empty()) out << " shortdesc=\"" << column.shortdesc << "\"";
    if (!column.longdesc.empty()) out << " longdesc=\"" << column.longdesc << "\"";
    out << "\n";
  }
  return out.str();
}

TimestampMs parse_time(const std::string& text) {
  std::string t = trim(text);
  if (!t.empty() && (std::isdigit(static_cast<unsigned char>(t[0])) || t[0] == '-') &&
      t.find_first_not_of("-0123456789") == std::string::npos) {
    return std::stoll(t);
  }
  auto parsed = parse_iso8601(t);
  EXPECT_TRUE(parsed.ok()) << "bad time " << t;
  return parsed.ok() ? *parsed : 0;
}

std::string join(const std::vector<std::string>& lines, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end; ++i) out += lines[i] + "\n";
  return out;
}

TEST(MappingGoldenTest, ParsedMappingsMatchParseTxt) {
  std::vector<Case> cases = read_cases("parse.txt");
  EXPECT_GE(cases.size(), 5u);
  for (const Case& c : cases) {
    SCOPED_TRACE("parse.txt:" + std::to_string(c.line) + " " + c.name);
    ASSERT_FALSE(c.body.empty());
    ASSERT_EQ(c.body.front(), "parsed:");
    auto mapping = parse_mapping(c.mapping);
    ASSERT_TRUE(mapping.ok()) << mapping.error().message;
    EXPECT_EQ(render(*mapping), join(c.body, 1, c.body.size()));
  }
}

TEST(MappingGoldenTest, ParseErrorsMatchErrorsTxt) {
  std::vector<Case> cases = read_cases("errors.txt");
  EXPECT_GE(cases.size(), 20u);
  for (const Case& c : cases) {
    SCOPED_TRACE("errors.txt:" + std::to_string(c.line) + " " + c.name);
    ASSERT_EQ(c.body.size(), 1u);
    ASSERT_TRUE(starts_with(c.body[0], "error: "));
    auto mapping = parse_mapping(c.mapping);
    ASSERT_FALSE(mapping.ok()) << "parsed, expected " << c.body[0];
    EXPECT_EQ(mapping.error().message, c.body[0].substr(7));
  }
}

TEST(MappingGoldenTest, AppliedEventsMatchApplyTxt) {
  std::vector<Case> cases = read_cases("apply.txt");
  EXPECT_GE(cases.size(), 20u);
  model::JsonParser json;
  MappedEvent out;  // reused across all events, as the engine does
  for (const Case& c : cases) {
    SCOPED_TRACE("apply.txt:" + std::to_string(c.line) + " " + c.name);
    auto mapping = parse_mapping(c.mapping);
    ASSERT_TRUE(mapping.ok()) << mapping.error().message;
    std::size_t i = 0;
    int events = 0;
    while (i < c.body.size()) {
      ASSERT_TRUE(starts_with(c.body[i], "event:")) << "expected event:, got " << c.body[i];
      auto event = json.parse(c.body[i].substr(6));
      ASSERT_TRUE(event.ok()) << event.error().message;
      ++i;
      TimestampMs ts = 1'700'000'000'000;
      std::optional<TimestampMs> now;
      std::uint64_t seq = 1;
      while (i < c.body.size() && !starts_with(c.body[i], "expect:")) {
        if (starts_with(c.body[i], "ts:")) {
          ts = parse_time(c.body[i].substr(3));
        } else if (starts_with(c.body[i], "now:")) {
          now = parse_time(c.body[i].substr(4));
        } else if (starts_with(c.body[i], "seq:")) {
          seq = std::stoull(c.body[i].substr(4));
        } else {
          FAIL() << "unexpected line " << c.body[i];
        }
        ++i;
      }
      ASSERT_LT(i, c.body.size()) << "missing expect:";
      std::size_t begin = ++i;
      while (i < c.body.size() && !starts_with(c.body[i], "event:")) ++i;
      apply_mapping(*mapping, *event, ts, now.value_or(ts), seq, out);
      EXPECT_EQ(render(out), join(c.body, begin, i)) << "event " << ++events;
      for (const MappedField& field : out.fields) {
        EXPECT_EQ(field.value.ts, ts);
        EXPECT_EQ(field.value.seq, seq);
      }
    }
  }
}

}  // namespace
}  // namespace shoal::mapping
