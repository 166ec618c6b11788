// custodyctl query (GET /v1/events) and tail (GET /v1/log + /v1/entries).

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <thread>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "client/custodyctl/time_arg.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

constexpr size_t kServerMaxLimit = 1000;  // GET /v1/events and /v1/alerts page size cap
constexpr uint64_t kEntriesPage = 1000;

struct QueryOptions {
  std::string subject, actor, category, system, country, since, until, cursor;
  size_t limit = 100;
  bool limit_given = false;  // --limit caps --all too; --all alone has no cap
  bool all = false;
};

Result<std::string> TimeParam(Context& ctx, const std::string& text) {
  if (text.empty()) return std::string();
  CUSTODY_ASSIGN_OR_RETURN(schema::TimePoint t, ParseTimeArg(text, ctx.clock()->Now()));
  return schema::FormatRfc3339(t);
}

Status RunQuery(Context& ctx, const QueryOptions& opt) {
  CUSTODY_ASSIGN_OR_RETURN(std::string since, TimeParam(ctx, opt.since));
  CUSTODY_ASSIGN_OR_RETURN(std::string until, TimeParam(ctx, opt.until));
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  std::vector<std::string> entries;
  std::optional<std::string> cursor;
  if (!opt.cursor.empty()) cursor = opt.cursor;
  // --all pages until the end, or until --limit when that was given too.
  const bool capped = !opt.all || opt.limit_given;
  for (;;) {
    const size_t want =
        capped ? std::min(kServerMaxLimit, opt.limit - entries.size()) : kServerMaxLimit;
    const std::string target = "/v1/events" + QueryString({{"subject", opt.subject},
                                                           {"actor", opt.actor},
                                                           {"category", opt.category},
                                                           {"system", opt.system},
                                                           {"country", opt.country},
                                                           {"since", since},
                                                           {"until", until},
                                                           {"limit", std::to_string(want)},
                                                           {"cursor", cursor.value_or("")}});
    CUSTODY_ASSIGN_OR_RETURN(json::value page, api->GetJson(target));
    const json::object* o = page.if_object();
    const json::value* events = o ? o->if_contains("events") : nullptr;
    if (events == nullptr || !events->is_array()) {
      return Status::Internal("GET /v1/events: the answer has no events array");
    }
    for (const json::value& e : events->as_array()) {
      // Entries are canonical JSON already: serialising gives the same bytes.
      std::string bytes;
      if (!schema::AppendCanonicalJson(e, &bytes).ok()) bytes = json::serialize(e);
      entries.push_back(std::move(bytes));
    }
    cursor.reset();
    if (const json::value* c = o->if_contains("next_cursor"); c && c->is_string()) {
      cursor = std::string(c->as_string());
    }
    if (!cursor || (capped && entries.size() >= opt.limit)) break;
  }
  // Like grep: nothing found is exit status 1 in every output format.
  if (entries.empty() && ctx.format() == Format::kTable) return Status::NotFound("no events match");
  PrintEntries(ctx, entries, "events", cursor, true);
  if (ctx.format() == Format::kTable && cursor) {
    std::fprintf(stderr, "more results: add --cursor %s (or --all)\n", cursor->c_str());
  }
  return entries.empty() ? Status::NotFound("no events match") : Status::Ok();
}

struct TailOptions {
  uint64_t count = 20;
  bool follow = false;
  std::string interval = "1s";
};

Status FetchRange(Api& api, uint64_t start, uint64_t end, std::vector<std::string>* out) {
  for (uint64_t s = start; s < end; s += kEntriesPage) {
    const uint64_t e = std::min(end, s + kEntriesPage);
    CUSTODY_ASSIGN_OR_RETURN(std::string body, api.Entries(s, e));
    for (std::string_view line : SplitLines(body)) out->emplace_back(line);
  }
  return Status::Ok();
}

