// Clock: the seam between custody and wall-clock time, and RFC 3339 helpers.
//
// Only SystemClock reads the real time. Everything that needs "now" takes a
// Clock* so tests can pass a fake. Times are std::chrono::system_clock time
// points at microsecond precision (the ledger's `received_at` resolution).
#ifndef CUSTODY_SCHEMA_CLOCK_H_
#define CUSTODY_SCHEMA_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "custody/schema/result.h"

namespace custody::schema {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time. Thread-safe in every implementation.
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  // A process-wide instance; never destroyed.
  static Clock* Default();
};

// Formats `t` as RFC 3339 UTC with exactly six fractional digits:
// "2026-05-04T09:00:00.000000Z". This is the ledger's `received_at` form.
std::string FormatRfc3339Micros(TimePoint t);

// Formats `t` as RFC 3339 UTC, whole seconds when the fraction is zero,
// otherwise six digits: "2026-05-04T09:00:00Z".
std::string FormatRfc3339(TimePoint t);

// Parses an RFC 3339 date-time ("2026-05-04T09:00:00Z",
// "2026-05-04t09:00:00.5+02:00", ...). Fractions beyond microseconds are
// truncated. InvalidArgument naming the problem otherwise.
Result<TimePoint> ParseRfc3339(std::string_view text);

// Microseconds since the Unix epoch.
inline int64_t ToUnixMicros(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromUnixMicros(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }

}  // namespace custody::schema

#endif  // CUSTODY_SCHEMA_CLOCK_H_
