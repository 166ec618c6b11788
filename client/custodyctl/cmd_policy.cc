// custodyctl policy check: parse and compile a boundary policy locally with
// custodyd's own parser (daemon/policy), print every diagnostic, and
// optionally dry-run sample events through it (EvaluateSample).

#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "client/custodyctl/commands.h"
#include "custody/schema/event.h"
#include "custody/schema/json_canon.h"
#include "daemon/policy/approvals.h"
#include "daemon/policy/policy.h"
#include "daemon/policy/sample.h"

namespace custody::client {
namespace {

namespace json = boost::json;
namespace policy = daemon::policy;

struct PolicyOptions {
  std::string file;
  std::vector<std::string> events;
  std::string approvals;
};

Status RunPolicyCheck(Context& ctx, const PolicyOptions& opt) {
  std::vector<policy::Diagnostic> diagnostics;
  auto loaded = policy::Policy::Load(opt.file, &diagnostics);
  if (!loaded.ok() && diagnostics.empty()) {
    return loaded.status().code() == schema::Code::kInvalidArgument
               ? Status::Corruption(loaded.status().message())
               : Status::InvalidArgument(loaded.status().message());
  }

  // Dry runs: each sample event through the policy alone.
  std::vector<policy::SampleResult> evaluations;
  if (loaded.ok() && !opt.events.empty()) {
    policy::ApprovalRegistry registry;
    if (!opt.approvals.empty()) {
      CUSTODY_ASSIGN_OR_RETURN(std::string text, ReadInput(opt.approvals));
      CUSTODY_RETURN_IF_ERROR(policy::LoadSampleApprovals(text, opt.approvals, &registry));
    }
    for (const std::string& path : opt.events) {
      CUSTODY_ASSIGN_OR_RETURN(std::string text, ReadInput(path));
      CUSTODY_ASSIGN_OR_RETURN(auto results,
                               policy::EvaluateSampleText(**loaded, text, path, &registry));
      for (auto& r : results) evaluations.push_back(std::move(r));
    }
  }

  size_t errors = 0, warnings = 0;
  for (const auto& d : diagnostics) (d.is_error() ? errors : warnings)++;
  if (ctx.format() != Format::kTable) {
    json::object o;
    o["file"] = opt.file;
    o["ok"] = loaded.ok();
    json::array diags;
    for (const auto& d : diagnostics) diags.push_back(d.ToJson());
    o["diagnostics"] = diags;
    if (loaded.ok()) {
      o["sha256"] = (*loaded)->sha256();
      json::array rules;
      for (const auto& r : (*loaded)->rules()) rules.push_back(json::value(r.id));
      o["rules"] = rules;
      if (!opt.events.empty()) o["evaluations"] = policy::SampleResultsJson(evaluations);
    }
    PrintLine(json::serialize(o));
  } else {
    for (const auto& d : diagnostics) {
      std::string line = d.ToString();
      PrintLine(ctx.term().Paint(line, d.is_error() ? Style::kRed : Style::kYellow));
    }
    if (loaded.ok()) {
      std::printf("%s: OK, %zu rule(s), %zu warning(s), sha256 %s\n", opt.file.c_str(),
                  (*loaded)->rules().size(), warnings, (*loaded)->sha256().c_str());
      for (const auto& r : evaluations) PrintLine(policy::DescribeSample(r));
    }
  }
  if (!loaded.ok()) {
    return Status::Corruption(opt.file + ": " + std::to_string(errors) +
                              " error(s); custodyd would refuse this policy");
  }
  return Status::Ok();
}

}  // namespace

void AddPolicyCommand(CLI::App& root, Context& ctx, std::vector<Command>* out) {
  CLI::App* cmd = root.add_subcommand("policy", "Boundary policy helpers");
  cmd->require_subcommand(1);
  auto opt = std::make_shared<PolicyOptions>();
  CLI::App* check = cmd->add_subcommand(
      "check", "Check a policy file with custodyd's parser, and optionally dry-run events");
  check->add_option("file", opt->file, "the policy TOML file")->required();
  check->add_option("--events", opt->events,
                    "sample events (NDJSON or JSON) to evaluate against the policy alone");
  check->add_option("--approvals", opt->approvals, "approvals (JSON) the dry run may apply");
  check->footer(
      "Offline: the same parser and engine as custodyd, no server. Diagnostics are printed as\n"
      "FILE:LINE:COL: level: message. Exit status 1 when the policy has errors. In a dry run\n"
      "each rolling window holds only the event itself.\n\n"
      "Examples:\n"
      "  custodyctl policy check /etc/custody/boundaries.toml\n"
      "  custodyctl policy check boundaries.toml --events sample.ndjson --approvals "
      "approvals.json");
  out->push_back({check, [&ctx, opt] { return RunPolicyCheck(ctx, *opt); }});
  cmd->footer("Example:\n  custodyctl policy check boundaries.toml");
}

}  // namespace custody::client
