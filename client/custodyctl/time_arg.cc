#include "client/custodyctl/time_arg.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>

namespace custody::client {
namespace {

using std::chrono::microseconds;

constexpr int64_t kSecond = 1000000;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// A date, YYYY-MM-DD. *is_date is false when `s` is not shaped like one;
// InvalidArgument naming the field when it is but no such day exists (so
// "2026-13-01" is not reported as a malformed duration).
Status ParseDate(std::string_view s, bool* is_date, schema::TimePoint* out) {
  *is_date = false;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return Status::Ok();
  auto num = [&](size_t pos, size_t len, unsigned* v) {
    *v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
      *v = *v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return true;
  };
  unsigned y, m, d;
  if (!num(0, 4, &y) || !num(5, 2, &m) || !num(8, 2, &d)) return Status::Ok();
  *is_date = true;
  const std::string shown(s);
  if (m < 1 || m > 12) {
    return Status::InvalidArgument("date " + shown + ": month " + std::to_string(m) +
                                   " is not 1..12");
  }
  static constexpr unsigned kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  const unsigned days = m == 2 && !leap ? 28 : kDays[m - 1];
  if (d < 1 || d > days) {
    return Status::InvalidArgument("date " + shown + ": day " + std::to_string(d) + " is not 1.." +
                                   std::to_string(days) + " (" + shown.substr(0, 7) + " has " +
                                   std::to_string(days) + " days)");
  }
  *out = schema::TimePoint(microseconds(DaysFromCivil(y, m, d) * 86400 * kSecond));
  return Status::Ok();
}

schema::TimePoint StartOfDay(schema::TimePoint t) {
  constexpr int64_t kDay = 86400 * kSecond;
  int64_t us = schema::ToUnixMicros(t);
  int64_t floor = us / kDay * kDay;
  if (floor > us) floor -= kDay;  // before 1970
  return schema::FromUnixMicros(floor);
}

}  // namespace

Result<microseconds> ParseDurationArg(std::string_view text) {
  const std::string s = Lower(Trim(text));
  const std::string shown(text);
  if (s.empty()) return Status::InvalidArgument("empty duration");
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      return Status::InvalidArgument("duration \"" + shown +
                                     "\": expected a number then a unit, like 2h or 1h30m");
    }
    int64_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (n > std::numeric_limits<int64_t>::max() / 10 - 10) {
        return Status::InvalidArgument("duration \"" + shown + "\" is too long");
      }
      n = n * 10 + (s[i++] - '0');
    }
    const size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    const std::string_view unit = std::string_view(s).substr(unit_start, i - unit_start);
    int64_t scale = 0;
    if (unit == "ms") scale = 1000;
    if (unit == "s" || unit == "sec") scale = kSecond;
    if (unit == "m" || unit == "min") scale = 60 * kSecond;
    if (unit == "h") scale = 3600 * kSecond;
    if (unit == "d") scale = 86400 * kSecond;
    if (unit == "w") scale = 7 * 86400 * kSecond;
    if (scale == 0) {
      return Status::InvalidArgument("duration \"" + shown + "\": unit \"" + std::string(unit) +
                                     "\" is not one of ms, s, m, h, d, w");
    }
    if (n > std::numeric_limits<int64_t>::max() / scale ||
        total > std::numeric_limits<int64_t>::max() - n * scale) {
      return Status::InvalidArgument("duration \"" + shown + "\" is too long");
    }
    total += n * scale;
  }
  if (total <= 0) return Status::InvalidArgument("duration \"" + shown + "\" must be positive");
  return microseconds(total);
}

Result<schema::TimePoint> ParseTimeArg(std::string_view text, schema::TimePoint now) {
  const std::string_view trimmed = Trim(text);
  const std::string s = Lower(trimmed);
  if (s == "now") return now;
  if (s == "today") return StartOfDay(now);
  if (s == "yesterday") return StartOfDay(now) - std::chrono::hours(24);
  if (s.empty()) return Status::InvalidArgument("empty time");
  schema::TimePoint date;
  bool is_date = false;
  CUSTODY_RETURN_IF_ERROR(ParseDate(s, &is_date, &date));
  if (is_date) return date;
  if (s.size() > 10 && s[4] == '-' && (s[10] == 't' || s[10] == ' ')) {
    std::string rfc(trimmed);
    rfc[10] = 'T';
    auto t = schema::ParseRfc3339(rfc);
    if (!t.ok()) {
      return Status::InvalidArgument("time \"" + std::string(text) + "\": " + t.status().message());
    }
    return *t;
  }
  std::string_view rel = s;
  if (rel.starts_with('-')) rel.remove_prefix(1);
  if (rel.ends_with("ago")) rel = Trim(rel.substr(0, rel.size() - 3));
  if (!rel.empty() && std::isdigit(static_cast<unsigned char>(rel.front()))) {
    auto d = ParseDurationArg(rel);
    if (!d.ok())
      return Status::InvalidArgument("time \"" + std::string(text) + "\": " + d.status().message());
    if (schema::ToUnixMicros(now) < d->count()) {
      return Status::InvalidArgument("time \"" + std::string(text) + "\" is before 1970");
    }
    return now - *d;
  }
  return Status::InvalidArgument(
      "time \"" + std::string(text) +
      "\" is not understood; use RFC 3339 (2026-05-04T09:00:00Z), a date (2026-05-04), "
      "a relative time (30m, 2h, 7d, 1w, \"2h ago\"), now, today or yesterday");
}

std::string HumanAge(microseconds age) {
  const int64_t s = age.count() / kSecond;
  if (s < 0) return "in the future";
  if (s < 120) return std::to_string(s) + " s";
  if (s < 7200) return std::to_string(s / 60) + " min";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " d";
}

}  // namespace custody::client
