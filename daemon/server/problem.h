// RFC 9457 problem details: every error custodyd answers is
//   Content-Type: application/problem+json
//   {"type":"urn:custody:problem:<slug>","title":...,"status":N,"detail":...,"errors":[...]}
// `errors` is always present (possibly empty). For a request body its items
// are {"pointer": RFC 6901 pointer into the body, "message"}; for a query
// string they are {"parameter": name, "message"}.
//
// Slugs (stable; clients may switch on them): invalid-event, invalid-request,
// malformed-request, unauthenticated, forbidden, not-found, method-not-allowed,
// body-too-large, header-too-large, unsupported-media-type, queue-full,
// shutting-down, too-many-connections, not-ready, conflict, unavailable, internal,
// invalid-approval, invalid-policy (a policy reload whose file has errors, 422).
#ifndef CUSTODY_DAEMON_SERVER_PROBLEM_H_
#define CUSTODY_DAEMON_SERVER_PROBLEM_H_

#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/status.h"
#include "daemon/server/http.h"

namespace custody::daemon {

struct ProblemItem {
  std::string pointer;    // set for body errors
  std::string parameter;  // set for query-string errors
  std::string message;
};

struct Problem {
  http::status status = http::status::internal_server_error;
  std::string slug = "internal";
  std::string title;   // short, constant per slug; defaults to the HTTP reason
  std::string detail;  // this occurrence, for humans
  std::vector<ProblemItem> errors;
  unsigned retry_after_seconds = 0;  // > 0: adds Retry-After
};

inline constexpr std::string_view kProblemTypePrefix = "urn:custody:problem:";
inline constexpr std::string_view kProblemContentType = "application/problem+json";

// The body JSON of `p`.
std::string ProblemJson(const Problem& p);

// A complete response: status, Content-Type, Cache-Control: no-store,
// WWW-Authenticate for 401, Retry-After when set, prepared payload.
Response MakeProblemResponse(const Problem& p);

// Convenience for the common shape.
Response ProblemResponse(http::status status, std::string_view slug, std::string detail,
                         std::vector<ProblemItem> errors = {});

// The HTTP status for a Status code (ToHttp in STYLE.md): InvalidArgument 400,
// Unauthenticated 401, PermissionDenied 403, NotFound 404, AlreadyExists 409,
// FailedPrecondition 409, ResourceExhausted 413, Unavailable 503,
// everything else 500.
http::status ToHttp(const schema::Status& status);

// A problem response for a failed Status (slug from the code; detail = message,
// except that server-side failures get a generic detail and are meant to be logged).
Response StatusResponse(const schema::Status& status);

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_PROBLEM_H_
