// GET /v1/events and GET /v1/alerts: the investigator's read side.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "custody/schema/event.h"
#include "custody/schema/json_canon.h"
#include "daemon/policy/decider.h"
#include "daemon/server/router_internal.h"

namespace custody::daemon::internal {
namespace {

constexpr uint64_t kMaxLimit = 1000;

void Limit(const QueryParams& params, size_t* out, std::vector<ProblemItem>* errors) {
  std::optional<uint64_t> limit;
  params.Uint("limit", &limit, errors);
  if (!limit) return;
  if (*limit < 1 || *limit > kMaxLimit) {
    errors->push_back({"", "limit", "must be 1.." + std::to_string(kMaxLimit)});
    return;
  }
  *out = static_cast<size_t>(*limit);
}

// {"<member>":[<item>,...],"next_cursor":"<cursor>"|null}; items are JSON text.
std::string PageJson(std::string_view member, const std::vector<std::string>& items,
                     const std::optional<std::string>& next_cursor) {
  size_t total = 32;
  for (const auto& i : items) total += i.size() + 1;
  std::string body;
  body.reserve(total);
  body += "{\"";
  body += member;
  body += "\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) body += ',';
    body += items[i];
  }
  body += "],\"next_cursor\":";
  if (next_cursor) {
    schema::AppendJsonString(*next_cursor, &body);
  } else {
    body += "null";
  }
  body += '}';
  return body;
}

Response QueryFailure(Services& s, const schema::Status& st, std::string_view what) {
  if (st.IsInvalidArgument()) {
    return InvalidRequest(s, {{"", "", st.message()}});
  }
  spdlog::error("{}: {}", what, st.ToString());
  return StatusResponse(st);
}

}  // namespace

Response HandleQueryEvents(const Request& req, Services& s) {
  Response denied;
  if (!Authorize(req, s, Access::kRead, &denied)) return denied;

  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(
      req.target(),
      {"subject", "actor", "category", "system", "country", "since", "until", "limit", "cursor"},
      &errors);
  if (!params) return InvalidRequest(s, std::move(errors));
  EventQuery q;
  std::optional<std::string> subject;
  params->String("subject", &subject, &errors);
  params->String("actor", &q.actor, &errors);
  params->String("category", &q.category, &errors);
  params->String("system", &q.system, &errors);
  params->String("country", &q.country, &errors);
  params->Time("since", &q.since, &errors);
  params->Time("until", &q.until, &errors);
  Limit(*params, &q.limit, &errors);
  params->Uint("cursor", &q.cursor, &errors);
  if (q.country) {
    if (!schema::IsCountryCode(*q.country)) {
      errors.push_back({"", "country", "must be an ISO 3166-1 alpha-2 code such as US"});
    }
    std::transform(q.country->begin(), q.country->end(), q.country->begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  }
  if (q.category && !schema::IsValidCategoryPattern(*q.category)) {
    errors.push_back({"", "category",
                      "must be a known category (\"gov_id.passport\") or a prefix pattern "
                      "(\"gov_id.*\")"});
  }
  if (q.since && q.until && *q.until <= *q.since) {
    errors.push_back({"", "until", "must be later than since"});
  }
  if (!errors.empty()) return InvalidRequest(s, std::move(errors));
  // The caller names the raw subject id; only its pseudonym is indexed.
  if (subject) q.subject_ref = s.pseudonymizer->Ref(*subject);

  auto page = QueryEvents(*s.ledger, *s.tables, q);
  if (!page.ok()) return QueryFailure(s, page.status(), "GET /v1/events");
  std::optional<std::string> next;
  if (page->next_cursor) next = std::to_string(*page->next_cursor);
  return OkResponse(PageJson("events", page->entries, next), kJson);
}

void HandleAlerts(const Request& req, Services& s, Completion& done) {
  Response denied;
  if (!Authorize(req, s, Access::kRead, &denied)) return done.respond(std::move(denied));

  std::vector<ProblemItem> errors;
  auto params = QueryParams::Parse(
      req.target(), {"since", "min_severity", "rule", "limit", "cursor", "follow", "after_seq"},
      &errors);
  if (!params) return done.respond(InvalidRequest(s, std::move(errors)));
  AlertQuery q;
  params->Time("since", &q.since, &errors);
  if (const std::string* sev = params->Find("min_severity")) {
    if (!policy::ParseSeverity(*sev, &q.min_severity)) {
      errors.push_back({"", "min_severity", "must be info, low, medium, high or critical"});
    }
  }
  params->String("rule", &q.rule, &errors);
  Limit(*params, &q.limit, &errors);
  params->String("cursor", &q.cursor, &errors);
  if (q.cursor && !IsAlertCursor(*q.cursor)) {
    errors.push_back({"", "cursor",
                      "\"" + q.cursor->substr(0, 64) + "\" is not a next_cursor value from this API"});
  }
  bool follow = false;
  params->Bool("follow", &follow, &errors);
  std::optional<uint64_t> after_seq;
  params->Uint("after_seq", &after_seq, &errors);
  if (after_seq && !follow) {
    errors.push_back({"", "after_seq", "only with follow=1"});
  }
  if (follow && q.cursor) {
    errors.push_back({"", "cursor", "not with follow=1 (use after_seq)"});
  }
  if (!errors.empty()) return done.respond(InvalidRequest(s, std::move(errors)));

  if (follow) {
    if (!done.follow) {
      return done.respond(ProblemResponse(http::status::not_implemented, "not-implemented",
                                          "this connection cannot stream; omit follow=1"));
    }
    AlertFollow f;
    f.query = std::move(q);
    // after_seq, or the Last-Event-ID of an SSE client reconnecting: the
    // last entry seen; the stream resumes after it.
    f.from_seq = s.ledger->size();
    if (after_seq) {
      f.from_seq = *after_seq + 1;
    } else if (std::string_view last = req["Last-Event-ID"]; !last.empty()) {
      uint64_t id = 0;
      auto [end, ec] = std::from_chars(last.data(), last.data() + last.size(), id);
      if (ec != std::errc() || end != last.data() + last.size()) {
        return done.respond(InvalidRequest(
            s, {{"", "Last-Event-ID", "must be the entry seq of the last event received, got \"" +
                                         std::string(last.substr(0, 64)) + "\""}}));
      }
      f.from_seq = id + 1;
    }
    return done.follow(std::move(f));
  }

  auto page = QueryAlerts(*s.ledger, *s.tables, q);
  if (!page.ok()) return done.respond(QueryFailure(s, page.status(), "GET /v1/alerts"));
  done.respond(OkResponse(PageJson("alerts", page->alerts, page->next_cursor), kJson));
}

}  // namespace custody::daemon::internal
