// The server's own limits, with a trivial handler: slow clients, the connection cap, keep-alive.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/server.h"

namespace shoal::http {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void start(ServerOptions options) {
    options.port = 0;
    server_ = std::make_unique<Server>(options, [](Request request, Responder respond) {
      respond(envelope(200, "ok", "\"" + request.method + "\""));
    });
    ASSERT_TRUE(server_->start().ok());
  }
  int connect_client() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    return fd;
  }
  // Reads until the peer closes or `timeout_ms` passes; returns what arrived and whether the
  // connection was closed.
  std::pair<std::string, bool> read_all(int fd, int timeout_ms) {
    std::string out;
    char buffer[4096];
    for (int waited = 0; waited < timeout_ms; waited += 50) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return {out, true};
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return {out, false};
  }
  void send_text(int fd, const std::string& text) {
    ASSERT_EQ(send(fd, text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
  }
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ClosesAClientThatNeverFinishesItsHeaders) {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(200);
  start(options);
  int fd = connect_client();
  send_text(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n");  // no blank line: headers never end
  auto [text, closed] = read_all(fd, 5000);
  EXPECT_TRUE(closed);
  close(fd);
}

TEST_F(ServerTest, ClosesAClientThatNeverSendsItsBody) {
  ServerOptions options;
  options.body_timeout = std::chrono::milliseconds(200);
  start(options);
  int fd = connect_client();
  send_text(fd, "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
  auto [text, closed] = read_all(fd, 5000);
  EXPECT_TRUE(closed);
  close(fd);
}

TEST_F(ServerTest, AnswersConnectionsBeyondTheCapWith503) {
  ServerOptions options;
  options.max_connections = 1;
  start(options);
  int first = connect_client();
  send_text(first, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  auto [first_reply, first_closed] = read_all(first, 300);
  EXPECT_NE(first_reply.find("200 OK"), std::string::npos);
  EXPECT_FALSE(first_closed);  // keep-alive
  int second = connect_client();
  auto [second_reply, second_closed] = read_all(second, 5000);
  EXPECT_NE(second_reply.find("503"), std::string::npos) << second_reply;
  EXPECT_TRUE(second_closed);
  close(first);
  close(second);
}

TEST_F(ServerTest, ServesSeveralRequestsOnOneConnectionAndRejectsGarbage) {
  start({});
  int fd = connect_client();
  send_text(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nDELETE /b HTTP/1.1\r\nHost: x\r\n\r\n");
  auto [replies, closed] = read_all(fd, 300);
  EXPECT_NE(replies.find("\"GET\""), std::string::npos);
  EXPECT_NE(replies.find("\"DELETE\""), std::string::npos);
  EXPECT_FALSE(closed);
  send_text(fd, "NOT HTTP AT ALL\r\n\r\n");
  auto [bad, bad_closed] = read_all(fd, 5000);
  EXPECT_NE(bad.find("400"), std::string::npos) << bad;
  EXPECT_TRUE(bad_closed);
  close(fd);
}

}  // namespace
}  // namespace shoal::http
