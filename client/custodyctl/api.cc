#include "client/custodyctl/api.h"

#include <boost/json/parse.hpp>

#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

std::string StringMember(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

Result<std::vector<ledger::Hash>> ProofHashes(const json::value& v, std::string_view what) {
  const json::object* o = v.if_object();
  const json::value* hashes = o ? o->if_contains("hashes") : nullptr;
  if (hashes == nullptr || !hashes->is_array()) {
    return Status::Internal(std::string(what) + ": the answer has no \"hashes\" array");
  }
  std::vector<ledger::Hash> out;
  for (const json::value& h : hashes->as_array()) {
    if (!h.is_string()) return Status::Internal(std::string(what) + ": a hash is not a string");
    auto hash = ledger::HashFromBase64(h.as_string());
    if (!hash.ok()) {
      return Status::Internal(std::string(what) + ": bad hash: " + hash.status().message());
    }
    out.push_back(*hash);
  }
  return out;
}

bool UintMemberIs(const json::value& v, std::string_view name, uint64_t expected) {
  const json::object* o = v.if_object();
  const json::value* m = o ? o->if_contains(name) : nullptr;
  if (m == nullptr) return false;
  if (m->is_uint64()) return m->as_uint64() == expected;
  if (m->is_int64()) return m->as_int64() >= 0 && static_cast<uint64_t>(m->as_int64()) == expected;
  return false;
}

}  // namespace

Problem ParseProblem(const HttpResponse& response) {
  Problem p;
  p.status = response.status;
  auto parsed = schema::ParseJson(response.body);
  if (parsed.ok() && parsed->is_object()) {
    const json::object& o = parsed->as_object();
    std::string type = StringMember(o, "type");
    constexpr std::string_view kPrefix = "urn:custody:problem:";
    p.slug = type.starts_with(kPrefix) ? type.substr(kPrefix.size()) : type;
    p.title = StringMember(o, "title");
    p.detail = StringMember(o, "detail");
    if (const json::value* errors = o.if_contains("errors"); errors && errors->is_array()) {
      for (const json::value& e : errors->as_array()) {
        if (!e.is_object()) continue;
        ProblemItem item;
        const json::object& eo = e.as_object();
        if (eo.contains("parameter")) {
          item.where = StringMember(eo, "parameter");
          item.is_parameter = true;
        } else {
          item.where = StringMember(eo, "pointer");
        }
        item.message = StringMember(eo, "message");
        p.errors.push_back(std::move(item));
      }
    }
    if (!p.slug.empty() || !p.detail.empty()) return p;
  }
  std::string body = response.body;
  if (body.size() > 300) body = body.substr(0, 300) + "...";
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  p.detail = body.empty() ? "(no details)" : body;
  return p;
}

Status ProblemStatus(const Problem& p, std::string_view what) {
  std::string msg = std::string(what) + ": " + std::to_string(p.status);
  if (!p.slug.empty()) msg += " " + p.slug;
  msg += ": " + p.detail;
  for (const ProblemItem& e : p.errors) {
    msg += "\n  ";
    if (e.is_parameter) msg += "parameter ";
    msg += (e.where.empty() ? std::string(e.is_parameter ? "(none)" : "(body)") : e.where) + ": " +
           e.message;
  }
  if (p.status == 404 && p.detail.starts_with("no such endpoint")) {
    return Status::FailedPrecondition(msg + " (this custodyd is older than custodyctl)");
  }
  switch (p.status) {
    case 400:
    case 422:
      return Status::InvalidArgument(msg);
    case 401:
      return Status::Unauthenticated(msg + " (set --token, CUSTODY_TOKEN or token in client.toml)");
    case 403:
      return Status::PermissionDenied(msg);
    case 404:
      return Status::NotFound(msg);
    case 409:
      return Status::AlreadyExists(msg);
    case 503:
      return Status::Unavailable(msg);
    default:
      break;
  }
  return p.status >= 500 ? Status::Internal(msg) : Status::FailedPrecondition(msg);
}

Api::Api(HttpClient http) : http_(std::move(http)) {}

Result<HttpResponse> Api::Check(Result<HttpResponse> response, std::string what) {
  if (!response.ok()) return response.status();
  if (response->status >= 200 && response->status < 300) return response;
  return ProblemStatus(ParseProblem(*response), what);
}

Result<std::string> Api::GetText(std::string_view target) {
  CUSTODY_ASSIGN_OR_RETURN(HttpResponse r, Check(http_.Get(target), "GET " + std::string(target)));
  return std::move(r.body);
}

Result<json::value> Api::GetJson(std::string_view target) {
  CUSTODY_ASSIGN_OR_RETURN(std::string body, GetText(target));
  auto v = schema::ParseJson(body);
  if (!v.ok()) {
    return Status::Internal("GET " + std::string(target) +
                            ": the answer is not JSON: " + v.status().message());
  }
  return std::move(v).value();
}

