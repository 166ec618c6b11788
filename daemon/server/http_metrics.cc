#include "daemon/server/http_metrics.h"

#include <string>

namespace custody::daemon {

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kEventsPost:
      return "post_events";
    case Route::kEventsQuery:
      return "get_events";
    case Route::kLog:
      return "get_log";
    case Route::kCheckpoint:
      return "get_checkpoint";
    case Route::kEntries:
      return "get_entries";
    case Route::kProofInclusion:
      return "get_proof_inclusion";
    case Route::kProofConsistency:
      return "get_proof_consistency";
    case Route::kProofPrefix:
      return "get_proof_prefix";
    case Route::kAlerts:
      return "get_alerts";
    case Route::kApprovalsPost:
      return "post_approvals";
    case Route::kApprovalsList:
      return "get_approvals";
    case Route::kApprovalsRevoke:
      return "post_approvals_revoke";
    case Route::kPolicyEvaluate:
      return "post_policy_evaluate";
    case Route::kPolicyReload:
      return "post_policy_reload";
    case Route::kMetrics:
      return "get_metrics";
    case Route::kHealthz:
      return "get_healthz";
    case Route::kReadyz:
      return "get_readyz";
    case Route::kOther:
    case Route::kCount:
      break;
  }
  return "other";
}

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kInvalidRequest:
      return "invalid_request";
    case RejectReason::kUnauthenticated:
      return "unauthenticated";
    case RejectReason::kForbidden:
      return "forbidden";
    case RejectReason::kBodyTooLarge:
      return "body_too_large";
    case RejectReason::kHeaderTooLarge:
      return "header_too_large";
    case RejectReason::kUnsupportedMediaType:
      return "unsupported_media_type";
    case RejectReason::kQueueFull:
      return "queue_full";
    case RejectReason::kShuttingDown:
      return "shutting_down";
    case RejectReason::kTooManyConnections:
      return "too_many_connections";
    case RejectReason::kTimeout:
      return "timeout";
    case RejectReason::kMalformedHttp:
      return "malformed_http";
    case RejectReason::kCount:
      break;
  }
  return "other";
}

HttpMetrics::HttpMetrics(metrics::Registry* registry) : registry_(registry) {
  for (size_t i = 0; i < rejects_.size(); ++i) {
    rejects_[i] = registry->GetCounter(
        "custody_http_rejects_total", "HTTP requests or connections refused, by reason",
        {{"reason", std::string(RejectReasonName(static_cast<RejectReason>(i)))}});
  }
  ingest_seconds_ = registry->GetHistogram(
      "custody_http_ingest_seconds",
      "POST /v1/events latency from the complete request to the durable receipt",
      {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  connections_ = registry->GetGauge("custody_http_connections", "Open HTTP connections");
}

size_t HttpMetrics::StatusSlot(unsigned status) {
  for (size_t i = 0; i + 1 < kStatuses.size(); ++i) {
    if (kStatuses[i] == status) return i;
  }
  return kStatuses.size() - 1;
}

void HttpMetrics::CountRequest(Route route, unsigned status) {
  size_t r = static_cast<size_t>(route);
  if (r >= requests_.size()) r = static_cast<size_t>(Route::kOther);
  size_t s = StatusSlot(status);
  metrics::Counter* counter = requests_[r][s].load(std::memory_order_acquire);
  if (counter == nullptr) {
    std::string code = kStatuses[s] == 0 ? "other" : std::to_string(kStatuses[s]);
    counter = registry_->GetCounter(
        "custody_http_requests_total", "HTTP requests answered, by route and status",
        {{"route", std::string(RouteName(static_cast<Route>(r)))}, {"status", code}});
    requests_[r][s].store(counter, std::memory_order_release);
  }
  counter->Inc();
}

void HttpMetrics::CountReject(RejectReason reason) {
  size_t i = static_cast<size_t>(reason);
  if (i < rejects_.size()) rejects_[i]->Inc();
}

void HttpMetrics::ObserveIngestLatency(double seconds) { ingest_seconds_->Observe(seconds); }

}  // namespace custody::daemon
