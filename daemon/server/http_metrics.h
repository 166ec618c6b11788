// HTTP-level Prometheus metrics: requests by route and status, rejects by
// reason, open connections. Registered in the daemon's metrics::Registry so
// GET /metrics renders them with the ingest pipeline's own metrics.
//
// Thread safety: every method from any thread. Counters are created on first
// use (under the registry's lock) and then cached, so the hot path is one
// atomic load and one atomic add.
#ifndef CUSTODY_DAEMON_SERVER_HTTP_METRICS_H_
#define CUSTODY_DAEMON_SERVER_HTTP_METRICS_H_

#include <array>
#include <atomic>
#include <string_view>

#include "daemon/metrics/metrics.h"

namespace custody::daemon {

// Every route the router knows; the `route` label of the request counter.
enum class Route {
  kEventsPost,
  kEventsQuery,
  kLog,
  kCheckpoint,
  kEntries,
  kProofInclusion,
  kProofConsistency,
  kProofPrefix,
  kAlerts,
  kApprovalsPost,
  kApprovalsList,
  kApprovalsRevoke,
  kPolicyEvaluate,
  kPolicyReload,
  kMetrics,
  kHealthz,
  kReadyz,
  kOther,  // no route matched (404/405) or the request never reached routing
  kCount,
};
std::string_view RouteName(Route route);  // "post_events", "get_log", ...

// Why a request was refused; the `reason` label of the reject counter.
enum class RejectReason {
  kInvalidRequest,        // 400 (bad event, bad query string)
  kUnauthenticated,       // 401
  kForbidden,             // 403
  kBodyTooLarge,          // 413
  kHeaderTooLarge,        // 431
  kUnsupportedMediaType,  // 415
  kQueueFull,             // 503 ingest queue full
  kShuttingDown,          // 503 while draining
  kTooManyConnections,    // connection refused over max_connections
  kTimeout,               // header/body/idle timeout
  kMalformedHttp,         // unparseable HTTP
  kCount,
};
std::string_view RejectReasonName(RejectReason reason);

class HttpMetrics {
 public:
  explicit HttpMetrics(metrics::Registry* registry);

  void CountRequest(Route route, unsigned status);
  void CountReject(RejectReason reason);
  void ObserveIngestLatency(double seconds);  // POST /v1/events, receive to reply
  metrics::Gauge* connections() { return connections_; }

 private:
  // Status codes get a slot each; anything else shares the last.
  static constexpr std::array<unsigned, 18> kStatuses = {
      200, 204, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 431, 500, 503, 0};
  static size_t StatusSlot(unsigned status);

  metrics::Registry* registry_;
  std::array<std::array<std::atomic<metrics::Counter*>, kStatuses.size()>,
             static_cast<size_t>(Route::kCount)>
      requests_{};
  std::array<metrics::Counter*, static_cast<size_t>(RejectReason::kCount)> rejects_{};
  metrics::Histogram* ingest_seconds_;
  metrics::Gauge* connections_;
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_HTTP_METRICS_H_
