// Ingestor: the group-commit pipeline between HTTP sessions and the ledger.
//
// Sessions validate and pseudonymise on their own threads (PrepareEvents),
// then Submit() a request's events to a bounded queue. One appender thread
// takes everything queued (up to max_batch_events), and in ONE LMDB
// transaction: drops retries ((producer, event_id) is unique; an event whose
// id was recorded with the same body gets the first one's seq, "duplicate";
// one with a different body makes its whole request a conflict, appended
// nothing: a reused id must not silently lose an access), asks the
// policy Decider for each event's decision, appends the entries, writes the
// idempotency map, the query indexes and the alert records; then commits
// with fsync and signs a checkpoint (ledger::Ledger::Write). Only then does
// it complete each request's callback with its receipts and the checkpoint.
//
// Backpressure: Submit() refuses a request whose events do not fit in the
// queue (Unavailable -> HTTP 503 + Retry-After). A request is enqueued
// whole or not at all; a failed commit fails every request of that batch
// and writes nothing.
//
// Completion: the callbacks of a committed batch's event requests run on a
// second thread, the completer, in commit order, and the requests are freed
// there; the appender hands it the whole batch at once and starts the next
// transaction straight away. Record and policy callbacks run on the appender
// (they update the decider, which only the appender touches).
//
// Thread safety: Submit*, queue_depth from any thread. Start/Drain from the
// owner. Callbacks must not block (post the response to the session's
// executor).
#ifndef CUSTODY_DAEMON_INGEST_INGESTOR_H_
#define CUSTODY_DAEMON_INGEST_INGESTOR_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "custody/ledger/store.h"
#include "custody/schema/clock.h"
#include "custody/schema/event.h"
#include "daemon/alerts/alerts.h"
#include "daemon/ingest/pseudonymizer.h"
#include "daemon/ingest/tables.h"
#include "daemon/metrics/metrics.h"
#include "daemon/policy/decider.h"

namespace custody::daemon {

struct IngestOptions {
  size_t max_batch_events = 8192;          // per transaction
  size_t queue_capacity_events = 100000;   // beyond this, Submit() is Unavailable
  // After the first request arrives the appender commits at once; while a
  // commit runs, new requests pile up and form the next batch. No timer is
  // needed for group commit, so idle latency is one fsync.
};

// One event ready for the appender.
struct PreparedEvent {
  schema::Event event;  // subject_ids cleared, subject_refs filled
  std::string body;     // canonical JSON of schema::NormalizedBody(event)
};

// Validates nothing (ParseEventBatch did); pseudonymises subject ids and
// canonicalises bodies. Runs on the caller's thread.
Result<std::vector<PreparedEvent>> PrepareEvents(std::vector<schema::Event> events,
                                                 const Pseudonymizer& pseudonymizer);

struct Receipt {
  std::string event_id;
  uint64_t seq = 0;
  bool duplicate = false;
};

// An event whose (producer, event_id) was recorded before with a different
// body: not a retry but a second event under a used id.
struct EventConflict {
  size_t index = 0;  // in the request
  std::string event_id;
  uint64_t seq = 0;  // where the first one is recorded...
  // ...or, when the first one is an earlier event of the same request, its index.
  std::optional<size_t> earlier_index;
};

struct IngestReply {
  std::vector<Receipt> results;
  std::string checkpoint;  // signed note covering every seq in results
  // Not empty: the request was refused whole (nothing of it appended, no
  // results) because these events reuse an event_id for different content.
  std::vector<EventConflict> conflicts;
};

using IngestDone = std::function<void(Result<IngestReply>)>;

// A record the log writes about itself (an approval, a revocation, ...).
struct RecordRequest {
  std::string kind;
  std::string producer;
  std::string body;  // canonical JSON object
};
struct RecordReply {
  uint64_t seq = 0;
  std::string checkpoint;
};
using RecordDone = std::function<void(Result<RecordReply>)>;

class Ingestor {
 public:
  // `ledger`, `tables`, `decider`, `clock` and `registry` must outlive the
  // Ingestor.
  Ingestor(ledger::Ledger* ledger, const Tables* tables, policy::Decider* decider,
           schema::Clock* clock, metrics::Registry* registry, IngestOptions options);
  ~Ingestor();  // Drain()s

  // Routes alert records through `router` (outbox rows, dedup) and calls
  // `notify` after each commit that queued deliveries. Without a router,
  // alert records are written with no outbox. Call before Start().
  void SetAlertRouter(alerts::Router* router, std::function<void()> notify);

  // Records the policy in force if the log has not recorded it yet, then
  // starts the appender thread.
  Status Start();

  Status Submit(std::string producer, std::vector<PreparedEvent> events, IngestDone done);
  Status SubmitRecord(RecordRequest record, RecordDone done);

  // Re-checks the decider's policy and records it (a reload). Blocks until
  // committed.
  Status RecordPolicyIfChanged();

  // Stops accepting (Submit returns FailedPrecondition), commits everything
  // queued, runs every callback, and joins the appender and the completer.
  // Idempotent.
  void Drain();

  size_t queue_depth() const;
  bool accepting() const;

 private:
  struct Request;
  void Run();
  void CommitBatch(std::vector<std::unique_ptr<Request>>& batch);
  void Complete();  // the completer thread's loop
  Status WritePolicyIfChanged(ledger::WriteTxn& txn, bool* appended);

  ledger::Ledger* ledger_;
  const Tables* tables_;
  policy::Decider* decider_;
  alerts::Router* router_ = nullptr;
  std::function<void()> notify_alerts_;
  schema::Clock* clock_;
  IngestOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Request>> queue_;
  size_t queued_events_ = 0;
  bool accepting_ = false;
  bool stop_ = false;
  std::thread thread_;

  // Committed event requests waiting for the completer, in commit order.
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::vector<std::unique_ptr<Request>> done_queue_;
  bool done_stop_ = false;
  std::thread completer_;

  std::mutex policy_mu_;  // serialises RecordPolicyIfChanged with the appender's writes

  metrics::Counter* events_appended_;
  metrics::Counter* events_duplicate_;
  metrics::Counter* batches_;
  metrics::Counter* rejected_queue_full_;
  metrics::Counter* commit_failures_;
  metrics::Histogram* commit_seconds_;
  metrics::Histogram* batch_events_;
  metrics::Histogram* commit_work_seconds_;
  metrics::Histogram* commit_sync_seconds_;
  metrics::Gauge* queue_depth_;
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_INGEST_INGESTOR_H_
