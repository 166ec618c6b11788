#include "daemon/ingest/ingestor.h"

#include <future>
#include <unordered_map>

#include <boost/json.hpp>

#include "custody/schema/json_canon.h"

namespace custody::daemon {

struct Ingestor::Request {
  enum class Type { kEvents, kRecord, kPolicy };
  Type type = Type::kEvents;
  std::string producer;
  std::vector<PreparedEvent> events;
  IngestDone done;
  RecordRequest record;
  RecordDone record_done;
  std::promise<Status> policy_done;

  // Results of the latest attempt of the write transaction.
  std::vector<Receipt> receipts;
  uint64_t record_seq = 0;

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
    auto body = schema::CanonicalJson(schema::NormalizedBody(p.event));
    if (!body.ok()) return body.status().Annotate("event " + p.event.event_id);
    p.body = std::move(body).value();
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
  thread_ = std::thread([this] { Run(); });
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
  const size_t weight = req->weight();
  {
    std::lock_guard lock(mu_);
    if (!accepting_) return Status::FailedPrecondition("custodyd is shutting down");
    if (queued_events_ + weight > options_.queue_capacity_events) {
      rejected_queue_full_->Inc();
      return Status::Unavailable("ingest queue is full (" + std::to_string(queued_events_) +
                                 " events waiting); retry shortly");
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
      return Status::Unavailable("ingest queue is full; retry shortly");
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
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stop_; });
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
    CommitBatch(batch);
    batch.clear();
  }
}

namespace {

Status PutIndexes(ledger::WriteTxn& txn, const Tables& t, uint64_t seq, const schema::Event& e) {
  for (const std::string& ref : e.subject_refs) {
    CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_subject, SubjectIndexKey(ref, seq), {}));
  }
  CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_actor, IndexKey(e.actor.id, seq), {}));
  CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_system, IndexKey(e.target.system, seq), {}));
  for (const std::string& category : e.categories) {
    CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_category, IndexKey(category, seq), {}));
  }
  CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_country, IndexKey(e.actor.country, seq), {}));
  if (e.target.country != e.actor.country) {
    CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_country, IndexKey(e.target.country, seq), {}));
  }
  if (e.origin && e.origin->country != e.actor.country && e.origin->country != e.target.country) {
    CUSTODY_RETURN_IF_ERROR(txn.Put(t.idx_country, IndexKey(e.origin->country, seq), {}));
  }
  return Status::Ok();
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
  auto work = [&](ledger::WriteTxn& txn) -> Status {
    // Replayed after the map grew: undo the previous attempt's window state.
    if (begun) {
      decider_->RollbackBatch();
      if (router_ != nullptr) router_->RollbackBatch();
    }
    decider_->BeginBatch();
    if (router_ != nullptr) router_->BeginBatch();
    begun = true;
    appended = duplicates = 0;
    const schema::TimePoint now = clock_->Now();
    const std::string received_at = schema::FormatRfc3339Micros(now);
    std::unordered_map<std::string, uint64_t> in_batch;
    for (auto& req : batch) {
      req->receipts.clear();
      if (req->type == Request::Type::kPolicy) {
        bool wrote = false;
        CUSTODY_RETURN_IF_ERROR(WritePolicyIfChanged(txn, &wrote));
        continue;
      }
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
      for (const PreparedEvent& ev : req->events) {
        std::string key = IdempotencyKey(req->producer, ev.event.event_id);
        if (auto it = in_batch.find(key); it != in_batch.end()) {
          req->receipts.push_back({ev.event.event_id, it->second, true});
          ++duplicates;
          continue;
        }
        CUSTODY_ASSIGN_OR_RETURN(auto stored, txn.Get(tables_->idempotency, key));
        if (stored) {
          req->receipts.push_back({ev.event.event_id, ReadBe64(*stored), true});
          ++duplicates;
          continue;
        }
        policy::Decision decision = decider_->Decide(ev.event);
        ledger::PendingEntry entry{"access", req->producer, now, ev.body, decision.json};
        CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append(entry));
        std::string seq_bytes;
        AppendBe64(seq, &seq_bytes);
        CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->idempotency, key, seq_bytes));
        CUSTODY_RETURN_IF_ERROR(PutIndexes(txn, *tables_, seq, ev.event));
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
        in_batch.emplace(std::move(key), seq);
        req->receipts.push_back({ev.event.event_id, seq, false});
        ++appended;
      }
    }
    return Status::Ok();
  };
  Result<ledger::CommitInfo> result = ledger_->Write(work);
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
  } else {
    if (begun) {
      decider_->RollbackBatch();
      if (router_ != nullptr) router_->RollbackBatch();
    }
    commit_failures_->Inc();
  }
  commit_seconds_->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  for (auto& req : batch) {
    switch (req->type) {
      case Request::Type::kEvents:
        if (result.ok()) {
          req->done(IngestReply{std::move(req->receipts), result->checkpoint});
        } else {
          req->done(result.status());
        }
        break;
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
}

}  // namespace custody::daemon
