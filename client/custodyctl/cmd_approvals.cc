// custodyctl approvals add|list|revoke: POST/GET /v1/approvals.
//
// Routes (daemon/server/router.h):
//   POST /v1/approvals          [admin] one approval (each file item is sent alone)
//   GET  /v1/approvals          [reader] every approval with its state
//   POST /v1/approvals/revoke   [admin] {"approval_id","revoked_by","reason"}
// A custodyd without them answers "no such endpoint" (exit status 3).

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/render.h"
#include "custody/schema/json_canon.h"

namespace custody::client {
namespace {

namespace json = boost::json;

constexpr std::string_view kApprovalsPath = "/v1/approvals";
constexpr std::string_view kRevokePath = "/v1/approvals/revoke";

std::string ScopeSummary(const json::object* scope) {
  if (scope == nullptr) return "";
  std::string out;
  for (const auto& [name, value] : *scope) {
    if (!value.is_array()) continue;
    if (!out.empty()) out += "; ";
    out += std::string(name) + "=";
    bool first = true;
    for (const json::value& v : value.as_array()) {
      if (!v.is_string()) continue;
      out += (first ? "" : ",") + std::string(v.as_string());
      first = false;
    }
  }
  return out;
}

Status PrintRecorded(Context& ctx, const std::vector<std::string>& answers, std::string_view what) {
  switch (ctx.format()) {
    case Format::kNdjson:
      for (const auto& a : answers) PrintLine(a);
      break;
    case Format::kJson: {
      std::string doc = "[";
      for (size_t i = 0; i < answers.size(); ++i) doc += (i ? "," : "") + answers[i];
      PrintLine(doc + "]");
      break;
    }
    case Format::kTable:
      for (const auto& a : answers) {
        auto v = schema::ParseJson(a);
        if (!v.ok()) continue;
        // One record, or several under "approvals"/"results" (or a bare array).
        std::vector<const json::object*> records;
        auto collect = [&](const json::value& x) {
          if (const json::array* arr = x.if_array()) {
            for (const json::value& e : *arr) {
              if (e.is_object()) records.push_back(&e.as_object());
            }
          } else if (x.is_object()) {
            records.push_back(&x.as_object());
          }
        };
        const json::object* top = v->if_object();
        const json::value* list = nullptr;
        if (top != nullptr) {
          list = top->if_contains("approvals");
          if (list == nullptr) list = top->if_contains("results");
        }
        collect(list != nullptr ? *list : *v);
        for (const json::object* o : records) {
          const std::string id = Str(*o, "approval_id");
          const std::string seq = Num(*o, "seq");
          std::printf("%s %s%s\n", std::string(what).c_str(), id.empty() ? "(?)" : id.c_str(),
                      seq.empty() ? "" : (" at seq " + seq).c_str());
        }
      }
      break;
  }
  return Status::Ok();
}

Status RunAdd(Context& ctx, const std::vector<std::string>& files) {
  std::vector<std::pair<std::string, std::string>> approvals;  // origin, JSON text
  for (const std::string& file : files) {
    CUSTODY_ASSIGN_OR_RETURN(std::string text, ReadInput(file));
    auto v = schema::ParseJson(text);
    if (!v.ok()) return Status::InvalidArgument(file + ": " + v.status().message());
    if (v->is_array()) {
      size_t i = 0;
      for (const json::value& a : v->as_array()) {
        approvals.emplace_back(file + "[" + std::to_string(i++) + "]", json::serialize(a));
      }
    } else {
      approvals.emplace_back(file, json::serialize(*v));
    }
  }
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  std::vector<std::string> answers;
  for (const auto& [origin, body] : approvals) {
    auto res = api->http().Post(kApprovalsPath, body, "application/json");
    if (!res.ok()) return res.status();
    if (res->status < 200 || res->status >= 300) {
      Status st = ProblemStatus(ParseProblem(*res), "POST /v1/approvals (" + origin + ")");
      if (!answers.empty()) {
        PrintRecorded(ctx, answers, "recorded approval").ok();
        st = st.Annotate(std::to_string(answers.size()) + " earlier approval(s) were recorded");
      }
      return st;
    }
    auto v = schema::ParseJson(res->body);
    answers.push_back(v.ok() ? json::serialize(*v) : std::string("{}"));
  }
  return PrintRecorded(ctx, answers, "recorded approval");
}

Status RunList(Context& ctx) {
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  CUSTODY_ASSIGN_OR_RETURN(json::value v, api->GetJson(kApprovalsPath));
  const json::array* list = v.if_array();
  if (list == nullptr && v.is_object()) {
    if (const json::value* a = v.as_object().if_contains("approvals")) list = a->if_array();
  }
  if (list == nullptr) return Status::Internal("GET /v1/approvals: no approvals array");
  switch (ctx.format()) {
    case Format::kNdjson:
      for (const json::value& a : *list) PrintLine(json::serialize(a));
      return Status::Ok();
    case Format::kJson:
      PrintLine("{\"approvals\":" + json::serialize(*list) + "}");
      return Status::Ok();
    case Format::kTable:
      break;
  }
  if (list->empty()) {
    std::fputs("no approvals\n", stderr);
    return Status::Ok();
  }
  Table t({"ID", "STATE", "VALID_FROM", "VALID_UNTIL", "GRANTED_BY", "SEQ", "SCOPE"});
  for (const json::value& a : *list) {
    if (!a.is_object()) continue;
    const json::object& o = a.as_object();
    const std::string state = Str(o, "state");
    t.AddRow({Str(o, "approval_id"), state, Str(o, "valid_from"), Str(o, "valid_until"),
              Str(o, "granted_by"), Num(o, "seq"), ScopeSummary(Obj(o, "scope"))},
             {Style::kBold, state == "active" ? Style::kGreen : Style::kDim});
  }
  t.Print(ctx.term());
  return Status::Ok();
}

struct RevokeOptions {
  std::string id, by, reason;
};

Status RunRevoke(Context& ctx, const RevokeOptions& opt) {
  std::string body = "{\"approval_id\":";
  schema::AppendJsonString(opt.id, &body);
  body += ",\"reason\":";
  schema::AppendJsonString(opt.reason, &body);
  body += ",\"revoked_by\":";
  schema::AppendJsonString(opt.by, &body);
  body += "}";
  CUSTODY_ASSIGN_OR_RETURN(Api * api, ctx.api());
  CUSTODY_ASSIGN_OR_RETURN(json::value v, api->PostJson(kRevokePath, body));
  return PrintRecorded(ctx, {json::serialize(v)}, "revoked approval");
}

}  // namespace

void AddApprovalsCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  CLI::App* cmd = root.add_subcommand("approvals", "Register, list and revoke approvals");
  cmd->require_subcommand(1);
  cmd->footer(
      "Examples:\n"
      "  custodyctl approvals add approval.json\n"
      "  custodyctl approvals list\n"
      "  custodyctl approvals revoke APR-100 --by dpo@example.com --reason 'contract ended'");

  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* add = cmd->add_subcommand(
      "add", "Register approvals from FILE (one approval object or an array; '-' = stdin)");
  add->add_option("files", *files, "approval JSON files")->required();
  add->footer(
      "An approval is a ledger entry: immutable once recorded (revoke it and register a new\n"
      "id to change it). Needs an admin token. Shape: shared/scenarios/approvals.json.\n\n"
      "Example:\n"
      "  custodyctl approvals add apr-100.json");
  out->push_back({add, [&ctx, files] { return RunAdd(ctx, *files); }});

  CLI::App* list = cmd->add_subcommand("list", "List approvals with their state");
  list->footer("Example:\n  custodyctl approvals list -o json");
  out->push_back({list, [&ctx] { return RunList(ctx); }});

  auto revoke_opt = std::make_shared<RevokeOptions>();
  CLI::App* revoke = cmd->add_subcommand("revoke", "Revoke an approval (recorded in the ledger)");
  revoke->add_option("id", revoke_opt->id, "approval id")->required();
  revoke->add_option("--by", revoke_opt->by, "who revokes it (recorded)")->required();
  revoke->add_option("--reason", revoke_opt->reason, "why (recorded)")->required();
  revoke->footer(
      "Applies to every event decided after the revocation is committed. Needs an admin token.\n\n"
      "Example:\n"
      "  custodyctl approvals revoke APR-100 --by dpo@example.com --reason 'SCC withdrawn'");
  out->push_back({revoke, [&ctx, revoke_opt] { return RunRevoke(ctx, *revoke_opt); }});
}

}  // namespace custody::client
