// shoal's command line: the only place that knows every concrete type.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"shoal: a self-hosted real-time audience engine for AWS Kinesis"};
  app.set_version_flag("--version", "shoal 0.1.0");
  app.require_subcommand(1);
  shoal::app::add_serve_command(app);
  shoal::app::add_replay_command(app);
  shoal::app::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "shoal: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
