// Data-driven tests: testdata/eval.txt (segments, profiles, expected membership and next change)
// and testdata/errors.txt (segment texts and their exact registration outcome). A new case needs
// no C++; the formats are described at the top of each file.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/time_format.h"
#include "model/json.h"
#include "segment/catalog.h"

namespace shoal::segment {
namespace {

using model::Value;

std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(SHOAL_SOURCE_DIR) + "/src/segment/testdata/" + name);
  EXPECT_TRUE(in.good()) << "cannot read " << name;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string unescape_newlines(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

TimestampMs parse_time(const std::string& text) {
  if (text == "none") return model::kNoTime;
  if (auto iso = parse_iso8601(text); iso.ok()) return iso.value();
  return std::stoll(text);
}

std::string show_time(TimestampMs t) {
  return t == model::kNoTime ? "none" : format_iso8601_ms(t);
}

// A profile from JSON; a key "name:date" becomes a Date field and "name:times" a []time series.
Value parse_profile(const std::string& text) {
  model::JsonParser parser;
  auto parsed = parser.parse(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
  if (!parsed.ok() || !parsed->is_map()) return Value(model::ValueMap{});
  model::ValueMap out;
  for (auto& [key, value] : parsed->as_map()) {
    auto colon = key.rfind(':');
    std::string suffix = colon == std::string::npos ? "" : key.substr(colon + 1);
    std::string name = colon == std::string::npos ? key : key.substr(0, colon);
    auto to_ms = [](const Value& v) {
      return v.is_int() ? v.as_int() : parse_iso8601(v.as_string()).value();
    };
    if (suffix == "date") {
      out.emplace_back(name, Value(model::Date{to_ms(value)}));
    } else if (suffix == "times") {
      model::TimeSeries series;
      for (const Value& e : value.as_list()) series.push_back(to_ms(e));
      std::sort(series.rbegin(), series.rend());
      out.emplace_back(name, Value(std::move(series)));
    } else {
      out.emplace_back(key, value);
    }
  }
  model::normalize_map(out);
  return Value(std::move(out));
}

// eval.txt: "### name" starts a case; lines up to the first "profile:" are FILTER statements
// (each starts with FILTER), registered as one batch; the last one is checked. Then
// "profile: {json}", "now: <iso|ms>", "expect: true|false" (checks), "next: <iso|ms|none>"
// (checks next_change for the last expect).
TEST(SegmentGoldenTest, EvalCases) {
  auto lines = read_lines("eval.txt");
  int cases = 0, checks = 0;
  std::size_t i = 0;
  while (i < lines.size()) {
    if (!starts_with(lines[i], "### ")) {
      ++i;
      continue;
    }
    const std::string name = lines[i].substr(4);
    ++i;
    ++cases;
    std::vector<std::string> texts;
    while (i < lines.size() && !starts_with(lines[i], "profile:") && !starts_with(lines[i], "###")) {
      if (starts_with(lines[i], "FILTER") || starts_with(lines[i], "filter")) {
        texts.push_back(lines[i]);
      } else if (!texts.empty() && !starts_with(lines[i], "#")) {
        texts.back() += "\n" + lines[i];
      }
      ++i;
    }
    Catalog catalog;
    auto batch = catalog.register_batch(texts);
    bool registered = true;
    for (const auto& o : batch.outcomes) {
      if (!o.result.ok()) {
        ADD_FAILURE() << name << ": " << o.result.error().message;
        registered = false;
      }
    }
    if (!registered || texts.empty()) continue;
    const model::SegmentOrdinal ordinal = batch.outcomes.back().result.value();
    Value profile(model::ValueMap{});
    TimestampMs now = 0;
    bool have_expect = false;
    while (i < lines.size() && !starts_with(lines[i], "###")) {
      const std::string& line = lines[i++];
      auto colon = line.find(':');
      if (colon == std::string::npos || starts_with(line, "#")) continue;
      const std::string key = line.substr(0, colon);
      const std::string arg = trimmed(line.substr(colon + 1));
      model::MapFieldSource source(profile);
      if (key == "profile") {
        profile = parse_profile(arg);
      } else if (key == "now") {
        now = parse_time(arg);
      } else if (key == "expect") {
        ++checks;
        have_expect = true;
        EXPECT_EQ(catalog.evaluate(ordinal, source, now) ? "true" : "false", arg)
            << name << " at " << show_time(now) << " (" << to_json(profile) << ")";
      } else if (key == "next") {
        ++checks;
        EXPECT_TRUE(have_expect) << name << ": next without expect";
        EXPECT_EQ(show_time(catalog.next_change(ordinal, source, now)), show_time(parse_time(arg)))
            << name << " at " << show_time(now) << " (" << to_json(profile) << ")";
      }
    }
  }
  EXPECT_GT(cases, 40);
  std::cout << "eval.txt: " << cases << " cases, " << checks << " checks\n";
}

// errors.txt: consecutive non-blank lines are segment texts registered as one batch ("\n" in a
// line is a line break); then one "=> <outcome>" line per text: "ok" or the exact error message.
TEST(SegmentGoldenTest, ErrorCases) {
  auto lines = read_lines("errors.txt");
  int cases = 0;
  std::vector<std::string> texts;
  std::vector<std::string> expected;
  auto flush = [&] {
    if (texts.empty()) return;
    ++cases;
    EXPECT_EQ(texts.size(), expected.size()) << "case ending with " << texts.back();
    Catalog catalog;
    auto batch = catalog.register_batch(texts);
    for (std::size_t k = 0; k < texts.size() && k < expected.size(); ++k) {
      const auto& r = batch.outcomes[k].result;
      EXPECT_EQ(r.ok() ? "ok" : r.error().message, expected[k]) << texts[k];
    }
    texts.clear();
    expected.clear();
  };
  for (const std::string& line : lines) {
    if (line.empty() || starts_with(line, "#")) {
      flush();
      continue;
    }
    if (starts_with(line, "=> ")) {
      expected.push_back(line.substr(3));
    } else {
      if (!expected.empty()) flush();
      texts.push_back(unescape_newlines(line));
    }
  }
  flush();
  EXPECT_GT(cases, 30);
  std::cout << "errors.txt: " << cases << " cases\n";
}

}  // namespace
}  // namespace shoal::segment
