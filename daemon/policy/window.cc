#include "daemon/policy/window.h"

#include <algorithm>

namespace custody::daemon::policy {
namespace {

int64_t SatSub(int64_t a, int64_t b) {
  if (b > 0 && a < INT64_MIN + b) return INT64_MIN;
  if (b < 0 && a > INT64_MAX + b) return INT64_MAX;
  return a - b;
}

}  // namespace

WindowTable::WindowTable(const WindowSpec& spec, schema::Clock* clock)
    : spec_(spec), clock_(clock), resolution_us_(std::max<int64_t>(1, spec.resolution.count())) {}

int64_t WindowTable::NowMicros() const {
  return clock_ != nullptr ? schema::ToUnixMicros(clock_->Now()) : INT64_MAX;
}

size_t WindowTable::bucket_count() const {
  size_t n = 0;
  for (const auto& [k, s] : keys_) n += s.buckets.size();
  return n;
}

int64_t WindowTable::RangeSum(const KeyState& k, int64_t t, int64_t d) {
  const std::deque<Bucket>& b = k.buckets;
  const int64_t lower = SatSub(t, d);  // excluded
  // Buckets are sorted and disjoint: first and last both ascend.
  const size_t hi =
      static_cast<size_t>(std::upper_bound(b.begin(), b.end(), t,
                                           [](int64_t v, const Bucket& x) { return v < x.first; }) -
                          b.begin());
  const size_t lo = static_cast<size_t>(
      std::partition_point(b.begin(), b.end(), [&](const Bucket& x) { return x.last <= lower; }) -
      b.begin());
  if (lo >= hi) return 0;
  const uint64_t sum = b[hi - 1].cum - b[lo].cum + b[lo].amount;
  return sum > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(sum);
}

int64_t WindowTable::Sum(std::string_view key, schema::TimePoint t) const {
  auto it = keys_.find(key);
  if (it == keys_.end()) return 0;
  return RangeSum(it->second, schema::ToUnixMicros(t), spec_.duration.count());
}

int64_t WindowTable::Add(std::string_view key, schema::TimePoint tp, int64_t amount) {
  const int64_t t = schema::ToUnixMicros(tp);
  amount = std::max<int64_t>(amount, 0);
  auto it = keys_.find(key);
  bool created = false;
  if (it == keys_.end()) {
    it = keys_.emplace(std::string(key), KeyState{}).first;
    created = true;
  }
  KeyState& k = it->second;
  std::deque<Bucket>& b = k.buckets;
  // Sums are kept modulo 2^64 (well-defined wrap-around); a window would
  // need over 2^64 records to be wrong, and is clamped to INT64_MAX on read.
  const uint64_t a = static_cast<uint64_t>(amount);

  Undo undo{&k, 0, a, 0, false, created && in_batch_, std::string()};
  if (undo.created) undo.name = std::string(key);
  if (b.empty() || t >= b.back().first) {
    if (!b.empty() && t - b.back().first < resolution_us_) {
      Bucket& x = b.back();
      undo.index = b.size() - 1;
      undo.old_last = x.last;
      x.amount += a;
      x.last = std::max(x.last, t);
      x.cum += a;
    } else {
      const uint64_t base = b.empty() ? 0 : b.back().cum;
      b.push_back({t, t, a, base + a});
      undo.index = b.size() - 1;
      undo.inserted = true;
    }
  } else {
    // A late event: place it by time. p is the first bucket starting after t.
    const size_t p = static_cast<size_t>(
        std::upper_bound(b.begin(), b.end(), t,
                         [](int64_t v, const Bucket& x) { return v < x.first; }) -
        b.begin());
    if (p > 0 && t - b[p - 1].first < resolution_us_) {
      Bucket& x = b[p - 1];
      undo.index = p - 1;
      undo.old_last = x.last;
      x.amount += a;
      x.last = std::max(x.last, t);
      for (size_t i = p - 1; i < b.size(); ++i) b[i].cum += a;
    } else {
      const uint64_t base = p > 0 ? b[p - 1].cum : b[0].cum - b[0].amount;
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(p), Bucket{t, t, a, base + a});
      for (size_t i = p + 1; i < b.size(); ++i) b[i].cum += a;
      undo.index = p;
      undo.inserted = true;
    }
  }
  const int64_t sum = RangeSum(k, t, spec_.duration.count());

  const int64_t now = NowMicros();
  if (t <= now && t > watermark_us_) watermark_us_ = t;
  k.touched_sweep = sweep_epoch_;
  if (in_batch_) {
    journal_.push_back(std::move(undo));
    if (k.touched_batch != batch_) {
      k.touched_batch = batch_;
      touched_.push_back(&k);
    }
  } else {
    Evict(k, now);
    MaybeSweep(now);
  }
  return sum;
}

void WindowTable::Evict(KeyState& k, int64_t now_us) {
  std::deque<Bucket>& b = k.buckets;
  if (b.empty()) return;
  const int64_t newest = std::min(b.back().first, now_us);
  const int64_t horizon =
      SatSub(SatSub(newest, spec_.duration.count()), spec_.late_tolerance.count());
  // The back bucket is never evicted (its last >= its first > horizon), so a
  // key stays until the sweep finds it idle.
  while (b.size() > 1 && b.front().last <= horizon) b.pop_front();
}

void WindowTable::MaybeSweep(int64_t now) {
  if (clock_ == nullptr || watermark_us_ == INT64_MIN) return;
  const int64_t interval =
      std::chrono::duration_cast<std::chrono::microseconds>(kSweepInterval).count();
  if (last_sweep_us_ != INT64_MIN && now - last_sweep_us_ < interval) return;
  last_sweep_us_ = now;
  const int64_t idle_before =
      SatSub(SatSub(watermark_us_, spec_.duration.count()), spec_.late_tolerance.count());
  for (auto it = keys_.begin(); it != keys_.end();) {
    KeyState& k = it->second;
    Evict(k, now);
    // No event since the previous sweep, and nothing a timely event could need.
    if (k.touched_sweep < sweep_epoch_ &&
        (k.buckets.empty() || k.buckets.back().last <= idle_before)) {
      it = keys_.erase(it);
    } else {
      ++it;
    }
  }
  ++sweep_epoch_;
}

void WindowTable::Begin() {
  in_batch_ = true;
  watermark_at_begin_ = watermark_us_;
  ++batch_;
  journal_.clear();
  touched_.clear();
}

void WindowTable::Commit() {
  in_batch_ = false;
  journal_.clear();
  const int64_t now = NowMicros();
  for (KeyState* k : touched_) Evict(*k, now);
  touched_.clear();
  MaybeSweep(now);
}

void WindowTable::Rollback() {
  for (auto u = journal_.rbegin(); u != journal_.rend(); ++u) {
    std::deque<Bucket>& b = u->key->buckets;
    const uint64_t a = u->amount;
    if (u->inserted) {
      b.erase(b.begin() + static_cast<std::ptrdiff_t>(u->index));
      for (size_t i = u->index; i < b.size(); ++i) b[i].cum -= a;
    } else {
      Bucket& x = b[u->index];
      x.amount -= a;
      x.last = u->old_last;
      for (size_t i = u->index; i < b.size(); ++i) b[i].cum -= a;
    }
    if (u->created && b.empty()) keys_.erase(u->name);
  }
  journal_.clear();
  touched_.clear();
  watermark_us_ = watermark_at_begin_;
  in_batch_ = false;
}

}  // namespace custody::daemon::policy
