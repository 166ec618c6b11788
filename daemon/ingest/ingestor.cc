#include "daemon/ingest/ingestor.h"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <unordered_map>

#include <boost/json.hpp>

#include "custody/ledger/entry.h"
#include "custody/schema/json_canon.h"

namespace custody::daemon {

// Long enough to span the gaps of a steady load, short enough that an idle
// daemon keeps its key inaccessible nearly all the time.
constexpr auto kKeySealAfterIdle = std::chrono::milliseconds(200);

struct Ingestor::Request {
  enum class Type { kEvents, kRecord, kPolicy };
  Type type = Type::kEvents;
  std::string producer;
  std::vector<PreparedEvent> events;
  std::vector<std::string> idempotency_keys;  // one per event, built by Submit()
  IngestDone done;
  RecordRequest record;
  RecordDone record_done;
  std::promise<Status> policy_done;

  // Results of the latest attempt of the write transaction.
  std::vector<Receipt> receipts;
  std::vector<EventConflict> conflicts;  // not empty: refused whole
  uint64_t record_seq = 0;
  // The outcome of the commit, for the completer: `status`, or on success
  // the signed checkpoint.
  Status status;
  std::string checkpoint;

  size_t weight() const { return type == Type::kEvents ? events.size() : 1; }
};

Result<std::vector<PreparedEvent>> PrepareEvents(std::vector<schema::Event> events,
                                                 const Pseudonymizer& pseudonymizer) {
  std::vector<PreparedEvent> out;
  out.reserve(events.size());
  for (schema::Event& e : events) {
    PreparedEvent p;
    p.event = std::move(e);
    p.event.subject_refs.clear();
    p.event.subject_refs.reserve(p.event.subject_ids.size());
    for (const std::string& id : p.event.subject_ids) {
      p.event.subject_refs.push_back(pseudonymizer.Ref(id));
    }
    p.event.subject_ids.clear();  // raw ids never go further than this
    p.body.reserve(512);
    Status body = schema::AppendNormalizedBodyJson(p.event, &p.body);
    if (!body.ok()) return body.Annotate("event " + p.event.event_id);
    out.push_back(std::move(p));
  }
  return out;
}

Ingestor::Ingestor(ledger::Ledger* ledger, const Tables* tables, policy::Decider* decider,
                   schema::Clock* clock, metrics::Registry* registry, IngestOptions options)
    : ledger_(ledger), tables_(tables), decider_(decider), clock_(clock), options_(options) {
  events_appended_ = registry->GetCounter("custody_events_appended_total",
                                          "Access events appended to the ledger");
  events_duplicate_ = registry->GetCounter("custody_events_duplicate_total",
                                           "Events acknowledged as duplicates (idempotent retries)");
  batches_ = registry->GetCounter("custody_commits_total", "Ledger transactions committed");
  rejected_queue_full_ = registry->GetCounter("custody_ingest_rejected_total",
                                              "Requests refused by the ingest queue",
                                              {{"reason", "queue_full"}});
  commit_failures_ = registry->GetCounter("custody_commit_failures_total",
                                          "Ledger transactions that failed (nothing written)");
  commit_seconds_ = registry->GetHistogram(
      "custody_commit_seconds", "Time to write, fsync and sign one group commit",
      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
  batch_events_ = registry->GetHistogram("custody_commit_batch_events", "Entries per group commit",
                                         {1, 4, 16, 64, 256, 1024, 4096, 16384});
  // The two phases of custody_commit_seconds that matter for tuning.
  const std::vector<double> phase_buckets = {0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005,
                                             0.01,   0.02,    0.05,   0.1,   0.25};
  commit_work_seconds_ = registry->GetHistogram(
      "custody_commit_work_seconds",
      "Time inside one group commit's write transaction before the commit: idempotency "
      "lookups, policy decisions, entries, index and alert rows",
      phase_buckets);
  commit_sync_seconds_ = registry->GetHistogram(
      "custody_commit_sync_seconds",
      "Time from the end of a group commit's transaction work to its durable commit: signing "
      "the checkpoint, writing the pages, fsync",
      phase_buckets);
  queue_depth_ = registry->GetGauge("custody_ingest_queue_events", "Events waiting to be committed");
}

Ingestor::~Ingestor() { Drain(); }

void Ingestor::SetAlertRouter(alerts::Router* router, std::function<void()> notify) {
  router_ = router;
  notify_alerts_ = std::move(notify);
}

Status Ingestor::Start() {
  bool appended = false;
  auto r = ledger_->Write([&](ledger::WriteTxn& txn) { return WritePolicyIfChanged(txn, &appended); });
  if (!r.ok()) return r.status().Annotate("recording the policy in force");
  std::lock_guard lock(mu_);
  accepting_ = true;
  stop_ = false;
  {
    std::lock_guard done_lock(done_mu_);
    done_stop_ = false;
  }
  // Named for top -H, perf and gdb (at most 15 characters).
  completer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ingest-complete");
    Complete();
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ingest-append");
    Run();
  });
  return Status::Ok();
}

