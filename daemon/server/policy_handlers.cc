// The admin side of boundary policies (docs/api.md):
//   POST /v1/approvals          register approvals (ledger records, kind "approval")
//   GET  /v1/approvals          list them with their state now
//   POST /v1/approvals/revoke   revoke one (record kind "approval-revocation")
//   POST /v1/policy/evaluate    dry-run one event against the policy in force
//   POST /v1/policy/reload      re-read the policy file
//
// Approvals and revocations are validated and pre-checked against the
// registry here, then recorded through the ingest appender; the registry is
// updated from the committed record (Decider::OnRecordCommitted), so the
// ledger stays its only store and an answer is sent only after the commit.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <memory>
#include <mutex>
#include <optional>
#include <set>

#include "custody/schema/event.h"
#include "custody/schema/json_canon.h"
#include "daemon/policy/approvals.h"
#include "daemon/policy/engine.h"
#include "daemon/policy/policy.h"
#include "daemon/server/router_internal.h"

namespace custody::daemon::internal {
namespace {

namespace json = boost::json;

// One request registers at most this many approvals (they are records
// written one by one; a registry import belongs in a script of requests).
constexpr size_t kMaxApprovalsPerRequest = 1000;

bool IsJsonMediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  constexpr std::string_view kWant = "application/json";
  return type.size() == kWant.size() &&
         std::equal(type.begin(), type.end(), kWant.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// Checks what every JSON admin POST shares: no query parameters, a JSON
// Content-Type, a body that parses. Returns the body, or the error in *res.
std::optional<json::value> JsonBody(const Request& req, Services& s, Response* res) {
  std::vector<ProblemItem> errors;
  if (!QueryParams::Parse(req.target(), {}, &errors)) {
    *res = InvalidRequest(s, std::move(errors));
    return std::nullopt;
  }
  if (!IsJsonMediaType(req[http::field::content_type])) {
    CountReject(s, RejectReason::kUnsupportedMediaType);
    const std::string_view got = req[http::field::content_type];
    *res =
        ProblemResponse(http::status::unsupported_media_type, "unsupported-media-type",
                        "Content-Type must be application/json, got " +
                            (got.empty() ? std::string("none") : "\"" + std::string(got) + "\""));
    return std::nullopt;
  }
  auto v = schema::ParseJson(req.body());
  if (!v.ok()) {
    CountReject(s, RejectReason::kInvalidRequest);
    *res = ProblemResponse(http::status::bad_request, "malformed-request",
                           "the body is not JSON: " + v.status().message(),
                           {{"", "", v.status().message()}});
    return std::nullopt;
  }
  return std::move(v).value();
}

// 400 with one item per field error; pointers are prefixed with `prefix`.
Response FieldErrors(Services& s, std::string_view slug, std::string what,
                     const std::vector<schema::FieldError>& errors) {
  CountReject(s, RejectReason::kInvalidRequest);
  Problem p;
  p.status = http::status::bad_request;
  p.slug = std::string(slug);
  p.detail = errors.size() == 1 ? errors.front().message + "; nothing was recorded"
                                : std::to_string(errors.size()) + " problems in the " + what +
                                      "; nothing was recorded";
  for (const auto& e : errors) p.errors.push_back({e.pointer, "", e.message});
  return MakeProblemResponse(p);
}

Response NoRegistry() {
  return ProblemResponse(http::status::service_unavailable, "unavailable",
                         "this server has no approval registry");
}

Response NoPolicy(std::string_view what) {
  return ProblemResponse(http::status::conflict, "conflict",
                         "custodyd runs without a boundary policy (no `policy` in its config); " +
                             std::string(what) + " needs one: set `policy` and restart");
}

// The problem for a record the appender could not take or commit.
Response RecordFailure(Services& s, const schema::Status& st, std::string detail,
                       std::vector<ProblemItem> errors = {}) {
  Problem p;
  p.detail = std::move(detail);
  p.errors = std::move(errors);
  if (st.IsUnavailable()) {
    CountReject(s, RejectReason::kQueueFull);
    p.status = http::status::service_unavailable;
    p.slug = "unavailable";
    p.retry_after_seconds = std::max<unsigned>(1, s.http.retry_after_seconds);
  } else if (st.code() == schema::Code::kFailedPrecondition) {
    // The ingestor refuses only while draining.
    CountReject(s, RejectReason::kShuttingDown);
    p.status = http::status::service_unavailable;
    p.slug = "shutting-down";
    p.retry_after_seconds = std::max<unsigned>(1, s.http.retry_after_seconds);
  } else {
    spdlog::error("recording an approval record failed: {}", st.ToString());
    return StatusResponse(st);
  }
  return MakeProblemResponse(p);
}

// Fans N records out to the appender and answers once every one of them
// has committed or failed. Callbacks arrive on the appender thread (or on
// the handler's thread when Submit refuses); the answer is built on the
// connection's executor.
class RecordBatch : public std::enable_shared_from_this<RecordBatch> {
 public:
  using Finish = std::function<Response(std::vector<schema::Result<RecordReply>>&)>;

  RecordBatch(Completion done, size_t n, Finish finish)
      : done_(std::move(done)), finish_(std::move(finish)), pending_(n) {
    results_.resize(n, schema::Status::Internal("not recorded"));
  }

  void Submit(Services& s, size_t i, RecordRequest record) {
    auto self = shared_from_this();
    schema::Status st = s.ingestor->SubmitRecord(
        std::move(record), [self, i](schema::Result<RecordReply> r) { self->Complete(i, r); });
    if (!st.ok()) Complete(i, st);
  }

 private:
  void Complete(size_t i, schema::Result<RecordReply> r) {
    {
      std::lock_guard lock(mu_);
      results_[i] = std::move(r);
      if (--pending_ > 0) return;
    }
    auto self = shared_from_this();
    auto work = [self] { self->done_.respond(self->finish_(self->results_)); };
    if (done_.dispatch) {
      done_.dispatch(std::move(work));
    } else {
      work();
    }
  }

  Completion done_;
  Finish finish_;
  std::mutex mu_;
  size_t pending_;
  std::vector<schema::Result<RecordReply>> results_;
};

// The checkpoint of the largest seq: it covers every earlier record too.
std::string LatestCheckpoint(const std::vector<schema::Result<RecordReply>>& results) {
  const RecordReply* latest = nullptr;
  for (const auto& r : results) {
    if (r.ok() && (latest == nullptr || r->seq >= latest->seq)) latest = &*r;
  }
  return latest ? latest->checkpoint : std::string();
}

std::string Canonical(const json::object& o) {
  std::string out;
  if (!schema::AppendCanonicalJson(json::value(o), &out).ok()) return "{}";
  return out;
}

}  // namespace

void HandlePostApprovals(Request&& req, Services& s, Completion done) {
  Response res;
  auto principal = Authorize(req, s, Access::kAdmin, &res);
  if (!principal) return done.respond(std::move(res));
  auto body = JsonBody(req, s, &res);
  if (!body) return done.respond(std::move(res));
  if (s.approvals == nullptr || s.ingestor == nullptr) return done.respond(NoRegistry());

  // One approval object, or an array of them (pointers then start "/<i>").
  const bool single = !body->is_array();
  std::vector<const json::value*> items;
  if (single) {
    items.push_back(&*body);
  } else {
    for (const json::value& v : body->as_array()) items.push_back(&v);
  }
  std::vector<schema::FieldError> errors;
  if (items.empty() || items.size() > kMaxApprovalsPerRequest) {
    errors.push_back({"", "expected one approval object or an array of 1.." +
                              std::to_string(kMaxApprovalsPerRequest) + " of them"});
    return done.respond(FieldErrors(s, "invalid-approval", "request body", errors));
  }
  std::vector<policy::Approval> approvals;
  std::set<std::string, std::less<>> ids;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string prefix = single ? "" : "/" + std::to_string(i);
    std::vector<schema::FieldError> item_errors;
    auto a = policy::ParseApproval(*items[i], &item_errors);
    for (auto& e : item_errors) errors.push_back({prefix + e.pointer, std::move(e.message)});
    if (!a) continue;
    if (!ids.insert(a->approval_id).second) {
      errors.push_back({prefix + "/approval_id",
                        "approval " + a->approval_id + " appears more than once in this request"});
    }
    approvals.push_back(std::move(*a));
  }
  if (!errors.empty()) return done.respond(FieldErrors(s, "invalid-approval", "approvals", errors));