Result<json::value> Api::PostJson(std::string_view target, std::string_view body,
                                  std::string_view content_type) {
  CUSTODY_ASSIGN_OR_RETURN(
      HttpResponse r, Check(http_.Post(target, body, content_type), "POST " + std::string(target)));
  auto v = schema::ParseJson(r.body);
  if (!v.ok()) {
    return Status::Internal("POST " + std::string(target) +
                            ": the answer is not JSON: " + v.status().message());
  }
  return std::move(v).value();
}

Result<LogInfo> Api::Log() {
  CUSTODY_ASSIGN_OR_RETURN(json::value v, GetJson("/v1/log"));
  LogInfo info;
  const json::object* o = v.if_object();
  if (o == nullptr) return Status::Internal("GET /v1/log: not a JSON object");
  info.origin = StringMember(*o, "origin");
  info.verifier_key = StringMember(*o, "verifier_key");
  const json::value* size = o->if_contains("size");
  if (size == nullptr || !(size->is_uint64() || (size->is_int64() && size->as_int64() >= 0))) {
    return Status::Internal("GET /v1/log: no size");
  }
  info.size = size->is_uint64() ? size->as_uint64() : static_cast<uint64_t>(size->as_int64());
  return info;
}

Result<std::string> Api::Checkpoint(std::optional<uint64_t> max_size) {
  return GetText(max_size ? "/v1/checkpoint?max_size=" + std::to_string(*max_size)
                          : "/v1/checkpoint");
}

Result<std::string> Api::Entries(uint64_t start, uint64_t end) {
  return GetText("/v1/entries?start=" + std::to_string(start) + "&end=" + std::to_string(end));
}

Result<std::vector<ledger::Hash>> Api::InclusionProof(uint64_t index, uint64_t size) {
  const std::string target =
      "/v1/proof/inclusion?index=" + std::to_string(index) + "&size=" + std::to_string(size);
  CUSTODY_ASSIGN_OR_RETURN(json::value v, GetJson(target));
  if (!UintMemberIs(v, "index", index) || !UintMemberIs(v, "size", size)) {
    return Status::Internal("GET " + target + ": the proof is for another index or size");
  }
  return ProofHashes(v, "GET " + target);
}

Result<std::vector<ledger::Hash>> Api::ConsistencyProof(uint64_t from, uint64_t to) {
  const std::string target =
      "/v1/proof/consistency?from=" + std::to_string(from) + "&to=" + std::to_string(to);
  CUSTODY_ASSIGN_OR_RETURN(json::value v, GetJson(target));
  if (!UintMemberIs(v, "from", from) || !UintMemberIs(v, "to", to)) {
    return Status::Internal("GET " + target + ": the proof is for other sizes");
  }
  return ProofHashes(v, "GET " + target);
}

Result<ledger::LogPrefix> Api::Prefix(uint64_t size, uint64_t tree_size) {
  const std::string target =
      "/v1/proof/prefix?size=" + std::to_string(size) + "&tree_size=" + std::to_string(tree_size);
  const std::string what = "GET " + target;
  CUSTODY_ASSIGN_OR_RETURN(json::value v, GetJson(target));
  if (!UintMemberIs(v, "size", size) || !UintMemberIs(v, "tree_size", tree_size)) {
    return Status::Internal(what + ": the answer is for other sizes");
  }
  ledger::LogPrefix prefix;
  prefix.first_seq = size;
  CUSTODY_ASSIGN_OR_RETURN(prefix.range, ProofHashes(v, what));
  const json::value* policies = v.as_object().if_contains("policies");
  if (policies == nullptr || !policies->is_array()) {
    return Status::Internal(what + ": the answer has no \"policies\" array");
  }
  for (const json::value& p : policies->as_array()) {
    const json::object* o = p.if_object();
    const json::value* seq = o ? o->if_contains("seq") : nullptr;
    const json::value* entry = o ? o->if_contains("entry") : nullptr;
    const bool seq_ok =
        seq != nullptr && (seq->is_uint64() || (seq->is_int64() && seq->get_int64() >= 0));
    if (!seq_ok || entry == nullptr || !entry->is_string()) {
      return Status::Internal(what + ": a policy has no \"seq\" count or \"entry\" string");
    }
    ledger::LogPrefix::PriorPolicy& policy = prefix.policies.emplace_back();
    policy.seq = seq->is_uint64() ? seq->get_uint64() : static_cast<uint64_t>(seq->get_int64());
    policy.entry = std::string(entry->as_string());
    CUSTODY_ASSIGN_OR_RETURN(policy.proof, ProofHashes(p, what));
  }
  return prefix;
}

std::vector<std::string_view> SplitLines(std::string_view body) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    lines.push_back(body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

}  // namespace custody::client
