#pragma once
// KinesisEmulator: runs a Kinesis emulator from the repository's node_modules as a child process
// on a free 127.0.0.1 port, so `ctest` alone can run integration tests.
//  - kKinesalite: tests/support/kinesalite_server.js (loopback only, survives aborted uploads,
//    state changes take 0 ms). The default: fast, AWS-like messages.
//  - kKinesisLocal: kinesis-mock (npm kinesis-local) through the loopback preload, for what
//    kinesalite lacks (StreamARN, ShardFilter, ChildShards, UpdateShardCount). Slow; keep data tiny.
// The child is stopped by its PID (only the PID this object started) in stop() and the
// destructor; it also exits by itself when this process dies (its stdin is a pipe from us).
// Threading: one owner thread.
#include <sys/types.h>

#include <chrono>
#include <string>

#include "core/result.h"

namespace shoal::test {

enum class EmulatorKind { kKinesalite, kKinesisLocal };

struct KinesisEmulatorOptions {
  EmulatorKind kind = EmulatorKind::kKinesalite;
  // Repository root holding node_modules/ and tests/support/. Empty: $SHOAL_SOURCE_DIR, else the
  // working directory (ctest runs tests from the repository root).
  std::string source_dir;
  std::chrono::milliseconds start_timeout{30000};
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
  // kinesis-local only: streams that exist (ACTIVE) before the port opens, e.g. "s1:2,s2:4".
  std::string initialize_streams;
};

class KinesisEmulator {
 public:
  explicit KinesisEmulator(KinesisEmulatorOptions options = {});
  ~KinesisEmulator();
  KinesisEmulator(const KinesisEmulator&) = delete;
  KinesisEmulator& operator=(const KinesisEmulator&) = delete;

  // Why this emulator cannot run on this machine (no node on PATH, node_modules not installed),
  // or an empty string when it can. Tests GTEST_SKIP with this message.
  static std::string unavailable_reason(const KinesisEmulatorOptions& options = {});

  // Starts the child and waits until it accepts connections (bounded by start_timeout).
  Status start();
  // SIGTERM to the child's PID, then SIGKILL after 3 s; reaps it. Idempotent.
  void stop();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string endpoint() const;  // "http://127.0.0.1:<port>"
  // The child's combined stdout and stderr so far, for failure messages.
  std::string output() const;

 private:
  Status start_kinesalite(const std::string& root);
  Status start_kinesis_local(const std::string& root);

  KinesisEmulatorOptions options_;
  pid_t pid_ = -1;
  int port_ = 0;
  int stdin_fd_ = -1;  // our end of the child's stdin; closing it tells the child to exit
  std::string log_path_;
};

// The repository root the harness uses for `options` (see KinesisEmulatorOptions::source_dir).
std::string resolve_source_dir(const std::string& source_dir);

// A TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then closed).
Result<int> pick_free_loopback_port();

}  // namespace shoal::test
