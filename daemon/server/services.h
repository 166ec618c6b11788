// Services: everything a request handler may use, owned by App (or a test)
// and outliving every session and every in-flight request.
//
// Thread safety: the pointed-to objects are thread-safe as their headers
// say; the plain fields are set before the server starts and not changed
// after; `ready` is atomic.
#ifndef CUSTODY_DAEMON_SERVER_SERVICES_H_
#define CUSTODY_DAEMON_SERVER_SERVICES_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "custody/ledger/store.h"
#include "custody/schema/clock.h"
#include "daemon/config/config.h"
#include "daemon/ingest/ingestor.h"
#include "daemon/ingest/pseudonymizer.h"
#include "daemon/ingest/tables.h"
#include "daemon/metrics/metrics.h"
#include "daemon/policy/approvals.h"
#include "daemon/policy/policy.h"
#include "daemon/server/auth.h"
#include "daemon/server/http_metrics.h"

namespace custody::daemon {

namespace policy {
class Engine;
}  // namespace policy

struct Services {
  ledger::Ledger* ledger = nullptr;
  const Tables* tables = nullptr;
  const Pseudonymizer* pseudonymizer = nullptr;
  Ingestor* ingestor = nullptr;
  metrics::Registry* registry = nullptr;
  const Authenticator* auth = nullptr;
  HttpMetrics* http_metrics = nullptr;  // may be null (tests)
  schema::Clock* clock = schema::SystemClock::Default();

  // The boundary policy engine; null when custodyd runs without a policy
  // (POST /v1/policy/evaluate and /v1/policy/reload then answer 409).
  policy::Engine* engine = nullptr;
  // The approvals in force: the engine's registry, or -- without a policy --
  // the NoPolicyDecider's, which tracks approval records the same way (so
  // approvals are recorded and listed either way; they lift nothing until a
  // policy is configured). Null: the approval routes answer 503 (tests that
  // build a bare Services).
  policy::ApprovalRegistry* approvals = nullptr;
  // Re-reads the policy file named by the config in force and, when it
  // compiles, puts it in force and records a `policy` entry (blocking until
  // that commit). A policy with errors keeps the old one: InvalidArgument
  // (or IOError for an unreadable file). Every diagnostic, warnings too, is
  // appended to `*diagnostics` (may be null). Null when there is no engine.
  std::function<Status(std::vector<policy::Diagnostic>*)> reload_policy;

  HttpConfig http;                 // limits and timeouts
  size_t queue_capacity = 100000;  // caps events per request (a bigger one could never fit)
  std::chrono::milliseconds alert_poll_interval{100};  // follow=1 streams
  std::chrono::milliseconds stream_heartbeat{15000};   // SSE comment lines keep proxies open

  // True once the ingestor runs and the listeners are bound; false again
  // when shutdown starts (GET /readyz).
  std::atomic<bool> ready{false};
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_SERVICES_H_
