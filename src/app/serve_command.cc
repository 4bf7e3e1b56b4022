// `shoal serve`: the REST API over the embedded store. Options come from flags, then SHOAL_*
// environment variables, then the TOML file given with --config, then defaults.
#include <CLI/CLI.hpp>
#include <pthread.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <toml++/toml.h>

#include "app/commands.h"
#include "engine/partition.h"
#include "engine/replay.h"
#include "http/api.h"
#include "http/api_keys.h"
#include "http/secret_box.h"
#include "http/server.h"
#include "export/exporter.h"
#include "http/export_workflow.h"
#include "http/import_workflow.h"

namespace shoal::app {
namespace {

struct ServeConfig {
  std::string config_path;
  std::string listen = "127.0.0.1:8470";
  std::string data_dir = "./shoal-data";
  int threads = 2;
  std::size_t max_body_bytes = 16u << 20;
  std::size_t max_connections = 4096;
  int header_timeout_ms = 10000;
  int body_timeout_ms = 30000;
  int commit_interval_ms = 5;
  std::size_t cache_mb = 1024;
  bool sync_writes = false;
  std::vector<std::string> identity_limits;
  std::string master_key_file;  // empty: <data_dir>/master.key
};

// Fills every option not given as a flag or environment variable from the TOML file.
Status apply_toml(const std::string& path, CLI::App& cmd, ServeConfig& config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return make_error(ErrorCode::kInvalidArgument,
                      path + " line " + std::to_string(where.line) + ", col " +
                          std::to_string(where.column) + ": " + std::string(e.description()));
  }
  auto unset = [&](const char* flag) { return cmd.get_option(flag)->count() == 0; };
  Status status;
  auto take = [&](const char* key, const char* flag, auto& target) {
    if (!unset(flag) || !table.contains(key)) return;
    using T = std::decay_t<decltype(target)>;
    if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = table[key].value<std::string>()) {
        target = *v;
        return;
      }
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = table[key].value<bool>()) {
        target = *v;
        return;
      }
    } else {
      if (auto v = table[key].value<std::int64_t>(); v && *v >= 0) {
        target = static_cast<T>(*v);
        return;
      }
    }
    status = make_error(ErrorCode::kInvalidArgument,
                        path + ": '" + key + "' has the wrong type");
  };
  take("listen", "--listen", config.listen);
  take("data_dir", "--data-dir", config.data_dir);
  take("threads", "--threads", config.threads);
  take("max_body_bytes", "--max-body-bytes", config.max_body_bytes);
  take("max_connections", "--max-connections", config.max_connections);
  take("header_timeout_ms", "--header-timeout-ms", config.header_timeout_ms);
  take("body_timeout_ms", "--body-timeout-ms", config.body_timeout_ms);
  take("commit_interval_ms", "--commit-interval-ms", config.commit_interval_ms);
  take("cache_mb", "--cache-mb", config.cache_mb);
  take("sync_writes", "--sync-writes", config.sync_writes);
  take("master_key_file", "--master-key-file", config.master_key_file);
  if (unset("--identity-limit")) {
    if (const toml::array* limits = table["identity_limits"].as_array()) {
      for (const auto& item : *limits) {
        if (auto v = item.value<std::string>()) config.identity_limits.push_back(*v);
      }
    }
  }
  return status;
}

Result<std::pair<std::string, std::uint16_t>> split_listen(const std::string& listen) {
  std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "listen address '" + listen + "' must read HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return std::pair{host, static_cast<std::uint16_t>(port)};
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInvalidArgument,
                      "listen address '" + listen + "' has no valid port");
  }
}

