#include "tests/support/http_test_server.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <string>

namespace shoal::test {
namespace {

struct CurlAnswer {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
};

std::size_t append(char* data, std::size_t size, std::size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// One request on `curl` (reused handles keep their connection alive).
CurlAnswer fetch(CURL* curl, const std::string& url, const std::string& post_body = "",
                 long timeout_ms = 5000) {
  CurlAnswer answer;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (!post_body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, post_body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(post_body.size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }
  answer.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

class HttpTestServerTest : public ::testing::Test {
 protected:
  void SetUp() override { curl_ = curl_easy_init(); }
  void TearDown() override { curl_easy_cleanup(curl_); }
  CURL* curl_ = nullptr;
};

TEST_F(HttpTestServerTest, PassesRequestPartsToHandlerAndReturnsItsAnswer) {
  TestHttpRequest seen;
  HttpTestServer server([&](const TestHttpRequest& request) {
    seen = request;
    TestHttpResponse response = TestHttpResponse::text(201, "created");
    response.headers.emplace_back("X-Answer", "42");
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  ASSERT_NE(server.port(), 0);

  CurlAnswer answer = fetch(curl_, server.base_url() + "/a/b?x=1&y=2", "hello=world");
  EXPECT_EQ(answer.code, CURLE_OK);
  EXPECT_EQ(answer.status, 201);
  EXPECT_EQ(answer.body, "created");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/a/b?x=1&y=2");
  EXPECT_EQ(seen.path(), "/a/b");
  EXPECT_EQ(seen.query(), "x=1&y=2");
  EXPECT_EQ(seen.body, "hello=world");
  EXPECT_EQ(seen.header("content-type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(seen.header("HOST"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.header("absent"), "");
}

TEST_F(HttpTestServerTest, KeepsConnectionAliveAcrossRequests) {
  HttpTestServer server([](const TestHttpRequest&) { return TestHttpResponse::text(200, "ok"); });
  ASSERT_TRUE(server.start().ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(fetch(curl_, server.base_url() + "/").status, 200);
  EXPECT_EQ(server.connections_accepted(), 1u);
  EXPECT_EQ(server.requests_received(), 5u);
}

TEST_F(HttpTestServerTest, CloseConnectionForcesNewConnection) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "ok");
    response.close_connection = true;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fetch(curl_, server.base_url() + "/").status, 200);
  EXPECT_EQ(server.connections_accepted(), 3u);
}

TEST_F(HttpTestServerTest, ResetClosesWithoutAnswer) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.reset = true;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  CurlAnswer answer = fetch(curl_, server.base_url() + "/");
  EXPECT_NE(answer.code, CURLE_OK);
  EXPECT_EQ(answer.status, 0);
}

TEST_F(HttpTestServerTest, TruncatedBodyIsShorterThanContentLength) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "0123456789");
    response.truncate_body = 4;
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  CurlAnswer answer = fetch(curl_, server.base_url() + "/");
  EXPECT_EQ(answer.code, CURLE_PARTIAL_FILE);
  EXPECT_EQ(answer.body, "0123");
}

TEST_F(HttpTestServerTest, DelayHoldsTheAnswer) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "late");
    response.delay = std::chrono::milliseconds(2000);
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  CurlAnswer answer = fetch(curl_, server.base_url() + "/", "", /*timeout_ms=*/100);
  EXPECT_EQ(answer.code, CURLE_OPERATION_TIMEDOUT);
}

TEST_F(HttpTestServerTest, StopInterruptsDelayAndIdleConnections) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse response = TestHttpResponse::text(200, "late");
    response.delay = std::chrono::hours(1);
    return response;
  });
  ASSERT_TRUE(server.start().ok());
  CURLM* multi = curl_multi_init();
  curl_easy_setopt(curl_, CURLOPT_URL, (server.base_url() + "/").c_str());
  curl_multi_add_handle(multi, curl_);
  int running = 1;
  while (server.requests_received() == 0) {
    curl_multi_perform(multi, &running);
    curl_multi_poll(multi, nullptr, 0, 10, nullptr);
  }
  auto begin = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
  curl_multi_remove_handle(multi, curl_);
  curl_multi_cleanup(multi);
}

TEST_F(HttpTestServerTest, SetHandlerReplacesTheHandler) {
  HttpTestServer server([](const TestHttpRequest&) { return TestHttpResponse::text(200, "one"); });
  ASSERT_TRUE(server.start().ok());
  EXPECT_EQ(fetch(curl_, server.base_url() + "/").body, "one");
  server.set_handler([](const TestHttpRequest&) { return TestHttpResponse::text(200, "two"); });
  EXPECT_EQ(fetch(curl_, server.base_url() + "/").body, "two");
}

}  // namespace
}  // namespace shoal::test