Status Ingestor::WritePolicyIfChanged(ledger::WriteTxn& txn, bool* appended) {
  const std::string sha = decider_->PolicySha256();
  CUSTODY_ASSIGN_OR_RETURN(auto recorded, txn.Get(tables_->daemon_meta, "policy_sha256"));
  *appended = false;
  if (recorded && *recorded == sha) return Status::Ok();
  ledger::PendingEntry entry;
  entry.kind = "policy";
  entry.producer = "custodyd";
  entry.received_at = clock_->Now();
  entry.body = decider_->PolicyEntryBody();
  CUSTODY_ASSIGN_OR_RETURN(const uint64_t seq, txn.Append(entry));
  CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->daemon_meta, PolicyEntryKey(seq), ""));
  *appended = true;
  return txn.Put(tables_->daemon_meta, "policy_sha256", sha);
}

Status Ingestor::Submit(std::string producer, std::vector<PreparedEvent> events, IngestDone done) {
  auto req = std::make_unique<Request>();
  req->type = Request::Type::kEvents;
  req->producer = std::move(producer);
  req->events = std::move(events);
  req->done = std::move(done);
  // Built here, on the caller's thread, to keep the appender's transaction short.
  req->idempotency_keys.reserve(req->events.size());
  for (const PreparedEvent& ev : req->events) {
    req->idempotency_keys.push_back(IdempotencyKey(req->producer, ev.event.event_id));
  }
  const size_t weight = req->weight();
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return Status::FailedPrecondition("custodyd is shutting down");
    if (queued_events_ + weight > options_.queue_capacity_events) {
      rejected_queue_full_->Inc();
      // A fact; the caller adds the advice (HTTP: Retry-After).
      return Status::Unavailable("ingest queue is full (" + std::to_string(queued_events_) +
                                 " events waiting)");
    }
    queued_events_ += weight;
    queue_.push_back(std::move(req));
    queue_depth_->Set(static_cast<int64_t>(queued_events_));
  }
  cv_.notify_one();
  return Status::Ok();
}

Status Ingestor::SubmitRecord(RecordRequest record, RecordDone done) {
  auto req = std::make_unique<Request>();
  req->type = Request::Type::kRecord;
  req->record = std::move(record);
  req->record_done = std::move(done);
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return Status::FailedPrecondition("custodyd is shutting down");
    if (queued_events_ + 1 > options_.queue_capacity_events) {
      rejected_queue_full_->Inc();
      return Status::Unavailable("ingest queue is full");
    }
    queued_events_ += 1;
    queue_.push_back(std::move(req));
  }
  cv_.notify_one();
  return Status::Ok();
}

Status Ingestor::RecordPolicyIfChanged() {
  auto req = std::make_unique<Request>();
  req->type = Request::Type::kPolicy;
  std::future<Status> done = req->policy_done.get_future();
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return Status::FailedPrecondition("custodyd is shutting down");
    queued_events_ += 1;
    queue_.push_back(std::move(req));
  }
  cv_.notify_one();
  return done.get();
}

