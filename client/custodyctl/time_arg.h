// Time arguments (--since, --until) and durations (--interval) as people
// type them.
//
// ParseTimeArg accepts, case-insensitively:
//   RFC 3339          2026-05-04T09:00:00Z, 2026-05-04T11:00:00+02:00
//   a date            2026-05-04                 (00:00:00 UTC that day)
//   now, today, yesterday                        (today = 00:00 UTC of `now`'s date)
//   a relative time   2h, 30m, 7d, 1w, 90s, 1h30m, optionally written
//                     "-2h" or "2h ago": that long before `now`
// Days are UTC days, like every time custodyd stores.
//
// Thread safety: pure functions.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_TIME_ARG_H_
#define CUSTODY_CLIENT_CUSTODYCTL_TIME_ARG_H_

#include <chrono>
#include <string>
#include <string_view>

#include "custody/schema/clock.h"
#include "custody/schema/result.h"

namespace custody::client {

using schema::Result;
using schema::Status;

// InvalidArgument listing the accepted forms when `text` is none of them.
Result<schema::TimePoint> ParseTimeArg(std::string_view text, schema::TimePoint now);

// "<n><unit>..." with units s, m, h, d, w ("2h", "1h30m", "500ms"); > 0.
Result<std::chrono::microseconds> ParseDurationArg(std::string_view text);

// "3 s", "5 min", "2 h", "3 d": a coarse human age for status lines.
std::string HumanAge(std::chrono::microseconds age);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_TIME_ARG_H_
