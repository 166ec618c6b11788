// A small Prometheus metrics registry: counters, gauges and histograms with
// fixed label sets, rendered in the text exposition format (version 0.0.4).
//
// Metrics are created once at startup (Registry::Counter etc. return stable
// pointers owned by the registry) and then updated lock-free from any thread.
// Render() may run concurrently with updates; it sees each value atomically
// but not all values at one instant, which Prometheus tolerates.
#ifndef CUSTODY_DAEMON_METRICS_METRICS_H_
#define CUSTODY_DAEMON_METRICS_METRICS_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace custody::daemon::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative histogram over fixed upper bounds (seconds, bytes, ...).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (non-cumulative) counts; the last is +Inf.
  std::vector<uint64_t> counts() const;
  double sum() const;
  uint64_t count() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micro_{0};  // sum * 1e6, so it stays an atomic integer
};

using Labels = std::map<std::string, std::string>;

class Registry {
 public:
  Registry();
  ~Registry();  // out of line: Family is incomplete here
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Each returns the metric for (name, labels), creating it on first use.
  // `help` is taken from the first call for a name.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});
  // A gauge computed when rendered (queue depth, ledger size, ...).
  void AddCallbackGauge(const std::string& name, const std::string& help,
                        std::function<double()> fn);

  // The whole registry in Prometheus text format.
  std::string Render() const;

 private:
  struct Family;
  Family& GetFamily(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

}  // namespace custody::daemon::metrics

#endif  // CUSTODY_DAEMON_METRICS_METRICS_H_
