// An acknowledged collect survives kill -9: a child process runs the server, the parent posts
// events, kills the child without warning and reads the store itself.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "engine/engine.h"
#include "http/api.h"
#include "http/server.h"

namespace shoal::http {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAdmin = "crash-test-admin-key-0123";

[[noreturn]] void serve_in_child(const std::string& dir, int port_pipe) {
  auto store = storage::Store::open(dir, {});
  if (!store.ok()) _exit(10);
  ApiKeys keys(**store);
  if (!keys.load().ok() || !ensure_admin_key(keys, kAdmin, 0).ok()) _exit(11);
  WallClock clock;
  engine::EngineOptions engine_options;
  engine_options.synchronous_segment_builds = false;
  engine::Partition partition(**store, engine_options, clock, {}, nullptr);
  if (!partition.start().ok()) _exit(12);
  Api api(partition, keys, **store, clock);
  ServerOptions options;
  options.port = 0;
  Server server(options, [&api](Request r, Responder respond) {
    api.handle(std::move(r), std::move(respond));
  });
  if (!server.start().ok()) _exit(13);
  std::uint16_t port = server.port();
  if (write(port_pipe, &port, sizeof port) != sizeof port) _exit(14);
  for (;;) pause();
}

long post(std::uint16_t port, const std::string& path, const std::string& body) {
  CURL* curl = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_slist* headers = curl_slist_append(nullptr, (std::string("Authorization: ") + kAdmin).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, +[](char*, std::size_t s, std::size_t n, void*) {
    return s * n;
  });
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

TEST(CrashTest, AnAcknowledgedCollectSurvivesKill9) {
  fs::path dir = fs::temp_directory_path() / ("shoal_crash_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    serve_in_child(dir.string(), fds[1]);
  }
  close(fds[1]);
  std::uint16_t port = 0;
  ASSERT_EQ(read(fds[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  close(fds[0]);
  EXPECT_EQ(post(port, "/api/query", "SELECT user_id, plan FROM events INTO user BY user_id"), 201);
  std::string events;
  for (int i = 0; i < 200; ++i) {
    events += "{\"user_id\":\"u" + std::to_string(i) + "\",\"plan\":\"pro\"}\n";
  }
  EXPECT_EQ(post(port, "/collect/json/events", events), 200);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto store = storage::Store::open(dir.string(), {});
  ASSERT_TRUE(store.ok());
  engine::Engine engine(**store, {});
  ASSERT_TRUE(engine.open().ok());
  for (int i = 0; i < 200; ++i) {
    auto profile = engine.find_profile("user_id", "u" + std::to_string(i));
    ASSERT_TRUE(profile.ok() && profile.value()) << "u" << i;
    EXPECT_EQ(profile.value()->field("plan")->value.as_string(), "pro");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace shoal::http
