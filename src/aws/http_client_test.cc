#include "aws/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <future>
#include <thread>

#include "tests/support/http_test_server.h"

namespace shoal::aws {
namespace {

using shoal::test::HttpTestServer;
using shoal::test::TestHttpRequest;
using shoal::test::TestHttpResponse;
using namespace std::chrono_literals;

HttpRequest get(const HttpTestServer& server, const std::string& path = "/") {
  return HttpRequest{"GET", server.base_url() + path, {}, ""};
}

TestHttpResponse ok(const TestHttpRequest&) { return TestHttpResponse::text(200, "ok"); }

TEST(HttpClientTest, SendsMethodHeadersAndBodyAndReturnsResponse) {
  TestHttpRequest seen;
  HttpTestServer server([&](const TestHttpRequest& request) {
    seen = request;
    TestHttpResponse response = TestHttpResponse::text(400, R"({"__type":"X"})");
    response.headers.emplace_back("X-Amzn-RequestId", "abc");
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  HttpRequest request{"POST", server.base_url() + "/path?q=1", {}, "{\"a\":1}"};
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "Kinesis_20131202.ListStreams"}};
  auto response = client.send(request);
  ASSERT_TRUE(response.ok()) << response.error().to_string();
  EXPECT_EQ(response->status, 400);
  EXPECT_EQ(response->body, R"({"__type":"X"})");
  EXPECT_EQ(response->header("x-amzn-requestid"), "abc");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/path?q=1");
  EXPECT_EQ(seen.body, "{\"a\":1}");
  EXPECT_EQ(seen.header("X-Amz-Target"), "Kinesis_20131202.ListStreams");
  EXPECT_EQ(seen.header("Content-Type"), "application/x-amz-json-1.1");
}

TEST(HttpClientTest, SendsNoExpectHeaderAndNoDefaultContentType) {
  TestHttpRequest seen;
  HttpTestServer server([&](const TestHttpRequest& request) {
    seen = request;
    return TestHttpResponse::text(200, "");
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  HttpRequest request{"POST", server.base_url() + "/", {}, std::string(2u << 20, 'x')};
  ASSERT_TRUE(client.send(request).ok());
  EXPECT_EQ(seen.body.size(), 2u << 20);
  EXPECT_EQ(seen.header("Expect"), "");
  EXPECT_EQ(seen.header("Content-Type"), "");
}

TEST(HttpClientTest, ReusesConnectionsAcrossSends) {
  HttpTestServer server(ok);
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client.send(get(server)).ok());
  EXPECT_EQ(server.requests_received(), 20u);
  EXPECT_EQ(server.connections_accepted(), 1u);
}

TEST(HttpClientTest, ConcurrentSendsUseAtMostOneConnectionPerThread) {
  HttpTestServer server(ok);
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (!client.send(get(server)).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.requests_received(), 100u);
  EXPECT_LE(server.connections_accepted(), 4u);
}

TEST(HttpClientTest, IdleLimitZeroOpensNewConnectionEachTime) {
  HttpTestServer server(ok);
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions options;
  options.max_idle_connections = 0;
  HttpClient client(options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.send(get(server)).ok());
  EXPECT_EQ(server.connections_accepted(), 3u);
}

TEST(HttpClientTest, SlowServerTimesOut) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "late");
    response.delay = 10s;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions options;
  options.request_timeout = 200ms;
  HttpClient client(options);
  auto begin = std::chrono::steady_clock::now();
  auto response = client.send(get(server));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kTimeout);
  EXPECT_NE(response.error().message.find("no complete response within 200 ms"), std::string::npos)
      << response.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 3s);
}

TEST(HttpClientTest, RefusedConnectionIsUnavailable) {
  std::uint16_t port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor acceptor(
        io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there now
  HttpClient client;
  auto response =
      client.send({"GET", "http://127.0.0.1:" + std::to_string(port) + "/", {}, ""});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message.find("GET http://127.0.0.1:"), std::string::npos);
}

TEST(HttpClientTest, OversizedResponseIsRefused) {
  HttpTestServer server(
      [](const TestHttpRequest&) { return TestHttpResponse::text(200, std::string(5000, 'x')); });
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  HttpClient client(options);
  auto response = client.send(get(server));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(response.error().message.find("larger than the limit of 1000 bytes"),
            std::string::npos);
}

TEST(HttpClientTest, ResponseOneByteOverLimitIsRefused) {
  HttpTestServer server(
      [](const TestHttpRequest&) { return TestHttpResponse::text(200, std::string(51, 'x')); });
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions options;
  options.max_response_bytes = 50;
  HttpClient client(options);
  auto response = client.send(get(server));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kResourceExhausted);
}

TEST(HttpClientTest, ResetConnectionIsUnavailable) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.reset = true;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  auto response = client.send(get(server));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClientTest, TruncatedBodyIsUnavailable) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, R"({"Records":[1,2,3]})");
    response.truncate_body = 5;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  auto response = client.send(get(server));
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message.find("closed before the whole response"), std::string::npos)
      << response.error().message;
}

TEST(HttpClientTest, RecoversAfterServerClosesIdleConnection) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "ok");
    response.close_connection = true;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.send(get(server)).ok());
  EXPECT_EQ(server.connections_accepted(), 3u);
}

TEST(HttpClientTest, CancelAllEndsInFlightAndFutureSends) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "late");
    response.delay = 1h;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  HttpClient client;
  auto in_flight = std::async(std::launch::async, [&] { return client.send(get(server)); });
  while (server.requests_received() == 0) std::this_thread::sleep_for(1ms);
  auto begin = std::chrono::steady_clock::now();
  client.cancel_all();
  ASSERT_EQ(in_flight.wait_for(5s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 500ms);
  auto result = in_flight.get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled);
  auto later = client.send(get(server));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(server.requests_received(), 1u);
}

TEST(HttpClientTest, RejectsNonHttpUrls) {
  HttpClient client;
  for (const char* url : {"ftp://example.com/", "not a url", "file:///etc/passwd"}) {
    auto response = client.send({"GET", url, {}, ""});
    ASSERT_FALSE(response.ok()) << url;
    EXPECT_EQ(response.error().code, ErrorCode::kInvalidArgument) << url;
  }
}

TEST(HttpClientTest, TlsHandshakeWithPlainServerFailsCleanly) {
  HttpTestServer server(ok);
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions options;
  options.request_timeout = 2s;
  HttpClient client(options);
  auto response =
      client.send({"GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/", {}, ""});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
}

TEST(HttpClientTest, MissingCaBundleFailsWithClearError) {
  HttpTestServer server(ok);
  ASSERT_TRUE(server.start().ok());
  HttpClientOptions options;
  options.ca_bundle = "/nonexistent/ca.pem";
  options.request_timeout = 2s;
  HttpClient client(options);
  auto response =
      client.send({"GET", "https://127.0.0.1:" + std::to_string(server.port()) + "/", {}, ""});
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(response.error().message.find("CA bundle"), std::string::npos)
      << response.error().message;
}

}  // namespace
}  // namespace shoal::aws
