#include "daemon/server/app.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <utility>

#include "custody/ledger/entry.h"
#include "custody/ledger/store.h"
#include "daemon/alerts/alerts.h"
#include "daemon/ingest/ingestor.h"
#include "daemon/ingest/pseudonymizer.h"
#include "daemon/ingest/tables.h"
#include "daemon/metrics/metrics.h"
#include "daemon/policy/engine.h"
#include "daemon/policy/policy.h"
#include "daemon/policy/sample.h"
#include "daemon/server/auth.h"
#include "daemon/server/http_metrics.h"
#include "daemon/server/no_policy_decider.h"
#include "daemon/server/server.h"
#include "daemon/server/services.h"

namespace custody::daemon {
namespace {

constexpr auto kShutdownGrace = std::chrono::seconds(5);

Status EnsureDataDir(const std::string& dir) {
  // Created 0700: it holds the signing key and the pseudonym key.
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "creating data_dir " + dir);
    }
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "stat " + dir);
  if (!S_ISDIR(st.st_mode))
    return Status::FailedPrecondition("data_dir " + dir + " is not a directory");
  if ((st.st_mode & 077) != 0) {
    spdlog::warn("data_dir {} is accessible to group or others (mode {:04o}); consider chmod 700",
                 dir, st.st_mode & 07777);
  }
  return Status::Ok();
}

// An exclusive flock on <data_dir>/custodyd.lock, held for the daemon's
// lifetime: a second custodyd on the same data dir would append to the same
// ledger from a second process (LMDB serialises the writes, but each daemon
// keeps its own tree state and idempotency view: receipts whose checkpoint
// does not cover them). The kernel drops the lock when the process dies, so
// a kill -9 leaves nothing stale. The file holds the owner's pid, for the
// error message only.
class DataDirLock {
 public:
  static Result<DataDirLock> Acquire(const std::filesystem::path& dir) {
    const std::string path = (dir / "custodyd.lock").string();
    DataDirLock lock;
    lock.fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock.fd_ < 0) return Status::FromErrno(errno, "opening " + path);
    if (::flock(lock.fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err != EWOULDBLOCK) return Status::FromErrno(err, "locking " + path);
      char pid[32] = {};
      const ssize_t n = ::pread(lock.fd_, pid, sizeof(pid) - 1, 0);
      std::string owner = n > 0 ? std::string(pid, static_cast<size_t>(n)) : "";
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
      return Status::FailedPrecondition(
          "data_dir " + dir.string() + " is in use by another custodyd" +
          (owner.empty() ? "" : " (pid " + owner + ")") + ", which holds " + path +
          "; stop it first, or give this one its own data_dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(lock.fd_, 0) != 0 || ::pwrite(lock.fd_, pid.data(), pid.size(), 0) < 0) {
      spdlog::warn("cannot write the pid into {}: {}", path, std::strerror(errno));
    }
    return lock;
  }

  DataDirLock() = default;
  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&& other) noexcept {
    if (this != &other) {
      Release();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock() { Release(); }

 private:
  void Release() {
    if (fd_ >= 0) ::close(fd_);  // closing the last descriptor drops the flock
    fd_ = -1;
  }
  int fd_ = -1;
};

// A reload re-reads tokens and the policy; say so when the file changed a
// setting that only a restart applies, rather than leave the operator to
// believe it took effect.
void WarnAboutRestartOnlySettings(const Config& running, const Config& reread) {
  auto warn = [](std::string_view key, const std::string& now, const std::string& file) {
    if (now != file) {
      spdlog::warn("reload: {} changed to \"{}\" in the config; restart custodyd to apply it "
                   "(still \"{}\")",
                   key, file, now);
    }
  };
  warn("listen", running.listen.ToString(), reread.listen.ToString());
  warn("unix_socket", running.unix_socket, reread.unix_socket);
  warn("data_dir", running.data_dir, reread.data_dir);
  warn("origin", running.origin, reread.origin);
}

// Writes "<port>\n" atomically (write a temporary file, then rename), so a
// reader polling for the file never sees it half-written.
Status WritePortFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    out.close();
    if (!out) return Status::IOError("writing port file " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::FromErrno(errno, "renaming port file to " + path);
  }
  return Status::Ok();
}

void LogDiagnostics(const std::vector<policy::Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics) {
    if (d.is_error()) {
      spdlog::error("{}", d.ToString());
    } else {
      spdlog::warn("{}", d.ToString());
    }
  }
}

IngestOptions MakeIngestOptions(const Config& config) {
  IngestOptions o;
  o.max_batch_events = config.ingest.batch_size;
  o.queue_capacity_events = config.ingest.queue_capacity;
  return o;
}

