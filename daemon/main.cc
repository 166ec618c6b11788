// custodyd: parse flags, load the config, run the App until SIGTERM.
// Everything else lives in daemon/server/app.h so tests can run it in-process.

#include <sodium.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "daemon/config/config.h"
#include "daemon/server/app.h"

namespace cd = custody::daemon;

int main(int argc, char** argv) {
  cd::BlockSignals();  // before any thread exists
  CLI::App cli{"custodyd: the custody audit-log daemon"};
  std::string config_path, port_file, check_policy;
  cd::ConfigOverrides overrides;
  bool print_default = false;
  cli.add_option("--config", config_path, "TOML configuration file")->option_text("FILE");
  cli.add_option("--listen", overrides.listen, "override listen (port 0 = any free port)")
      ->option_text("HOST:PORT");
  cli.add_option("--data-dir", overrides.data_dir, "override data_dir")->option_text("DIR");
  cli.add_option("--port-file", port_file, "write the bound TCP port here once listening")
      ->option_text("FILE");
  std::vector<std::string> sample_events;
  std::string sample_approvals;
  cli.add_option("--check-policy", check_policy,
                 "check a policy file (errors as FILE:LINE:COL) and exit; 0 when it compiles")
      ->option_text("FILE");
  cli.add_option("--events", sample_events,
                 "with --check-policy: evaluate these sample events (NDJSON or JSON) against the "
                 "policy alone, recording nothing")
      ->option_text("FILE ...");
  cli.add_option("--approvals", sample_approvals,
                 "with --events: approvals (JSON, as POST /v1/approvals takes them) the dry run "
                 "may apply")
      ->option_text("FILE");
  cli.footer(
      "Examples:\n"
      "  custodyd --config /etc/custody/custodyd.toml\n"
      "  custodyd --print-default-config > custodyd.toml\n"
      "  custodyd --check-policy docs/examples/boundaries.toml\n"
      "  custodyd --check-policy boundaries.toml --events sample.ndjson --approvals "
      "approvals.json");
  cli.add_flag("--print-default-config", print_default,
               "print a commented default config and exit");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError that exits 0; every usage error exits 2, as a
    // bad config does (CLI11's own codes are 100+).
    return cli.exit(e) == 0 ? 0 : 2;
  }

  // Operational log to stderr; journald adds its own timestamps.
  auto logger = spdlog::stderr_logger_mt("custodyd");
  logger->set_pattern(std::getenv("JOURNAL_STREAM") ? "%l: %v" : "%Y-%m-%dT%H:%M:%S.%e %l: %v");
  spdlog::set_default_logger(logger);

  if (print_default) return std::fputs(cd::DefaultConfigText().data(), stdout) < 0 ? 1 : 0;
  if (sodium_init() < 0) return spdlog::critical("libsodium failed to initialise"), 1;
  if (!check_policy.empty()) {
    return cd::CheckPolicyFile(check_policy, sample_events, sample_approvals).ok() ? 0 : 1;
  }
  if (!sample_events.empty() || !sample_approvals.empty()) {
    spdlog::critical("--events and --approvals go with --check-policy FILE");
    return 2;
  }
  if (config_path.empty()) {
    spdlog::critical("--config FILE is required (see custodyd --print-default-config)");
    return 2;
  }

  auto config = cd::LoadConfig(config_path);
  custody::schema::Status st =
      config.ok() ? cd::ApplyOverrides(overrides, &*config) : config.status();
  if (st.ok()) st = cd::Validate(*config);
  if (!st.ok()) return spdlog::critical("bad configuration:\n{}", st.message()), 2;
  spdlog::set_level(spdlog::level::from_str(config->log_level));

  cd::AppOptions options;
  options.config = std::move(config).value();
  options.config_path = config_path;
  options.overrides = overrides;
  options.port_file = port_file;
  auto app = cd::App::Start(std::move(options));
  if (!app.ok()) return spdlog::critical("cannot start: {}", app.status().ToString()), 1;
  return (*app)->RunUntilSignal();
}
