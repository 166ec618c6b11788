#include "daemon/server/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <charconv>
#include <limits>

#include "custody/ledger/bundle.h"
#include "custody/ledger/hash.h"
#include "custody/schema/json_canon.h"
#include "daemon/server/router_internal.h"

namespace custody::daemon {
namespace internal {

namespace {

// An absolute-form target ("http://host:port/v1/log?x=1", which RFC 9112
// 3.2.2 says a server must accept) as its origin form ("/v1/log?x=1").
std::string_view OriginForm(std::string_view target) {
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() > scheme.size() && target.substr(0, scheme.size()) == scheme) {
      const size_t slash = target.find_first_of("/?", scheme.size());
      if (slash == std::string_view::npos) return "/";
      return target[slash] == '/' ? target.substr(slash) : std::string_view("/");
    }
  }
  return target;
}

}  // namespace

std::optional<QueryParams> QueryParams::Parse(std::string_view target,
                                              std::initializer_list<std::string_view> allowed,
                                              std::vector<ProblemItem>* errors) {
  auto url = boost::urls::parse_origin_form(OriginForm(target));
  if (!url) {
    errors->push_back({"", "", "the request target is not a valid origin-form URI"});
    return std::nullopt;
  }
  QueryParams out;
  bool ok = true;
  for (const auto& param : url->params()) {
    if (std::find(allowed.begin(), allowed.end(), param.key) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      errors->push_back({"", param.key.empty() ? "(empty)" : param.key,
                         allowed.size() ? "unknown parameter; allowed: " + list
                                        : "this endpoint takes no parameters"});
      ok = false;
      continue;
    }
    if (!out.values_.emplace(param.key, param.value).second) {
      errors->push_back({"", param.key, "given more than once"});
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

const std::string* QueryParams::Find(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

void QueryParams::Uint(std::string_view name, std::optional<uint64_t>* out,
                       std::vector<ProblemItem>* errors) const {
  const std::string* v = Find(name);
  if (v == nullptr) return;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || end != v->data() + v->size()) {
    errors->push_back(
        {"", std::string(name), "must be a non-negative decimal integer, got \"" + *v + "\""});
    return;
  }
  *out = n;
}

void QueryParams::String(std::string_view name, std::optional<std::string>* out,
                         std::vector<ProblemItem>* errors) const {
  const std::string* v = Find(name);
  if (v == nullptr) return;
  if (v->empty()) {
    errors->push_back({"", std::string(name), "must not be empty (omit it to match everything)"});
    return;
  }
  if (!schema::IsValidUtf8(*v)) {
    errors->push_back({"", std::string(name), "must be valid UTF-8 (percent-encoded)"});
    return;
  }
  *out = *v;
}

void QueryParams::Time(std::string_view name, std::optional<schema::TimePoint>* out,
                       std::vector<ProblemItem>* errors) const {
  const std::string* v = Find(name);
  if (v == nullptr) return;
  auto t = schema::ParseRfc3339(*v);
  if (!t.ok()) {
    errors->push_back({"", std::string(name),
                       "must be an RFC 3339 date-time such as 2026-05-04T09:00:00Z (" +
                           t.status().message() + ")"});
    return;
  }
  *out = *t;
}

void QueryParams::Bool(std::string_view name, bool* out, std::vector<ProblemItem>* errors) const {
  const std::string* v = Find(name);
  if (v == nullptr) return;
  if (*v == "1" || *v == "true") {
    *out = true;
  } else if (*v == "0" || *v == "false") {
    *out = false;
  } else {
    errors->push_back({"", std::string(name), "must be 1, 0, true or false"});
  }
}

void CountReject(Services& s, RejectReason reason) {
  if (s.http_metrics != nullptr) s.http_metrics->CountReject(reason);
}

Response InvalidRequest(Services& s, std::vector<ProblemItem> errors) {
  CountReject(s, RejectReason::kInvalidRequest);
  std::string detail;
  if (errors.size() == 1) {
    const ProblemItem& e = errors.front();
    detail = e.parameter.empty() ? e.message : e.parameter + ": " + e.message;
  } else {
    detail = std::to_string(errors.size()) + " problems with the request parameters";
  }
  return ProblemResponse(http::status::bad_request, "invalid-request", std::move(detail),
                         std::move(errors));
}

Response OkResponse(std::string body, std::string_view content_type) {
  Response res{http::status::ok, 11};
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::optional<Principal> Authorize(const Request& req, Services& s, Access access,
                                   Response* denied) {
  if (access == Access::kPublic) return Principal{};
  auto principal = s.auth->Authenticate(req[http::field::authorization]);
  if (!principal.ok()) {
    CountReject(s, RejectReason::kUnauthenticated);
    *denied = ProblemResponse(http::status::unauthorized, "unauthenticated",
                              principal.status().message());
    return std::nullopt;
  }
  if (!RoleAllows(principal->role, access)) {
    CountReject(s, RejectReason::kForbidden);
    std::string_view needs = access == Access::kAppend ? "producer or admin"
                             : access == Access::kRead ? "reader or admin"
                                                       : "admin";
    *denied = ProblemResponse(http::status::forbidden, "forbidden",
                              "token \"" + principal->name + "\" has role " +
                                  std::string(RoleName(principal->role)) +
                                  "; this request needs role " + std::string(needs));
    return std::nullopt;
  }
  return std::move(principal).value();
}

}  // namespace internal

namespace {

using internal::CountReject;
using internal::InvalidRequest;
using internal::kJson;
using internal::kNdjson;
using internal::OkResponse;
using internal::QueryParams;

struct RouteEntry {
  std::string_view path;
  http::verb method;
  Route route;
};

constexpr RouteEntry kRoutes[] = {
    {"/v1/events", http::verb::post, Route::kEventsPost},
    {"/v1/events", http::verb::get, Route::kEventsQuery},
    {"/v1/log", http::verb::get, Route::kLog},
    {"/v1/checkpoint", http::verb::get, Route::kCheckpoint},
    {"/v1/entries", http::verb::get, Route::kEntries},
    {"/v1/proof/inclusion", http::verb::get, Route::kProofInclusion},
    {"/v1/proof/consistency", http::verb::get, Route::kProofConsistency},
    {"/v1/proof/prefix", http::verb::get, Route::kProofPrefix},
    {"/v1/alerts", http::verb::get, Route::kAlerts},
    {"/v1/approvals", http::verb::post, Route::kApprovalsPost},
    {"/v1/approvals", http::verb::get, Route::kApprovalsList},
    {"/v1/approvals/revoke", http::verb::post, Route::kApprovalsRevoke},
    {"/v1/policy/evaluate", http::verb::post, Route::kPolicyEvaluate},
    {"/v1/policy/reload", http::verb::post, Route::kPolicyReload},
    {"/metrics", http::verb::get, Route::kMetrics},
    {"/healthz", http::verb::get, Route::kHealthz},
    {"/readyz", http::verb::get, Route::kReadyz},
};

// The path of a request target, without the query.
std::string_view PathOf(std::string_view target) {
  target = internal::OriginForm(target);
  return target.substr(0, target.find('?'));
}

Response NotFoundOrNotAllowed(const Request& req) {
  std::string_view path = PathOf(req.target());
  std::string allow;
  for (const RouteEntry& r : kRoutes) {
    if (r.path != path) continue;
    if (!allow.empty()) allow += ", ";
    allow += std::string(http::to_string(r.method));
    if (r.method == http::verb::get) allow += ", HEAD";
  }
  if (allow.empty()) {
    return ProblemResponse(http::status::not_found, "not-found",
                           "no such endpoint: " + std::string(path));
  }
  Response res = ProblemResponse(http::status::method_not_allowed, "method-not-allowed",
                                 std::string(req.method_string()) + " is not allowed on " +
                                     std::string(path) + "; allowed: " + allow);
  res.set(http::field::allow, allow);
  return res;
}

void AppendHashes(const std::vector<ledger::Hash>& hashes, std::string* out) {
  *out += "\"hashes\":[";
  for (size_t i = 0; i < hashes.size(); ++i) {
    if (i) *out += ',';
    *out += '"' + ledger::HashToBase64(hashes[i]) + '"';
  }
  *out += ']';
}

Response HandleLog(Services& s) {
  std::string body = "{\"origin\":";
  schema::AppendJsonString(s.ledger->origin(), &body);
  body += ",\"verifier_key\":";
  schema::AppendJsonString(s.ledger->verifier_key().ToString(), &body);
  body += ",\"size\":" + std::to_string(s.ledger->size()) + "}";
  return OkResponse(std::move(body), kJson);
}

// A failed ledger read: logged, answered without internals.
Response ReadFailure(const schema::Status& status, std::string_view what);

// GET /v1/checkpoint: the latest; ?size=N the one signed at exactly N;
// ?max_size=N the newest signed at or below N (what an export up to N uses).
Response HandleCheckpoint(const Request& req, Services& s) {
  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(req.target(), {"size", "max_size"}, &errors);
  if (!params) return InvalidRequest(s, std::move(errors));
  std::optional<uint64_t> size, max_size;
  params->Uint("size", &size, &errors);
  params->Uint("max_size", &max_size, &errors);
  if (size && max_size) errors.push_back({"", "max_size", "give size or max_size, not both"});
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));
  if (!size && !max_size) {
    std::string note = s.ledger->LatestCheckpoint();
    if (note.empty()) {
      return ProblemResponse(http::status::not_found, "not-found",
                             "the log is empty and has no checkpoint yet");
    }
    return OkResponse(std::move(note), "text/plain; charset=utf-8");
  }
  auto view = s.ledger->Read();
  if (!view.ok()) return ReadFailure(view.status(), "GET /v1/checkpoint");
  uint64_t found = 0;
  auto note = size ? view->CheckpointAt(*size) : view->CheckpointAtOrBelow(*max_size, &found);
  if (note.status().IsNotFound()) {
    return ProblemResponse(
        http::status::not_found, "not-found",
        size ? "no checkpoint was signed at size " + std::to_string(*size) +
                   " (checkpoints are signed at the end of each commit; ?max_size=" +
                   std::to_string(*size) + " gives the newest at or below it)"
             : "no checkpoint was signed at or below size " + std::to_string(*max_size));
  }
  if (!note.ok()) return ReadFailure(note.status(), "GET /v1/checkpoint");
  return OkResponse(std::string(*note), "text/plain; charset=utf-8");
}

// A failed ledger read: logged, answered without internals.
Response ReadFailure(const schema::Status& status, std::string_view what) {
  spdlog::error("{}: {}", what, status.ToString());
  return StatusResponse(status);
}

Response HandleEntries(const Request& req, Services& s) {
  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(req.target(), {"start", "end"}, &errors);
  if (!params) return InvalidRequest(s, std::move(errors));
  std::optional<uint64_t> start, end;
  params->Uint("start", &start, &errors);
  params->Uint("end", &end, &errors);
  if (!start && !params->Find("start")) {
    errors.push_back({"", "start", "required: the index of the first entry to return"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));

  auto view = s.ledger->Read();
  if (!view.ok()) return ReadFailure(view.status(), "GET /v1/entries");
  const uint64_t size = view->size();
  const uint64_t cap = s.http.max_entries_per_request;
  const uint64_t last = end.value_or(*start < size ? *start + std::min(cap, size - *start) : size);
  if (*start >= size) {
    errors.push_back(
        {"", "start",
         "must be below the log size " + std::to_string(size) + " (entries are numbered from 0)"});
  } else if (last <= *start) {
    errors.push_back({"", "end", "must be greater than start (end is exclusive)"});
  } else if (last > size) {
    errors.push_back({"", "end", "must be at most the log size " + std::to_string(size)});
  } else if (last - *start > cap) {
    errors.push_back({"", "end",
                      "at most " + std::to_string(cap) + " entries per request; page with start=" +
                          std::to_string(*start) + "&end=" + std::to_string(*start + cap)});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));

  std::string body;
  for (uint64_t seq = *start; seq < last; ++seq) {
    auto entry = view->Entry(seq);
    if (!entry.ok()) return ReadFailure(entry.status(), "GET /v1/entries");
    body.append(*entry);
    body += '\n';
  }
  return OkResponse(std::move(body), kNdjson);
}

Response HandleInclusion(const Request& req, Services& s) {
  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(req.target(), {"index", "size"}, &errors);
  if (!params) return InvalidRequest(s, std::move(errors));
  std::optional<uint64_t> index, size;
  params->Uint("index", &index, &errors);
  params->Uint("size", &size, &errors);
  if (!index && !params->Find("index")) {
    errors.push_back({"", "index", "required: the index of the entry to prove"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));

  auto view = s.ledger->Read();
  if (!view.ok()) return ReadFailure(view.status(), "GET /v1/proof/inclusion");
  const uint64_t tree = size.value_or(view->size());
  if (tree > view->size()) {
    errors.push_back({"", "size", "must be at most the log size " + std::to_string(view->size())});
  } else if (*index >= tree) {
    errors.push_back({"", "index", "must be below size " + std::to_string(tree)});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));
  auto proof = view->InclusionProof(*index, tree);
  if (!proof.ok()) return ReadFailure(proof.status(), "GET /v1/proof/inclusion");
  std::string body =
      "{\"index\":" + std::to_string(*index) + ",\"size\":" + std::to_string(tree) + ",";
  AppendHashes(*proof, &body);
  body += '}';
  return OkResponse(std::move(body), kJson);
}

Response HandleConsistency(const Request& req, Services& s) {
  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(req.target(), {"from", "to"}, &errors);
  if (!params) return InvalidRequest(s, std::move(errors));
  std::optional<uint64_t> from, to;
  params->Uint("from", &from, &errors);
  params->Uint("to", &to, &errors);
  if (!from && !params->Find("from")) {
    errors.push_back({"", "from", "required: the size of the older tree"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));

  auto view = s.ledger->Read();
  if (!view.ok()) return ReadFailure(view.status(), "GET /v1/proof/consistency");
  const uint64_t newer = to.value_or(view->size());
  if (newer > view->size()) {
    errors.push_back({"", "to", "must be at most the log size " + std::to_string(view->size())});
  } else if (*from == 0) {
    errors.push_back(
        {"", "from", "must be at least 1 (every tree is consistent with the empty one)"});
  } else if (*from > newer) {
    errors.push_back({"", "from", "must be at most to (" + std::to_string(newer) + ")"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));
  auto proof = view->ConsistencyProof(*from, newer);
  if (!proof.ok()) return ReadFailure(proof.status(), "GET /v1/proof/consistency");
  std::string body =
      "{\"from\":" + std::to_string(*from) + ",\"to\":" + std::to_string(newer) + ",";
  AppendHashes(*proof, &body);
  body += '}';
  return OkResponse(std::move(body), kJson);
}

// What an export bundle that starts at seq `size` carries about the entries
// before it (ledger::LogPrefix): the compact range of [0, size) and every
// policy entry before `size` with its inclusion proof in the tree of
// `tree_size`, where the bundle ends.
Response HandlePrefix(const Request& req, Services& s) {
  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(req.target(), {"size", "tree_size"}, &errors);
  if (!params) return InvalidRequest(s, std::move(errors));
  std::optional<uint64_t> size, tree_size;
  params->Uint("size", &size, &errors);
  params->Uint("tree_size", &tree_size, &errors);
  if (!size && !params->Find("size")) {
    errors.push_back({"", "size", "required: the number of entries before the bundle's first"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));

  auto view = s.ledger->Read();
  if (!view.ok()) return ReadFailure(view.status(), "GET /v1/proof/prefix");
  const uint64_t tree = tree_size.value_or(view->size());
  if (tree > view->size()) {
    errors.push_back(
        {"", "tree_size", "must be at most the log size " + std::to_string(view->size())});
  } else if (*size == 0) {
    errors.push_back({"", "size", "must be at least 1 (a bundle from seq 0 needs no prefix)"});
  } else if (*size > tree) {
    errors.push_back({"", "size", "must be at most tree_size (" + std::to_string(tree) + ")"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));
  auto seqs = PolicyEntrySeqs(*view, *s.tables);
  if (!seqs.ok()) return ReadFailure(seqs.status(), "GET /v1/proof/prefix");
  auto prefix = ledger::BuildLogPrefix(*view, *size, tree, &*seqs);
  if (!prefix.ok()) return ReadFailure(prefix.status(), "GET /v1/proof/prefix");
  std::string body =
      "{\"size\":" + std::to_string(*size) + ",\"tree_size\":" + std::to_string(tree) + ",";
  AppendHashes(prefix->range, &body);
  body += ",\"policies\":[";
  for (size_t i = 0; i < prefix->policies.size(); ++i) {
    const ledger::LogPrefix::PriorPolicy& p = prefix->policies[i];
    if (i) body += ',';
    body += "{\"seq\":" + std::to_string(p.seq) + ",\"entry\":";
    schema::AppendJsonString(p.entry, &body);
    body += ',';
    AppendHashes(p.proof, &body);
    body += '}';
  }
  body += "]}";
  return OkResponse(std::move(body), kJson);
}

Response HandleMetrics(Services& s) {
  return OkResponse(s.registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
}

Response HandleReadyz(Services& s) {
  if (s.ready.load(std::memory_order_acquire)) {
    return OkResponse("{\"status\":\"ready\"}", kJson);
  }
  Problem p;
  p.status = http::status::service_unavailable;
  p.slug = "not-ready";
  p.detail = "custodyd is starting or shutting down";
  p.retry_after_seconds = 1;
  return MakeProblemResponse(p);
}

}  // namespace

Route ClassifyRoute(http::verb method, std::string_view target) {
  std::string_view path = PathOf(target);
  for (const RouteEntry& r : kRoutes) {
    if (r.path == path && r.method == method) return r.route;
  }
  return Route::kOther;
}

void Handle(Request&& req, Services& services, Completion done) {
  // HEAD is GET without the body (RFC 9110 9.3.2): same status and headers,
  // Content-Length included; never a stream.
  const bool head = req.method() == http::verb::head;
  const Route route = ClassifyRoute(head ? http::verb::get : req.method(), req.target());
  if (head) {
    done.follow = nullptr;
    done.respond = [inner = std::move(done.respond)](Response res) {
      res.body().clear();  // Content-Length stays what GET would send
      inner(std::move(res));
    };
  }
  if (services.http_metrics != nullptr) {
    done.respond = [metrics = services.http_metrics, route,
                    inner = std::move(done.respond)](Response res) {
      metrics->CountRequest(route, res.result_int());
      inner(std::move(res));
    };
  }
  // Routes that take no parameters say so (api.md: unknown query parameters
  // are errors), rather than ignore a typo.
  if (route == Route::kLog || route == Route::kMetrics || route == Route::kHealthz ||
      route == Route::kReadyz) {
    std::vector<ProblemItem> errors;
    if (!QueryParams::Parse(req.target(), {}, &errors)) {
      return done.respond(InvalidRequest(services, std::move(errors)));
    }
  }
  switch (route) {
    case Route::kEventsPost:
      internal::HandlePostEvents(std::move(req), services, std::move(done));
      return;
    case Route::kEventsQuery:
      done.respond(internal::HandleQueryEvents(req, services));
      return;
    case Route::kAlerts:
      internal::HandleAlerts(req, services, done);
      return;
    case Route::kApprovalsPost:
      internal::HandlePostApprovals(std::move(req), services, std::move(done));
      return;
    case Route::kApprovalsList:
      done.respond(internal::HandleListApprovals(req, services));
      return;
    case Route::kApprovalsRevoke:
      internal::HandleRevokeApproval(std::move(req), services, std::move(done));
      return;
    case Route::kPolicyEvaluate:
      done.respond(internal::HandleEvaluatePolicy(req, services));
      return;
    case Route::kPolicyReload:
      done.respond(internal::HandleReloadPolicy(req, services));
      return;
    case Route::kLog:
      done.respond(HandleLog(services));
      return;
    case Route::kCheckpoint:
      done.respond(HandleCheckpoint(req, services));
      return;
    case Route::kEntries:
      done.respond(HandleEntries(req, services));
      return;
    case Route::kProofInclusion:
      done.respond(HandleInclusion(req, services));
      return;
    case Route::kProofConsistency:
      done.respond(HandleConsistency(req, services));
      return;
    case Route::kProofPrefix:
      done.respond(HandlePrefix(req, services));
      return;
    case Route::kMetrics:
      done.respond(HandleMetrics(services));
      return;
    case Route::kHealthz:
      done.respond(OkResponse("{\"status\":\"ok\"}", kJson));
      return;
    case Route::kReadyz:
      done.respond(HandleReadyz(services));
      return;
    case Route::kOther:
    case Route::kCount:
      break;
  }
  done.respond(NotFoundOrNotAllowed(req));
}

}  // namespace custody::daemon
