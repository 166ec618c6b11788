// WindowTable: the rolling-window sums of one windowed rule, per key (actor,
// or actor and target), over the events' own times.
//
// Semantics: Sum(key, t) is the sum of the amounts added for `key` whose
// times lie in (t - duration, t] -- the lower edge excluded, t included --
// whatever order the events were added in (late events are placed by time).
//
// Memory is bounded two ways, both of which can only make sums err upward or
// be documented as incomplete, never silently smaller within the tolerance:
//   - amounts whose times are within `resolution` of each other share one
//     bucket; a bucket counts while any part of it is in (t - d, t], so a sum
//     may include events up to `resolution` older than t - d (or, for a late
//     query, newer than t). With resolution 0 every distinct time is exact.
//   - buckets are forgotten once they are older than
//     min(newest time of the key, now) - duration - late_tolerance, so an
//     event later than `late_tolerance` behind the key's newest event sees an
//     incomplete window. `now` only caps a future-dated event: it cannot push
//     the key's real history out.
//     A key is dropped when nothing of it is newer than
//     watermark - duration - late_tolerance and it had no event for a whole
//     sweep interval (kSweepInterval of clock time); the watermark is the
//     newest event time seen that is not in the future. Forgetting thus
//     follows the events' own timeline, so replaying or backfilling old
//     events keeps their windows however old they are.
//
// Batches: between Begin() and Commit()/Rollback() every Add() is journaled;
// Rollback() restores the table exactly as it was at Begin() (eviction and
// sweeping happen only at Commit(), or after each Add() outside a batch).
//
// Not thread-safe: one owner thread (the appender).
#ifndef CUSTODY_DAEMON_POLICY_WINDOW_H_
#define CUSTODY_DAEMON_POLICY_WINDOW_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "custody/schema/clock.h"
#include "daemon/policy/rule.h"

namespace custody::daemon::policy {

class WindowTable {
 public:
  static constexpr std::chrono::seconds kSweepInterval{60};

  // `clock` may be null (then `now` never caps eviction and idle keys are
  // never dropped); when set it must outlive the table.
  WindowTable(const WindowSpec& spec, schema::Clock* clock);

  const WindowSpec& spec() const { return spec_; }

  // Sum over (t - duration, t] for `key`; 0 for an unknown key. Const.
  int64_t Sum(std::string_view key, schema::TimePoint t) const;

  // Adds `amount` (>= 0) at time `t` to `key` and returns Sum(key, t)
  // (which includes it). Sums saturate at INT64_MAX.
  int64_t Add(std::string_view key, schema::TimePoint t, int64_t amount);

  void Begin();
  void Commit();
  void Rollback();
  bool in_batch() const { return in_batch_; }

  size_t key_count() const { return keys_.size(); }
  size_t bucket_count() const;

 private:
  struct Bucket {
    int64_t first;  // µs since epoch of the earliest amount
    int64_t last;   // µs of the latest amount (< first + resolution)
    uint64_t amount;
    uint64_t cum;  // running sum up to and including this bucket (mod 2^64)
  };
  struct KeyState {
    std::deque<Bucket> buckets;
    uint64_t touched_sweep = 0;  // sweep epoch of the last Add
    uint64_t touched_batch = 0;  // batch number of the last Add
  };
  struct Undo {
    KeyState* key;
    size_t index;
    uint64_t amount;
    int64_t old_last;
    bool inserted;     // a new bucket (else merged into an existing one)
    bool created;      // this Add created the key...
    std::string name;  // ...named this (empty unless created)
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  static int64_t RangeSum(const KeyState& k, int64_t t, int64_t d);
  void Evict(KeyState& k, int64_t now_us);
  void MaybeSweep(int64_t now_us);
  int64_t NowMicros() const;

  WindowSpec spec_;
  schema::Clock* clock_;
  int64_t resolution_us_;
  std::unordered_map<std::string, KeyState, Hash, std::equal_to<>> keys_;
  bool in_batch_ = false;
  uint64_t batch_ = 0;
  std::vector<Undo> journal_;
  std::vector<KeyState*> touched_;
  uint64_t sweep_epoch_ = 1;
  int64_t last_sweep_us_ = INT64_MIN;
  int64_t watermark_us_ = INT64_MIN;        // newest non-future event time added
  int64_t watermark_at_begin_ = INT64_MIN;  // restored by Rollback()
};

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_WINDOW_H_
