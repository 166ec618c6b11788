#include "custody/schema/clock.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace custody::schema {
namespace {

TEST(Rfc3339, ParsesUtcAndOffsets) {
  ASSERT_OK_AND_ASSIGN(TimePoint a, ParseRfc3339("2026-05-04T09:00:00Z"));
  ASSERT_OK_AND_ASSIGN(TimePoint b, ParseRfc3339("2026-05-04T11:00:00+02:00"));
  ASSERT_OK_AND_ASSIGN(TimePoint c, ParseRfc3339("2026-05-04t08:30:00.000000-00:30"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(ToUnixMicros(a), 1777885200LL * 1000000);
}

TEST(Rfc3339, KeepsMicrosecondsAndTruncatesBeyond) {
  ASSERT_OK_AND_ASSIGN(TimePoint t, ParseRfc3339("1970-01-01T00:00:01.1234567Z"));
  EXPECT_EQ(ToUnixMicros(t), 1123456);
  ASSERT_OK_AND_ASSIGN(TimePoint u, ParseRfc3339("1970-01-01T00:00:00.5Z"));
  EXPECT_EQ(ToUnixMicros(u), 500000);
}

TEST(Rfc3339, RejectsMalformedWithReason) {
  for (const char* bad : {"", "2026-05-04", "2026-05-04 09:00:00Z", "2026-13-01T00:00:00Z",
                          "2026-02-29T00:00:00Z", "2026-05-04T24:00:00Z", "2026-05-04T09:00:00",
                          "2026-05-04T09:00:00Zjunk", "2026-05-04T09:00:00.Z",
                          "2026-05-04T09:00:00+0200"}) {
    auto r = ParseRfc3339(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("RFC 3339"), std::string::npos);
    }
  }
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z").ok());
}

// The offset is applied before storing in UTC; it must not leave the years
// YYYY-...Z can write (once stored as "-001-12-31T23:00:00Z").
TEST(Rfc3339, RejectsOffsetsThatLeaveTheFourDigitYears) {
  for (const char* bad : {"0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"}) {
    auto r = ParseRfc3339(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("outside the years 0000..9999"), std::string::npos)
        << r.status().message();
  }
  ASSERT_OK_AND_ASSIGN(TimePoint first, ParseRfc3339("0000-01-01T01:00:00+01:00"));
  EXPECT_EQ(FormatRfc3339(first), "0000-01-01T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(TimePoint last, ParseRfc3339("9999-12-31T22:59:59-01:00"));
  EXPECT_EQ(FormatRfc3339(last), "9999-12-31T23:59:59Z");
}

TEST(Rfc3339, FormatsRoundTrip) {
  ASSERT_OK_AND_ASSIGN(TimePoint t, ParseRfc3339("2026-11-23T18:25:04.000042Z"));
  EXPECT_EQ(FormatRfc3339Micros(t), "2026-11-23T18:25:04.000042Z");
  EXPECT_EQ(FormatRfc3339(t), "2026-11-23T18:25:04.000042Z");
  ASSERT_OK_AND_ASSIGN(TimePoint w, ParseRfc3339("1969-12-31T23:59:59Z"));
  EXPECT_EQ(FormatRfc3339(w), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatRfc3339Micros(w), "1969-12-31T23:59:59.000000Z");
}

TEST(Rfc3339, FormatsEdgesOfTheFourDigitYears) {
  ASSERT_OK_AND_ASSIGN(TimePoint first, ParseRfc3339("0000-01-01T00:00:00Z"));
  EXPECT_EQ(FormatRfc3339(first), "0000-01-01T00:00:00Z");
  ASSERT_OK_AND_ASSIGN(TimePoint last, ParseRfc3339("9999-12-31T23:59:59.999999Z"));
  EXPECT_EQ(FormatRfc3339(last), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339Micros(last + std::chrono::microseconds(1)),
            "10000-01-01T00:00:00.000000Z");
  ASSERT_OK_AND_ASSIGN(TimePoint t, ParseRfc3339("2026-05-04T09:00:00.1Z"));
  EXPECT_EQ(FormatRfc3339(t), "2026-05-04T09:00:00.100000Z");
}

TEST(SystemClock, NowIsRecent) {
  const int64_t now = ToUnixMicros(SystemClock::Default()->Now());
  EXPECT_GT(now, 1700000000LL * 1000000);  // after 2023
}

}  // namespace
}  // namespace custody::schema
