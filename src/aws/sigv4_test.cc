#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/time_format.h"

namespace shoal::aws {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A request in the test suite's request.txt form: request line, "Name:value" headers with
// indented continuation lines, a blank line, the body.
struct SuiteRequest {
  std::string method;
  std::string target;
  HttpHeaders headers;
  std::string body;
};

SuiteRequest parse_suite_request(const std::string& text) {
  SuiteRequest request;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  auto first_space = line.find(' ');
  auto last_space = line.rfind(' ');
  request.method = line.substr(0, first_space);
  request.target = line.substr(first_space + 1, last_space - first_space - 1);
  while (std::getline(in, line)) {
    if (line.empty()) break;
    if ((line[0] == ' ' || line[0] == '\t') && !request.headers.empty()) {
      request.headers.back().second += "\n" + line;
      continue;
    }
    auto colon = line.find(':');
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  std::ostringstream rest;
  rest << in.rdbuf();
  request.body = rest.str();
  return request;
}

fs::path suite_dir() { return fs::path(SHOAL_SHARED_DIR) / "testdata" / "aws-sigv4-test-suite"; }

class SigV4SuiteTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SigV4SuiteTest, ReproducesCanonicalRequestStringToSignAndSignedRequest) {
  fs::path dir = suite_dir() / GetParam();
  auto context = boost::json::parse(read_file(dir / "context.json")).as_object();
  const auto& credentials_json = context.at("credentials").as_object();
  Credentials credentials;
  credentials.access_key_id = credentials_json.at("access_key_id").as_string().c_str();
  credentials.secret_access_key = credentials_json.at("secret_access_key").as_string().c_str();
  if (auto* token = credentials_json.if_contains("token")) {
    credentials.session_token = token->as_string().c_str();
  }
  SigV4Options options;
  options.normalize_path = context.at("normalize").as_bool();
  options.add_content_sha256 = context.at("sign_body").as_bool();
  if (auto* omit = context.if_contains("omit_session_token")) {
    options.sign_session_token = !omit->as_bool();
  }
  auto now = parse_iso8601(context.at("timestamp").as_string().c_str());
  ASSERT_TRUE(now.ok());

  SuiteRequest suite = parse_suite_request(read_file(dir / "request.txt"));
  HttpRequest request;
  request.method = suite.method;
  request.url = "https://" + std::string(find_header(suite.headers, "Host")) + suite.target;
  request.headers = suite.headers;
  request.body = suite.body;

  SigV4Signer signer(context.at("region").as_string().c_str(),
                     context.at("service").as_string().c_str(), options);
  SigV4Trace trace = signer.sign_traced(request, credentials, *now);

  EXPECT_EQ(trace.canonical_request, read_file(dir / "header-canonical-request.txt"));
  EXPECT_EQ(trace.string_to_sign, read_file(dir / "header-string-to-sign.txt"));
  EXPECT_EQ(trace.signature, read_file(dir / "header-signature.txt"));

