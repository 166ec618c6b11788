// custodyctl alerts: GET /v1/alerts, and -f to follow new alerts over
// Server-Sent Events (follow=1), falling back to polling.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <thread>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "client/custodyctl/time_arg.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

constexpr size_t kPage = 1000;

struct AlertsOptions {
  std::string since, min_severity, rule, cursor;
  size_t limit = 100;
  bool all = false;
  bool follow = false;
  bool poll = false;
  std::string interval = "1s";
};

struct AlertPage {
  std::vector<std::string> alerts;  // canonical JSON text, newest first
  std::optional<std::string> next_cursor;
};

Result<AlertPage> FetchAlerts(Api& api,
                              const std::vector<std::pair<std::string, std::string>>& filters,
                              size_t limit, const std::optional<std::string>& cursor) {
  auto params = filters;
  params.emplace_back("limit", std::to_string(limit));
  params.emplace_back("cursor", cursor.value_or(""));
  CUSTODY_ASSIGN_OR_RETURN(json::value v, api.GetJson("/v1/alerts" + QueryString(params)));
  const json::object* o = v.if_object();
  const json::value* alerts = o ? o->if_contains("alerts") : nullptr;
  if (alerts == nullptr || !alerts->is_array()) {
    return Status::Internal("GET /v1/alerts: the answer has no alerts array");
  }
  AlertPage page;
  for (const json::value& a : alerts->as_array()) {
    std::string text;
    if (!schema::AppendCanonicalJson(a, &text).ok()) continue;
    page.alerts.push_back(std::move(text));
  }
  if (const json::value* c = o->if_contains("next_cursor"); c && c->is_string()) {
    page.next_cursor = std::string(c->as_string());
  }
  return page;
}

uint64_t AlertSeq(const std::string& text) {
  auto v = schema::ParseJson(text);
  if (!v.ok() || !v->is_object()) return 0;
  const json::value* s = v->as_object().if_contains("seq");
  return s && s->is_int64() && s->as_int64() >= 0 ? static_cast<uint64_t>(s->as_int64()) : 0;
}

// Prints followed alerts as they come: table rows (header once) or NDJSON.
class FollowPrinter {
 public:
  explicit FollowPrinter(Context& ctx) : ctx_(ctx) {}
  void Print(const std::vector<std::string>& alerts) {
    if (ctx_.format() == Format::kNdjson) {
      for (const auto& a : alerts) PrintLine(a);
    } else if (!alerts.empty() || header_) {
      PrintAlertTable(ctx_, alerts, header_, &widths_);
      header_ = false;
    }
    std::fflush(stdout);
  }

 private:
  Context& ctx_;
  bool header_ = true;
  std::vector<size_t> widths_ = AlertStreamWidths();
};

// Parses a Server-Sent Events byte stream into (id, data) events.
class SseParser {
 public:
  template <class F>
  void Feed(std::string_view bytes, F&& on_event) {
    buffer_.append(bytes);
    size_t pos;
    while ((pos = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (!data_.empty()) on_event(id_, data_);
        data_.clear();
        continue;
      }
      if (line.front() == ':') continue;  // a comment (keep-alive)
      const size_t colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (field == "id") id_ = value;
      if (field == "data") data_ += (data_.empty() ? "" : "\n") + value;
    }
  }

 private:
  std::string buffer_, id_, data_;
};

