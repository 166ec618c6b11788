// Api: custodyd's HTTP API (DESIGN.md, "HTTP API") as typed calls, and the
// translation of its RFC 9457 problem answers into Statuses.
//
// Every call that gets a non-2xx answer returns a Status whose code follows
// the HTTP status (400 InvalidArgument, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 409 AlreadyExists, 503 Unavailable,
// other 4xx FailedPrecondition, 5xx Internal) and whose message is
//   "<what>: <status> <slug>: <detail>" followed by one line per errors[]
//   item: "  <pointer or parameter>: <message>".
// A route this custodyd does not serve ("no such endpoint") is
// FailedPrecondition, not NotFound: the thing asked for may well exist.
// Transport failures are the HttpClient's Unavailable.
//
// Thread safety: none; one Api per thread (it owns an HttpClient).
#ifndef CUSTODY_CLIENT_CUSTODYCTL_API_H_
#define CUSTODY_CLIENT_CUSTODYCTL_API_H_

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/custodyctl/http_client.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/verifier.h"
#include "custody/schema/result.h"

namespace custody::client {

struct ProblemItem {
  std::string where;  // a JSON pointer (body) or a parameter name (query)
  bool is_parameter = false;
  std::string message;
};

struct Problem {
  int status = 0;
  std::string slug;  // "invalid-event", ... ("" when the body is not problem+json)
  std::string title;
  std::string detail;
  std::vector<ProblemItem> errors;
};

// Reads an error response. A body that is not problem+json becomes a Problem
// with the status and the (shortened) body as detail.
Problem ParseProblem(const HttpResponse& response);

// The Status for `problem`, its message prefixed with `what` (e.g.
// "POST /v1/events").
Status ProblemStatus(const Problem& problem, std::string_view what);

struct LogInfo {
  std::string origin;
  std::string verifier_key;
  uint64_t size = 0;
};

class Api {
 public:
  explicit Api(HttpClient http);

  HttpClient& http() { return http_; }
  const ServerUrl& server() const { return http_.server(); }

  // A 2xx body as text / parsed JSON; otherwise the problem Status.
  // Internal when a JSON answer does not parse.
  Result<std::string> GetText(std::string_view target);
  Result<boost::json::value> GetJson(std::string_view target);
  Result<boost::json::value> PostJson(std::string_view target, std::string_view body,
                                      std::string_view content_type = "application/json");

  // GET /v1/log.
  Result<LogInfo> Log();
  // GET /v1/checkpoint (the latest signed note), or ?max_size=N when given:
  // the newest checkpoint signed at or below size N (NotFound if none).
  Result<std::string> Checkpoint(std::optional<uint64_t> max_size = std::nullopt);
  // GET /v1/entries?start&end: the NDJSON body, byte-exact.
  Result<std::string> Entries(uint64_t start, uint64_t end);
  // GET /v1/proof/inclusion and /v1/proof/consistency: the hashes, after
  // checking that the answer is for the index/sizes asked (Internal if not).
  Result<std::vector<ledger::Hash>> InclusionProof(uint64_t index, uint64_t size);
  Result<std::vector<ledger::Hash>> ConsistencyProof(uint64_t from, uint64_t to);
  // GET /v1/proof/prefix?size=S&tree_size=N: what a bundle of [S, N)
  // carries about the entries before S (the compact range of [0, S), the
  // policy entries before S with inclusion proofs in the tree of N). Nothing
  // in it is checked here beyond its shape: export checks it against the
  // signed root.
  Result<ledger::LogPrefix> Prefix(uint64_t size, uint64_t tree_size);

 private:
  Result<HttpResponse> Check(Result<HttpResponse> response, std::string what);
  HttpClient http_;
};

// Splits an NDJSON body into its lines (without the '\n'); a last line
// without '\n' is kept. Views into `body`.
std::vector<std::string_view> SplitLines(std::string_view body);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_API_H_
