#pragma once
// UTC calendar arithmetic and ISO-8601 / RFC 3339 text for TimestampMs.
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace shoal {

struct CivilTime {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millisecond = 0;
};

// Days since 1970-01-01 for a proleptic Gregorian date (valid for any int year).
std::int64_t days_from_civil(int year, int month, int day);
CivilTime civil_from_ms(TimestampMs t);
TimestampMs ms_from_civil(const CivilTime& c);
int days_in_month(int year, int month);

// Adds calendar months in UTC, clamping the day to the end of the target month
// (2024-03-31 minus 1 month = 2024-02-29); the time of day is kept.
TimestampMs add_months_clamped(TimestampMs t, std::int64_t months);

// Parses ISO-8601 / RFC 3339: "2024-03-01", "2024-03-01T10:00", "2024-03-01T10:00:00",
// fractional seconds of any length (truncated to ms), "Z", "+hh:mm", "+hhmm" or no zone (UTC).
// A space may stand for "T".
Result<TimestampMs> parse_iso8601(std::string_view text);

// "2024-03-01T10:00:00.123Z"
std::string format_iso8601_ms(TimestampMs t);
// "2024-03-01T10:00:00.123000000Z" (nanosecond digits, as in the trigger message format).
std::string format_rfc3339_nanos(TimestampMs t);

}  // namespace shoal
