#include "daemon/alerts/alerts.h"

#include <pthread.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <random>
#include <set>

#include "custody/schema/json_canon.h"

namespace custody::daemon::alerts {

std::unique_ptr<Sink> MakeWebhookSink(const SinkConfig& config);  // webhook.cc

Status ValidateAlertsConfig(const AlertsConfig& config) {
  std::set<std::string> names;
  for (const SinkConfig& s : config.sinks) {
    if (s.name.empty() || s.name.find('\0') != std::string::npos) {
      return Status::InvalidArgument("alert sink: every sink needs a name");
    }
    if (!names.insert(s.name).second) {
      return Status::InvalidArgument("alert sink \"" + s.name + "\" is defined twice");
    }
    if (s.type == SinkType::kWebhook && s.url.rfind("http://", 0) != 0) {
      return Status::InvalidArgument("alert sink \"" + s.name +
                                     "\": url must start with http:// (got \"" + s.url + "\")");
    }
    if (s.type == SinkType::kFile && s.path.empty()) {
      return Status::InvalidArgument("alert sink \"" + s.name + "\": a file sink needs a path");
    }
  }
  return Status::Ok();
}

std::string OutboxPrefix(const std::string& sink) { return sink + std::string(1, '\0'); }

// ---------------------------------------------------------------- Router

Router::Router(AlertsConfig config, const Tables* tables)
    : config_(std::move(config)), tables_(tables) {}

void Router::BeginBatch() {
  undo_.clear();
  wrote_outbox_ = false;
}

void Router::CommitBatch() { undo_.clear(); }

void Router::RollbackBatch() {
  for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
    if (it->second) {
      windows_[it->first] = *it->second;
    } else {
      windows_.erase(it->first);
    }
  }
  undo_.clear();
  wrote_outbox_ = false;
}

std::string Router::DedupKey(const boost::json::object& alert, std::string_view severity) const {
  std::string key;
  if (const auto* rule = alert.if_contains("rule"); rule != nullptr && rule->is_string()) {
    key = rule->as_string();
  }
  key += '\0';
  key += severity;
  for (const std::string& field : config_.dedup.key) {
    key += '\0';
    if (const auto* v = alert.if_contains(field); v != nullptr && v->is_string()) {
      key += v->as_string();
    }
  }
  return key;
}

Status Router::RestoreWindows(ledger::Ledger& ledger, schema::TimePoint now) {
  if (config_.dedup.window_seconds == 0) return Status::Ok();
  const int64_t window_us = int64_t{config_.dedup.window_seconds} * 1000000;
  const int64_t now_us = schema::ToUnixMicros(now);
  CUSTODY_ASSIGN_OR_RETURN(ledger::ReadView view, ledger.Read());
  CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor c, view.NewCursor(tables_->alerts));
  size_t restored = 0;
  CUSTODY_ASSIGN_OR_RETURN(bool found, c.SeekLast());
  while (found) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(c.value(), ec);
    const boost::json::object* a = ec ? nullptr : v.if_object();
    const boost::json::value* received = a ? a->if_contains("received_at") : nullptr;
    auto at = received && received->is_string()
                  ? schema::ParseRfc3339(std::string_view(received->as_string()))
                  : Result<schema::TimePoint>(Status::InvalidArgument("no received_at"));
    if (at.ok()) {
      const int64_t end_us = schema::ToUnixMicros(*at) + window_us;
      if (end_us <= now_us) break;  // older ones closed earlier still
      const auto* notified = a->if_contains("notified");
      const auto* severity = a->if_contains("severity");
      if (notified && notified->is_bool() && notified->as_bool() && severity &&
          severity->is_string()) {
        // Newest first: an older alert's window under the same key is the one
        // this (notified, hence later) alert replaced.
        if (windows_.try_emplace(DedupKey(*a, std::string_view(severity->as_string())),
                                 Window{std::string(c.key()), end_us})
                .second) {
          ++restored;
        }
      }
    }
    CUSTODY_ASSIGN_OR_RETURN(found, c.Prev());
  }
  if (restored > 0) spdlog::info("alerts: {} dedup window(s) still open restored", restored);
  return Status::Ok();
}

