#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/commands.h"
#include "core/thread_arena.h"
#include "engine/replay.h"

namespace shoal::app {
namespace {

struct ReplayArgs {
  std::vector<std::string> mapping_files;
  std::vector<std::string> limits;
  std::string data_dir;
  std::string input_path;
};

int run(const ReplayArgs& args) {
  engine::ReplayOptions options;
  options.data_dir = args.data_dir;
  for (const std::string& path : args.mapping_files) {
    std::ifstream file(path);
    if (!file) {
      std::cerr << "shoal replay: cannot read mapping file " << path << '\n';
      return 2;
    }
    std::stringstream text;
    text << file.rdbuf();
    options.mapping_texts.push_back(text.str());
  }
  for (const std::string& limit : args.limits) {
    auto parsed = engine::parse_identity_limit(limit);
    if (!parsed.ok()) {
      std::cerr << "shoal replay: " << parsed.error().message << '\n';
      return 2;
    }
    options.identity_limits.push_back(*parsed);
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.input_path != "-") {
    file.open(args.input_path);
    if (!file) {
      std::cerr << "shoal replay: cannot read " << args.input_path << '\n';
      return 2;
    }
    in = &file;
  }
  std::ios::sync_with_stdio(false);
  // The engine runs on this thread: its heap in an arena that keeps freed pages, as the
  // server's partition thread (core/thread_arena.h).
  use_retaining_arena();
  auto summary = engine::run_replay(options, *in, std::cout, std::cerr);
  std::cout.flush();
  if (!summary.ok()) {
    std::cerr << "shoal replay: " << summary.error().message << '\n';
    return 1;
  }
  return 0;
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replay", "Replay a JSON-lines history through the engine (the clock follows each record's "
                "ts) and print every audience enter/exit as a JSON line");
  cmd->add_option("--mapping", args->mapping_files, "Mapping (LQL) file; repeatable")
      ->check(CLI::ExistingFile);
  cmd->add_option("--identity-limit", args->limits,
                  "FIELD=N: at most N values of identity FIELD per profile; repeatable");
  cmd->add_option("--data-dir", args->data_dir,
                  "Keep the store in this new or empty directory (default: a temporary one, "
                  "removed at exit)");
  cmd->add_option("input", args->input_path, "Input JSON lines (- for standard input)")
      ->required();
  cmd->final_callback([args] { std::exit(run(*args)); });
}

}  // namespace shoal::app