Status RunTail(Context& ctx, const TailOptions& opt) {
  if (opt.follow && ctx.format() == Format::kJson) {
    return Status::InvalidArgument("tail -f streams: use -o ndjson or the table output");
  }
  CUSTODY_ASSIGN_OR_RETURN(auto interval, ParseDurationArg(opt.interval));
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  CUSTODY_ASSIGN_OR_RETURN(LogInfo log, api->Log());
  uint64_t next = log.size > opt.count ? log.size - opt.count : 0;
  std::vector<std::string> entries;
  CUSTODY_RETURN_IF_ERROR(FetchRange(*api, next, log.size, &entries));
  next = log.size;
  if (!opt.follow) {
    PrintEntries(ctx, entries, "entries", std::nullopt, false);
    return Status::Ok();
  }
  bool header = true;
  std::vector<size_t> widths = EntryStreamWidths();
  auto emit = [&](const std::vector<std::string>& batch) {
    if (ctx.format() == Format::kNdjson) {
      for (const auto& e : batch) PrintLine(e);
    } else if (!batch.empty() || header) {
      PrintEntryTable(ctx, batch, header, &widths);
      header = false;
    }
    std::fflush(stdout);
  };
  emit(entries);
  for (;;) {
    std::this_thread::sleep_for(interval);
    auto now = api->Log();
    if (!now.ok()) {
      // The daemon restarting is not the end of a follow: say so and retry.
      std::fprintf(stderr, "custodyctl: %s (retrying)\n", now.status().message().c_str());
      continue;
    }
    if (now->size <= next) continue;
    std::vector<std::string> batch;
    CUSTODY_RETURN_IF_ERROR(FetchRange(*api, next, now->size, &batch));
    next = now->size;
    emit(batch);
  }
}

}  // namespace

void AddQueryCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<QueryOptions>();
  CLI::App* cmd = root.add_subcommand(
      "query", "Find access events by subject, actor, category, system, country and time");
  cmd->add_option("--subject", opt->subject,
                  "a data subject's raw id (custodyd matches its pseudonym)");
  cmd->add_option("--actor", opt->actor, "actor id");
  cmd->add_option("--category", opt->category, "category or prefix pattern (gov_id.*)");
  cmd->add_option("--system", opt->system, "target system");
  cmd->add_option("--country", opt->country, "actor, target or origin country (ISO 3166 alpha-2)");
  cmd->add_option("--since", opt->since,
                  "event time >= this: RFC 3339, a date, 2h, 30m, 7d, today, yesterday")
      ->check(NotEmpty());
  cmd->add_option("--until", opt->until, "event time < this (same forms as --since)")
      ->check(NotEmpty());
  CLI::Option* limit =
      cmd->add_option("--limit", opt->limit,
                      "at most this many events (also with --all, which otherwise fetches "
                      "every match)")
          ->capture_default_str()
          ->check(NotNegative())
          ->check(CLI::Range(size_t{1}, size_t{1000000}));
  cmd->add_option("--cursor", opt->cursor, "continue after a previous page (its next_cursor)");
  cmd->add_flag("--all", opt->all, "fetch every matching event, page after page");
  cmd->footer(
      "Newest first. Needs a reader (or admin) token. Exit status 1 when nothing matches.\n\n"
      "Examples:\n"
      "  custodyctl query --subject user:1002 --since 7d\n"
      "  custodyctl query --category 'gov_id.*' --country SG --since yesterday -o ndjson");
  out->push_back({cmd, [&ctx, opt, limit] {
                    opt->limit_given = limit->count() > 0;
                    return RunQuery(ctx, *opt);
                  }});
}

void AddTailCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<TailOptions>();
  CLI::App* cmd =
      root.add_subcommand("tail", "Show the newest ledger entries (-f: keep following)");
  cmd->add_option("-n,--lines", opt->count, "how many of the newest entries")
      ->capture_default_str()
      ->check(NotNegative());
  cmd->add_flag("-f,--follow", opt->follow, "keep polling for new entries until interrupted");
  cmd->add_option("--interval", opt->interval, "poll interval with -f (500ms, 2s, ...)")
      ->capture_default_str();
  cmd->footer(
      "Entries are public (no token needed); every kind is shown: access, policy,\n"
      "approval, ... With -o ndjson the lines are the exact entry bytes.\n\n"
      "Examples:\n"
      "  custodyctl tail -n 50\n"
      "  custodyctl tail -f -o ndjson | jq .body.actor.id");
  out->push_back({cmd, [&ctx, opt] { return RunTail(ctx, *opt); }});
}

}  // namespace custody::client