void Ingestor::Drain() {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // The appender has handed over its last batch.
  {
    std::lock_guard lock(done_mu_);
    done_stop_ = true;
  }
  done_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void Ingestor::Complete() {
  std::vector<std::unique_ptr<Request>> batch;
  for (;;) {
    {
      std::unique_lock lock(done_mu_);
      done_cv_.wait(lock, [&] { return !done_queue_.empty() || done_stop_; });
      if (done_queue_.empty()) return;  // done_stop_ and nothing left
      batch.swap(done_queue_);
    }
    for (auto& req : batch) {
      if (req->status.ok()) {
        req->done(IngestReply{std::move(req->receipts), std::move(req->checkpoint),
                              std::move(req->conflicts)});
      } else {
        req->done(req->status);
      }
    }
    batch.clear();  // frees the events here, not on the appender
  }
}

size_t Ingestor::queue_depth() const {
  std::lock_guard lock(mu_);
  return queued_events_;
}

bool Ingestor::accepting() const {
  std::lock_guard lock(mu_);
  return accepting_;
}

void Ingestor::Run() {
  std::vector<std::unique_ptr<Request>> batch;
  // Readable signing key while commits follow each other (keys.h: each
  // re-protection flushes every core's TLB); sealed after kKeySealAfterIdle
  // without work.
  ledger::SigningKey::ReadableHold key_hold;
  const auto has_work = [&] { return !queue_.empty() || stop_; };
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (key_hold && !cv_.wait_for(lock, kKeySealAfterIdle, has_work)) {
        lock.unlock();
        key_hold = {};
        lock.lock();
      }
      cv_.wait(lock, has_work);
      if (queue_.empty()) return;  // stop_ and drained
      size_t taken = 0;
      while (!queue_.empty() && (taken == 0 || taken + queue_.front()->weight() <=
                                                     options_.max_batch_events)) {
        taken += queue_.front()->weight();
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= taken;
      queue_depth_->Set(static_cast<int64_t>(queued_events_));
    }
    if (!key_hold) key_hold = ledger_->KeepSigningKeyReadable();
    CommitBatch(batch);
    batch.clear();
  }
}

namespace {

// The idempotency and index rows of one batch, kept in one buffer (no
// allocation per key) and written after the batch's entries, one table after
// the other. Interleaving the tables event by event made LMDB allocate each
// table's copied pages in between the others' and the entries', so a commit
// wrote more, shorter runs of pages; grouped, the sign+fsync phase of a
// 1000-event commit took ~30% less time (custody_commit_sync_seconds).
// (Sorting each table's rows by key as well cost about as much CPU as it
// saved.) Every row has its own key (a repeated key carries the same value),
// so the order changes nothing but the time.
class RowBuffer {
 public:
  void Clear() {
    bytes_.clear();
    rows_.clear();
  }

  // Adds a row whose key is `prefix`, then '\0' and be64 `seq` when
  // `with_seq`; its value is be64 `value_seq` when `with_value`, else empty.
  void Add(ledger::Table table, std::string_view prefix, bool with_seq, uint64_t seq,
           bool with_value = false, uint64_t value_seq = 0) {
    Row row;
    row.table = table.dbi;
    row.key_offset = bytes_.size();
    bytes_.append(prefix);
    if (with_seq) {
      bytes_.push_back('\0');
      AppendBe64(seq, &bytes_);
    }
    row.key_size = bytes_.size() - row.key_offset;
    row.value_size = 0;
    if (with_value) {
      AppendBe64(value_seq, &bytes_);
      row.value_size = 8;
    }
    rows_.push_back(row);
  }

  // The key of an idx_subject row (SubjectIndexKey).
  void AddSubject(ledger::Table table, std::string_view ref, uint64_t seq) {
    Row row;
    row.table = table.dbi;
    row.key_offset = bytes_.size();
    AppendBe32(static_cast<uint32_t>(seq >> kSubjectEpochBits), &bytes_);
    bytes_.append(ref);
    bytes_.push_back('\0');
    AppendBe64(seq, &bytes_);
    row.key_size = bytes_.size() - row.key_offset;
    row.value_size = 0;
    rows_.push_back(row);
  }

