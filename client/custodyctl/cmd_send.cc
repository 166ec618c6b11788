// custodyctl send: POST events to /v1/events in NDJSON batches, print receipts.

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "custody/ledger/checkpoint.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

struct InputEvent {
  std::string text;    // one JSON object, no newline
  std::string origin;  // "events.ndjson:12", "batch.json[3]", "stdin:1"
};

struct SendOptions {
  std::vector<std::string> files;
  size_t batch = 1000;
  unsigned retries = 5;
  bool verify = false;
};

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

bool Blank(std::string_view s) { return TrimLeft(s).empty(); }

// Splits one input into events: a JSON array, one JSON object, or NDJSON.
Status ReadEvents(const std::string& path, std::vector<InputEvent>* out) {
  CUSTODY_ASSIGN_OR_RETURN(std::string text, ReadInput(path));
  const std::string name = path == "-" ? "stdin" : path;
  const std::string_view body = TrimLeft(text);
  if (body.empty()) return Status::Ok();
  if (body.front() == '[') {
    auto v = schema::ParseJson(body);
    if (!v.ok()) return Status::InvalidArgument(name + ": " + v.status().message());
    size_t i = 0;
    for (const json::value& e : v->as_array()) {
      out->push_back({json::serialize(e), name + "[" + std::to_string(i++) + "]"});
    }
    return Status::Ok();
  }
  auto whole = schema::ParseJson(body);
  if (whole.ok()) {
    out->push_back({json::serialize(*whole), name});
    return Status::Ok();
  }
  // NDJSON: one event per line. A pretty-printed object with a syntax error
  // would fail here too; then its first line is not JSON by itself either.
  const std::vector<std::string_view> lines = SplitLines(text);
  size_t first = 0;
  while (first < lines.size() && Blank(lines[first])) ++first;
  if (first < lines.size() && !schema::ParseJson(lines[first]).ok()) {
    return Status::InvalidArgument(name +
                                   " is neither JSON nor NDJSON: " + whole.status().message());
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Blank(line)) continue;
    out->push_back({std::string(line), name + ":" + std::to_string(i + 1)});
  }
  return Status::Ok();
}

// The problem of a rejected batch, its pointers ("/3/actor/id") mapped back
// to the inputs the events came from.
Status BatchFailure(Problem p, const std::vector<InputEvent>& events, size_t first,
                    size_t appended_before) {
  for (ProblemItem& e : p.errors) {
    if (e.is_parameter || e.where.size() < 2 || e.where[0] != '/') continue;
    size_t slash = e.where.find('/', 1);
    const std::string index_text =
        e.where.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    size_t index = 0;
    auto [ptr, ec] =
        std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
    if (ec != std::errc() || ptr != index_text.data() + index_text.size()) continue;
    if (first + index >= events.size()) continue;
    const std::string rest = slash == std::string::npos ? "" : e.where.substr(slash);
    e.where = events[first + index].origin + " " + (rest.empty() ? "(event)" : rest);
    // The server numbers lines within its request; the origin says it better.
    if (e.message.starts_with("line ")) {
      const size_t colon = e.message.find(": ");
      if (colon != std::string::npos) e.message = e.message.substr(colon + 2);
    }
  }
  Status st = ProblemStatus(p, "POST /v1/events");
  if (appended_before == 0) return st;
  return Status(st).Annotate(std::to_string(appended_before) +
                             " earlier event(s) were committed; the rest were not sent");
}

