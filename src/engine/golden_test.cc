// Runs every src/engine/testdata/*.case through `run_replay` and compares the triggers.
// A case file has sections:
//   --- args      optional: replay flags (--identity-limit FIELD=N)
//   --- input     the JSON-lines history
//   --- expected  one line per trigger: <ts> <slug> <enter|exit> <reason> p<profile> <ids JSON>
//   --- stderr    optional: the exact diagnostics
// Lines starting with '#' before the first section describe the case.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/replay.h"
#include "model/json.h"

namespace shoal::engine {
namespace {

namespace fs = std::filesystem;

struct GoldenCase {
  std::string name;
  std::map<std::string, std::string> sections;
};

GoldenCase read_case(const fs::path& path) {
  GoldenCase c;
  c.name = path.stem().string();
  std::ifstream in(path);
  std::string line;
  std::string current;
  while (std::getline(in, line)) {
    if (line.rfind("--- ", 0) == 0) {
      current = line.substr(4);
      c.sections[current];
      continue;
    }
    if (current.empty()) continue;
    c.sections[current] += line + "\n";
  }
  return c;
}

// "<ts> <slug> <event> <reason> p<profile> <ids>" from a trigger JSON line.
std::string summarize(const std::string& json_line) {
  model::JsonParser parser;
  auto v = parser.parse(json_line);
  if (!v.ok() || !v->is_map()) return "UNPARSEABLE " + json_line;
  auto str = [&](std::string_view key) -> std::string {
    const model::Value* f = v->find(key);
    if (!f) return "?";
    if (f->is_string()) return f->as_string();
    return model::to_json(*f);
  };
  const model::Value* ids = v->find("ids");
  return str("ts") + " " + str("segment") + " " + str("event") + " " + str("reason") + " p" +
         str("profile") + " " + (ids ? model::to_json(*ids) : "?");
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(line);
  }
  return out;
}

std::vector<fs::path> case_files() {
  std::vector<fs::path> files;
  fs::path dir = fs::path(SHOAL_SOURCE_DIR) / "src/engine/testdata";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".case") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class GoldenTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenTest, ReplayProducesExpectedTriggers) {
  GoldenCase c = read_case(GetParam());
  ASSERT_TRUE(c.sections.count("input")) << c.name << ": no --- input section";
  ASSERT_TRUE(c.sections.count("expected")) << c.name << ": no --- expected section";
  ReplayOptions options;
  for (const std::string& arg : lines_of(c.sections["args"])) {
    std::stringstream words(arg);
    std::string flag, value;
    words >> flag >> value;
    ASSERT_EQ(flag, "--identity-limit") << c.name << ": unsupported arg " << arg;
    auto limit = parse_identity_limit(value);
    ASSERT_TRUE(limit.ok()) << limit.error().message;
    options.identity_limits.push_back(*limit);
  }
  std::stringstream in(c.sections["input"]);
  std::stringstream out, err;
  auto summary = run_replay(options, in, out, err);
  ASSERT_TRUE(summary.ok()) << summary.error().message;

  std::vector<std::string> actual;
  for (const std::string& line : lines_of(out.str())) actual.push_back(summarize(line));
  std::vector<std::string> expected = lines_of(c.sections["expected"]);
  std::string actual_text, expected_text;
  for (const auto& l : actual) actual_text += l + "\n";
  for (const auto& l : expected) expected_text += l + "\n";
  EXPECT_EQ(actual_text, expected_text) << "case " << c.name << "\nstderr:\n" << err.str();
  if (c.sections.count("stderr")) {
    EXPECT_EQ(err.str(), c.sections["stderr"]) << "case " << c.name;
  }

  // Determinism: a second run gives byte-identical output, ids included.
  std::stringstream in2(c.sections["input"]);
  std::stringstream out2, err2;
  ASSERT_TRUE(run_replay(options, in2, out2, err2).ok());
  EXPECT_EQ(out.str(), out2.str()) << "case " << c.name << " is not deterministic";
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenTest, ::testing::ValuesIn(case_files()),
                         [](const ::testing::TestParamInfo<fs::path>& param_info) {
                           std::string name = param_info.param.stem().string();
                           for (char& ch : name) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace shoal::engine