  // Refuse up front what the registry would ignore once recorded.
  std::vector<ProblemItem> conflicts;
  for (size_t i = 0; i < approvals.size(); ++i) {
    schema::Status st = s.approvals->CheckRegister(approvals[i]);
    if (!st.ok()) {
      conflicts.push_back(
          {(single ? "" : "/" + std::to_string(i)) + "/approval_id", "", st.message()});
    }
  }
  if (!conflicts.empty()) {
    // One conflict's message already says what to do.
    std::string detail = conflicts.size() == 1
                             ? conflicts.front().message + "; nothing was recorded"
                             : std::to_string(conflicts.size()) +
                                   " approvals already exist; nothing was recorded (approvals "
                                   "are immutable: revoke and use a new id)";
    return done.respond(
        ProblemResponse(http::status::conflict, "conflict", detail, std::move(conflicts)));
  }

  const bool no_policy = s.engine == nullptr;
  std::vector<std::string> approval_ids;
  for (const auto& a : approvals) approval_ids.push_back(a.approval_id);
  auto finish = [&s, single, no_policy, ids = std::move(approval_ids)](
                    std::vector<schema::Result<RecordReply>>& results) -> Response {
    std::string out = "{";
    std::vector<ProblemItem> failures;
    std::vector<std::string> recorded;
    std::optional<schema::Status> first_failure;
    std::string items_json;
    for (size_t i = 0; i < results.size(); ++i) {
      const std::string pointer = single ? "" : "/" + std::to_string(i);
      if (!results[i].ok()) {
        if (!first_failure) first_failure = results[i].status();
        failures.push_back({pointer, "", "not recorded: " + results[i].status().message()});
        continue;
      }
      // Two requests racing with one id both pass CheckRegister; the first
      // record committed wins and the registry ignored the other.
      auto entry = s.approvals->Get(ids[i], s.clock->Now());
      if (!entry || entry->seq != results[i]->seq) {
        failures.push_back({pointer + "/approval_id", "",
                            "approval " + ids[i] + " was registered concurrently" +
                                (entry ? " at seq " + std::to_string(entry->seq) : "") +
                                "; this request's record at seq " +
                                std::to_string(results[i]->seq) + " has no effect"});
        continue;
      }
      recorded.push_back(ids[i]);
      if (!items_json.empty()) items_json += ',';
      items_json += "{\"approval_id\":";
      schema::AppendJsonString(ids[i], &items_json);
      items_json += ",\"seq\":" + std::to_string(results[i]->seq) + "}";
    }
    if (!failures.empty()) {
      std::string detail = std::to_string(recorded.size()) + " of " +
                           std::to_string(results.size()) + " approval(s) recorded";
      for (size_t i = 0; i < recorded.size(); ++i) detail += (i ? ", " : ": ") + recorded[i];
      if (first_failure) {
        return RecordFailure(s, *first_failure, std::move(detail), std::move(failures));
      }
      return ProblemResponse(http::status::conflict, "conflict", detail, std::move(failures));
    }
    // A single approval's id and seq are also at the top level (the request's shape).
    if (single) {
      out += "\"approval_id\":";
      schema::AppendJsonString(ids[0], &out);
      out += ",";
    }
    out += "\"checkpoint\":";
    schema::AppendJsonString(LatestCheckpoint(results), &out);
    if (no_policy) out += ",\"policy\":\"none\"";
    out += ",\"results\":[" + items_json + "]";
    if (single) out += ",\"seq\":" + std::to_string(results[0]->seq);
    out += "}";
    return OkResponse(std::move(out), kJson);
  };

