#pragma once
// Each subcommand of `shoal` registers itself on the CLI from its own file, so main.cc stays
// a list of calls.
namespace CLI {
class App;
}

namespace shoal::app {

void add_replay_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace shoal::app
