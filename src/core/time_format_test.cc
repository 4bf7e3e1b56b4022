#include "core/time_format.h"

#include <gtest/gtest.h>

namespace shoal {
namespace {

TEST(TimeFormatTest, ParsesDateOnlyAsUtcMidnight) {
  auto t = parse_iso8601("2024-03-01");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(*t, 1709251200000);
}

TEST(TimeFormatTest, ZonelessTimeIsUtcAndSubMillisecondIsTruncated) {
  auto t = parse_iso8601("2024-03-01T10:00:00.1239");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1709251200000 + 10 * 3600000LL + 123);
}

TEST(TimeFormatTest, AppliesZoneOffsets) {
  EXPECT_EQ(*parse_iso8601("2024-03-01T10:00:00+02:00"), *parse_iso8601("2024-03-01T08:00:00Z"));
  EXPECT_EQ(*parse_iso8601("2024-03-01T10:00:00-0130"), *parse_iso8601("2024-03-01T11:30:00Z"));
}

TEST(TimeFormatTest, RejectsImpossibleDatesWithAReason) {
  auto t = parse_iso8601("2023-02-29");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("day out of range"), std::string::npos);
  EXPECT_FALSE(parse_iso8601("2024-13-01").ok());
  EXPECT_FALSE(parse_iso8601("2024-01-01T10").ok());
  EXPECT_FALSE(parse_iso8601("2024-01-01Tjunk").ok());
  EXPECT_FALSE(parse_iso8601("").ok());
}

TEST(TimeFormatTest, FormatsRoundTrip) {
  TimestampMs t = *parse_iso8601("2017-03-18T06:12:36.829Z");
  EXPECT_EQ(format_iso8601_ms(t), "2017-03-18T06:12:36.829Z");
  EXPECT_EQ(format_rfc3339_nanos(t), "2017-03-18T06:12:36.829000000Z");
  EXPECT_EQ(format_iso8601_ms(-1), "1969-12-31T23:59:59.999Z");
}

TEST(TimeFormatTest, MonthArithmeticClampsToMonthEnd) {
  TimestampMs mar31 = *parse_iso8601("2024-03-31T12:00:00Z");
  EXPECT_EQ(format_iso8601_ms(add_months_clamped(mar31, -1)), "2024-02-29T12:00:00.000Z");
  EXPECT_EQ(format_iso8601_ms(add_months_clamped(mar31, -13)), "2023-02-28T12:00:00.000Z");
  EXPECT_EQ(format_iso8601_ms(add_months_clamped(mar31, 12)), "2025-03-31T12:00:00.000Z");
}

TEST(TimeFormatTest, CivilConversionIsInverse) {
  for (TimestampMs t : {0LL, 951782400000LL, -62135596800000LL, 4102444800123LL}) {
    EXPECT_EQ(ms_from_civil(civil_from_ms(t)), t);
  }
}

}  // namespace
}  // namespace shoal
