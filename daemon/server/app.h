// App: custodyd assembled -- ledger, tables, pseudonymizer, policy decider,
// ingest pipeline and HTTP server -- with its lifecycle. main() parses flags,
// loads the config and hands over; tests run an App in-process the same way.
//
// Start():  creates <data_dir> (0700) if missing; opens (or creates) the
//           ledger in <data_dir>/ledger with the config's origin (first start:
//           new signing key) and the pseudonym key <data_dir>/pseudonym.key;
//           builds the decider; starts the Ingestor (which records the policy
//           in force) and the server; writes the bound port to port_file;
//           logs the verifier key; becomes ready (GET /readyz).
// Shutdown(): not ready; stop accepting connections; finish open requests
//           (idle connections close); Ingestor::Drain() commits and signs
//           everything queued and answers its requests; then the I/O
//           threads stop. Idempotent; the destructor calls it.
// Reload(): reopens the alert file sinks' files (after logrotate), re-reads
//           the config file and swaps in its tokens, and reloads
//           the policy file when the decider is the policy engine (SIGHUP).
//           The policy change is recorded in the ledger before Reload()
//           returns. A config or policy that does not parse is logged and
//           the old one stays in force. POST /v1/policy/reload
//           (Services::reload_policy) reloads only the policy, from the file
//           named by the config in force (as of the start or the last
//           Reload()), and answers with the diagnostics.
//
// Thread safety: Start/Shutdown/Reload/RunUntilSignal from the owning thread.
#ifndef CUSTODY_DAEMON_SERVER_APP_H_
#define CUSTODY_DAEMON_SERVER_APP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "custody/ledger/keys.h"
#include "daemon/config/config.h"
#include "daemon/policy/decider.h"
#include "daemon/policy/policy.h"

namespace custody::daemon {

struct Services;

using DeciderFactory =
    std::function<Result<std::unique_ptr<policy::Decider>>(const Config&, schema::Clock*)>;

struct AppOptions {
  Config config;                   // Validate()d, overrides applied
  std::string config_path;         // re-read by Reload(); empty: Reload() keeps the tokens
  ConfigOverrides overrides;       // the command line's, applied again by Reload()
  std::string port_file;           // when set, "<port>\n" is written here once listening
  schema::Clock* clock = nullptr;  // null: the system clock
  DeciderFactory make_decider;     // null: DefaultDecider
};

// The decider for `config`: NoPolicyDecider when config.policy is empty,
// otherwise a policy::Engine over that file (its diagnostics are logged;
// InvalidArgument listing them when it has errors).
Result<std::unique_ptr<policy::Decider>> DefaultDecider(const Config& config, schema::Clock* clock);

// custodyd --check-policy FILE [--events F...] [--approvals F]: parses and
// compiles a policy file, printing every diagnostic (FILE:LINE:COL) to
// stderr, then evaluates each sample event in `event_files` against it alone
// (approvals from `approvals_file` when not empty) and prints one line per
// event to stdout. Records nothing anywhere. Ok when the policy has no
// errors and every input could be read and parsed.
Status CheckPolicyFile(const std::string& path, const std::vector<std::string>& event_files = {},
                       const std::string& approvals_file = "");

class App {
 public:
  static Result<std::unique_ptr<App>> Start(AppOptions options);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  uint16_t port() const;  // the bound TCP port
  const ledger::VerifierKey& verifier_key() const;
  Services& services();

  Status Reload();
  void Shutdown();

  // Serves until SIGTERM or SIGINT (then Shutdown()s and returns 0);
  // SIGHUP calls Reload() (the operational log is stderr, which journald
  // owns; alert files are reopened). Tells systemd READY=1, RELOADING=1, STOPPING=1 and, every half
  // WATCHDOG_USEC, WATCHDOG=1 -- unless events have been waiting while the
  // log did not grow for a whole period (a stuck appender), so systemd
  // restarts a daemon that no longer commits. All of it is a no-op without
  // NOTIFY_SOCKET. BlockSignals() must have run before any thread started.
  int RunUntilSignal();

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  // Reloads the policy file at `path` into the engine and records it; see
  // Services::reload_policy. Ok (and nothing happens) without an engine.
  static Status ReloadPolicy(Impl& impl, const std::string& path,
                             std::vector<policy::Diagnostic>* diagnostics);
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and so in every
// thread it starts later), for RunUntilSignal's sigtimedwait, and ignores
// SIGXFSZ: past a file size limit (LimitFSIZE, ulimit -f) a commit then
// fails with EFBIG and is answered 503, instead of the signal killing the
// daemon. Call first thing in main().
void BlockSignals();

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_APP_H_