  auto batch = std::make_shared<RecordBatch>(std::move(done), approvals.size(), std::move(finish));
  for (size_t i = 0; i < approvals.size(); ++i) {
    batch->Submit(
        s, i,
        RecordRequest{"approval", principal->name, Canonical(policy::ApprovalBody(approvals[i]))});
  }
}

Response HandleListApprovals(const Request& req, Services& s) {
  Response denied;
  if (!Authorize(req, s, Access::kRead, &denied)) return denied;
  std::vector<ProblemItem> errors;
  if (!QueryParams::Parse(req.target(), {}, &errors)) return InvalidRequest(s, std::move(errors));
  if (s.approvals == nullptr) return NoRegistry();
  json::array list;
  for (const auto& entry : s.approvals->List(s.clock->Now())) {
    list.push_back(policy::ApprovalEntryJson(entry));
  }
  json::object o;
  o["approvals"] = std::move(list);
  if (s.engine == nullptr) o["policy"] = "none";
  return OkResponse(Canonical(o), kJson);
}

void HandleRevokeApproval(Request&& req, Services& s, Completion done) {
  Response res;
  auto principal = Authorize(req, s, Access::kAdmin, &res);
  if (!principal) return done.respond(std::move(res));
  auto body = JsonBody(req, s, &res);
  if (!body) return done.respond(std::move(res));
  if (s.approvals == nullptr || s.ingestor == nullptr) return done.respond(NoRegistry());

  std::vector<schema::FieldError> errors;
  auto revocation = policy::ParseRevocation(*body, &errors);
  if (!revocation) return done.respond(FieldErrors(s, "invalid-request", "revocation", errors));
  schema::Status st = s.approvals->CheckRevoke(*revocation);
  if (!st.ok()) {
    return done.respond(ProblemResponse(ToHttp(st), st.IsNotFound() ? "not-found" : "conflict",
                                        st.message() + "; nothing was recorded",
                                        {{"/approval_id", "", st.message()}}));
  }

  const std::string id = revocation->approval_id;
  auto finish = [&s, id](std::vector<schema::Result<RecordReply>>& results) -> Response {
    const auto& r = results.front();
    if (!r.ok())
      return RecordFailure(s, r.status(), "the revocation of " + id + " was not recorded");
    auto entry = s.approvals->Get(id, s.clock->Now());
    if (!entry || !entry->revocation || entry->revoked_seq != r->seq) {
      return ProblemResponse(http::status::conflict, "conflict",
                             "approval " + id +
                                 " was revoked concurrently; this request's record "
                                 "at seq " +
                                 std::to_string(r->seq) + " has no effect");
    }
    json::object o;
    o["approval"] = policy::ApprovalEntryJson(*entry);
    o["approval_id"] = id;
    o["checkpoint"] = r->checkpoint;
    o["seq"] = r->seq;
    if (s.engine == nullptr) o["policy"] = "none";
    return OkResponse(Canonical(o), kJson);
  };
  auto batch = std::make_shared<RecordBatch>(std::move(done), 1, std::move(finish));
  batch->Submit(s, 0,
                RecordRequest{"approval-revocation", principal->name,
                              Canonical(policy::RevocationBody(*revocation))});
}

Response HandleEvaluatePolicy(const Request& req, Services& s) {
  Response res;
  if (!Authorize(req, s, Access::kAdmin, &res)) return res;
  auto body = JsonBody(req, s, &res);
  if (!body) return res;
  if (s.engine == nullptr) return NoPolicy("a dry run");
  std::vector<schema::FieldError> errors;
  auto event = schema::ParseEvent(*body, &errors);
  if (!event) return FieldErrors(s, "invalid-event", "event", errors);
  const std::shared_ptr<const policy::Policy> policy = s.engine->policy();
  const policy::Decision decision = policy::EvaluateSample(*policy, *event, s.approvals);
  // decision.json is canonical; "decision" < "policy_sha256" keeps the answer canonical.
  std::string out = "{\"decision\":" + decision.json + ",\"policy_sha256\":";
  schema::AppendJsonString(policy->sha256(), &out);
  out += '}';
  return OkResponse(std::move(out), kJson);
}

Response HandleReloadPolicy(const Request& req, Services& s) {
  Response denied;
  if (!Authorize(req, s, Access::kAdmin, &denied)) return denied;
  std::vector<ProblemItem> errors;
  if (!QueryParams::Parse(req.target(), {}, &errors)) return InvalidRequest(s, std::move(errors));
  if (s.engine == nullptr || !s.reload_policy) return NoPolicy("a policy reload");

  const std::string previous = s.engine->policy()->sha256();
  std::vector<policy::Diagnostic> diagnostics;
  const schema::Status st = s.reload_policy(&diagnostics);
  json::array diag_json;
  for (const auto& d : diagnostics) diag_json.push_back(d.ToJson());
  if (!st.ok()) {
    if (!st.IsInvalidArgument() && st.code() != schema::Code::kIOError &&
        st.code() != schema::Code::kNotFound) {
      return RecordFailure(s, st, "the policy was not reloaded: " + st.message());
    }
    // The file is the problem, not the request: 422 with every diagnostic.
    Problem p;
    p.status = http::status::unprocessable_entity;
    p.slug = "invalid-policy";
    // st says the reload was refused and the policy stays; add which one.
    p.detail = st.message() + " (in force: sha256 " + previous + ")";
    for (const auto& d : diagnostics) {
      if (d.is_error()) p.errors.push_back({"", "", d.ToString()});
    }
    if (p.errors.empty()) p.errors.push_back({"", "", st.message()});
    Response r = MakeProblemResponse(p);
    // RFC 9457 extension member: the structured diagnostics (file, line, column).
    auto v = schema::ParseJson(r.body());
    if (v.ok() && v->is_object()) {
      v->as_object()["diagnostics"] = std::move(diag_json);
      r.body() = json::serialize(*v);
      r.prepare_payload();
    }
    return r;
  }
  const std::shared_ptr<const policy::Policy> policy = s.engine->policy();
  json::object o;
  o["changed"] = policy->sha256() != previous;
  o["policy_sha256"] = policy->sha256();
  o["previous_sha256"] = previous;
  o["rules"] = policy->rules().size();
  o["source"] = policy->source();
  o["warnings"] = std::move(diag_json);
  return OkResponse(Canonical(o), kJson);
}

}  // namespace custody::daemon::internal
