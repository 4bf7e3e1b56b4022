// shoal's command line: the only place that knows every concrete type.
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include "engine/replay.h"

namespace {

int run_replay_command(const std::vector<std::string>& mapping_files,
                       const std::vector<std::string>& limits, const std::string& data_dir,
                       const std::string& input_path) {
  shoal::engine::ReplayOptions options;
  options.data_dir = data_dir;
  for (const std::string& path : mapping_files) {
    std::ifstream file(path);
    if (!file) {
      std::cerr << "shoal replay: cannot read mapping file " << path << '\n';
      return 2;
    }
    std::stringstream text;
    text << file.rdbuf();
    options.mapping_texts.push_back(text.str());
  }
  for (const std::string& limit : limits) {
    auto parsed = shoal::engine::parse_identity_limit(limit);
    if (!parsed.ok()) {
      std::cerr << "shoal replay: " << parsed.error().message << '\n';
      return 2;
    }
    options.identity_limits.push_back(*parsed);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (input_path != "-") {
    file.open(input_path);
    if (!file) {
      std::cerr << "shoal replay: cannot read " << input_path << '\n';
      return 2;
    }
    in = &file;
  }
  std::ios::sync_with_stdio(false);
  auto summary = shoal::engine::run_replay(options, *in, std::cout, std::cerr);
  std::cout.flush();
  if (!summary.ok()) {
    std::cerr << "shoal replay: " << summary.error().message << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shoal: a self-hosted real-time audience engine for AWS Kinesis"};
  app.set_version_flag("--version", "shoal 0.1.0");
  app.require_subcommand(1);

  auto* replay = app.add_subcommand(
      "replay", "Replay a JSON-lines history through the engine (the clock follows each record's "
                "ts) and print every audience enter/exit as a JSON line");
  std::vector<std::string> mapping_files;
  std::vector<std::string> limits;
  std::string data_dir;
  std::string input_path;
  replay->add_option("--mapping", mapping_files, "Mapping (LQL) file; repeatable")
      ->check(CLI::ExistingFile);
  replay->add_option("--identity-limit", limits,
                     "FIELD=N: at most N values of identity FIELD per profile; repeatable");
  replay->add_option("--data-dir", data_dir,
                     "Keep the store in this new or empty directory (default: a temporary one, "
                     "removed at exit)");
  replay->add_option("input", input_path, "Input JSON lines (- for standard input)")->required();

  CLI11_PARSE(app, argc, argv);
  try {
    if (replay->parsed()) {
      return run_replay_command(mapping_files, limits, data_dir, input_path);
    }
  } catch (const std::exception& e) {
    std::cerr << "shoal: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
