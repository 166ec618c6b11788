// custodyctl status: one look at a running custodyd -- readiness, log size,
// the latest signed checkpoint (verified) and its age, the ingest queue.

#include <CLI/CLI.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "client/custodyctl/time_arg.h"
#include "client/custodyctl/verify_util.h"
#include "custody/ledger/entry.h"

namespace custody::client {
namespace {

namespace json = boost::json;

// The value of an unlabelled sample `name` in Prometheus text, if present.
std::optional<double> MetricValue(std::string_view text, std::string_view name) {
  for (std::string_view line : SplitLines(text)) {
    if (!line.starts_with(name) || line.size() <= name.size()) continue;
    if (line[name.size()] != ' ') continue;
    std::string value(line.substr(name.size() + 1));
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (end != value.c_str()) return v;
  }
  return std::nullopt;
}

Status RunStatus(Context& ctx) {
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  CUSTODY_ASSIGN_OR_RETURN(const Settings* settings, ctx.settings());
  auto ready = api->http().Get("/readyz");
  if (!ready.ok()) return ready.status();
  const bool is_ready = ready->status == 200;
  CUSTODY_ASSIGN_OR_RETURN(LogInfo log, api->Log());

  std::optional<VerifiedCheckpoint> cp;
  std::string cp_error, last_received;
  std::optional<std::chrono::microseconds> age;
  if (log.size > 0) {
    auto v = FetchVerifiedCheckpoint(ctx);
    if (v.ok()) {
      cp = std::move(v).value();
      // A checkpoint carries no time; its last entry's received_at is when
      // custodyd committed and signed it.
      auto body = api->Entries(cp->cp.size - 1, cp->cp.size);
      if (body.ok() && !body->empty()) {
        auto e = ledger::DecodeEntry(std::string_view(*body).substr(0, body->size() - 1));
        if (e.ok()) {
          last_received = e->received_at;
          if (auto t = schema::ParseRfc3339(e->received_at); t.ok()) {
            age = ctx.clock()->Now() - *t;
          }
        }
      }
    } else {
      cp_error = v.status().message();
    }
  }
  std::optional<double> queue, appended;
  if (auto metrics = api->GetText("/metrics"); metrics.ok()) {
    queue = MetricValue(*metrics, "custody_ingest_queue_events");
    appended = MetricValue(*metrics, "custody_events_appended_total");
  }

  if (ctx.format() != Format::kTable) {
    json::object o;
    o["server"] = api->server().ToString();
    o["ready"] = is_ready;
    o["origin"] = log.origin;
    o["size"] = log.size;
    o["verifier_key"] = log.verifier_key;
    if (cp) {
      json::object c;
      c["size"] = cp->cp.size;
      c["root"] = ledger::HashToBase64(cp->cp.root);
      c["signature_verified"] = true;
      c["key_pinned"] = cp->pinned;
      c["last_entry_received_at"] = last_received;
      c["age_seconds"] =
          age ? json::value(static_cast<double>(age->count()) / 1e6) : json::value(nullptr);
      o["checkpoint"] = c;
    } else {
      o["checkpoint"] = nullptr;
    }
    if (!cp_error.empty()) o["checkpoint_error"] = cp_error;
    o["queue_events"] = queue ? json::value(static_cast<int64_t>(*queue)) : json::value(nullptr);
    o["events_appended_since_start"] =
        appended ? json::value(static_cast<int64_t>(*appended)) : json::value(nullptr);
    PrintLine(json::serialize(o));
  } else {
    KeyValues kv;
    kv.Add("server", api->server().ToString() + " (from " + settings->server_source + ")");
    kv.Add("ready", is_ready ? "yes" : "NO (starting or shutting down)",
           is_ready ? Style::kGreen : Style::kRed);
    kv.Add("origin", log.origin);
    kv.Add("log size", std::to_string(log.size) + " entries");
    if (cp) {
      kv.Add("checkpoint",
             "size " + std::to_string(cp->cp.size) + ", signature verified" +
                 (cp->pinned ? " (pinned key)" : ""),
             Style::kGreen);
      if (age) kv.Add("last commit", last_received + " (" + HumanAge(*age) + " ago)");
    } else if (log.size == 0) {
      kv.Add("checkpoint", "none yet (empty log)");
    } else {
      kv.Add("checkpoint", cp_error, Style::kRed);
    }
    kv.Add("ingest queue", queue
                               ? std::to_string(static_cast<int64_t>(*queue)) + " event(s) waiting"
                               : "unknown (/metrics not reachable)");
    if (appended) {
      kv.Add("appended", std::to_string(static_cast<int64_t>(*appended)) + " since start");
    }
    kv.Add("verifier key", log.verifier_key);
    kv.Print(ctx.term());
  }
  if (!cp_error.empty()) return Status::Corruption(cp_error);
  if (!is_ready) return Status::Unavailable("custodyd is not ready");
  return Status::Ok();
}

}  // namespace

void AddStatusCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  CLI::App* cmd = root.add_subcommand(
      "status", "Readiness, log size, latest checkpoint (verified) and its age, ingest queue");
  cmd->footer(
      "Exit status 0 when ready, 1 when the checkpoint does not verify, 3 when custodyd is\n"
      "unreachable or not ready.\n\n"
      "Examples:\n"
      "  custodyctl status\n"
      "  custodyctl status -o json | jq .queue_events");
  out->push_back({cmd, [&ctx] { return RunStatus(ctx); }});
}

}  // namespace custody::client