  Status PutAll(ledger::WriteTxn& txn) {
    std::stable_sort(rows_.begin(), rows_.end(),
                     [](const Row& a, const Row& b) { return a.table < b.table; });
    for (const Row& row : rows_) {
      CUSTODY_RETURN_IF_ERROR(txn.Put(ledger::Table{row.table}, Key(row), Value(row)));
    }
    return Status::Ok();
  }

 private:
  struct Row {
    uint32_t table;
    size_t key_offset;
    uint32_t key_size;
    uint32_t value_size;  // the value follows the key
  };
  std::string_view Key(const Row& r) const { return {bytes_.data() + r.key_offset, r.key_size}; }
  std::string_view Value(const Row& r) const {
    return {bytes_.data() + r.key_offset + r.key_size, r.value_size};
  }

  std::string bytes_;
  std::vector<Row> rows_;
};

// An event appended earlier in the open batch.
// An event of the open batch, by idempotency key: appended (at `seq`), or,
// while its request is being classified, `pending` at `index` in it.
struct InBatch {
  uint64_t seq = 0;
  const std::string* body = nullptr;  // lives in its request
  bool pending = false;
  size_t index = 0;
};

// What an event of a request is with respect to the log.
struct Retry {
  enum Kind { kNew, kRecorded, kEarlierInRequest } kind = kNew;
  uint64_t seq = 0;  // kRecorded: the seq; kEarlierInRequest: that event's index
};

// The most conflicts one refusal lists.
constexpr size_t kMaxConflictsListed = 20;

// Classifies each event of a request (`keys` are their idempotency keys):
// new, a retry of one recorded (committed, or earlier in this batch), or a
// repeat of an earlier event of the same request. A retry must carry the
// same body (canonical JSON, so the same event in any format compares
// equal); any that does not is added to *conflicts, and the caller appends
// nothing of the request. Comparing costs nothing for new events: only
// retries read the recorded entry. New events enter `in_batch` as pending
// (the caller sets their seq when it appends them); a refused request's are
// taken out again.
Status FindRetries(ledger::WriteTxn& txn, ledger::Table idempotency,
                   const std::vector<PreparedEvent>& events, const std::vector<std::string>& keys,
                   std::unordered_map<std::string_view, InBatch>* in_batch,
                   std::vector<Retry>* retries, std::vector<EventConflict>* conflicts) {
  retries->assign(events.size(), Retry{});
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string_view key = keys[i];
    const std::string& body = events[i].body;
    bool same = true;
    uint64_t first_seq = 0;
    if (auto it = in_batch->find(key); it != in_batch->end()) {
      if (it->second.pending) {  // earlier in this request: not appended yet
        (*retries)[i] = {Retry::kEarlierInRequest, it->second.index};
      } else {
        (*retries)[i] = {Retry::kRecorded, it->second.seq};
        first_seq = it->second.seq;
      }
      same = *it->second.body == body;
    } else {
      CUSTODY_ASSIGN_OR_RETURN(auto stored, txn.Get(idempotency, key));
      if (stored) {
        const uint64_t seq = ReadBe64(*stored);
        (*retries)[i] = {Retry::kRecorded, seq};
        CUSTODY_ASSIGN_OR_RETURN(std::string_view entry, txn.Entry(seq));
        same = ledger::EntryBodyIs(entry, body);
        first_seq = seq;
      } else {
        in_batch->emplace(key, InBatch{0, &body, true, i});
      }
    }
    if (!same && conflicts->size() < kMaxConflictsListed) {
      EventConflict c;
      c.index = i;
      c.event_id = events[i].event.event_id;
      c.seq = first_seq;
      if ((*retries)[i].kind == Retry::kEarlierInRequest) c.earlier_index = (*retries)[i].seq;
      conflicts->push_back(std::move(c));
    }
  }
  if (!conflicts->empty()) {
    for (size_t i = 0; i < events.size(); ++i) {
      if ((*retries)[i].kind == Retry::kNew) in_batch->erase(keys[i]);
    }
  }
  return Status::Ok();
}

