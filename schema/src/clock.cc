#include "custody/schema/clock.h"

#include <cstdio>

namespace custody::schema {
namespace {

// Howard Hinnant's days_from_civil / civil_from_days (public domain
// algorithms, http://howardhinnant.github.io/date_algorithms.html).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` decimal digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char a, char b = 0) {
  if (*pos >= s.size()) return false;
  char c = s[*pos];
  if (c != a && (b == 0 || c != b)) return false;
  ++*pos;
  return true;
}

std::string Format(TimePoint t, bool always_fraction) {
  const int64_t us = ToUnixMicros(t);
  int64_t days = us / 86400000000LL;
  int64_t rem = us % 86400000000LL;
  if (rem < 0) {
    rem += 86400000000LL;
    --days;
  }
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const int64_t secs = rem / 1000000;
  const int64_t frac = rem % 1000000;
  if (y >= 0 && y <= 9999) {
    // The common case without snprintf (every ledger entry formats a time).
    char buf[27];
    auto put = [&buf](size_t at, uint64_t v, int digits) {
      for (int i = digits - 1; i >= 0; --i, v /= 10) buf[at + i] = static_cast<char>('0' + v % 10);
    };
    put(0, static_cast<uint64_t>(y), 4);
    buf[4] = '-';
    put(5, m, 2);
    buf[7] = '-';
    put(8, d, 2);
    buf[10] = 'T';
    put(11, static_cast<uint64_t>(secs / 3600), 2);
    buf[13] = ':';
    put(14, static_cast<uint64_t>(secs / 60 % 60), 2);
    buf[16] = ':';
    put(17, static_cast<uint64_t>(secs % 60), 2);
    size_t n = 19;
    if (always_fraction || frac != 0) {
      buf[n++] = '.';
      put(n, static_cast<uint64_t>(frac), 6);
      n += 6;
    }
    buf[n++] = 'Z';
    return std::string(buf, n);
  }
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                        static_cast<long long>(y), m, d, static_cast<long long>(secs / 3600),
                        static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  if (always_fraction || frac != 0) {
    n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(frac));
  }
  buf[n++] = 'Z';
  return std::string(buf, n);
}

}  // namespace

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

Clock* SystemClock::Default() {
  static SystemClock* clock = new SystemClock();
  return clock;
}

std::string FormatRfc3339Micros(TimePoint t) { return Format(t, true); }
std::string FormatRfc3339(TimePoint t) { return Format(t, false); }

Result<TimePoint> ParseRfc3339(std::string_view s) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument(std::string("not an RFC 3339 date-time (") + why +
                                   "), expected e.g. 2026-05-04T09:00:00Z: \"" +
                                   std::string(s.substr(0, 64)) + "\"");
  };
  size_t p = 0;
  int year, month, day, hour, minute, second;
  if (!Digits(s, &p, 4, &year) || !Expect(s, &p, '-') || !Digits(s, &p, 2, &month) ||
      !Expect(s, &p, '-') || !Digits(s, &p, 2, &day)) {
    return bad("date must be YYYY-MM-DD");
  }
  if (!Expect(s, &p, 'T', 't')) return bad("missing 'T' between date and time");
  if (!Digits(s, &p, 2, &hour) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &minute) ||
      !Expect(s, &p, ':') || !Digits(s, &p, 2, &second)) {
    return bad("time must be HH:MM:SS");
  }
  if (month < 1 || month > 12) return bad("month out of range");
  if (day < 1 || static_cast<unsigned>(day) > DaysInMonth(year, month)) return bad("day out of range");
  if (hour > 23 || minute > 59 || second > 59) return bad("time of day out of range");
  int64_t micros = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int digits = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    if (digits == 0) return bad("empty fraction");
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  int64_t offset_minutes = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh, om;
    if (!Digits(s, &p, 2, &oh) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &om) || oh > 23 ||
        om > 59) {
      return bad("offset must be Z or +HH:MM");
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad("missing time zone (Z or +HH:MM)");
  }
  if (p != s.size()) return bad("trailing characters");
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  // Times are stored in UTC as YYYY-...Z: an offset must not carry the
  // instant out of the years that form can write.
  static const int64_t kFirst = DaysFromCivil(0, 1, 1) * 86400;
  static const int64_t kLast = DaysFromCivil(9999, 12, 31) * 86400 + 86399;
  if (secs < kFirst || secs > kLast) return bad("in UTC it falls outside the years 0000..9999");
  return FromUnixMicros(secs * 1000000 + micros);
}

}  // namespace custody::schema
