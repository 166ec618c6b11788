#include "daemon/server/problem.h"

#include <boost/beast/http/field.hpp>

#include "custody/schema/json_canon.h"

namespace custody::daemon {
namespace {

void AppendString(std::string_view s, std::string* out) {
  if (schema::IsValidUtf8(s)) {
    schema::AppendJsonString(s, out);
    return;
  }
  // Details may quote client input; never emit invalid JSON because of it.
  std::string clean;
  for (unsigned char c : s) clean += c < 0x80 ? static_cast<char>(c) : '?';
  schema::AppendJsonString(clean, out);
}

std::string_view DefaultTitle(std::string_view slug, http::status status) {
  if (slug == "invalid-event") return "The events are not valid";
  if (slug == "invalid-request") return "The request parameters are not valid";
  if (slug == "queue-full") return "The ingest queue is full; retry later";
  if (slug == "shutting-down") return "custodyd is shutting down; retry later";
  if (slug == "event-id-conflict") return "An event_id was reused for a different event";
  return http::obsolete_reason(status);
}

}  // namespace

std::string ProblemJson(const Problem& p) {
  std::string out = "{\"type\":";
  AppendString(std::string(kProblemTypePrefix) + p.slug, &out);
  out += ",\"title\":";
  AppendString(p.title.empty() ? DefaultTitle(p.slug, p.status) : std::string_view(p.title), &out);
  out += ",\"status\":" + std::to_string(static_cast<unsigned>(p.status));
  out += ",\"detail\":";
  AppendString(p.detail, &out);
  out += ",\"errors\":[";
  for (size_t i = 0; i < p.errors.size(); ++i) {
    if (i) out += ',';
    const ProblemItem& e = p.errors[i];
    if (!e.parameter.empty()) {
      out += "{\"parameter\":";
      AppendString(e.parameter, &out);
    } else {
      out += "{\"pointer\":";
      AppendString(e.pointer, &out);
    }
    out += ",\"message\":";
    AppendString(e.message, &out);
    out += '}';
  }
  out += "]}";
  return out;
}

Response MakeProblemResponse(const Problem& p) {
  Response res{p.status, 11};
  res.set(http::field::content_type, kProblemContentType);
  res.set(http::field::cache_control, "no-store");
  if (p.status == http::status::unauthorized) {
    res.set(http::field::www_authenticate, "Bearer realm=\"custody\"");
  }
  if (p.retry_after_seconds > 0) {
    res.set(http::field::retry_after, std::to_string(p.retry_after_seconds));
  }
  res.body() = ProblemJson(p);
  res.prepare_payload();
  return res;
}

Response ProblemResponse(http::status status, std::string_view slug, std::string detail,
                         std::vector<ProblemItem> errors) {
  Problem p;
  p.status = status;
  p.slug = std::string(slug);
  p.detail = std::move(detail);
  p.errors = std::move(errors);
  return MakeProblemResponse(p);
}

http::status ToHttp(const schema::Status& status) {
  using schema::Code;
  switch (status.code()) {
    case Code::kOk:
      return http::status::ok;
    case Code::kInvalidArgument:
      return http::status::bad_request;
    case Code::kUnauthenticated:
      return http::status::unauthorized;
    case Code::kPermissionDenied:
      return http::status::forbidden;
    case Code::kNotFound:
      return http::status::not_found;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      return http::status::conflict;
    case Code::kResourceExhausted:
      return http::status::payload_too_large;
    case Code::kUnavailable:
      return http::status::service_unavailable;
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kInternal:
      break;
  }
  return http::status::internal_server_error;
}

Response StatusResponse(const schema::Status& status) {
  using schema::Code;
  Problem p;
  p.status = ToHttp(status);
  p.detail = status.message();
  switch (status.code()) {
    case Code::kInvalidArgument:
      p.slug = "invalid-request";
      break;
    case Code::kUnauthenticated:
      p.slug = "unauthenticated";
      break;
    case Code::kPermissionDenied:
      p.slug = "forbidden";
      break;
    case Code::kNotFound:
      p.slug = "not-found";
      break;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
      p.slug = "conflict";
      break;
    case Code::kResourceExhausted:
      p.slug = "body-too-large";
      break;
    case Code::kUnavailable:
      p.slug = "unavailable";
      p.retry_after_seconds = 1;
      break;
    default:
      // Internal failures are logged by the caller; the client learns only the kind.
      p.slug = "internal";
      p.detail = std::string("internal error (") + std::string(schema::CodeName(status.code())) +
                 "); see the custodyd log";
      break;
  }
  return MakeProblemResponse(p);
}

}  // namespace custody::daemon
