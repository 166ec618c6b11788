#include "client/custodyctl/time_arg.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace custody::client {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

schema::TimePoint At(const char* rfc3339) { return *schema::ParseRfc3339(rfc3339); }

const schema::TimePoint kNow = At("2026-05-04T09:30:15.250000Z");

std::string Parse(const char* text) {
  auto t = ParseTimeArg(text, kNow);
  return t.ok() ? schema::FormatRfc3339(*t) : "error: " + t.status().message();
}

TEST(TimeArg, AcceptsRfc3339WithOffsetsAndFractions) {
  EXPECT_EQ(Parse("2026-05-04T09:00:00Z"), "2026-05-04T09:00:00Z");
  EXPECT_EQ(Parse("2026-05-04T11:00:00+02:00"), "2026-05-04T09:00:00Z");
  EXPECT_EQ(Parse("2026-05-04t09:00:00.5z"), "2026-05-04T09:00:00.500000Z");
  EXPECT_EQ(Parse("2026-05-04 09:00:00Z"), "2026-05-04T09:00:00Z");  // space as the separator
}

TEST(TimeArg, DateIsMidnightUtc) {
  EXPECT_EQ(Parse("2026-05-04"), "2026-05-04T00:00:00Z");
  EXPECT_EQ(Parse("2024-02-29"), "2024-02-29T00:00:00Z");
  EXPECT_THAT(Parse("2026-02-29"), HasSubstr("error"));  // not a leap year
  EXPECT_THAT(Parse("2026-13-01"), HasSubstr("error"));
}

TEST(TimeArg, ImpossibleDatesGetADateErrorNotADurationError) {
  EXPECT_EQ(Parse("2026-13-01"), "error: date 2026-13-01: month 13 is not 1..12");
  EXPECT_EQ(Parse("2026-00-10"), "error: date 2026-00-10: month 0 is not 1..12");
  EXPECT_EQ(Parse("2026-02-30"),
            "error: date 2026-02-30: day 30 is not 1..28 (2026-02 has 28 days)");
  EXPECT_EQ(Parse("2024-04-31"),
            "error: date 2024-04-31: day 31 is not 1..30 (2024-04 has 30 days)");
  EXPECT_EQ(Parse(""), "error: empty time");
}

TEST(TimeArg, RelativeFormsCountBackFromNow) {
  EXPECT_EQ(Parse("2h"), "2026-05-04T07:30:15.250000Z");
  EXPECT_EQ(Parse("30m"), "2026-05-04T09:00:15.250000Z");
  EXPECT_EQ(Parse("7d"), "2026-04-27T09:30:15.250000Z");
  EXPECT_EQ(Parse("1w"), "2026-04-27T09:30:15.250000Z");
  EXPECT_EQ(Parse("90s"), "2026-05-04T09:28:45.250000Z");
  EXPECT_EQ(Parse("1h30m"), "2026-05-04T08:00:15.250000Z");
  EXPECT_EQ(Parse("-2h"), "2026-05-04T07:30:15.250000Z");
  EXPECT_EQ(Parse("2h ago"), "2026-05-04T07:30:15.250000Z");
  EXPECT_EQ(Parse("2H"), "2026-05-04T07:30:15.250000Z");
}

TEST(TimeArg, NamedDaysAreUtcMidnights) {
  EXPECT_EQ(Parse("now"), "2026-05-04T09:30:15.250000Z");
  EXPECT_EQ(Parse("today"), "2026-05-04T00:00:00Z");
  EXPECT_EQ(Parse("yesterday"), "2026-05-03T00:00:00Z");
  EXPECT_EQ(Parse(" Yesterday "), "2026-05-03T00:00:00Z");
}

TEST(TimeArg, RejectsWhatItDoesNotUnderstandWithTheAcceptedForms) {
  for (const char* bad :
       {"", "soon", "2x", "h", "2026-05-04T25:00:00Z", "0h", "tomorrow", "5 hours"}) {
    auto t = ParseTimeArg(bad, kNow);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_TRUE(t.status().IsInvalidArgument()) << bad;
  }
  EXPECT_THAT(ParseTimeArg("soon", kNow).status().message(), HasSubstr("yesterday"));
  EXPECT_THAT(ParseTimeArg("2x", kNow).status().message(), HasSubstr("ms, s, m, h, d, w"));
}

TEST(TimeArg, RejectsOverflowAndTimesBefore1970) {
  EXPECT_FALSE(ParseTimeArg("99999999999999999999d", kNow).ok());
  EXPECT_FALSE(ParseTimeArg("1000000w", kNow).ok());
}

TEST(DurationArg, ParsesUnitsAndRejectsZero) {
  EXPECT_EQ(*ParseDurationArg("500ms"), 500ms);
  EXPECT_EQ(*ParseDurationArg("2s"), 2s);
  EXPECT_EQ(*ParseDurationArg("1h30m"), 90min);
  EXPECT_FALSE(ParseDurationArg("0s").ok());
  EXPECT_FALSE(ParseDurationArg("s").ok());
  EXPECT_FALSE(ParseDurationArg("").ok());
}

TEST(HumanAge, RoundsCoarsely) {
  EXPECT_EQ(HumanAge(5s), "5 s");
  EXPECT_EQ(HumanAge(10min), "10 min");
  EXPECT_EQ(HumanAge(5h), "5 h");
  EXPECT_EQ(HumanAge(72h), "3 d");
  EXPECT_EQ(HumanAge(-1s), "in the future");
}

}  // namespace
}  // namespace custody::client
