#include "aws/credentials.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "aws/http_client.h"
#include "tests/support/sts_stand_in.h"

namespace shoal::aws {
namespace {

namespace fs = std::filesystem;

constexpr TimestampMs kNow = 1'700'000'000'000;

EnvironmentLookup fake_env(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("shoal-aws-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    fs::path file = path_ / name;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
    return file.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(CredentialsTest, ToStringRedactsSecrets) {
  Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                          "FwoGZXIvYXdzEXAMPLETOKEN", kNow};
  std::string text = credentials.to_string();
  EXPECT_EQ(text.find("wJalrXUtnFEMI"), std::string::npos) << text;
  EXPECT_EQ(text.find("FwoGZXIvYXdz"), std::string::npos) << text;
  EXPECT_EQ(text.find("AKIAIOSFODNN7EXAMPLE"), std::string::npos) << text;
  EXPECT_NE(text.find("AKIA****MPLE"), std::string::npos) << text;
  EXPECT_NE(text.find("secret_access_key=<redacted>"), std::string::npos) << text;
  EXPECT_NE(text.find("session_token=<redacted>"), std::string::npos) << text;
  EXPECT_EQ(redact_access_key_id("SHORT"), "*****");
  EXPECT_EQ(Credentials{}.to_string().find("<redacted>"), std::string::npos);
}

TEST(StaticCredentialsProviderTest, AnswersKeysAndRefusesEmptyOrExpired) {
  StaticCredentialsProvider good({"AKID", "secret", "", std::nullopt});
  ASSERT_TRUE(good.get(kNow).ok());
  EXPECT_EQ(good.get(kNow)->access_key_id, "AKID");
  StaticCredentialsProvider empty({"AKID", "", "", std::nullopt});
  EXPECT_EQ(empty.get(kNow).error().code, ErrorCode::kUnauthenticated);
  StaticCredentialsProvider expired({"AKID", "secret", "token", kNow - 1});
  EXPECT_EQ(expired.get(kNow).error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(expired.get(kNow).error().message.find("secret"), std::string::npos);
}

TEST(EnvironmentCredentialsProviderTest, ReadsStandardVariables) {
  EnvironmentCredentialsProvider provider(fake_env({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                                    {"AWS_SECRET_ACCESS_KEY", "env-secret"},
                                                    {"AWS_SESSION_TOKEN", "env-token"}}));
  auto credentials = provider.get(kNow);
  ASSERT_TRUE(credentials.ok());
  EXPECT_EQ(credentials->access_key_id, "AKIDENV");
  EXPECT_EQ(credentials->secret_access_key, "env-secret");
  EXPECT_EQ(credentials->session_token, "env-token");
}

TEST(EnvironmentCredentialsProviderTest, MissingIsNotFoundAndHalfSetIsAnErrorWithoutValues) {
  EXPECT_EQ(EnvironmentCredentialsProvider(fake_env({})).get(kNow).error().code,
            ErrorCode::kNotFound);
  auto half = EnvironmentCredentialsProvider(fake_env({{"AWS_SECRET_ACCESS_KEY", "only-secret"}}))
                  .get(kNow);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(half.error().message.find("AWS_ACCESS_KEY_ID is not"), std::string::npos);
  EXPECT_EQ(half.error().message.find("only-secret"), std::string::npos);
}

TEST(IniParserTest, ParsesSectionsKeysCommentsAndNestedValues) {
  auto ini = parse_ini(
      "# comment\n"
      "[default]\n"
      "aws_access_key_id = AKID\n"
      "  AWS_Secret_Access_Key=se=cret  \n"
      "; another comment\n"
      "\n"
      "[profile prod]\r\n"
      "s3 =\n"
      "    max_concurrent_requests = 10\n"
      "region = eu-west-1\n",
      "config");
  ASSERT_TRUE(ini.ok()) << ini.error().to_string();
  const auto* section = ini->section("default");
  ASSERT_NE(section, nullptr);
  EXPECT_EQ(section->at("aws_access_key_id"), "AKID");
  EXPECT_EQ(section->at("aws_secret_access_key"), "se=cret");
  const auto* prod = ini->section("profile prod");
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->at("region"), "eu-west-1");
  EXPECT_EQ(prod->at("s3"), "\nmax_concurrent_requests = 10");
}

TEST(IniParserTest, ReportsLineOfMalformedInput) {
  auto unclosed = parse_ini("[default]\nkey = v\n[oops\n", "credentials");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_EQ(unclosed.error().message, "credentials:3: a section header needs ']'");
  auto no_equals = parse_ini("[default]\njust words\n", "credentials");
  ASSERT_FALSE(no_equals.ok());
  EXPECT_EQ(no_equals.error().message, "credentials:2: expected 'key = value' or '[section]'");
  auto orphan = parse_ini("key = value\n", "config");
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.error().message.find("before any [section]"), std::string::npos);
}

class ProfileTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string credentials_ = dir_.write("credentials",
                                        "[default]\n"
                                        "aws_access_key_id = AKIDDEFAULT\n"
                                        "aws_secret_access_key = default-secret\n"
                                        "[prod]\n"
                                        "aws_access_key_id = AKIDPROD\n"
                                        "aws_secret_access_key = prod-secret\n"
                                        "aws_session_token = prod-token\n");
  std::string config_ = dir_.write("config",
                                   "[default]\nregion = us-east-1\n"
                                   "[profile prod]\n"
                                   "aws_access_key_id = AKIDOVERRIDDEN\n"
                                   "region = eu-west-1\n"
                                   "[profile configonly]\n"
                                   "aws_access_key_id = AKIDCONFIG\n"
                                   "aws_secret_access_key = config-secret\n");
};

TEST_F(ProfileTest, DefaultProfileFromCredentialsFile) {
  ProfileCredentialsProvider provider({credentials_, config_, ""}, nullptr, fake_env({}));
  auto credentials = provider.get(kNow);
  ASSERT_TRUE(credentials.ok()) << credentials.error().to_string();
  EXPECT_EQ(credentials->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(provider.describe(), "profile 'default'");
}

TEST_F(ProfileTest, AwsProfileSelectsProfileAndCredentialsFileWins) {
  ProfileCredentialsProvider provider({credentials_, config_, ""}, nullptr,
                                      fake_env({{"AWS_PROFILE", "prod"}}));
  auto credentials = provider.get(kNow);
  ASSERT_TRUE(credentials.ok()) << credentials.error().to_string();
  EXPECT_EQ(credentials->access_key_id, "AKIDPROD");
  EXPECT_EQ(credentials->session_token, "prod-token");
  auto settings = load_profile({credentials_, config_, "prod"}, "prod");
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->at("region"), "eu-west-1");
}

TEST_F(ProfileTest, FileLocationsComeFromEnvironmentVariables) {
  ProfileCredentialsProvider provider(
      {}, nullptr,
      fake_env({{"AWS_SHARED_CREDENTIALS_FILE", credentials_},
                {"AWS_CONFIG_FILE", config_},
                {"AWS_PROFILE", "configonly"}}));
  auto credentials = provider.get(kNow);
  ASSERT_TRUE(credentials.ok()) << credentials.error().to_string();
  EXPECT_EQ(credentials->access_key_id, "AKIDCONFIG");
}

TEST_F(ProfileTest, HomeDirectoryIsTheDefaultLocation) {
  TempDir home;
  home.write(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\n"
                                 "aws_secret_access_key = home-secret\n");
  ProfileCredentialsProvider provider({}, nullptr, fake_env({{"HOME", home.path().string()}}));
  auto credentials = provider.get(kNow);
  ASSERT_TRUE(credentials.ok()) << credentials.error().to_string();
  EXPECT_EQ(credentials->access_key_id, "AKIDHOME");
}

TEST_F(ProfileTest, MissingProfileIsNotFound) {
  ProfileCredentialsProvider provider({credentials_, config_, "nope"}, nullptr, fake_env({}));
  auto credentials = provider.get(kNow);
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.error().code, ErrorCode::kNotFound);
  EXPECT_NE(credentials.error().message.find("profile 'nope'"), std::string::npos);
}

