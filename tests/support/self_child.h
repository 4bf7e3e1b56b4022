#pragma once
// Crash tests run a copy of their own test binary as a child that the parent kills, or that
// exits without closing anything: start_self_as_child starts it running one test, with an
// environment variable that tells it it is the child and what to do. Header-only, so that any
// module's tests can use it without linking the rest of tests/support.
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace shoal::test {

// The child's pid, or -1 when fork failed; the child exits with 127 when exec fails.
inline pid_t start_self_as_child(const std::string& test_name, const char* env_name,
                                 const std::string& env_value) {
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string filter = "--gtest_filter=" + test_name;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv(env_name, env_value.c_str(), 1);
    ::execl(self.c_str(), self.c_str(), filter.c_str(), nullptr);
    ::_exit(127);
  }
  return pid;
}

}  // namespace shoal::test