Status Router::Record(ledger::WriteTxn& txn, uint64_t seq, uint32_t index,
                      policy::Severity severity, boost::json::object alert, schema::TimePoint now) {
  const std::string key = AlertKey(seq, index);
  alert["alert_id"] = std::to_string(seq) + "-" + std::to_string(index);
  bool notify = true;
  if (config_.dedup.window_seconds > 0) {
    const std::string dedup_key = DedupKey(alert, policy::SeverityName(severity));
    const int64_t now_us = schema::ToUnixMicros(now);
    auto it = windows_.find(dedup_key);
    if (it != windows_.end() && now_us < it->second.window_end_us) {
      notify = false;
      // Count the suppressed alert on the first one's record.
      CUSTODY_ASSIGN_OR_RETURN(auto first_text,
                               txn.Get(tables_->alerts, it->second.first_alert_key));
      if (first_text) {
        boost::system::error_code ec;
        boost::json::value first = boost::json::parse(*first_text, ec);
        if (!ec && first.is_object()) {
          auto& f = first.as_object();
          const int64_t n = f.contains("suppressed") ? f["suppressed"].to_number<int64_t>() : 0;
          f["suppressed"] = n + 1;
          alert["suppressed_by"] = f["alert_id"];
          CUSTODY_ASSIGN_OR_RETURN(std::string updated, schema::CanonicalJson(first));
          CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->alerts, it->second.first_alert_key, updated));
        }
      }
    } else {
      undo_.emplace_back(dedup_key,
                         it == windows_.end() ? std::nullopt : std::optional<Window>(it->second));
      windows_[dedup_key] = Window{key, now_us + int64_t{config_.dedup.window_seconds} * 1000000};
    }
  }
  alert["notified"] = notify;
  CUSTODY_ASSIGN_OR_RETURN(std::string text, schema::CanonicalJson(alert));
  CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->alerts, key, text));
  if (!notify) return Status::Ok();
  for (const SinkConfig& sink : config_.sinks) {
    if (severity < sink.min_severity) continue;
    CUSTODY_RETURN_IF_ERROR(txn.Put(tables_->alert_outbox, OutboxPrefix(sink.name) + key, {}));
    wrote_outbox_ = true;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- sinks

namespace {

class LogSink final : public Sink {
 public:
  Status Deliver(const std::string& alert_json, const std::string& idempotency_key) override {
    spdlog::warn("ALERT {} {}", idempotency_key, alert_json);
    return Status::Ok();
  }
};

// Appends one NDJSON line per alert, fsync'ed before the outbox row goes.
class FileSink final : public Sink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  ~FileSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  Status Deliver(const std::string& alert_json, const std::string&) override {
    if (reopen_.exchange(false) && fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
      if (fd_ < 0) return Status::FromErrno(errno, "open alert file " + path_);
    }
    const std::string line = alert_json + "\n";
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fdatasync(fd_) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      return Status::FromErrno(err, "append to alert file " + path_);
    }
    return Status::Ok();
  }
  void Reopen() override { reopen_.store(true); }

 private:
  std::string path_;
  int fd_ = -1;                      // owned by the delivering thread
  std::atomic<bool> reopen_{false};  // set by Reopen(), taken by Deliver()
};

}  // namespace

std::unique_ptr<Sink> MakeSink(const SinkConfig& config) {
  switch (config.type) {
    case SinkType::kWebhook:
      return MakeWebhookSink(config);
    case SinkType::kLog:
      return std::make_unique<LogSink>();
    case SinkType::kFile:
      return std::make_unique<FileSink>(config.path);
  }
  return nullptr;
}

// ---------------------------------------------------------------- Dispatcher

struct Dispatcher::Worker {
  SinkConfig config;
  std::unique_ptr<Sink> sink;
  std::thread thread;
  metrics::Counter* delivered;
  metrics::Counter* failures;
  metrics::Gauge* depth;
};

Dispatcher::Dispatcher(ledger::Ledger* ledger, const Tables* tables, AlertsConfig config,
                       metrics::Registry* registry)
    : ledger_(ledger), tables_(tables), config_(std::move(config)) {
  for (const SinkConfig& sc : config_.sinks) {
    auto w = std::make_unique<Worker>();
    w->config = sc;
    w->sink = MakeSink(sc);
    const metrics::Labels labels{{"sink", sc.name}};
    w->delivered =
        registry->GetCounter("custody_alerts_delivered_total", "Alerts delivered, by sink", labels);
    w->failures = registry->GetCounter("custody_alert_delivery_failures_total",
                                       "Failed alert delivery attempts, by sink", labels);
    w->depth = registry->GetGauge("custody_alert_outbox_depth",
                                  "Alerts waiting in the outbox, by sink", labels);
    workers_.push_back(std::move(w));
  }
}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  std::lock_guard lock(mu_);
  stop_ = false;
  for (auto& w : workers_) {
    if (!w->thread.joinable()) {
      w->thread = std::thread([this, p = w.get()] {
        pthread_setname_np(pthread_self(), "alert-delivery");
        Run(p);
      });
    }
  }
}