  SuiteRequest expected = parse_suite_request(read_file(dir / "header-signed-request.txt"));
  auto normalized = [](HttpHeaders headers) {
    for (auto& [name, value] : headers) {
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    }
    std::sort(headers.begin(), headers.end());
    return headers;
  };
  EXPECT_EQ(normalized(request.headers), normalized(expected.headers));
}

std::vector<std::string> suite_cases() {
  std::vector<std::string> cases;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(suite_dir(), ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "context.json")) {
      cases.push_back(entry.path().filename().string());
    }
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(AwsSuite, SigV4SuiteTest, ::testing::ValuesIn(suite_cases()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SigV4SuiteTest);

TEST(SigV4SuiteFolderTest, SuiteIsPresentOrSkippedWithReason) {
  if (!fs::exists(suite_dir())) {
    GTEST_SKIP() << "the AWS SigV4 test suite is not at " << suite_dir()
                 << " (a clone outside the shoal workspace); its cases were not run";
  }
  EXPECT_GE(suite_cases().size(), 30u) << "fewer cases than the published suite has";
}

TEST(SigV4Test, SigningKeyMatchesAwsDocumentationExample) {
  Sha256Digest key = sigv4::derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                               "20150830", "us-east-1", "iam");
  EXPECT_EQ(hex_encode(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4Test, NormalizesDotSegmentsAndRepeatedSlashes) {
  EXPECT_EQ(sigv4::normalize_path("/example1/example2/../.."), "/");
  EXPECT_EQ(sigv4::normalize_path("//example//"), "/example/");
  EXPECT_EQ(sigv4::normalize_path("/./example"), "/example");
  EXPECT_EQ(sigv4::normalize_path("/a/../../b"), "/b");
  EXPECT_EQ(sigv4::normalize_path(""), "/");
}

TEST(SigV4Test, EncodesPathOnceMoreSoEncodedPathsAreDoubleEncoded) {
  EXPECT_EQ(sigv4::canonical_uri("/a b/%20", true), "/a%20b/%2520");
}

TEST(SigV4Test, CanonicalQuerySortsAndReencodes) {
  EXPECT_EQ(sigv4::canonical_query("b=2&a=%7e&a=1&c"), "a=1&a=~&b=2&c=");
}

TEST(SigV4Test, KinesisRequestSignsHostDateTargetAndToken) {
  HttpRequest request{"POST", "https://kinesis.eu-west-1.amazonaws.com:443/", {}, "{}"};
  request.headers = {{"Content-Type", "application/x-amz-json-1.1"},
                     {"X-Amz-Target", "Kinesis_20131202.ListStreams"},
                     {"User-Agent", "shoal/0.1"}};
  Credentials credentials{"AKIDEXAMPLE", "secret", "token", std::nullopt};
  SigV4Signer signer("eu-west-1", "kinesis");
  SigV4Trace trace = signer.sign_traced(request, credentials, 1440938160000);  // 2015-08-30T12:36Z
  EXPECT_EQ(request.header("Host"), "kinesis.eu-west-1.amazonaws.com");
  EXPECT_EQ(request.header("X-Amz-Date"), "20150830T123600Z");
  EXPECT_EQ(request.header("X-Amz-Security-Token"), "token");
  EXPECT_NE(trace.authorization.find("Credential=AKIDEXAMPLE/20150830/eu-west-1/kinesis/"
                                     "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
                                     "x-amz-security-token;x-amz-target, Signature="),
            std::string::npos)
      << trace.authorization;
}

TEST(SigV4Test, ResigningReplacesPreviousSignatureHeaders) {
  HttpRequest request{"POST", "http://127.0.0.1:4567/", {}, ""};
  Credentials credentials{"AKID", "secret", "token", std::nullopt};
  SigV4Signer signer("us-east-1", "kinesis");
  signer.sign(request, credentials, 1000);
  signer.sign(request, credentials, 2000);
  auto count = [&](std::string_view name) {
    return std::count_if(request.headers.begin(), request.headers.end(),
                         [&](const auto& h) { return header_name_equals(h.first, name); });
  };
  EXPECT_EQ(count("Authorization"), 1);
  EXPECT_EQ(count("X-Amz-Date"), 1);
  EXPECT_EQ(count("X-Amz-Security-Token"), 1);
  EXPECT_EQ(count("Host"), 1);
  EXPECT_EQ(request.header("Host"), "127.0.0.1:4567");
}

TEST(SigV4Test, SigningKeyCacheFollowsSecretAndDay) {
  SigV4Signer signer("us-east-1", "kinesis");
  HttpRequest a{"POST", "https://kinesis.us-east-1.amazonaws.com/", {}, ""};
  HttpRequest b = a;
  HttpRequest c = a;
  auto sig_a = signer.sign_traced(a, {"AKID", "secret-1", "", std::nullopt}, 0).signature;
  auto sig_b = signer.sign_traced(b, {"AKID", "secret-2", "", std::nullopt}, 0).signature;
  auto sig_c = signer.sign_traced(c, {"AKID", "secret-1", "", std::nullopt}, 0).signature;
  EXPECT_NE(sig_a, sig_b);
  EXPECT_EQ(sig_a, sig_c);
  SigV4Signer fresh("us-east-1", "kinesis");
  HttpRequest d{"POST", "https://kinesis.us-east-1.amazonaws.com/", {}, ""};
  EXPECT_EQ(fresh.sign_traced(d, {"AKID", "secret-2", "", std::nullopt}, 0).signature, sig_b);
}

class SigV4VerifyTest : public ::testing::Test {
 protected:
  HttpRequest signed_request(const std::string& region, TimestampMs now) {
    HttpRequest request{"POST", "http://127.0.0.1:9000/?x=1", {}, "Action=AssumeRole"};
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    SigV4Signer(region, "sts").sign(request, {"AKID", "secret", "", std::nullopt}, now);
    return request;
  }
  sigv4::VerifyOptions options() {
    sigv4::VerifyOptions o;
    o.access_key_id = "AKID";
    o.secret_access_key = "secret";
    o.region = "us-east-1";
    o.service = "sts";
    return o;
  }
};

TEST_F(SigV4VerifyTest, AcceptsCorrectSignature) {
  HttpRequest request = signed_request("us-east-1", 0);
  EXPECT_TRUE(sigv4::verify("POST", "/?x=1", request.headers, request.body, options()).ok());
}

TEST_F(SigV4VerifyTest, RefusesWrongRegionInScope) {
  HttpRequest request = signed_request("eu-west-1", 0);
  Status status = sigv4::verify("POST", "/?x=1", request.headers, request.body, options());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(status.error().message.find("scoped to a valid region, not 'eu-west-1'"),
            std::string::npos);
}

TEST_F(SigV4VerifyTest, RefusesWrongSecretTamperedBodyAndUnknownKey) {
  HttpRequest request = signed_request("us-east-1", 0);
  auto o = options();
  o.secret_access_key = "other";
  EXPECT_NE(sigv4::verify("POST", "/?x=1", request.headers, request.body, o)
                .error().message.find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_FALSE(sigv4::verify("POST", "/?x=1", request.headers, "Action=Other", options()).ok());
  EXPECT_FALSE(sigv4::verify("POST", "/?x=2", request.headers, request.body, options()).ok());
  o = options();
  o.access_key_id = "OTHER";
  EXPECT_NE(sigv4::verify("POST", "/?x=1", request.headers, request.body, o)
                .error().message.find("InvalidClientTokenId"), std::string::npos);
}

TEST_F(SigV4VerifyTest, RefusesSkewedClockAndMissingAuthorization) {
  HttpRequest request = signed_request("us-east-1", 0);
  auto o = options();
  o.now = 6 * 60 * 1000;
  EXPECT_NE(sigv4::verify("POST", "/?x=1", request.headers, request.body, o)
                .error().message.find("RequestTimeTooSkewed"), std::string::npos);
  o.now = 4 * 60 * 1000;
  EXPECT_TRUE(sigv4::verify("POST", "/?x=1", request.headers, request.body, o).ok());
  EXPECT_NE(sigv4::verify("POST", "/", {}, "", options()).error().message.find(
                "MissingAuthenticationToken"), std::string::npos);
}

}  // namespace
}  // namespace shoal::aws