// Brings a fresh decider up to date with the ledger after a start:
// registers every approval and revocation in log order (indexed under
// "record:" in daemon_meta); then, for a policy engine (`engine` not null),
// replays the access events received within the policy's replay horizon so
// rolling-window thresholds count them.
Status ReplayPolicyState(ledger::Ledger& ledger, const Tables& tables, policy::Decider& decider,
                         policy::Engine* engine, schema::Clock* clock) {
  CUSTODY_ASSIGN_OR_RETURN(ledger::ReadView view, ledger.Read());
  size_t records = 0;
  {
    CUSTODY_ASSIGN_OR_RETURN(ledger::Cursor c, view.NewCursor(tables.daemon_meta));
    CUSTODY_ASSIGN_OR_RETURN(bool found, c.Seek(kRecordKeyPrefix));
    while (found && c.key().starts_with(kRecordKeyPrefix)) {
      const uint64_t seq = ReadBe64(c.key().substr(kRecordKeyPrefix.size()));
      CUSTODY_ASSIGN_OR_RETURN(std::string_view bytes, view.Entry(seq));
      CUSTODY_ASSIGN_OR_RETURN(ledger::DecodedEntry entry, ledger::DecodeEntry(bytes));
      decider.OnRecordCommitted(entry.kind, entry.body, seq);
      ++records;
      CUSTODY_ASSIGN_OR_RETURN(found, c.Next());
    }
  }
  if (engine == nullptr) {
    spdlog::info("approvals restored: {} approval record(s) (no policy in force)", records);
    return Status::Ok();
  }
  const auto horizon = engine->policy()->replay_horizon();
  const int64_t oldest = schema::ToUnixMicros(clock->Now()) - horizon.count();
  std::vector<schema::Event> events;
  for (uint64_t seq = view.size(); horizon.count() > 0 && seq > 0; --seq) {
    CUSTODY_ASSIGN_OR_RETURN(std::string_view bytes, view.Entry(seq - 1));
    CUSTODY_ASSIGN_OR_RETURN(ledger::DecodedEntry entry, ledger::DecodeEntry(bytes));
    auto received = schema::ParseRfc3339(entry.received_at);
    if (received.ok() && schema::ToUnixMicros(*received) < oldest) break;
    if (entry.kind != "access") continue;
    // The stored body is the normalised event with pseudonyms instead of
    // subject ids; the windows need neither.
    if (auto* subjects = entry.body.as_object().if_contains("subjects");
        subjects != nullptr && subjects->is_object()) {
      subjects->as_object().erase("refs");
    }
    std::vector<schema::FieldError> errors;
    if (auto event = schema::ParseEvent(entry.body, &errors)) events.push_back(std::move(*event));
  }
  for (auto it = events.rbegin(); it != events.rend(); ++it) engine->Replay(*it);
  spdlog::info("policy state restored: {} approval record(s), {} recent access event(s) replayed",
               records, events.size());
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<policy::Decider>> DefaultDecider(const Config& config,
                                                        schema::Clock* clock) {
  if (config.policy.empty()) return std::unique_ptr<policy::Decider>(new NoPolicyDecider());
  std::vector<policy::Diagnostic> diagnostics;
  auto loaded = policy::Policy::Load(config.policy, &diagnostics);
  LogDiagnostics(diagnostics);
  if (!loaded.ok()) return loaded.status().Annotate("policy " + config.policy);
  spdlog::info("policy {}: {} rule(s), sha256 {}", config.policy, (*loaded)->rules().size(),
               (*loaded)->sha256());
  return std::unique_ptr<policy::Decider>(new policy::Engine(std::move(loaded).value(), clock));
}

namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path + ": " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError("read " + path + " failed");
  return text;
}

}  // namespace

Status CheckPolicyFile(const std::string& path, const std::vector<std::string>& event_files,
                       const std::string& approvals_file) {
  std::vector<policy::Diagnostic> diagnostics;
  auto loaded = policy::Policy::Load(path, &diagnostics);
  for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!loaded.ok()) {
    // The diagnostics above say what; a file that cannot be read has none.
    if (diagnostics.empty()) std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
    return loaded.status();
  }
  std::fprintf(stderr, "%s: ok, %zu rule(s), sha256 %s\n", path.c_str(), (*loaded)->rules().size(),
               (*loaded)->sha256().c_str());

  policy::ApprovalRegistry approvals;
  auto fail = [](const Status& st) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return st;
  };
  if (!approvals_file.empty()) {
    auto text = ReadWholeFile(approvals_file);
    if (!text.ok()) return fail(text.status());
    Status st = policy::LoadSampleApprovals(*text, approvals_file, &approvals);
    if (!st.ok()) return fail(st);
  }
  for (const std::string& file : event_files) {
    auto text = ReadWholeFile(file);
    if (!text.ok()) return fail(text.status());
    auto results = policy::EvaluateSampleText(**loaded, *text, file, &approvals);
    if (!results.ok()) return fail(results.status());
    for (const auto& r : *results) std::printf("%s\n", policy::DescribeSample(r).c_str());
  }
  return Status::Ok();
}

