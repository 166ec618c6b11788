// Routing: the free function Handle() maps one HTTP request to its response.
// It knows nothing of sockets, so tests call it directly with a Services
// built on a temporary ledger and a lambda that captures the response.
//
// Routes (DESIGN.md "HTTP API", docs/api.md; role in brackets):
//   POST /v1/events               [producer|admin] append; answers after the durable commit
//   GET  /v1/log                  [public] {"origin","verifier_key","size"}
//   GET  /v1/checkpoint           [public] latest signed note, text/plain
//   GET  /v1/entries              [public] ?start=S[&end=E] entry bytes S..E-1, NDJSON
//   GET  /v1/proof/inclusion      [public] ?index=I[&size=N]
//   GET  /v1/proof/consistency    [public] ?from=M[&to=N]
//   GET  /v1/events               [reader|admin]
//        ?subject&actor&category&system&country&since&until&limit&cursor
//   GET  /v1/alerts               [reader|admin]
//        ?since&min_severity&rule&limit&cursor[&follow=1[&after_seq=S]]
//   POST /v1/approvals            [admin] one approval or an array; answers after the commit
//   GET  /v1/approvals            [reader|admin] every approval with its state now
//   POST /v1/approvals/revoke     [admin] {"approval_id","revoked_by","reason"}
//   POST /v1/policy/evaluate      [admin] one event, dry run: the decision, nothing recorded
//   POST /v1/policy/reload        [admin] re-read the policy file; records a `policy` entry
//   GET  /metrics /healthz /readyz [public]
// Every error is a problem+json response (problem.h).
//
// Completion: Handle() calls exactly one of done.respond / done.follow,
// exactly once. For POST /v1/events, /v1/approvals and /v1/approvals/revoke
// that happens later, on the ingest appender's thread by way of
// done.dispatch; for everything else before Handle() returns
// (POST /v1/policy/reload blocks its caller until the policy entry commits).
#ifndef CUSTODY_DAEMON_SERVER_ROUTER_H_
#define CUSTODY_DAEMON_SERVER_ROUTER_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "daemon/config/config.h"  // before query.h, which uses Result unqualified
#include "daemon/ingest/query.h"
#include "daemon/server/http.h"
#include "daemon/server/http_metrics.h"
#include "daemon/server/services.h"

namespace custody::daemon {

// A validated GET /v1/alerts?follow=1: stream alerts of entries with
// seq >= from_seq that match `query` (its limit/cursor unused), as
// Server-Sent Events, until the client goes away or the server stops.
// from_seq is after_seq + 1, or a reconnecting client's Last-Event-ID + 1,
// or by default the log size (only new alerts). Each event is
//   [id: <entry seq>\n]event: alert\ndata: <alert JSON>\n\n
// All alerts of one entry are written together, and only the last carries
// the id: a client cut off between two alerts of one entry resumes with
// that entry again (an alert twice, told apart by alert_id) rather than
// after it (an alert lost). A ": keep-alive"
// comment every stream_heartbeat. The session polls the ledger size every
// alert_poll_interval and queries only when it grew.
struct AlertFollow {
  AlertQuery query;
  uint64_t from_seq = 0;
};

struct Completion {
  // Receives the response. Callable from any thread; must not block.
  std::function<void(Response)> respond;
  // Runs `work` on the connection's executor (a session posts it to its
  // strand), so the appender thread only hands over the reply. Null: run
  // inline on the calling thread.
  std::function<void(std::function<void()>)> dispatch;
  // Turns the connection into an alert stream. Null when the transport
  // cannot stream; follow=1 is then answered 501.
  std::function<void(AlertFollow)> follow;
};

// The route a method and target select (for metrics and early errors);
// Route::kOther when none does.
Route ClassifyRoute(http::verb method, std::string_view target);

void Handle(Request&& req, Services& services, Completion done);

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_ROUTER_H_