void Dispatcher::Notify() {
  {
    std::lock_guard lock(mu_);
    ++generation_;
  }
  cv_.notify_all();
}

void Dispatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Dispatcher::ReopenFiles() {
  // workers_ is fixed after construction, and Sink::Reopen() is thread-safe.
  for (auto& w : workers_) w->sink->Reopen();
}

void Dispatcher::Run(Worker* w) {
  const std::string prefix = OutboxPrefix(w->config.name);
  const std::string idempotency_prefix = ledger_->origin() + "/";
  std::mt19937_64 rng(std::random_device{}());
  uint32_t backoff_ms = 0;
  uint64_t seen_generation = ~uint64_t{0};
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stop_) return;
      if (backoff_ms > 0) {
        // Full jitter: sleep a random time up to the current backoff.
        const auto wait = std::chrono::milliseconds(rng() % backoff_ms + 1);
        cv_.wait_for(lock, wait, [&] { return stop_; });
      } else if (seen_generation == generation_) {
        cv_.wait_for(lock, std::chrono::seconds(1),
                     [&] { return stop_ || seen_generation != generation_; });
      }
      if (stop_) return;
      seen_generation = generation_;
    }
    // Read a page of this sink's outbox, oldest first.
    std::vector<std::pair<std::string, std::string>> page;  // (outbox key, alert json)
    size_t depth = 0;
    {
      auto view = ledger_->Read();
      if (!view.ok()) continue;
      auto cursor = view->NewCursor(tables_->alert_outbox);
      if (!cursor.ok()) continue;
      auto found = cursor->Seek(prefix);
      while (found.ok() && *found && cursor->key().starts_with(prefix)) {
        ++depth;
        if (page.size() < 256) {
          const std::string_view alert_key = cursor->key().substr(prefix.size());
          auto alert = view->Get(tables_->alerts, alert_key);
          if (alert.ok() && *alert)
            page.emplace_back(std::string(cursor->key()), std::string(**alert));
        }
        found = cursor->Next();
      }
    }
    w->depth->Set(static_cast<int64_t>(depth));
    if (page.empty()) {
      backoff_ms = 0;
      continue;
    }
    std::vector<std::string> done;
    for (const auto& [key, json] : page) {
      std::string alert_id;
      boost::system::error_code ec;
      auto v = boost::json::parse(json, ec);
      if (!ec && v.is_object() && v.as_object().contains("alert_id")) {
        alert_id = std::string(v.as_object().at("alert_id").as_string());
      }
      Status s = w->sink->Deliver(json, idempotency_prefix + alert_id);
      if (!s.ok()) {
        w->failures->Inc();
        backoff_ms = backoff_ms == 0 ? w->config.initial_backoff_ms
                                     : std::min(backoff_ms * 2, w->config.max_backoff_ms);
        spdlog::warn("alert sink {}: delivery of {} failed ({}); retrying within {} ms",
                     w->config.name, alert_id, s.ToString(), backoff_ms);
        break;
      }
      backoff_ms = 0;
      w->delivered->Inc();
      done.push_back(key);
    }
    if (!done.empty()) {
      auto r = ledger_->Write([&](ledger::WriteTxn& txn) -> Status {
        for (const std::string& k : done) {
          Status s = txn.Delete(tables_->alert_outbox, k);
          if (!s.ok() && !s.IsNotFound()) return s;
        }
        return Status::Ok();
      });
      if (!r.ok())
        spdlog::error("alert sink {}: clearing the outbox: {}", w->config.name,
                      r.status().ToString());
      w->depth->Set(static_cast<int64_t>(depth - done.size()));
      // More may be waiting beyond this page: go round again at once.
      if (depth > done.size() && backoff_ms == 0) seen_generation = ~uint64_t{0};
    }
  }
}

}  // namespace custody::daemon::alerts