struct App::Impl {
  AppOptions options;
  schema::Clock* clock = nullptr;
  // Declaration order is construction order; destruction runs backwards, so
  // the server goes before the ingestor, which goes before the ledger, and
  // the data dir stays locked until everything else is closed.
  DataDirLock data_dir_lock;
  metrics::Registry registry;
  std::unique_ptr<ledger::Ledger> ledger;
  Tables tables;
  std::unique_ptr<Pseudonymizer> pseudonymizer;
  std::unique_ptr<policy::Decider> decider;
  std::unique_ptr<alerts::Router> alert_router;          // used by the ingestor
  std::unique_ptr<alerts::Dispatcher> alert_dispatcher;  // stopped before the ledger closes
  std::unique_ptr<Ingestor> ingestor;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<HttpMetrics> http_metrics;
  Services services;
  std::unique_ptr<Server> server;
  bool shut_down = false;
  std::mutex policy_mu;     // guards policy_path (SIGHUP thread vs HTTP reloads)
  std::string policy_path;  // the policy file of the config in force
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

App::~App() { Shutdown(); }

Result<std::unique_ptr<App>> App::Start(AppOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  const Config& config = impl->options.config;
  CUSTODY_RETURN_IF_ERROR(Validate(config));
  impl->clock = impl->options.clock ? impl->options.clock : schema::SystemClock::Default();

  CUSTODY_RETURN_IF_ERROR(EnsureDataDir(config.data_dir));
  const std::filesystem::path data_dir(config.data_dir);
  CUSTODY_ASSIGN_OR_RETURN(impl->data_dir_lock, DataDirLock::Acquire(data_dir));

  ledger::LedgerOptions lo;
  lo.dir = (data_dir / "ledger").string();
  lo.origin = config.origin;
  // Commits then overwrite written blocks rather than grow data.mdb
  // (docs/performance.md).
  lo.preallocate_max = 64ull << 20;
  auto ledger = ledger::Ledger::Open(lo);
  if (!ledger.ok()) return ledger.status().Annotate("opening the ledger in " + lo.dir);
  impl->ledger = std::move(ledger).value();
  if (impl->ledger->origin() != config.origin) {
    return Status::FailedPrecondition("the ledger in " + lo.dir + " has origin \"" +
                                      impl->ledger->origin() + "\" but the config says \"" +
                                      config.origin + "\"; an origin cannot change");
  }

  auto tables = Tables::Open(*impl->ledger);
  if (!tables.ok()) return tables.status().Annotate("opening the daemon tables");
  impl->tables = *tables;
  CUSTODY_RETURN_IF_ERROR(IndexPolicyEntries(*impl->ledger, impl->tables));

  auto pseudonymizer = Pseudonymizer::LoadOrCreate((data_dir / "pseudonym.key").string());
  if (!pseudonymizer.ok()) return pseudonymizer.status();
  impl->pseudonymizer = std::move(pseudonymizer).value();

  auto decider = impl->options.make_decider ? impl->options.make_decider(config, impl->clock)
                                            : DefaultDecider(config, impl->clock);
  if (!decider.ok()) return decider.status();
  impl->decider = std::move(decider).value();

  auto* engine = dynamic_cast<policy::Engine*>(impl->decider.get());
  CUSTODY_RETURN_IF_ERROR(
      ReplayPolicyState(*impl->ledger, impl->tables, *impl->decider, engine, impl->clock));
  impl->policy_path = config.policy;

  alerts::AlertsConfig alerts_config = config.alerts;
  if (alerts_config.sinks.empty()) {
    // Without configured sinks, alerts still reach a human through the log.
    alerts::SinkConfig log;
    log.name = "log";
    log.type = alerts::SinkType::kLog;
    alerts_config.sinks.push_back(log);
  }
  CUSTODY_RETURN_IF_ERROR(alerts::ValidateAlertsConfig(alerts_config));
  impl->alert_router = std::make_unique<alerts::Router>(alerts_config, &impl->tables);
  CUSTODY_RETURN_IF_ERROR(impl->alert_router->RestoreWindows(*impl->ledger, impl->clock->Now())
                              .Annotate("restoring the alert dedup windows"));
  impl->alert_dispatcher = std::make_unique<alerts::Dispatcher>(impl->ledger.get(), &impl->tables,
                                                                alerts_config, &impl->registry);

  impl->ingestor =
      std::make_unique<Ingestor>(impl->ledger.get(), &impl->tables, impl->decider.get(),
                                 impl->clock, &impl->registry, MakeIngestOptions(config));
  alerts::Dispatcher* dispatcher = impl->alert_dispatcher.get();
  impl->ingestor->SetAlertRouter(impl->alert_router.get(), [dispatcher] { dispatcher->Notify(); });
  CUSTODY_RETURN_IF_ERROR(impl->ingestor->Start());
  impl->alert_dispatcher->Start();  // delivers what a previous run left in the outbox

  ledger::Ledger* ledger_ptr = impl->ledger.get();
  impl->registry.AddCallbackGauge("custody_ledger_entries", "Entries in the ledger",
                                  [ledger_ptr] { return static_cast<double>(ledger_ptr->size()); });
  impl->auth = std::make_unique<Authenticator>(config.tokens);
  impl->http_metrics = std::make_unique<HttpMetrics>(&impl->registry);

  Services& s = impl->services;
  s.ledger = impl->ledger.get();
  s.tables = &impl->tables;
  s.pseudonymizer = impl->pseudonymizer.get();
  s.ingestor = impl->ingestor.get();
  s.registry = &impl->registry;
  s.auth = impl->auth.get();
  s.http_metrics = impl->http_metrics.get();
  s.clock = impl->clock;
  s.http = config.http;
  s.queue_capacity = config.ingest.queue_capacity;
  s.engine = engine;
  if (engine != nullptr) {
    s.approvals = &engine->approvals();
    s.reload_policy = [impl = impl.get()](std::vector<policy::Diagnostic>* diagnostics) {
      std::string path;
      {
        std::lock_guard lock(impl->policy_mu);
        path = impl->policy_path;
      }
      return ReloadPolicy(*impl, path, diagnostics);
    };
  } else if (auto* none = dynamic_cast<NoPolicyDecider*>(impl->decider.get())) {
    s.approvals = &none->approvals();
  }

  ServerOptions so;
  so.listen = config.listen;
  so.unix_socket = config.unix_socket;
  so.unix_socket_mode = config.unix_socket_mode;
  so.io_threads = config.http.io_threads;
  so.max_connections = config.http.max_connections;
  auto server = Server::Start(so, &s);
  if (!server.ok()) {
    impl->ingestor->Drain();
    return server.status();
  }
  impl->server = std::move(server).value();

  if (!impl->options.port_file.empty()) {
    Status st = WritePortFile(impl->options.port_file, impl->server->port());
    if (!st.ok()) {
      impl->server->Stop(std::chrono::milliseconds(0));
      impl->ingestor->Drain();
      return st;
    }
  }

  spdlog::info("custodyd: origin \"{}\", {} entries, verifier key {}", impl->ledger->origin(),
               impl->ledger->size(), impl->ledger->verifier_key().ToString());
  spdlog::info("custodyd: listening on {}:{}{}{}", config.listen.host, impl->server->port(),
               config.unix_socket.empty() ? "" : " and ", config.unix_socket);
  if (config.tokens.empty()) {
    spdlog::warn("custodyd: no [[token]] configured; nobody can append or query");
  }
  s.ready.store(true, std::memory_order_release);
  return std::unique_ptr<App>(new App(std::move(impl)));
}

uint16_t App::port() const { return impl_->server->port(); }

const ledger::VerifierKey& App::verifier_key() const { return impl_->ledger->verifier_key(); }

Services& App::services() { return impl_->services; }

Status App::Reload() {
  // The operational log is stderr (journald's); alert files are ours to
  // reopen, so that logrotate can move them.
  if (impl_->alert_dispatcher) impl_->alert_dispatcher->ReopenFiles();
  if (impl_->options.config_path.empty()) {
    spdlog::info("reload: no config file to re-read");
    return Status::Ok();
  }
  auto config = LoadConfig(impl_->options.config_path);
  if (config.ok()) {
    Status st = ApplyOverrides(impl_->options.overrides, &*config);
    if (st.ok()) st = Validate(*config);
    if (!st.ok()) config = st;
  }
  if (!config.ok()) {
    spdlog::error("reload: keeping the current tokens; the config has errors:\n{}",
                  config.status().message());
    return config.status();
  }
  WarnAboutRestartOnlySettings(impl_->options.config, *config);
  const size_t n = config->tokens.size();
  impl_->auth->Replace(std::move(config->tokens));
  spdlog::info("reload: {} token(s) in force", n);
  if (!config->policy.empty()) {
    std::lock_guard lock(impl_->policy_mu);
    impl_->policy_path = config->policy;
  }
  return ReloadPolicy(*impl_, config->policy, nullptr);
}

Status App::ReloadPolicy(Impl& impl, const std::string& path,
                         std::vector<policy::Diagnostic>* diagnostics_out) {
  auto* engine = dynamic_cast<policy::Engine*>(impl.decider.get());
  if (engine == nullptr) {
    if (!path.empty()) {
      spdlog::warn("reload: policy = \"{}\" needs a restart (custodyd started without one)", path);
    }
    return Status::Ok();
  }
  if (path.empty()) {
    spdlog::warn(
        "reload: the config no longer names a policy; keeping the one in force "
        "(restart to run without one)");
    return Status::Ok();
  }
  std::vector<policy::Diagnostic> diagnostics;
  Status st = engine->Reload(path, &diagnostics);
  LogDiagnostics(diagnostics);
  if (diagnostics_out != nullptr) {
    diagnostics_out->insert(diagnostics_out->end(), diagnostics.begin(), diagnostics.end());
  }
  if (!st.ok()) {
    spdlog::error("reload: keeping the policy in force: {}", st.message());
    return st;
  }
  st = impl.ingestor->RecordPolicyIfChanged();
  if (!st.ok()) {
    spdlog::error("reload: recording the policy failed: {}", st.ToString());
    return st;
  }
  spdlog::info("reload: policy {} in force, sha256 {}", path, engine->policy()->sha256());
  return Status::Ok();
}

void App::Shutdown() {
  if (impl_->shut_down) return;
  impl_->shut_down = true;
  spdlog::info("custodyd: shutting down: stop accepting, drain the ingest queue");
  impl_->services.ready.store(false, std::memory_order_release);
  impl_->server->StopAccepting();
  impl_->server->ShutdownSessions();
  const size_t queued = impl_->ingestor->queue_depth();
  impl_->ingestor->Drain();         // commits and answers everything queued
  impl_->alert_dispatcher->Stop();  // undelivered alerts stay in the outbox
  impl_->server->Stop(kShutdownGrace);
  spdlog::info("custodyd: stopped; {} queued event(s) committed at shutdown; ledger size {}",
               queued, impl_->ledger->size());
}

void BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGXFSZ, SIG_IGN);
}