Status RunSend(Context& ctx, const SendOptions& opt) {
  std::vector<InputEvent> events;
  std::vector<std::string> files = opt.files.empty() ? std::vector<std::string>{"-"} : opt.files;
  for (const std::string& f : files) CUSTODY_RETURN_IF_ERROR(ReadEvents(f, &events));
  if (events.empty()) return Status::InvalidArgument("no events in the input");
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());

  std::vector<std::string> receipts;  // result objects, as JSON text
  std::string checkpoint;
  size_t appended = 0, duplicates = 0, requests = 0;
  uint64_t max_seq = 0;
  for (size_t first = 0; first < events.size(); first += opt.batch) {
    const size_t end = std::min(events.size(), first + opt.batch);
    std::string body;
    for (size_t i = first; i < end; ++i) {
      body += events[i].text;
      body += '\n';
    }
    Result<HttpResponse> res = Status::Internal("not sent");
    for (unsigned attempt = 0;; ++attempt) {
      res = api->http().Post("/v1/events", body, "application/x-ndjson");
      ++requests;
      // Retrying is safe: (producer, event_id) is idempotent, a repeat
      // returns the original seq marked duplicate.
      const bool busy = res.ok() ? res->status == 503 : res.status().IsUnavailable();
      if (!busy || attempt >= opt.retries) break;
      int wait = 1;
      if (res.ok() && !res->retry_after.empty())
        wait = std::max(1, std::atoi(res->retry_after.c_str()));
      std::fprintf(stderr, "custodyctl: custodyd is busy; retrying in %d s\n", wait);
      std::this_thread::sleep_for(std::chrono::seconds(wait));
    }
    if (!res.ok()) return res.status();
    if (res->status != 200) return BatchFailure(ParseProblem(*res), events, first, appended);
    auto v = schema::ParseJson(res->body);
    const json::object* o = v.ok() ? v->if_object() : nullptr;
    const json::value* results = o ? o->if_contains("results") : nullptr;
    if (results == nullptr || !results->is_array()) {
      return Status::Internal("POST /v1/events: the answer has no results");
    }
    for (const json::value& r : results->as_array()) {
      if (!r.is_object()) continue;
      const json::object& ro = r.as_object();
      const json::value* dup = ro.if_contains("duplicate");
      if (dup && dup->is_bool() && dup->as_bool()) {
        ++duplicates;
      } else {
        ++appended;
      }
      if (const json::value* s = ro.if_contains("seq"); s && s->is_int64()) {
        max_seq = std::max<uint64_t>(max_seq, static_cast<uint64_t>(s->as_int64()));
      }
      receipts.push_back(json::serialize(r));
    }
    checkpoint = Str(*o, "checkpoint");
  }

  std::string verified;
  if (opt.verify) {
    bool pinned = false;
    CUSTODY_ASSIGN_OR_RETURN(ledger::VerifierKey key, ctx.VerifierKey(&pinned));
    auto cp = ledger::OpenCheckpoint(checkpoint, key, key.name);
    if (!cp.ok()) {
      return Status::Corruption("the receipt's checkpoint does not verify: " +
                                cp.status().message());
    }
    if (cp->size <= max_seq) {
      return Status::Corruption("the receipt's checkpoint (size " + std::to_string(cp->size) +
                                ") does not cover seq " + std::to_string(max_seq));
    }
    verified = "receipt checkpoint verified (size " + std::to_string(cp->size) + ", key " +
               (pinned ? "pinned" : "from the server") + ")";
  }

  switch (ctx.format()) {
    case Format::kNdjson:
      for (const auto& r : receipts) PrintLine(r);
      break;
    case Format::kJson: {
      std::string doc = "{\"results\":[";
      for (size_t i = 0; i < receipts.size(); ++i) doc += (i ? "," : "") + receipts[i];
      doc += "],\"checkpoint\":";
      schema::AppendJsonString(checkpoint, &doc);
      doc += "}";
      PrintLine(doc);
      break;
    }
    case Format::kTable: {
      Table t({"SEQ", "EVENT_ID", "DUPLICATE"});
      for (const auto& r : receipts) {
        auto v = schema::ParseJson(r);
        const json::object& o = v->as_object();
        const json::value* dup = o.if_contains("duplicate");
        const bool d = dup && dup->is_bool() && dup->as_bool();
        t.AddRow({Num(o, "seq"), Str(o, "event_id"), d ? "yes" : "no"},
                 {Style::kNone, Style::kNone, d ? Style::kYellow : Style::kNone});
      }
      t.Print(ctx.term());
      break;
    }
  }
  std::fprintf(stderr, "sent %zu event(s) in %zu request(s): %zu appended, %zu duplicate(s)%s%s\n",
               events.size(), requests, appended, duplicates, verified.empty() ? "" : "; ",
               verified.c_str());
  return Status::Ok();
}

}  // namespace

void AddSendCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  auto opt = std::make_shared<SendOptions>();
  CLI::App* cmd = root.add_subcommand(
      "send", "Send access events (NDJSON, a JSON object or an array) and print their receipts");
  cmd->add_option("files", opt->files, "input files; '-' or none reads stdin");
  cmd->add_option("--batch", opt->batch, "events per request (sent as application/x-ndjson)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--retries", opt->retries, "retries while custodyd answers 503 (queue full)")
      ->capture_default_str();
  cmd->add_flag("--verify", opt->verify,
                "verify the receipt's signed checkpoint and that it covers every event");
  cmd->footer(
      "Needs a producer (or admin) token. Each event is acknowledged only after it is durable\n"
      "and covered by a signed checkpoint; retries are safe (event_id is idempotent).\n\n"
      "Examples:\n"
      "  custodyctl send events.ndjson\n"
      "  producer-tool | custodyctl send --batch 5000 -o ndjson > receipts.ndjson");
  out->push_back({cmd, [&ctx, opt] { return RunSend(ctx, *opt); }});
}

}  // namespace custody::client