// The index rows of one access event (tables.h).
void AddIndexRows(RowBuffer* rows, const Tables& t, uint64_t seq, const schema::Event& e) {
  for (const std::string& ref : e.subject_refs) rows->AddSubject(t.idx_subject, ref, seq);
  rows->Add(t.idx_actor, e.actor.id, true, seq);
  rows->Add(t.idx_system, e.target.system, true, seq);
  for (const std::string& category : e.categories) rows->Add(t.idx_category, category, true, seq);
  rows->Add(t.idx_country, e.actor.country, true, seq);
  if (e.target.country != e.actor.country) rows->Add(t.idx_country, e.target.country, true, seq);
  if (e.origin && e.origin->country != e.actor.country && e.origin->country != e.target.country) {
    rows->Add(t.idx_country, e.origin->country, true, seq);
  }
}

boost::json::object AlertObject(uint64_t seq, const policy::Hit& hit, const schema::Event& e,
                                const std::string& producer, const std::string& received_at) {
  boost::json::object a;
  a["seq"] = seq;
  a["event_id"] = e.event_id;
  a["rule"] = hit.rule;
  a["rule_version"] = hit.version;
  a["severity"] = policy::SeverityName(hit.severity);
  a["reason"] = hit.reason;
  a["time"] = schema::FormatRfc3339(e.time);
  a["received_at"] = received_at;
  a["producer"] = producer;
  a["actor"] = e.actor.id;
  a["target_system"] = e.target.system;
  if (!hit.approval_id.empty()) {
    a["approval_id"] = hit.approval_id;
    a["approval_status"] = hit.approval_status;
  }
  return a;
}

}  // namespace

