#include "kinesis/base64.h"

#include <gtest/gtest.h>

namespace shoal::kinesis {
namespace {

TEST(Base64Test, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}

TEST(Base64Test, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= bytes.size(); len += 37) {
    auto decoded = base64_decode(base64_encode(bytes.substr(0, len)));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, bytes.substr(0, len));
  }
}

TEST(Base64Test, RejectsMalformedText) {
  for (const char* text : {"Zg=", "Zg===", "Z===", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zm 9"}) {
    EXPECT_FALSE(base64_decode(text).ok()) << text;
  }
}

}  // namespace
}  // namespace shoal::kinesis
