#include "core/thread_arena.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/support/self_child.h"

namespace shoal {
namespace {

// The test binaries run on glibc malloc; jemalloc is loaded beside it (RTLD_LOCAL: nothing
// binds to its malloc) to check the arena settings against the real allocator. Its thread-local
// block needs more static TLS than glibc leaves for dlopen: the test runs in a child started
// with more (the tunable's variable also marks the child).
constexpr const char* kTunables = "GLIBC_TUNABLES";
constexpr const char* kMoreStaticTls = "glibc.rtld.optional_static_tls=65536";

Mallctl local_jemalloc() {
  static void* handle = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_LOCAL);
  return handle ? reinterpret_cast<Mallctl>(dlsym(handle, "mallctl")) : nullptr;
}

// jemalloc's mallctl here, or nullptr when the running test ran in a child (its result
// reported) or must be skipped (`skip` says why).
Mallctl jemalloc_or_child(std::string& skip) {
  if (Mallctl mallctl = local_jemalloc()) return mallctl;
  const char* tunables = std::getenv(kTunables);
  if (tunables != nullptr && std::string(tunables) == kMoreStaticTls) {
    ADD_FAILURE() << "libjemalloc.so.2 not loadable with more static TLS: " << dlerror();
    return nullptr;
  }
  if (!std::filesystem::exists("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2") &&
      !std::filesystem::exists("/lib/x86_64-linux-gnu/libjemalloc.so.2")) {
    skip = "libjemalloc.so.2 is not installed (scripts/install-deps installs it)";
    return nullptr;
  }
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const pid_t child = test::start_self_as_child(
      std::string(info->test_suite_name()) + "." + info->name(), kTunables, kMoreStaticTls);
  if (child < 0) {
    ADD_FAILURE() << "fork failed";
    return nullptr;
  }
  int status = 0;
  EXPECT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child running the test with jemalloc failed (status " << status << ")";
  return nullptr;
}

TEST(ThreadArenaTest, WithoutJemallocNothingChanges) {
  EXPECT_EQ(process_mallctl(), nullptr) << "the test binaries are expected on glibc malloc";
  EXPECT_EQ(use_retaining_arena(nullptr), -1);
  EXPECT_EQ(describe_thread_arena(nullptr), "");
}

TEST(ThreadArenaTest, GivesTheThreadAnArenaThatKeepsFreedPages) {
  std::string skip;
  const Mallctl mallctl = jemalloc_or_child(skip);
  if (!skip.empty()) GTEST_SKIP() << skip;
  if (mallctl == nullptr) return;
  // On a thread of its own, so the arena change does not follow the other tests.
  std::thread([&] {
    unsigned before = 0;
    std::size_t size = sizeof(before);
    ASSERT_EQ(mallctl("thread.arena", &before, &size, nullptr, 0), 0);
    const int arena = use_retaining_arena(mallctl);
    ASSERT_GE(arena, 0);
    EXPECT_NE(static_cast<unsigned>(arena), before);
    unsigned now = 0;
    size = sizeof(now);
    ASSERT_EQ(mallctl("thread.arena", &now, &size, nullptr, 0), 0);
    EXPECT_EQ(now, static_cast<unsigned>(arena));
    for (const char* setting : {"dirty_decay_ms", "muzzy_decay_ms"}) {
      ssize_t decay = 0;
      size = sizeof(decay);
      const std::string key = "arena." + std::to_string(arena) + "." + setting;
      ASSERT_EQ(mallctl(key.c_str(), &decay, &size, nullptr, 0), 0) << key;
      EXPECT_EQ(decay, -1) << key;
    }
    EXPECT_EQ(describe_thread_arena(mallctl),
              "arena " + std::to_string(arena) + " (freed pages kept)");
  }).join();
}

TEST(ThreadArenaTest, DescribesASharedArenaByItsDecay) {
  std::string skip;
  const Mallctl mallctl = jemalloc_or_child(skip);
  if (!skip.empty()) GTEST_SKIP() << skip;
  if (mallctl == nullptr) return;
  std::thread([&] {
    unsigned arena = 0;
    std::size_t size = sizeof(arena);
    ASSERT_EQ(mallctl("thread.arena", &arena, &size, nullptr, 0), 0);
    EXPECT_EQ(describe_thread_arena(mallctl).rfind(
                  "arena " + std::to_string(arena) + " (dirty pages purged after ", 0),
              0u)
        << describe_thread_arena(mallctl);
  }).join();
}

}  // namespace
}  // namespace shoal
