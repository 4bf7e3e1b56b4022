#include "aws/sts.h"

#include <gtest/gtest.h>

#include "tests/support/sts_stand_in.h"

namespace shoal::aws {
namespace {

using test::StsStandIn;
using namespace std::chrono_literals;

constexpr TimestampMs kNow = 1'700'000'000'000;
constexpr TimestampMs kMinute = 60'000;

const char* kResponse = R"(<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/demo/John</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:John</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <SessionToken>
       AQoDYXdzEPT//////////wEXAMPLEtc764&amp;bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW
      </SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <PackedPolicySize>8</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>)";

TEST(StsXmlTest, ParsesDocumentedResponseTrimmingTheToken) {
  auto credentials = parse_assume_role_response(kResponse);
  ASSERT_TRUE(credentials.ok()) << credentials.error().to_string();
  EXPECT_EQ(credentials->access_key_id, "ASIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(credentials->secret_access_key, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
  EXPECT_EQ(credentials->session_token,
            "AQoDYXdzEPT//////////wEXAMPLEtc764&bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW");
  EXPECT_EQ(credentials->expiration, 1573306481000);
}

TEST(StsXmlTest, IncompleteResponsesAreCorruptionWithoutEchoingSecrets) {
  std::string no_token = kResponse;
  no_token.replace(no_token.find("<SessionToken>"),
                   no_token.find("</SessionToken>") + 15 - no_token.find("<SessionToken>"), "");
  auto missing = parse_assume_role_response(no_token);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kCorruption);
  EXPECT_NE(missing.error().message.find("SessionToken"), std::string::npos);
  EXPECT_EQ(missing.error().message.find("wJalrXUtnFEMI"), std::string::npos);
  EXPECT_FALSE(parse_assume_role_response("").ok());
  EXPECT_FALSE(parse_assume_role_response("<html>Bad gateway</html>").ok());
  EXPECT_FALSE(parse_assume_role_response("<Credentials><AccessKeyId>A").ok());
}

TEST(StsXmlTest, ElementTextFollowsPathsAndDecodesEntities) {
  std::string xml = "<a><b x=\"1\"><c> 1 &lt; 2 &amp;&#65;&#x42; </c></b><c>outer</c><e/></a>";
  EXPECT_EQ(xml_element_text(xml, "a/b/c"), "1 < 2 &AB");
  EXPECT_EQ(xml_element_text(xml, "b/c"), "1 < 2 &AB");
  EXPECT_EQ(xml_element_text(xml, "e"), "");
  EXPECT_EQ(xml_element_text(xml, "d"), std::nullopt);
  EXPECT_EQ(xml_element_text("<ab>no</ab><a>yes</a>", "a"), "yes");
  EXPECT_EQ(xml_escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
}

TEST(StsFormTest, BuildsAssumeRoleBodyWithEncodedValues) {
  AssumeRoleOptions options;
  options.role_arn = "arn:aws:iam::123456789012:role/path/shoal";
  options.role_session_name = "shoal@host";
  options.external_id = "ext id/ü";
  options.duration = 900s;
  EXPECT_EQ(assume_role_form_body(options),
            "Action=AssumeRole&Version=2011-06-15"
            "&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fpath%2Fshoal"
            "&RoleSessionName=shoal%40host&ExternalId=ext%20id%2F%C3%BC&DurationSeconds=900");
  options.external_id.clear();
  EXPECT_EQ(assume_role_form_body(options).find("ExternalId"), std::string::npos);
  EXPECT_EQ(form_decode("a+b%2Fc"), "a b/c");
}

TEST(StsFormTest, EndpointPerRegionOrOverride) {
  AssumeRoleOptions options;
  options.region = "eu-west-1";
  EXPECT_EQ(sts_endpoint(options), "https://sts.eu-west-1.amazonaws.com");
  options.region = "cn-north-1";
  EXPECT_EQ(sts_endpoint(options), "https://sts.cn-north-1.amazonaws.com.cn");
  options.endpoint = "http://127.0.0.1:4000/";
  EXPECT_EQ(sts_endpoint(options), "http://127.0.0.1:4000");
}

TEST(StsErrorTest, AccessDeniedExplainsTrustPolicy) {
  std::string body =
      "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: x is not "
      "authorized to perform: sts:AssumeRole</Message></Error><RequestId>r</RequestId>"
      "</ErrorResponse>";
  Error error = assume_role_error(403, body, "arn:aws:iam::1:role/r");
  EXPECT_EQ(error.code, ErrorCode::kPermissionDenied);
  EXPECT_NE(error.message.find("the role's trust policy does not allow this principal or "
                               "ExternalId"),
            std::string::npos);
  EXPECT_NE(error.message.find("arn:aws:iam::1:role/r"), std::string::npos);
  EXPECT_NE(error.message.find("not authorized to perform"), std::string::npos);
}

TEST(StsErrorTest, MapsOtherCodes) {
  auto body = [](const char* code) {
    return std::string("<ErrorResponse><Error><Code>") + code + "</Code></Error></ErrorResponse>";
  };
  EXPECT_EQ(assume_role_error(400, body("ExpiredToken"), "r").code, ErrorCode::kUnauthenticated);
  EXPECT_NE(assume_role_error(400, body("ExpiredToken"), "r").message.find("have expired"),
            std::string::npos);
  EXPECT_EQ(assume_role_error(403, body("InvalidClientTokenId"), "r").code,
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(assume_role_error(400, body("ValidationError"), "r").code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(assume_role_error(403, body("RegionDisabledException"), "r").code,
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(assume_role_error(400, body("Throttling"), "r").code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(assume_role_error(503, "<html>down</html>", "r").code, ErrorCode::kUnavailable);
}

class AssumeRoleProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.access_key_id = "AKIDSERVER";
    options_.secret_access_key = "server-secret-value";
    options_.region = "us-east-1";
    options_.external_id = "tenant-7";
    sts_ = std::make_unique<StsStandIn>(options_, clock_);
    ASSERT_TRUE(sts_->start().ok());
  }

  std::unique_ptr<AssumeRoleProvider> provider(std::string secret = "server-secret-value",
                                               std::string external_id = "tenant-7",
                                               std::string region = "us-east-1") {
    AssumeRoleOptions options;
    options.role_arn = options_.role_arn;
    options.external_id = std::move(external_id);
    options.region = std::move(region);
    options.endpoint = sts_->endpoint();
    options.duration = 3600s;
    auto source = std::make_unique<StaticCredentialsProvider>(
        Credentials{"AKIDSERVER", std::move(secret), "", std::nullopt});
    return std::make_unique<AssumeRoleProvider>(options, std::move(source), http_);
  }

  void expect_no_secret(const std::string& text) {
    for (const char* secret : {"server-secret-value", "issued-secret", "issued-token"}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << text;
    }
  }

  ManualClock clock_{kNow};
  test::StsStandInOptions options_;
  std::unique_ptr<StsStandIn> sts_;
  HttpClient http_;
};

TEST_F(AssumeRoleProviderTest, AssumesRoleAndCachesUntilAdvisoryWindow) {
  auto role = provider();
  auto first = role->get(kNow);
  ASSERT_TRUE(first.ok()) << first.error().to_string();
  EXPECT_EQ(first->access_key_id, StsStandIn::issued_access_key_id(1));
  EXPECT_EQ(first->secret_access_key, StsStandIn::issued_secret(1));
  EXPECT_EQ(first->session_token, StsStandIn::issued_token(1));
  EXPECT_EQ(first->expiration, kNow + 60 * kMinute);
  auto cached = role->get(kNow + 44 * kMinute);  // 16 minutes before expiry
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->access_key_id, StsStandIn::issued_access_key_id(1));
  EXPECT_EQ(sts_->assume_role_calls(), 1);
}

TEST_F(AssumeRoleProviderTest, RefreshesInAdvisoryWindow) {
  auto role = provider();
  ASSERT_TRUE(role->get(kNow).ok());
  clock_.set(kNow + 46 * kMinute);  // 14 minutes before expiry
  auto refreshed = role->get(clock_.now_ms());
  ASSERT_TRUE(refreshed.ok());
  EXPECT_EQ(refreshed->access_key_id, StsStandIn::issued_access_key_id(2));
  EXPECT_EQ(refreshed->expiration, kNow + 106 * kMinute);
}

TEST_F(AssumeRoleProviderTest, FailedAdvisoryRefreshKeepsOldCredentials) {
  auto role = provider();
  ASSERT_TRUE(role->get(kNow).ok());
  sts_->set_mode(StsStandIn::Mode::kInternalError);
  auto kept = role->get(kNow + 46 * kMinute);
  ASSERT_TRUE(kept.ok()) << kept.error().to_string();
  EXPECT_EQ(kept->access_key_id, StsStandIn::issued_access_key_id(1));
  EXPECT_EQ(sts_->assume_role_calls(), 2);
  EXPECT_NE(role->last_refresh_error().find("HTTP 500"), std::string::npos)
      << role->last_refresh_error();
  expect_no_secret(role->last_refresh_error());
}

TEST_F(AssumeRoleProviderTest, FailedMandatoryRefreshIsAnError) {
  auto role = provider();
  ASSERT_TRUE(role->get(kNow).ok());
  sts_->set_mode(StsStandIn::Mode::kInternalError);
  auto failed = role->get(kNow + 51 * kMinute);  // 9 minutes before expiry
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  sts_->set_mode(StsStandIn::Mode::kNormal);
  auto recovered = role->get(kNow + 51 * kMinute);
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->access_key_id, StsStandIn::issued_access_key_id(2));
}

TEST_F(AssumeRoleProviderTest, WrongExternalIdIsAccessDeniedWithTrustPolicyMessage) {
  auto role = provider("server-secret-value", "tenant-8");
  auto result = role->get(kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(result.error().message.find("trust policy does not allow this principal or "
                                        "ExternalId"),
            std::string::npos);
  expect_no_secret(result.error().to_string());
}

TEST_F(AssumeRoleProviderTest, AccessDeniedModeIsRefused) {
  sts_->set_mode(StsStandIn::Mode::kAccessDenied);
  auto result = provider()->get(kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kPermissionDenied);
}

TEST_F(AssumeRoleProviderTest, ExpiredTokenIsUnauthenticated) {
  sts_->set_mode(StsStandIn::Mode::kExpiredToken);
  auto result = provider()->get(kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(result.error().message.find("ExpiredToken"), std::string::npos);
}

TEST_F(AssumeRoleProviderTest, WrongSecretFailsSignatureCheck) {
  auto result = provider("not-the-secret")->get(kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(result.error().message.find("SignatureDoesNotMatch"), std::string::npos);
  EXPECT_EQ(result.error().message.find("not-the-secret"), std::string::npos);
  EXPECT_EQ(sts_->credentials_issued(), 0);
}

TEST_F(AssumeRoleProviderTest, WrongSigningRegionIsRefused) {
  auto result = provider("server-secret-value", "tenant-7", "eu-west-1")->get(kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.error().message.find("scoped to a valid region"), std::string::npos)
      << result.error().message;
  EXPECT_EQ(sts_->credentials_issued(), 0);
}

TEST_F(AssumeRoleProviderTest, UnreachableStsIsUnavailable) {
  sts_->stop();
  auto result = provider()->get(kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(result.error().message.find("STS AssumeRole of"), std::string::npos);
}

TEST_F(AssumeRoleProviderTest, DescribeNamesRoleButNoSecret) {
  std::string description = provider()->describe();
  EXPECT_NE(description.find(options_.role_arn), std::string::npos);
  expect_no_secret(description);
}

}  // namespace
}  // namespace shoal::aws