Status FollowByPolling(Context& ctx, Api& api,
                       const std::vector<std::pair<std::string, std::string>>& filters,
                       std::chrono::microseconds interval, FollowPrinter& printer) {
  CUSTODY_ASSIGN_OR_RETURN(LogInfo log, api.Log());
  uint64_t after = log.size;
  printer.Print({});
  for (;;) {
    std::this_thread::sleep_for(interval);
    auto size_now = api.Log();
    if (!size_now.ok()) {
      std::fprintf(stderr, "custodyctl: %s (retrying)\n", size_now.status().message().c_str());
      continue;
    }
    if (size_now->size <= after) continue;
    std::vector<std::string> fresh;  // newest first
    std::optional<std::string> cursor;
    bool older_seen = false;
    uint64_t max_seq = 0;
    while (!older_seen) {
      CUSTODY_ASSIGN_OR_RETURN(AlertPage page, FetchAlerts(api, filters, kPage, cursor));
      for (auto& a : page.alerts) {
        const uint64_t seq = AlertSeq(a);
        if (seq < after) {
          older_seen = true;
          break;
        }
        max_seq = std::max(max_seq, seq);
        fresh.push_back(std::move(a));
      }
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    std::reverse(fresh.begin(), fresh.end());
    printer.Print(fresh);
    after = std::max(size_now->size, fresh.empty() ? 0 : max_seq + 1);
  }
}

Status Follow(Context& ctx, Api& api, std::vector<std::pair<std::string, std::string>> filters,
              const AlertsOptions& opt) {
  CUSTODY_ASSIGN_OR_RETURN(auto interval, ParseDurationArg(opt.interval));
  FollowPrinter printer(ctx);
  if (opt.poll) return FollowByPolling(ctx, api, filters, interval, printer);
  printer.Print({});
  std::optional<uint64_t> after_seq;
  for (;;) {
    auto params = filters;
    params.emplace_back("follow", "1");
    if (after_seq) params.emplace_back("after_seq", std::to_string(*after_seq));
    SseParser parser;
    auto res = api.http().GetStream(
        "/v1/alerts" + QueryString(params), {{"Accept", "text/event-stream"}},
        std::chrono::seconds(60), [&](std::string_view bytes) {
          parser.Feed(bytes, [&](const std::string& id, const std::string& data) {
            printer.Print({data});
            uint64_t seq = 0;
            if (!id.empty() &&
                std::from_chars(id.data(), id.data() + id.size(), seq).ec == std::errc()) {
              after_seq = std::max(after_seq.value_or(0), seq);  // resume after it
            }
          });
          return true;
        });
    if (res.ok() && res->status == 501) {
      std::fprintf(stderr, "custodyctl: this connection cannot stream; polling instead\n");
      return FollowByPolling(ctx, api, filters, interval, printer);
    }
    if (res.ok() && res->status != 200) {
      return ProblemStatus(ParseProblem(*res), "GET /v1/alerts?follow=1");
    }
    // The stream ended (custodyd restarting, a proxy timeout): resume where
    // it stopped, as an EventSource would.
    if (!res.ok())
      std::fprintf(stderr, "custodyctl: %s (reconnecting)\n", res.status().message().c_str());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

Status RunAlerts(Context& ctx, const AlertsOptions& opt) {
  if (opt.follow && ctx.format() == Format::kJson) {
    return Status::InvalidArgument("alerts -f streams: use -o ndjson or the table output");
  }
  std::string since;
  if (!opt.since.empty()) {
    CUSTODY_ASSIGN_OR_RETURN(schema::TimePoint t, ParseTimeArg(opt.since, ctx.clock()->Now()));
    since = schema::FormatRfc3339(t);
  }
  std::vector<std::pair<std::string, std::string>> filters = {
      {"since", since}, {"min_severity", opt.min_severity}, {"rule", opt.rule}};
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  if (opt.follow) return Follow(ctx, *api, filters, opt);

  std::vector<std::string> alerts;
  std::optional<std::string> cursor;
  if (!opt.cursor.empty()) cursor = opt.cursor;
  for (;;) {
    const size_t want = opt.all ? kPage : std::min(kPage, opt.limit - alerts.size());
    CUSTODY_ASSIGN_OR_RETURN(AlertPage page, FetchAlerts(*api, filters, want, cursor));
    for (auto& a : page.alerts) alerts.push_back(std::move(a));
    cursor = page.next_cursor;
    if (!cursor || (!opt.all && alerts.size() >= opt.limit)) break;
  }
  switch (ctx.format()) {
    case Format::kNdjson:
      for (const auto& a : alerts) PrintLine(a);
      break;
    case Format::kJson: {
      std::string doc = "{\"alerts\":[";
      for (size_t i = 0; i < alerts.size(); ++i) doc += (i ? "," : "") + alerts[i];
      doc += "],\"next_cursor\":";
      if (cursor) {
        schema::AppendJsonString(*cursor, &doc);
      } else {
        doc += "null";
      }
      PrintLine(doc + "}");
      break;
    }
    case Format::kTable:
      if (alerts.empty()) break;
      PrintAlertTable(ctx, alerts, true);
      if (cursor)
        std::fprintf(stderr, "more alerts: add --cursor %s (or --all)\n", cursor->c_str());
      break;
  }
  // Like query (and grep): nothing found is exit status 1 in every format.
  return alerts.empty() ? Status::NotFound("no alerts match") : Status::Ok();
}

}  // namespace

void AddAlertsCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<AlertsOptions>();
  CLI::App* cmd =
      root.add_subcommand("alerts", "List boundary-policy alerts (-f: follow new ones)");
  cmd->add_option("--since", opt->since, "event time >= this: RFC 3339, 2h, 7d, today, ...");
  cmd->add_option("--min-severity", opt->min_severity, "info, low, medium, high or critical")
      ->check(CLI::IsMember({"info", "low", "medium", "high", "critical"}));
  cmd->add_option("--rule", opt->rule, "only this rule id");
  cmd->add_option("--limit", opt->limit, "at most this many alerts")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  cmd->add_option("--cursor", opt->cursor, "continue after a previous page");
  cmd->add_flag("--all", opt->all, "every matching alert, page after page");
  cmd->add_flag("-f,--follow", opt->follow,
                "print alerts as they are raised (Server-Sent Events) until interrupted");
  cmd->add_flag("--poll", opt->poll, "with -f: poll instead of streaming");
  cmd->add_option("--interval", opt->interval, "poll interval with --poll")->capture_default_str();
  cmd->footer(
      "Newest first; with -f, new alerts in the order they are raised. Needs a reader token.\n\n"
      "Examples:\n"
      "  custodyctl alerts --since 24h --min-severity high\n"
      "  custodyctl alerts -f --rule gov-id-in-chat -o ndjson");
  out->push_back({cmd, [&ctx, opt] { return RunAlerts(ctx, *opt); }});
}

}  // namespace custody::client