TEST_F(ProfileTest, RoleProfileWithoutSourceProfileIsAClearError) {
  std::string config = dir_.write("config-role", "[profile role]\nrole_arn = arn:aws:iam::1:role/r\n");
  HttpClient http;
  ProfileCredentialsProvider provider({credentials_, config, "role"}, &http, fake_env({}));
  auto credentials = provider.get(kNow);
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.error().message.find("no source_profile"), std::string::npos);
}

TEST_F(ProfileTest, SourceProfileLoopIsRefused) {
  std::string config = dir_.write("config-loop",
                                  "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
                                  "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n");
  HttpClient http;
  ProfileCredentialsProvider provider({credentials_, config, "a"}, &http, fake_env({}));
  auto credentials = provider.get(kNow);
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.error().message.find("loops"), std::string::npos);
}

TEST_F(ProfileTest, RoleProfileAssumesRoleWithSourceProfileAndExternalId) {
  ManualClock clock(kNow);
  test::StsStandInOptions options;
  options.access_key_id = "AKIDSOURCE";
  options.secret_access_key = "source-secret";
  options.region = "eu-west-1";
  options.role_arn = "arn:aws:iam::123456789012:role/shoal-export";
  options.external_id = "tenant-42";
  test::StsStandIn sts(options, clock);
  ASSERT_TRUE(sts.start().ok());
  std::string credentials = dir_.write("credentials-role",
                                       "[source]\naws_access_key_id = AKIDSOURCE\n"
                                       "aws_secret_access_key = source-secret\n");
  std::string config = dir_.write("config-role",
                                  "[profile export]\n"
                                  "role_arn = arn:aws:iam::123456789012:role/shoal-export\n"
                                  "source_profile = source\n"
                                  "external_id = tenant-42\n"
                                  "role_session_name = shoal-test\n"
                                  "duration_seconds = 900\n"
                                  "region = eu-west-1\n");
  HttpClient http;
  ProfileCredentialsProvider provider({credentials, config, "export"}, &http, fake_env({}),
                                      sts.endpoint());
  auto assumed = provider.get(kNow);
  ASSERT_TRUE(assumed.ok()) << assumed.error().to_string();
  EXPECT_EQ(assumed->access_key_id, test::StsStandIn::issued_access_key_id(1));
  EXPECT_EQ(assumed->session_token, test::StsStandIn::issued_token(1));
  ASSERT_TRUE(assumed->expiration.has_value());
  EXPECT_EQ(*assumed->expiration, kNow + 900'000);
  auto form = sts.last_form();
  auto value = [&](const std::string& key) {
    for (const auto& [k, v] : form) {
      if (k == key) return v;
    }
    return std::string("<absent>");
  };
  EXPECT_EQ(value("ExternalId"), "tenant-42");
  EXPECT_EQ(value("RoleSessionName"), "shoal-test");
  EXPECT_EQ(value("DurationSeconds"), "900");
}

TEST(DefaultCredentialsChainTest, EnvironmentComesFirst) {
  TempDir home;
  home.write(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\n"
                                 "aws_secret_access_key = home-secret\n");
  DefaultCredentialsChain chain(nullptr, fake_env({{"HOME", home.path().string()},
                                                   {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                                   {"AWS_SECRET_ACCESS_KEY", "env-secret"}}));
  EXPECT_EQ(chain.get(kNow)->access_key_id, "AKIDENV");
}

TEST(DefaultCredentialsChainTest, FallsBackToProfile) {
  TempDir home;
  home.write(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\n"
                                 "aws_secret_access_key = home-secret\n");
  DefaultCredentialsChain chain(nullptr, fake_env({{"HOME", home.path().string()}}));
  EXPECT_EQ(chain.get(kNow)->access_key_id, "AKIDHOME");
}

TEST(DefaultCredentialsChainTest, NothingFoundSaysWhereItLooked) {
  TempDir home;
  DefaultCredentialsChain chain(nullptr, fake_env({{"HOME", home.path().string()}}));
  auto credentials = chain.get(kNow);
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(credentials.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(credentials.error().message.find("profile 'default'"), std::string::npos);
}

TEST(DefaultCredentialsChainTest, BrokenEnvironmentIsReportedNotSkipped) {
  TempDir home;
  home.write(".aws/credentials", "[default]\naws_access_key_id = AKIDHOME\n"
                                 "aws_secret_access_key = home-secret\n");
  DefaultCredentialsChain chain(nullptr, fake_env({{"HOME", home.path().string()},
                                                   {"AWS_ACCESS_KEY_ID", "AKIDENV"}}));
  auto credentials = chain.get(kNow);
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.error().message.find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos);
}

}  // namespace
}  // namespace shoal::aws