void Ingestor::CommitBatch(std::vector<std::unique_ptr<Request>>& batch) {
  const auto started = std::chrono::steady_clock::now();
  std::lock_guard policy_lock(policy_mu_);
  bool begun = false;
  size_t appended = 0, duplicates = 0;
  std::chrono::steady_clock::time_point work_started, work_finished;  // of the last attempt
  RowBuffer rows;  // reused if `work` is replayed
  std::vector<Retry> retries;  // of the request being written
  size_t event_count = 0;
  for (const auto& req : batch) event_count += req->events.size();
  auto work = [&](ledger::WriteTxn& txn) -> Status {
    // Replayed after the map grew: undo the previous attempt's window state.
    if (begun) {
      decider_->RollbackBatch();
      if (router_ != nullptr) router_->RollbackBatch();
    }
    decider_->BeginBatch();  // may adopt a reloaded policy...
    if (router_ != nullptr) router_->BeginBatch();
    begun = true;
    // ...which is recorded before the first decision it makes.
    bool policy_written = false;
    CUSTODY_RETURN_IF_ERROR(WritePolicyIfChanged(txn, &policy_written));
    work_started = std::chrono::steady_clock::now();
    appended = duplicates = 0;
    const schema::TimePoint now = clock_->Now();
    const std::string received_at = schema::FormatRfc3339Micros(now);
    std::unordered_map<std::string_view, InBatch> in_batch;  // keys live in the requests
    in_batch.reserve(event_count);
    ledger::PendingEntry access{"access", {}, now, {}, {}};
    rows.Clear();
    for (auto& req : batch) {
      req->receipts.clear();
      // Recorded above; the request only makes sure a transaction runs.
      if (req->type == Request::Type::kPolicy) continue;
      if (req->type == Request::Type::kRecord) {
        ledger::PendingEntry entry{req->record.kind, req->record.producer, now, req->record.body, {}};
        CUSTODY_ASSIGN_OR_RETURN(req->record_seq, txn.Append(entry));
        // Index the record so a restart re-registers approvals without
        // scanning the whole log.
        std::string key = std::string(kRecordKeyPrefix);
        AppendBe64(req->record_seq, &key);
        CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->daemon_meta, key, req->record.kind));
        continue;
      }
      req->conflicts.clear();
      CUSTODY_RETURN_IF_ERROR(FindRetries(txn, tables_->idempotency, req->events,
                                          req->idempotency_keys, &in_batch, &retries,
                                          &req->conflicts));
      if (!req->conflicts.empty()) continue;  // refused whole: nothing appended
      for (size_t i = 0; i < req->events.size(); ++i) {
        const PreparedEvent& ev = req->events[i];
        const std::string_view key = req->idempotency_keys[i];
        if (retries[i].kind == Retry::kRecorded) {
          req->receipts.push_back({ev.event.event_id, retries[i].seq, true});
          ++duplicates;
          continue;
        }
        if (retries[i].kind == Retry::kEarlierInRequest) {
          req->receipts.push_back({ev.event.event_id, req->receipts[retries[i].seq].seq, true});
          ++duplicates;
          continue;
        }
        policy::Decision decision = decider_->Decide(ev.event);
        // One PendingEntry for the batch: assigning reuses its buffers.
        access.producer = req->producer;
        access.body = ev.body;
        access.decision.swap(decision.json);
        CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append(access));
        rows.Add(tables_->idempotency, key, false, 0, true, seq);
        AddIndexRows(&rows, *tables_, seq, ev.event);
        for (uint32_t i = 0; i < decision.hits.size(); ++i) {
          boost::json::object alert =
              AlertObject(seq, decision.hits[i], ev.event, req->producer, received_at);
          if (router_ != nullptr) {
            CUSTODY_RETURN_IF_ERROR(
                router_->Record(txn, seq, i, decision.hits[i].severity, std::move(alert), now));
          } else {
            alert["alert_id"] = std::to_string(seq) + "-" + std::to_string(i);
            CUSTODY_ASSIGN_OR_RETURN(std::string text, schema::CanonicalJson(alert));
            CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->alerts, AlertKey(seq, i), text));
          }
        }
        InBatch& slot = in_batch.find(key)->second;  // pending since FindRetries
        slot.seq = seq;
        slot.pending = false;
        req->receipts.push_back({ev.event.event_id, seq, false});
        ++appended;
      }
    }
    CUSTODY_RETURN_IF_ERROR(rows.PutAll(txn));
    work_finished = std::chrono::steady_clock::now();
    return Status::Ok();
  };
  Result<ledger::CommitInfo> result = ledger_->Write(work);
  const auto written = std::chrono::steady_clock::now();
  if (result.ok()) {
    decider_->CommitBatch();
    if (router_ != nullptr) {
      const bool wrote = router_->wrote_outbox();
      router_->CommitBatch();
      if (wrote && notify_alerts_) notify_alerts_();
    }
    batches_->Inc();
    events_appended_->Inc(appended);
    events_duplicate_->Inc(duplicates);
    batch_events_->Observe(static_cast<double>(appended));
    commit_work_seconds_->Observe(
        std::chrono::duration<double>(work_finished - work_started).count());
    commit_sync_seconds_->Observe(std::chrono::duration<double>(written - work_finished).count());
  } else {
    if (begun) {
      decider_->RollbackBatch();
      if (router_ != nullptr) router_->RollbackBatch();
    }
    commit_failures_->Inc();
  }
  commit_seconds_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  std::vector<std::unique_ptr<Request>> finished;  // event requests, for the completer
  for (auto& req : batch) {
    switch (req->type) {
      case Request::Type::kEvents: {
        if (result.ok()) {
          req->checkpoint = result->checkpoint;
        } else {
          req->status = result.status();
        }
        finished.push_back(std::move(req));
        break;
      }
      case Request::Type::kRecord:
        if (result.ok()) {
          boost::system::error_code ec;
          boost::json::value body = boost::json::parse(req->record.body, ec);
          decider_->OnRecordCommitted(req->record.kind, body, req->record_seq);
          req->record_done(RecordReply{req->record_seq, result->checkpoint});
        } else {
          req->record_done(result.status());
        }
        break;
      case Request::Type::kPolicy:
        req->policy_done.set_value(result.status());
        break;
    }
  }
  if (!finished.empty()) {
    {
      std::lock_guard lock(done_mu_);
      if (done_queue_.empty()) {
        done_queue_.swap(finished);
      } else {
        for (auto& req : finished) done_queue_.push_back(std::move(req));
      }
    }
    done_cv_.notify_one();
  }
}

}  // namespace custody::daemon
