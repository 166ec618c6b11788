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

#include "custody/ledger/store.h"
#include "custody/schema/clock.h"
#include "daemon/config/config.h"
#include "daemon/ingest/ingestor.h"
#include "daemon/ingest/pseudonymizer.h"
#include "daemon/ingest/tables.h"
#include "daemon/metrics/metrics.h"
#include "daemon/server/auth.h"
#include "daemon/server/http_metrics.h"

namespace custody::daemon {

struct Services {
  ledger::Ledger* ledger = nullptr;
  const Tables* tables = nullptr;
  const Pseudonymizer* pseudonymizer = nullptr;
  Ingestor* ingestor = nullptr;
  metrics::Registry* registry = nullptr;
  const Authenticator* auth = nullptr;
  HttpMetrics* http_metrics = nullptr;  // may be null (tests)
  schema::Clock* clock = schema::SystemClock::Default();

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