int App::RunUntilSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);

  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
  std::chrono::microseconds tick = watchdog ? std::chrono::microseconds(watchdog_usec / 2)
                                            : std::chrono::microseconds(std::chrono::seconds(1));
  sd_notifyf(0, "READY=1\nSTATUS=serving on port %u, %llu entries", port(),
             static_cast<unsigned long long>(impl_->ledger->size()));
  if (watchdog) spdlog::info("systemd watchdog: pinging every {} ms", tick.count() / 1000);

  uint64_t last_size = impl_->ledger->size();
  auto last_progress = std::chrono::steady_clock::now();
  for (;;) {
    timespec timeout{static_cast<time_t>(tick.count() / 1000000),
                     static_cast<long>(tick.count() % 1000000) * 1000};
    siginfo_t info;
    const int sig = sigtimedwait(&set, &info, &timeout);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("custodyd: received {}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      (void)Reload();
      sd_notify(0, "READY=1");
      continue;
    }
    // Timeout (or EINTR). The watchdog ping says the appender still makes
    // progress: work waiting while the log has not grown for a whole
    // watchdog period means it is stuck (say, in fsync), and systemd should
    // restart us.
    if (!watchdog) continue;
    const auto now = std::chrono::steady_clock::now();
    const uint64_t size = impl_->ledger->size();
    if (size != last_size || impl_->ingestor->queue_depth() == 0) {
      last_size = size;
      last_progress = now;
    }
    if (impl_->ingestor->accepting() && now - last_progress < 2 * tick) {
      sd_notify(0, "WATCHDOG=1");
    } else {
      spdlog::error(
          "watchdog: the appender has made no progress for {} ms; not pinging",
          std::chrono::duration_cast<std::chrono::milliseconds>(now - last_progress).count());
    }
  }
  sd_notify(0, "STOPPING=1");
  Shutdown();
  return 0;
}

}  // namespace custody::daemon
