// Tests of the emulator harness itself (tests/support/kinesis_emulator.h): start, readiness,
// loopback binding, surviving an aborted upload, and stop by PID.
#include "tests/support/kinesis_emulator.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace shoal::test {
namespace {

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// One raw HTTP exchange; returns the status line (empty on failure).
std::string list_streams_status_line(int port) {
  int fd = connect_loopback(port);
  if (fd < 0) return "";
  const std::string body = "{}";
  const std::string request =
      "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
      "X-Amz-Target: Kinesis_20131202.ListStreams\r\n"
      "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
      "SignedHeaders=host, Signature=00\r\nX-Amz-Date: 20240101T000000Z\r\n"
      "Connection: close\r\nContent-Length: 2\r\n\r\n" + body;
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buffer[512];
  ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
  ::close(fd);
  if (n <= 0) return "";
  std::string reply(buffer, static_cast<std::size_t>(n));
  return reply.substr(0, reply.find("\r\n"));
}

class KinesaliteHarnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string reason = KinesisEmulator::unavailable_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
  }
};

TEST_F(KinesaliteHarnessTest, StartsOnAFreeLoopbackPortAndAnswers) {
  KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  EXPECT_GT(emulator.port(), 0);
  EXPECT_EQ(emulator.endpoint(), "http://127.0.0.1:" + std::to_string(emulator.port()));
  EXPECT_EQ(list_streams_status_line(emulator.port()), "HTTP/1.1 200 OK");
}

TEST_F(KinesaliteHarnessTest, SurvivesAClientThatAbortsMidBody) {
  KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  for (int i = 0; i < 3; ++i) {
    int fd = connect_loopback(emulator.port());
    ASSERT_GE(fd, 0);
    const std::string partial =
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 1000\r\n\r\n{\"Li";
    ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
    linger hard_close{1, 0};  // RST, as a client timing out would
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard_close, sizeof(hard_close));
    ::close(fd);
  }
  // kinesalite's own CLI dies about a second after such an abort; the wrapper must not.
  for (int i = 0; i < 15; ++i) {
    ASSERT_EQ(list_streams_status_line(emulator.port()), "HTTP/1.1 200 OK")
        << "after " << i * 100 << " ms: " << emulator.output();
    ::usleep(100 * 1000);
  }
  EXPECT_EQ(::kill(emulator.pid(), 0), 0);
}

TEST_F(KinesaliteHarnessTest, StopEndsTheChildProcessByPid) {
  KinesisEmulator emulator;
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  const pid_t pid = emulator.pid();
  const int port = emulator.port();
  emulator.stop();
  EXPECT_FALSE(emulator.running());
  // Reaped: the PID no longer names our child.
  EXPECT_NE(::kill(pid, 0), 0);
  EXPECT_EQ(connect_loopback(port), -1);
  emulator.stop();  // idempotent
}

TEST_F(KinesaliteHarnessTest, DestructorStopsTheChild) {
  pid_t pid = -1;
  {
    KinesisEmulator emulator;
    ASSERT_TRUE(emulator.start().ok()) << emulator.output();
    pid = emulator.pid();
  }
  EXPECT_NE(::kill(pid, 0), 0);
}

TEST(KinesisEmulatorTest, ReportsWhyItCannotRunWhenNodeModulesAreMissing) {
  KinesisEmulatorOptions options;
  options.source_dir = "/nonexistent-shoal-root";
  std::string reason = KinesisEmulator::unavailable_reason(options);
  ASSERT_FALSE(reason.empty());
  EXPECT_TRUE(reason.find("npm ci") != std::string::npos ||
              reason.find("node is not on PATH") != std::string::npos)
      << reason;
  KinesisEmulator emulator(options);
  Status started = emulator.start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(emulator.running());
}

TEST(KinesisLocalHarnessTest, StartsOnLoopbackWithInitialStreams) {
  KinesisEmulatorOptions options;
  options.kind = EmulatorKind::kKinesisLocal;
  options.initialize_streams = "harness-stream:1";
  if (std::string reason = KinesisEmulator::unavailable_reason(options); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  KinesisEmulator emulator(options);
  ASSERT_TRUE(emulator.start().ok()) << emulator.output();
  EXPECT_EQ(list_streams_status_line(emulator.port()), "HTTP/1.1 200 OK");
  const pid_t pid = emulator.pid();
  emulator.stop();
  EXPECT_NE(::kill(pid, 0), 0);
}

}  // namespace
}  // namespace shoal::test
