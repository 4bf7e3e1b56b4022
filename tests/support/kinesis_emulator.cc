#include "tests/support/kinesis_emulator.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace shoal::test {
namespace {

using Clock = std::chrono::steady_clock;

bool is_executable(const std::filesystem::path& path) {
  return ::access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path);
}

bool node_on_path() {
  const char* path_env = std::getenv("PATH");
  if (path_env == nullptr) return false;
  std::stringstream dirs(path_env);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && is_executable(std::filesystem::path(dir) / "node")) return true;
  }
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

bool can_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// Spawns `argv` with extra environment variables, stdin from `stdin_fd`, stdout and stderr to
// `log_path`. Returns the child's PID.
Result<pid_t> spawn_child(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env, int stdin_fd,
                          const std::string& log_path, const std::string& cwd) {
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& e : extra_env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_storage = argv;
  std::vector<char*> argvp;
  for (auto& a : argv_storage) argvp.push_back(a.data());
  argvp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argvp[0], &actions, nullptr, argvp.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return make_error(ErrorCode::kUnavailable,
                      "cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  return pid;
}

}  // namespace

std::string resolve_source_dir(const std::string& source_dir) {
  if (!source_dir.empty()) return source_dir;
  if (const char* env = std::getenv("SHOAL_SOURCE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return std::filesystem::current_path().string();
}

Result<int> pick_free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, std::string("bind 127.0.0.1:0: ") + std::strerror(err));
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

KinesisEmulator::KinesisEmulator(KinesisEmulatorOptions options) : options_(std::move(options)) {}

KinesisEmulator::~KinesisEmulator() {
  stop();
  if (!log_path_.empty()) ::unlink(log_path_.c_str());
}

std::string KinesisEmulator::unavailable_reason(const KinesisEmulatorOptions& options) {
  if (!node_on_path()) {
    return "node is not on PATH; install Node.js (scripts/install-deps) to run the Kinesis "
           "emulator tests";
  }
  const std::filesystem::path root = resolve_source_dir(options.source_dir);
  const std::filesystem::path package =
      options.kind == EmulatorKind::kKinesalite ? root / "node_modules/kinesalite/index.js"
                                                : root / "node_modules/kinesis-local/main.js";
  if (!std::filesystem::exists(package)) {
    return package.string() + " is missing; run 'npm ci' in " + root.string() +
           " (scripts/install-deps does) to run the Kinesis emulator tests";
  }
  return "";
}

std::string KinesisEmulator::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string KinesisEmulator::output() const {
  return log_path_.empty() ? std::string() : read_file(log_path_);
}

Status KinesisEmulator::start() {
  if (running()) return make_error(ErrorCode::kFailedPrecondition, "emulator already running");
  if (std::string reason = unavailable_reason(options_); !reason.empty()) {
    return make_error(ErrorCode::kUnavailable, reason);
  }
  if (log_path_.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "shoal-kinesis-emulator-XXXXXX").string();
    int fd = ::mkstemp(pattern.data());
    if (fd < 0) return make_error(ErrorCode::kIo, std::string("mkstemp: ") + std::strerror(errno));
    ::close(fd);
    log_path_ = pattern;
  }
  const std::string root = resolve_source_dir(options_.source_dir);
  Status started = options_.kind == EmulatorKind::kKinesalite ? start_kinesalite(root)
                                                               : start_kinesis_local(root);
  if (!started.ok()) {
    std::string log = output();
    stop();
    return make_error(started.error().code,
                      started.error().message + (log.empty() ? "" : "; output: " + log));
  }
  return ok_status();
}

Status KinesisEmulator::start_kinesalite(const std::string& root) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return make_error(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> argv = {"node", root + "/tests/support/kinesalite_server.js",
                                   "--port", "0", "--exit-with-stdin"};
  std::vector<std::string> env = {"AWS_ACCOUNT_ID=" + options_.account_id,
                                  "AWS_REGION=" + options_.region};
  auto pid = spawn_child(argv, env, pipe_fds[0], log_path_, root);
  ::close(pipe_fds[0]);
  if (!pid.ok()) {
    ::close(pipe_fds[1]);
    return pid.take_error();
  }
  pid_ = *pid;
  stdin_fd_ = pipe_fds[1];

  const std::string marker = "kinesalite listening on 127.0.0.1:";
  const auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    std::string log = output();
    if (auto at = log.find(marker); at != std::string::npos) {
      auto end = log.find('\n', at);
      if (end != std::string::npos) {
        port_ = std::atoi(log.substr(at + marker.size(), end - at - marker.size()).c_str());
        if (port_ > 0) return ok_status();
      }
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return make_error(ErrorCode::kUnavailable, "kinesalite exited before listening");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return make_error(ErrorCode::kTimeout, "kinesalite did not listen within " +
                                             std::to_string(options_.start_timeout.count()) +
                                             " ms");
}

Status KinesisEmulator::start_kinesis_local(const std::string& root) {
  SHOAL_ASSIGN_OR_RETURN(int plain_port, pick_free_loopback_port());
  SHOAL_ASSIGN_OR_RETURN(int tls_port, pick_free_loopback_port());
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return make_error(ErrorCode::kIo, std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<std::string> argv = {"node", "-r", root + "/tests/support/kinesis_local_loopback.js",
                                   root + "/node_modules/kinesis-local/main.js"};
  std::vector<std::string> env = {
      "SHOAL_EXIT_WITH_STDIN=1",
      "LOG_LEVEL=WARN",
      "KINESIS_MOCK_CERT_PATH=" + root + "/node_modules/kinesis-local/server.json",
      "KINESIS_MOCK_PLAIN_PORT=" + std::to_string(plain_port),
      "KINESIS_MOCK_TLS_PORT=" + std::to_string(tls_port),
      "CREATE_STREAM_DURATION=0ms",
      "DELETE_STREAM_DURATION=0ms",
      "MERGE_SHARDS_DURATION=0ms",
      "SPLIT_SHARD_DURATION=0ms",
      "UPDATE_SHARD_COUNT_DURATION=0ms",
      "SHARD_LIMIT=1000",
      "AWS_ACCOUNT_ID=" + options_.account_id,
      "AWS_REGION=" + options_.region,
  };
  if (!options_.initialize_streams.empty()) {
    env.push_back("INITIALIZE_STREAMS=" + options_.initialize_streams);
  }
  auto pid = spawn_child(argv, env, pipe_fds[0], log_path_, root);
  ::close(pipe_fds[0]);
  if (!pid.ok()) {
    ::close(pipe_fds[1]);
    return pid.take_error();
  }
  pid_ = *pid;
  stdin_fd_ = pipe_fds[1];

  const auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    if (can_connect(plain_port)) {
      port_ = plain_port;
      return ok_status();
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return make_error(ErrorCode::kUnavailable, "kinesis-local exited before listening");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return make_error(ErrorCode::kTimeout, "kinesis-local did not listen on 127.0.0.1:" +
                                             std::to_string(plain_port) + " within " +
                                             std::to_string(options_.start_timeout.count()) +
                                             " ms");
}

void KinesisEmulator::stop() {
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  int status = 0;
  while (Clock::now() < deadline) {
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      pid_ = -1;
      port_ = 0;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  port_ = 0;
}

}  // namespace shoal::test
