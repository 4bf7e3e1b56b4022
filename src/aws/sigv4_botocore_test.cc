// Cross-check with botocore: tests/tools/botocore_sigv4_cases.py signs a few hundred generated
// Kinesis and STS requests with botocore's SigV4Auth; shoal's signer must produce the same
// Authorization header for every one.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "aws/sigv4.h"

namespace shoal::aws {
namespace {

namespace fs = std::filesystem;

// The first interpreter that can import botocore, or empty.
std::string python_with_botocore() {
  for (const char* python : {"/usr/bin/python3", "python3", "python"}) {
    std::string command = std::string(python) + " -c 'import botocore' >/dev/null 2>&1";
    if (std::system(command.c_str()) == 0) return python;
  }
  return {};
}

TEST(SigV4BotocoreTest, AuthorizationHeadersMatchBotocoreOnGeneratedRequests) {
  std::string python = python_with_botocore();
  if (python.empty()) {
    GTEST_SKIP() << "no python interpreter here can import botocore (install python3-botocore); "
                    "the botocore cross-check was not run";
  }
  fs::path script = fs::path(SHOAL_SOURCE_DIR) / "tests" / "tools" / "botocore_sigv4_cases.py";
  fs::path output = fs::temp_directory_path() /
                    ("shoal-botocore-cases-" + std::to_string(::getpid()) + ".json");
  std::string command = python + " '" + script.string() + "' '" + output.string() + "'";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  std::ifstream in(output);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(output);
  auto document = boost::json::parse(text.str()).as_object();
  const auto& cases = document.at("cases").as_array();
  ASSERT_GE(cases.size(), 200u);

  std::size_t compared = 0;
  for (const auto& item : cases) {
    const auto& c = item.as_object();
    auto str = [&](const char* key) { return std::string(c.at(key).as_string().c_str()); };
    HttpRequest request;
    request.method = str("method");
    request.url = str("url");
    request.body = str("body");
    for (const auto& header : c.at("headers").as_array()) {
      const auto& pair = header.as_array();
      request.headers.emplace_back(pair[0].as_string().c_str(), pair[1].as_string().c_str());
    }
    Credentials credentials{str("access_key_id"), str("secret_access_key"), str("session_token"),
                            std::nullopt};
    SigV4Signer signer(str("region"), str("service"));
    SigV4Trace trace = signer.sign_traced(request, credentials, c.at("timestamp_ms").as_int64());
    EXPECT_EQ(request.header("X-Amz-Date"), str("x_amz_date")) << str("name");
    EXPECT_EQ(trace.authorization, str("authorization"))
        << str("name") << " " << request.method << " " << request.url << "\n"
        << trace.canonical_request;
    ++compared;
  }
  EXPECT_EQ(compared, cases.size());
  std::cout << "compared " << compared << " requests with botocore "
            << document.at("botocore_version").as_string().c_str() << "\n";
}

}  // namespace
}  // namespace shoal::aws
