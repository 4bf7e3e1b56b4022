#include "core/time_format.h"

#include <charconv>
#include <cstdio>

namespace shoal {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// Reads exactly `n` digits at `pos`; advances pos.
bool read_digits(std::string_view s, size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  pos += n;
  return true;
}

}  // namespace

// Howard Hinnant's days_from_civil.
std::int64_t days_from_civil(int year, int month, int day) {
  std::int64_t y = static_cast<std::int64_t>(year) - (month <= 2 ? 1 : 0);
  std::int64_t era = floor_div(y, 400);
  std::int64_t yoe = y - era * 400;
  std::int64_t mp = (month + 9) % 12;
  std::int64_t doy = (153 * mp + 2) / 5 + day - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilTime civil_from_ms(TimestampMs t) {
  std::int64_t days = floor_div(t, kMsPerDay);
  std::int64_t ms_of_day = t - days * kMsPerDay;
  std::int64_t z = days + 719468;
  std::int64_t era = floor_div(z, 146097);
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  CivilTime c;
  c.year = static_cast<int>(y + (m <= 2 ? 1 : 0));
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  c.hour = static_cast<int>(ms_of_day / 3'600'000);
  c.minute = static_cast<int>(ms_of_day / 60'000 % 60);
  c.second = static_cast<int>(ms_of_day / 1000 % 60);
  c.millisecond = static_cast<int>(ms_of_day % 1000);
  return c;
}

TimestampMs ms_from_civil(const CivilTime& c) {
  return days_from_civil(c.year, c.month, c.day) * kMsPerDay + c.hour * 3'600'000LL +
         c.minute * 60'000LL + c.second * 1000LL + c.millisecond;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && is_leap(year)) return 29;
  return kDays[month - 1];
}

TimestampMs add_months_clamped(TimestampMs t, std::int64_t months) {
  CivilTime c = civil_from_ms(t);
  std::int64_t total = static_cast<std::int64_t>(c.year) * 12 + (c.month - 1) + months;
  c.year = static_cast<int>(floor_div(total, 12));
  c.month = static_cast<int>(total - floor_div(total, 12) * 12) + 1;
  int dim = days_in_month(c.year, c.month);
  if (c.day > dim) c.day = dim;
  return ms_from_civil(c);
}

Result<TimestampMs> parse_iso8601(std::string_view s) {
  auto fail = [&](const char* what) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("invalid date \"") + std::string(s) + "\": " + what);
  };
  size_t pos = 0;
  CivilTime c;
  bool negative_year = false;
  if (pos < s.size() && (s[pos] == '-' || s[pos] == '+')) {
    negative_year = s[pos] == '-';
    ++pos;
  }
  if (!read_digits(s, pos, 4, c.year)) return fail("expected a 4-digit year");
  if (negative_year) c.year = -c.year;
  if (pos >= s.size() || s[pos] != '-') return fail("expected '-' after the year");
  ++pos;
  if (!read_digits(s, pos, 2, c.month) || c.month < 1 || c.month > 12)
    return fail("expected a month 01-12");
  if (pos >= s.size() || s[pos] != '-') return fail("expected '-' after the month");
  ++pos;
  if (!read_digits(s, pos, 2, c.day) || c.day < 1 || c.day > days_in_month(c.year, c.month))
    return fail("day out of range for the month");
  std::int64_t offset_ms = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return fail("expected 'T' after the date");
    ++pos;
    if (!read_digits(s, pos, 2, c.hour) || c.hour > 23) return fail("expected an hour 00-23");
    if (pos >= s.size() || s[pos] != ':') return fail("expected ':' after the hour");
    ++pos;
    if (!read_digits(s, pos, 2, c.minute) || c.minute > 59) return fail("expected minutes 00-59");
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      // 60 is accepted as a leap second and folded into the next minute.
      if (!read_digits(s, pos, 2, c.second) || c.second > 60) return fail("expected seconds 00-60");
      if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
        ++pos;
        int digits = 0;
        int ms = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
          if (digits < 3) ms = ms * 10 + (s[pos] - '0');
          ++digits;
          ++pos;
        }
        if (digits == 0) return fail("expected digits after the decimal point");
        for (int i = digits; i < 3; ++i) ms *= 10;
        c.millisecond = ms;
      }
    }
    if (pos < s.size()) {
      char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        ++pos;
        int oh = 0, om = 0;
        if (!read_digits(s, pos, 2, oh) || oh > 23) return fail("bad zone offset hours");
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size() && !read_digits(s, pos, 2, om)) return fail("bad zone offset minutes");
        if (om > 59) return fail("bad zone offset minutes");
        offset_ms = (oh * 3600LL + om * 60LL) * 1000LL * (z == '+' ? 1 : -1);
      } else {
        return fail("unexpected text after the time");
      }
    }
  }
  if (pos != s.size()) return fail("unexpected trailing text");
  int second = c.second;
  c.second = 0;
  return ms_from_civil(c) + second * 1000LL - offset_ms;
}

std::string format_iso8601_ms(TimestampMs t) {
  CivilTime c = civil_from_ms(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", c.year, c.month, c.day,
                c.hour, c.minute, c.second, c.millisecond);
  return buf;
}

std::string format_rfc3339_nanos(TimestampMs t) {
  CivilTime c = civil_from_ms(t);
  char buf[56];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d000000Z", c.year, c.month,
                c.day, c.hour, c.minute, c.second, c.millisecond);
  return buf;
}

}  // namespace shoal
