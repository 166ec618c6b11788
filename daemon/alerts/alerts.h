// Alerts: from a rule hit to a human.
//
// Every hit becomes an alert record in the `alerts` table, written by the
// appender in the same LMDB transaction as its event (Router). For each
// configured sink whose minimum severity the alert meets, the same
// transaction writes an outbox row; a Dispatcher thread per sink delivers
// the outbox in order, retrying with exponential backoff and jitter, and
// deletes a row only after the sink accepted it. Because the outbox is in
// LMDB, a sink that is down for an hour -- or a custodyd restart -- loses
// nothing: delivery is at least once, and every delivery carries an
// idempotency key (`<origin>/<alert_id>`) so receivers can drop repeats.
//
// Notification dedup: when `dedup.window_seconds` > 0, alerts with the same
// rule, the same severity and the same values of `dedup.key` fields within
// the window notify once (the severity is part of the key because sinks
// choose alerts by severity: a suppressed alert must go to exactly the sinks
// the one that was notified went to, even after a reload changed the rule's
// severity); later ones are still recorded (ledger, /v1/alerts) with
// "notified": false and "suppressed_by", and the first alert's record counts
// them in "suppressed". Dedup never drops evidence.
//
// Threading: Router on the appender thread only; Dispatcher owns its threads;
// Notify() from any thread.
#ifndef CUSTODY_DAEMON_ALERTS_ALERTS_H_
#define CUSTODY_DAEMON_ALERTS_ALERTS_H_

#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "custody/ledger/store.h"
#include "custody/schema/clock.h"
#include "daemon/ingest/tables.h"
#include "daemon/metrics/metrics.h"
#include "daemon/policy/decider.h"

namespace custody::daemon::alerts {

enum class SinkType { kWebhook, kLog, kFile };

struct SinkConfig {
  std::string name;  // unique; names the outbox and the metrics
  SinkType type = SinkType::kLog;
  std::string url;   // webhook: http://host:port/path (loopback or LAN; no TLS)
  std::string path;  // file: NDJSON file appended to
  policy::Severity min_severity = policy::Severity::kInfo;
  uint32_t timeout_ms = 2000;         // webhook: connect + write + read
  uint32_t initial_backoff_ms = 100;  // first retry delay; doubles, with jitter
  uint32_t max_backoff_ms = 30000;
};

struct DedupConfig {
  uint32_t window_seconds = 0;               // 0: every alert notifies
  std::vector<std::string> key = {"actor"};  // alert fields that, with the rule, form the key
};

struct AlertsConfig {
  std::vector<SinkConfig> sinks;
  DedupConfig dedup;
};

// InvalidArgument naming the sink and what is wrong (unknown URL scheme, ...).
Status ValidateAlertsConfig(const AlertsConfig& config);

// Writes alert records and outbox rows inside the appender's transaction.
class Router {
 public:
  Router(AlertsConfig config, const Tables* tables);

  void BeginBatch();
  void CommitBatch();
  void RollbackBatch();

  // Records alert `index` of entry `seq` (its JSON fields in `alert`, which
  // gains "alert_id", "notified" and dedup fields) and queues it for every
  // sink it qualifies for. `now` is the commit's time.
  Status Record(ledger::WriteTxn& txn, uint64_t seq, uint32_t index, policy::Severity severity,
                boost::json::object alert, schema::TimePoint now);

  // Outbox rows written by the last committed batch (to wake dispatchers).
  bool wrote_outbox() const { return wrote_outbox_; }

  // At start-up, before the first batch: rebuilds the dedup windows still
  // open at `now` from the notified alerts the ledger holds (newest first,
  // back to the first received more than a window before `now`), so that a
  // restart does not notify again what a window had already covered.
  Status RestoreWindows(ledger::Ledger& ledger, schema::TimePoint now);

 private:
  // The dedup key of `alert` (its rule and severity, and config_.dedup.key fields).
  std::string DedupKey(const boost::json::object& alert, std::string_view severity) const;

  struct Window {
    std::string first_alert_key;
    int64_t window_end_us = 0;
  };
  AlertsConfig config_;
  const Tables* tables_;
  std::unordered_map<std::string, Window> windows_;
  // Undo log for the current batch: key -> previous value (nullopt: absent).
  std::vector<std::pair<std::string, std::optional<Window>>> undo_;
  bool wrote_outbox_ = false;
};

// The outbox key prefix of a sink.
std::string OutboxPrefix(const std::string& sink);

// A delivery target.
class Sink {
 public:
  virtual ~Sink() = default;
  // Delivers one alert (canonical JSON). Unavailable/IOError: retry later.
  virtual Status Deliver(const std::string& alert_json, const std::string& idempotency_key) = 0;
  // Asks the sink to reopen what it writes to before its next delivery (a
  // file sink after logrotate moved its file). Callable from any thread.
  virtual void Reopen() {}
};

std::unique_ptr<Sink> MakeSink(const SinkConfig& config);

// Delivers the outbox of every sink, one thread per sink.
class Dispatcher {
 public:
  Dispatcher(ledger::Ledger* ledger, const Tables* tables, AlertsConfig config,
             metrics::Registry* registry);
  ~Dispatcher();  // Stop()s

  void Start();
  // Wakes the sinks' threads (new outbox rows were committed).
  void Notify();
  // Stops the threads; undelivered rows stay in the outbox for the next start.
  void Stop();
  // Sink::Reopen() on every sink (SIGHUP: file sinks reopen their files by
  // path before their next write). Thread-safe.
  void ReopenFiles();

 private:
  struct Worker;
  void Run(Worker* worker);

  ledger::Ledger* ledger_;
  const Tables* tables_;
  AlertsConfig config_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

}  // namespace custody::daemon::alerts

#endif  // CUSTODY_DAEMON_ALERTS_ALERTS_H_
