// WindowTable: rolling sums over (t - d, t], late events, bucketing,
// eviction bounds, idle-key sweeping, and exact rollback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "daemon/policy/window.h"
#include "tests/daemon/policy_test_util.h"

namespace custody::daemon::policy {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using test::T;

WindowSpec Spec(microseconds duration, microseconds resolution = seconds(1),
                std::optional<microseconds> late = std::nullopt) {
  WindowSpec s;
  s.duration = duration;
  s.resolution = resolution;
  s.late_tolerance = late.value_or(duration);
  return s;
}

const schema::TimePoint kT0 = T("2026-05-04T10:00:00Z");

TEST(WindowTable, UnknownKeySumsToZero) {
  WindowTable w(Spec(hours(24)), nullptr);
  EXPECT_EQ(w.Sum("nobody", kT0), 0);
  EXPECT_EQ(w.key_count(), 0u);
}

TEST(WindowTable, LowerEdgeExcludedUpperEdgeIncluded) {
  WindowTable w(Spec(hours(24)), nullptr);
  EXPECT_EQ(w.Add("a", kT0, 5), 5);
  EXPECT_EQ(w.Sum("a", kT0), 5);                                // t included
  EXPECT_EQ(w.Sum("a", kT0 + hours(24) - microseconds(1)), 5);  // still inside
  EXPECT_EQ(w.Sum("a", kT0 + hours(24)), 0);                    // t - 24h excluded
  EXPECT_EQ(w.Sum("a", kT0 - microseconds(1)), 0);              // later events do not count
  EXPECT_EQ(w.Add("a", kT0 + hours(24), 7), 7);
  // Late: its window (t0 - 1µs, t0 + 24h - 1µs] holds t0 and itself, not t0 + 24h.
  EXPECT_EQ(w.Add("a", kT0 + hours(24) - microseconds(1), 1), 6);
  EXPECT_EQ(w.Sum("a", kT0 + hours(24)), 8);
}

TEST(WindowTable, LateEventsArePlacedByTime) {
  // Late by up to 3h behind the newest event: windows stay complete.
  WindowTable w(Spec(hours(1), seconds(1), hours(3)), nullptr);
  (void)w.Add("a", kT0, 1);
  (void)w.Add("a", kT0 + minutes(120), 100);
  EXPECT_EQ(w.Add("a", kT0 + minutes(30), 10), 11);  // sees 10:00, not 12:00
  EXPECT_EQ(w.Sum("a", kT0 + minutes(59)), 11);
  EXPECT_EQ(w.Sum("a", kT0 + minutes(60)), 10);
  EXPECT_EQ(w.Sum("a", kT0 + minutes(120)), 100);
  EXPECT_EQ(w.Sum("a", kT0 + minutes(89)), 10);
  EXPECT_EQ(w.bucket_count(), 3u);
}

TEST(WindowTable, KeysAreIndependent) {
  WindowTable w(Spec(hours(1)), nullptr);
  (void)w.Add("a", kT0, 1);
  (void)w.Add("b", kT0, 2);
  EXPECT_EQ(w.Sum("a", kT0), 1);
  EXPECT_EQ(w.Sum("b", kT0), 2);
  EXPECT_EQ(w.key_count(), 2u);
}

TEST(WindowTable, ResolutionBucketsErrOnlyUpward) {
  WindowTable coarse(Spec(hours(1), seconds(1)), nullptr);
  WindowTable exact(Spec(hours(1), microseconds(0)), nullptr);
  for (WindowTable* w : {&coarse, &exact}) {
    (void)w->Add("a", kT0, 1);
    (void)w->Add("a", kT0 + std::chrono::milliseconds(500), 2);
    (void)w->Add("a", kT0 + std::chrono::milliseconds(500), 4);  // same instant: always shared
  }
  EXPECT_EQ(coarse.bucket_count(), 1u);
  EXPECT_EQ(exact.bucket_count(), 2u);
  // 0.25 s after the first event leaves the window, only the coarse table
  // still counts it: an upward error smaller than the resolution.
  const auto t = kT0 + hours(1) + std::chrono::milliseconds(250);
  EXPECT_EQ(exact.Sum("a", t), 6);
  EXPECT_EQ(coarse.Sum("a", t), 7);
  // Once the whole bucket is out, both agree.
  EXPECT_EQ(coarse.Sum("a", kT0 + hours(1) + std::chrono::milliseconds(500)), 0);
  EXPECT_EQ(exact.Sum("a", kT0 + hours(1) + std::chrono::milliseconds(500)), 0);
}

TEST(WindowTable, EvictsBeyondLateToleranceBehindNewest) {
  WindowTable w(Spec(hours(1), seconds(1), hours(1)), nullptr);
  (void)w.Add("a", kT0, 5);
  (void)w.Add("a", kT0 + minutes(90), 1);  // 10:00 is within 1h + 1h: kept
  EXPECT_EQ(w.bucket_count(), 2u);
  EXPECT_EQ(w.Add("a", kT0 + minutes(30), 1), 6);  // a late event sees it
  (void)w.Add("a", kT0 + hours(3), 1);             // now 10:00 and 10:30 are > 2h behind: forgotten
  EXPECT_EQ(w.bucket_count(), 2u);                 // 11:30 and 13:00
  // Documented limit: an event later than the tolerance sees an incomplete window.
  EXPECT_EQ(w.Add("a", kT0 + minutes(45), 1), 1);
}

TEST(WindowTable, FutureDatedEventCannotEvictHistory) {
  test::FakeClock clock(kT0 + minutes(10));
  WindowTable w(Spec(hours(1)), &clock);
  (void)w.Add("a", kT0, 50);
  (void)w.Add("a", kT0 + hours(24 * 365), 1);  // a producer's clock is a year ahead
  EXPECT_EQ(w.Add("a", kT0 + minutes(5), 1), 51);
}

TEST(WindowTable, SweepDropsIdleKeysOnly) {
  test::FakeClock clock(kT0);             // events arrive in real time
  WindowTable w(Spec(hours(1)), &clock);  // duration + tolerance = 2h
  (void)w.Add("old", kT0, 1);
  clock.Advance(minutes(90));
  (void)w.Add("recent", kT0 + minutes(90), 1);
  EXPECT_EQ(w.key_count(), 2u);  // "old" is still within 2h of now
  clock.Advance(minutes(60));
  (void)w.Add("fresh", kT0 + minutes(150), 1);
  EXPECT_EQ(w.key_count(), 2u);  // "old" was idle and > 2h old: dropped
  EXPECT_EQ(w.Sum("old", kT0), 0);
  EXPECT_EQ(w.Sum("recent", kT0 + minutes(90)), 1);
}

TEST(WindowTable, OldTimelineSurvivesWallClockTime) {
  // Events from May replayed in November (a scenario, a backfill): however
  // much wall time passes between an actor's events, the window holds.
  test::FakeClock clock(kT0 + hours(24 * 200));
  WindowTable w(Spec(hours(1)), &clock);
  (void)w.Add("a", kT0, 50);
  for (int i = 0; i < 10; ++i) {
    clock.Advance(seconds(61));  // every Add below runs a sweep
    (void)w.Add("b", kT0 + minutes(1 + i), 1);
  }
  EXPECT_EQ(w.key_count(), 2u);
  EXPECT_EQ(w.Add("a", kT0 + minutes(30), 1), 51);
}

TEST(WindowTable, FutureDatedEventsDoNotAdvanceTheWatermark) {
  test::FakeClock clock(kT0 + minutes(10));
  WindowTable w(Spec(hours(1)), &clock);
  (void)w.Add("a", kT0, 50);
  clock.Advance(seconds(61));
  (void)w.Add("b", kT0 + hours(24 * 365), 1);  // would make "a" look idle
  clock.Advance(seconds(61));
  (void)w.Add("c", kT0 + minutes(1), 1);
  clock.Advance(seconds(61));
  (void)w.Add("c", kT0 + minutes(2), 1);
  EXPECT_EQ(w.key_count(), 3u);
  EXPECT_EQ(w.Add("a", kT0 + minutes(5), 1), 51);
}

TEST(WindowTable, RollbackRestoresTheWatermark) {
  test::FakeClock clock(kT0 + hours(24 * 30));
  WindowTable w(Spec(hours(1)), &clock);
  (void)w.Add("a", kT0, 50);
  w.Begin();
  (void)w.Add("b", kT0 + hours(10), 1);  // would make "a" idle...
  w.Rollback();                          // ...but never happened
  clock.Advance(seconds(61));
  (void)w.Add("c", kT0 + minutes(1), 1);
  clock.Advance(seconds(61));
  (void)w.Add("c", kT0 + minutes(2), 1);
  EXPECT_EQ(w.Add("a", kT0 + minutes(30), 1), 51);
}

TEST(WindowTable, SweepKeepsKeysTouchedSinceTheLastSweep) {
  // A backfill: old event times, but the key is in use.
  test::FakeClock clock(kT0 + hours(24 * 30));
  WindowTable w(Spec(hours(1)), &clock);
  for (int i = 0; i < 5; ++i) {
    (void)w.Add("backfill", kT0 + minutes(i), 10);
    clock.Advance(seconds(61));  // every Add runs a sweep
  }
  EXPECT_EQ(w.Sum("backfill", kT0 + minutes(5)), 50);
}

TEST(WindowTable, BatchDefersEvictionToCommit) {
  WindowTable w(Spec(hours(1), seconds(1), microseconds(0)), nullptr);
  w.Begin();
  (void)w.Add("a", kT0, 1);
  (void)w.Add("a", kT0 + hours(2), 1);
  EXPECT_EQ(w.bucket_count(), 2u);
  w.Commit();
  EXPECT_EQ(w.bucket_count(), 1u);
}

TEST(WindowTable, RollbackRestoresExactly) {
  std::mt19937 rng(42);
  WindowTable w(Spec(hours(1), seconds(1)), nullptr);
  const std::vector<std::string> keys = {"a", "b", "c", "d"};
  auto random_add = [&](WindowTable& table) {
    const auto t = kT0 + microseconds(static_cast<int64_t>(rng() % 14'400'000'000ull));
    (void)table.Add(keys[rng() % 3], t, static_cast<int64_t>(rng() % 1000));
  };
  auto snapshot = [&]() {
    std::map<std::pair<std::string, int>, int64_t> sums;
    for (const std::string& k : keys) {
      for (int m = 0; m <= 300; m += 3) sums[{k, m}] = w.Sum(k, kT0 + minutes(m));
    }
    return sums;
  };
  w.Begin();
  for (int i = 0; i < 300; ++i) random_add(w);
  w.Commit();
  const auto before = snapshot();
  const size_t keys_before = w.key_count(), buckets_before = w.bucket_count();

  w.Begin();
  for (int i = 0; i < 300; ++i) random_add(w);  // in order, late, merged, new buckets
  (void)w.Add("d", kT0, 5);                     // a key created in the batch
  w.Rollback();

  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(w.key_count(), keys_before);
  EXPECT_EQ(w.bucket_count(), buckets_before);
  EXPECT_FALSE(w.in_batch());
}

TEST(WindowTable, SumsSaturate) {
  WindowTable w(Spec(hours(1)), nullptr);
  constexpr int64_t kBig = (int64_t{1} << 53) - 1;
  int64_t last = 0;
  for (int i = 0; i < 2000; ++i) last = w.Add("a", kT0 + seconds(i), kBig);
  EXPECT_EQ(last, INT64_MAX);
}

}  // namespace
}  // namespace custody::daemon::policy