int run(const ServeConfig& config) {
  auto fail = [](const std::string& message) {
    std::cerr << "shoal serve: " << message << '\n';
    return 1;
  };
  auto address = split_listen(config.listen);
  if (!address.ok()) return fail(address.error().message);
  engine::EngineOptions engine_options;
  engine_options.synchronous_segment_builds = false;
  engine_options.profile_cache_bytes = config.cache_mb << 20;
  // Triggers reach users through export subscriptions, whose outboxes are committed by the
  // exporter's commit observer; a global trigger log would be written and erased unread.
  engine_options.trigger_log = false;
  for (const std::string& text : config.identity_limits) {
    auto limit = engine::parse_identity_limit(text);
    if (!limit.ok()) return fail(limit.error().message);
    engine_options.identity_limits.push_back(*limit);
  }
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  storage::StoreOptions store_options;
  store_options.sync_writes = config.sync_writes;
  auto store = storage::Store::open(config.data_dir, store_options);
  if (!store.ok()) return fail("cannot open the store in " + config.data_dir + ": " +
                               store.error().message);
  WallClock clock;
  http::ApiKeys keys(**store);
  if (Status loaded = keys.load(); !loaded.ok()) return fail(loaded.error().message);
  const char* env_key = std::getenv("SHOAL_ADMIN_KEY");
  auto admin = http::ensure_admin_key(keys, env_key ? env_key : "", clock.now_ms());
  if (!admin.ok()) return fail(admin.error().message);
  const char* env_master = std::getenv("SHOAL_MASTER_KEY");
  std::string master_path = config.master_key_file.empty()
                                ? (std::filesystem::path(config.data_dir) / "master.key").string()
                                : config.master_key_file;
  auto master = http::load_master_key(master_path, env_master ? env_master : "");
  if (!master.ok()) return fail(master.error().message);
  http::Authorizations authorizations(**store, master->key);
  if (Status loaded = authorizations.load(); !loaded.ok()) return fail(loaded.error().message);
  // Trigger export: the commit observer writes per-subscription outboxes inside each commit.
  http::ExportWiring export_wiring(&authorizations, "");
  exports::Exporter exporter(**store, clock, export_wiring.sink_factory());
  if (Status loaded = exporter.load(); !loaded.ok()) return fail(loaded.error().message);
  engine_options.commit_observer = exporter.commit_observer();

  // Signals are taken by this thread only: block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  engine::PartitionOptions partition_options;
  partition_options.commit_interval = std::chrono::milliseconds(config.commit_interval_ms);
  // Released triggers wake the exporter's deliverers.
  engine::Partition partition(**store, engine_options, clock, partition_options,
                              exporter.trigger_sink());
  if (Status started = partition.start(); !started.ok()) return fail(started.error().message);
  exporter.start(partition);
  // Workflows (Kinesis import, export) register here before the stored jobs start.
  http::Jobs jobs(**store, clock);
  http::add_import_workflow(jobs, partition, **store, &authorizations, clock);
  jobs.add_workflow(export_wiring.workflow(exporter));
  if (Status loaded = jobs.load(); !loaded.ok()) return fail(loaded.error().message);
  jobs.start_all(clock.now_ms());
  http::Api api(partition, keys, **store, clock, {}, &authorizations, &jobs);
  api.set_exporter(&exporter);
  http::ServerOptions server_options;
  server_options.address = address->first;
  server_options.port = address->second;
  server_options.threads = config.threads;
  server_options.max_body_bytes = config.max_body_bytes;
  server_options.max_connections = config.max_connections;
  server_options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  server_options.body_timeout = std::chrono::milliseconds(config.body_timeout_ms);
  http::Server server(server_options, [&api](http::Request request, http::Responder respond) {
    api.handle(std::move(request), std::move(respond));
  });
  if (Status started = server.start(); !started.ok()) {
    jobs.stop_all();
    exporter.stop();
    partition.stop();
    return fail(started.error().message);
  }
  std::cout << "shoal serve: listening on http://" << config.listen.substr(0, config.listen.rfind(':'))
            << ':' << server.port() << " (data directory " << config.data_dir << ")\n";
  if (master->created) {
    std::cout << "shoal serve: created the master key " << master_path
              << " (mode 0600; it encrypts stored AWS secrets: back it up, keep it private)\n";
  }
  if (admin.value()) {
    std::cout << "shoal serve: first start: admin API key (shown only now; keep it): "
              << *admin.value() << '\n';
  }
  std::cout.flush();
  int signal = 0;
  sigwait(&signals, &signal);
  std::cout << "shoal serve: stopping (" << (signal == SIGINT ? "SIGINT" : "SIGTERM") << ")\n";
  server.stop();
  jobs.stop_all();
  exporter.stop();
  partition.stop();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto config = std::make_shared<ServeConfig>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the REST API (collect, profiles, segments, mappings, keys, metrics) on the "
               "embedded store");
  cmd->add_option("--config", config->config_path, "TOML file with any of the options below")
      ->envname("SHOAL_CONFIG")
      ->check(CLI::ExistingFile);
  cmd->add_option("--listen", config->listen, "HOST:PORT to listen on")
      ->envname("SHOAL_LISTEN")
      ->capture_default_str();
  cmd->add_option("--data-dir", config->data_dir, "Directory of the store (created if absent)")
      ->envname("SHOAL_DATA_DIR")
      ->capture_default_str();
  cmd->add_option("--threads", config->threads, "HTTP I/O threads")
      ->envname("SHOAL_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", config->max_body_bytes,
                  "Largest request body; larger ones get 413")
      ->envname("SHOAL_MAX_BODY_BYTES")
      ->capture_default_str();
  cmd->add_option("--max-connections", config->max_connections,
                  "Open connections beyond this get 503")
      ->envname("SHOAL_MAX_CONNECTIONS")
      ->capture_default_str();
  cmd->add_option("--header-timeout-ms", config->header_timeout_ms,
                  "Time to receive a request's headers (also the keep-alive idle time)")
      ->envname("SHOAL_HEADER_TIMEOUT_MS")
      ->capture_default_str();
  cmd->add_option("--body-timeout-ms", config->body_timeout_ms, "Time to receive a request body")
      ->envname("SHOAL_BODY_TIMEOUT_MS")
      ->capture_default_str();
  cmd->add_option("--commit-interval-ms", config->commit_interval_ms,
                  "Longest time events wait to be committed together (group commit)")
      ->envname("SHOAL_COMMIT_INTERVAL_MS")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--cache-mb", config->cache_mb,
                  "Memory for cached profiles, in MiB (approximate); the least recently used "
                  "beyond it are read back from the store when needed")
      ->envname("SHOAL_CACHE_MB")
      ->check(CLI::Range(std::size_t{16}, std::size_t{1} << 24))
      ->capture_default_str();
  cmd->add_flag("--sync-writes", config->sync_writes,
                "fsync the write-ahead log on every commit (power-loss safe, slower)")
      ->envname("SHOAL_SYNC_WRITES");
  cmd->add_option("--master-key-file", config->master_key_file,
                  "32-byte key that encrypts stored AWS secrets; created (0600) if absent "
                  "(default: <data-dir>/master.key; SHOAL_MASTER_KEY=<64 hex> instead of a file)")
      ->envname("SHOAL_MASTER_KEY_FILE");
  cmd->add_option("--identity-limit", config->identity_limits,
                  "FIELD=N: at most N values of identity FIELD per profile; repeatable")
      ->envname("SHOAL_IDENTITY_LIMIT")
      ->delimiter(',');
  cmd->footer(
      "The first admin API key comes from SHOAL_ADMIN_KEY, or is generated on first start and "
      "printed once. Precedence: flag, then SHOAL_* variable, then --config file, then default.");
  cmd->final_callback([config, cmd] {
    if (!config->config_path.empty()) {
      Status applied = apply_toml(config->config_path, *cmd, *config);
      if (!applied.ok()) {
        std::cerr << "shoal serve: " << applied.error().message << '\n';
        std::exit(2);
      }
    }
    std::exit(run(*config));
  });
}

}  // namespace shoal::app
