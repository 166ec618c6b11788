// Helpers shared by the router's translation units (router.cc,
// events_handler.cc, query_handlers.cc, policy_handlers.cc). Private to
// daemon/server.
#ifndef CUSTODY_DAEMON_SERVER_ROUTER_INTERNAL_H_
#define CUSTODY_DAEMON_SERVER_ROUTER_INTERNAL_H_

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/clock.h"
#include "daemon/server/auth.h"
#include "daemon/server/problem.h"
#include "daemon/server/router.h"

namespace custody::daemon::internal {

// The decoded query string of a request target. Unknown or repeated
// parameters are errors: a misspelt filter must not silently match more.
class QueryParams {
 public:
  // On failure appends to *errors and returns nullopt.
  static std::optional<QueryParams> Parse(std::string_view target,
                                          std::initializer_list<std::string_view> allowed,
                                          std::vector<ProblemItem>* errors);

  const std::string* Find(std::string_view name) const;

  // Each reads parameter `name` if present into *out; a malformed value
  // appends an error naming the parameter and leaves *out unchanged.
  void Uint(std::string_view name, std::optional<uint64_t>* out,
            std::vector<ProblemItem>* errors) const;
  void String(std::string_view name, std::optional<std::string>* out,
              std::vector<ProblemItem>* errors) const;  // non-empty
  void Time(std::string_view name, std::optional<schema::TimePoint>* out,
            std::vector<ProblemItem>* errors) const;  // RFC 3339
  void Bool(std::string_view name, bool* out, std::vector<ProblemItem>* errors) const;

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

// 400 invalid-request listing `errors`.
Response InvalidRequest(Services& s, std::vector<ProblemItem> errors);

// 200 with `body` and `content_type`, Cache-Control: no-store.
Response OkResponse(std::string body, std::string_view content_type);
inline constexpr std::string_view kJson = "application/json";
inline constexpr std::string_view kNdjson = "application/x-ndjson";

// Authenticates the request's bearer token and checks its role against
// `access`. Returns the principal, or nullopt with the 401/403 in *denied.
std::optional<Principal> Authorize(const Request& req, Services& s, Access access,
                                   Response* denied);

void CountReject(Services& s, RejectReason reason);

// Route handlers living in other translation units.
void HandlePostEvents(Request&& req, Services& s, Completion done);    // events_handler.cc
Response HandleQueryEvents(const Request& req, Services& s);           // query_handlers.cc
void HandleAlerts(const Request& req, Services& s, Completion& done);  // query_handlers.cc
// policy_handlers.cc: approvals and the policy admin routes.
void HandlePostApprovals(Request&& req, Services& s, Completion done);
Response HandleListApprovals(const Request& req, Services& s);
void HandleRevokeApproval(Request&& req, Services& s, Completion done);
Response HandleEvaluatePolicy(const Request& req, Services& s);
Response HandleReloadPolicy(const Request& req, Services& s);

}  // namespace custody::daemon::internal

#endif  // CUSTODY_DAEMON_SERVER_ROUTER_INTERNAL_H_
