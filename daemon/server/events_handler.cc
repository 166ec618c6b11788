// POST /v1/events: validate, authenticate, pseudonymise, submit to the
// group-commit queue, and answer once the appender has committed.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>

#include "custody/schema/event.h"
#include "custody/schema/json_canon.h"
#include "daemon/server/router_internal.h"

namespace custody::daemon::internal {
namespace {

// The media type of a Content-Type value, lower case, without parameters.
std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string ReceiptJson(const IngestReply& reply) {
  std::string body;
  body.reserve(64 + reply.results.size() * 64 + reply.checkpoint.size());
  body += "{\"results\":[";
  for (size_t i = 0; i < reply.results.size(); ++i) {
    const Receipt& r = reply.results[i];
    if (i) body += ',';
    body += "{\"event_id\":";
    schema::AppendJsonString(r.event_id, &body);
    body += ",\"seq\":";
    body += std::to_string(r.seq);
    body += r.duplicate ? ",\"duplicate\":true}" : ",\"duplicate\":false}";
  }
  body += "],\"checkpoint\":";
  schema::AppendJsonString(reply.checkpoint, &body);
  body += '}';
  return body;
}

Response Unavailable(Services& s, RejectReason reason, std::string_view slug, std::string detail) {
  CountReject(s, reason);
  Problem p;
  p.status = http::status::service_unavailable;
  p.slug = std::string(slug);
  p.detail = std::move(detail);
  p.retry_after_seconds = std::max<unsigned>(1, s.http.retry_after_seconds);
  return MakeProblemResponse(p);
}

// 409: events that reuse an event_id for different content. `single`: the
// body was one object (pointers without an index).
Response ConflictResponse(Services& s, const std::vector<EventConflict>& conflicts, bool single) {
  CountReject(s, RejectReason::kInvalidRequest);
  Problem p;
  p.status = http::status::conflict;
  p.slug = "event-id-conflict";
  p.detail = "event_id already recorded with different content (" +
             std::to_string(conflicts.size()) +
             (conflicts.size() == 1 ? " event" : " events") +
             "); a retry must send the same event, a new event needs a new event_id; nothing "
             "was appended";
  for (const EventConflict& c : conflicts) {
    std::string message = "event_id \"" + c.event_id + "\" ";
    message += c.earlier_index
                   ? "is also the id of event " + std::to_string(*c.earlier_index) +
                         " of this request, with different content"
                   : "was recorded at seq " + std::to_string(c.seq) +
                         " with different content (custodyctl prove " + std::to_string(c.seq) +
                         " shows it)";
    p.errors.push_back(
        {single ? "/event_id" : "/" + std::to_string(c.index) + "/event_id", "", message});
  }
  return MakeProblemResponse(p);
}

// The answer to a finished (or failed) commit.
Response ReplyResponse(Services& s, const Result<IngestReply>& reply, bool single) {
  if (reply.ok() && !reply->conflicts.empty()) return ConflictResponse(s, reply->conflicts, single);
  if (reply.ok()) return OkResponse(ReceiptJson(*reply), kJson);
  const schema::Status& st = reply.status();
  spdlog::error("POST /v1/events: commit failed: {}", st.ToString());
  if (st.IsUnavailable()) {
    return Unavailable(
        s, RejectReason::kQueueFull, "unavailable",
        "the ledger cannot accept writes right now (" + st.message() + "); nothing was appended");
  }
  if (st.code() == schema::Code::kFailedPrecondition) {
    return Unavailable(s, RejectReason::kShuttingDown, "shutting-down",
                       "custodyd is shutting down; nothing was appended");
  }
  return StatusResponse(st);
}

}  // namespace

void HandlePostEvents(Request&& req, Services& s, Completion done) {
  Response denied;
  auto principal = Authorize(req, s, Access::kAppend, &denied);
  if (!principal) return done.respond(std::move(denied));
  std::vector<ProblemItem> param_errors;
  if (!QueryParams::Parse(req.target(), {}, &param_errors)) {
    return done.respond(InvalidRequest(s, std::move(param_errors)));
  }

  const std::string media = MediaType(req[http::field::content_type]);
  bool ndjson = false;
  if (media == "application/x-ndjson" || media == "application/ndjson") {
    ndjson = true;
  } else if (media != "application/json") {
    CountReject(s, RejectReason::kUnsupportedMediaType);
    return done.respond(
        ProblemResponse(http::status::unsupported_media_type, "unsupported-media-type",
                        "Content-Type must be application/json (one event or an array) or "
                        "application/x-ndjson (one event per line), got " +
                            (media.empty() ? std::string("none") : "\"" + media + "\"")));
  }

  // A request bigger than the whole queue could never be accepted.
  const size_t max_events = std::min(s.http.max_events_per_request, s.queue_capacity);
  schema::ParsedBatch batch = schema::ParseEventBatch(req.body(), ndjson, max_events);
  if (!batch.ok()) {
    CountReject(s, RejectReason::kInvalidRequest);
    Problem p;
    p.status = http::status::bad_request;
    p.slug = batch.malformed ? "malformed-request" : "invalid-event";
    // Past kMaxBatchErrors the last item says the list was cut: count those listed.
    const bool cut = batch.errors.size() > schema::kMaxBatchErrors;
    p.detail = batch.errors.size() == 1
                   ? batch.errors.front().message + "; nothing was appended"
                   : (cut ? "more than " + std::to_string(schema::kMaxBatchErrors)
                          : std::to_string(batch.errors.size())) +
                         " problems in the request body; nothing was appended";
    p.errors.reserve(batch.errors.size());
    for (auto& e : batch.errors)
      p.errors.push_back({std::move(e.pointer), "", std::move(e.message)});
    return done.respond(MakeProblemResponse(p));
  }

  auto prepared = PrepareEvents(std::move(batch.events), *s.pseudonymizer);
  if (!prepared.ok()) {
    if (prepared.status().IsInvalidArgument()) {
      CountReject(s, RejectReason::kInvalidRequest);
      return done.respond(
          ProblemResponse(http::status::bad_request, "invalid-event", prepared.status().message()));
    }
    spdlog::error("POST /v1/events: preparing events failed: {}", prepared.status().ToString());
    return done.respond(StatusResponse(prepared.status()));
  }

  const auto received = std::chrono::steady_clock::now();
  const size_t first = req.body().find_first_not_of(" \t\r\n");
  const bool single = !ndjson && first != std::string::npos && req.body()[first] == '{';
  auto completion = std::make_shared<Completion>(std::move(done));
  schema::Status submitted = s.ingestor->Submit(
      principal->name, std::move(prepared).value(),
      [&s, completion, received, single](Result<IngestReply> reply) {
        // On the appender thread: hand over, build the response elsewhere.
        auto finish = [&s, completion, received, single, reply = std::move(reply)]() {
          if (s.http_metrics != nullptr) {
            s.http_metrics->ObserveIngestLatency(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
          }
          completion->respond(ReplyResponse(s, reply, single));
        };
        if (completion->dispatch) {
          completion->dispatch(std::move(finish));
        } else {
          finish();
        }
      });
  if (submitted.ok()) return;
  if (submitted.IsUnavailable()) {
    return completion->respond(
        Unavailable(s, RejectReason::kQueueFull, "queue-full",
                    "the " + submitted.message() + "; nothing was appended; retry after " +
                        std::to_string(std::max<unsigned>(1, s.http.retry_after_seconds)) + " s"));
  }
  if (submitted.code() == schema::Code::kFailedPrecondition) {
    return completion->respond(Unavailable(s, RejectReason::kShuttingDown, "shutting-down",
                                           "custodyd is shutting down; nothing was appended"));
  }
  spdlog::error("POST /v1/events: submit failed: {}", submitted.ToString());
  completion->respond(StatusResponse(submitted));
}

}  // namespace custody::daemon::internal
