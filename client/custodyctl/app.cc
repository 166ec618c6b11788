#include "client/custodyctl/app.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "client/custodyctl/commands.h"
#include "client/custodyctl/context.h"

namespace custody::client {
namespace {

constexpr const char* kDescription =
    "custodyctl: talk to a custodyd audit ledger -- send events, investigate accesses and\n"
    "alerts, manage approvals, and verify what the server signs and proves.";

constexpr const char* kFooter =
    "Server and token: --server/--token, else CUSTODY_SERVER/CUSTODY_TOKEN, else\n"
    "~/.config/custody/client.toml (server = \"...\", token = \"...\", verifier_key = \"...\"),\n"
    "else http://127.0.0.1:7411. Pin the log's key with --key, --key-file or verifier_key.\n\n"
    "Output: -o table (default; colour only on a terminal, never with NO_COLOR), -o json (one\n"
    "document), -o ndjson (one object per line). Diagnostics go to stderr.\n\n"
    "Exit status: 0 ok; 1 not found or verification failed; 2 usage (bad arguments, input the\n"
    "server rejected as invalid, unreadable files); 3 server error (unreachable, 401/403,\n"
    "409, 5xx).\n\n"
    "Example:\n"
    "  custodyctl --server http://127.0.0.1:7411 query --subject user:1002 --since 7d";

// The first argument that is not an option or a global option's value: the
// command, if the user typed one. CLI11 would report a misspelt command as an
// unexpected extra argument (or as no command at all) without naming it.
std::string FirstWord(int argc, char** argv) {
  static const char* kWithValue[] = {"--server", "--token", "--config", "--key",
                                     "--key-file", "-o", "--output", "--timeout"};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (a.starts_with('-')) {
      for (const char* o : kWithValue) {
        if (a == o) ++i;  // its value follows
      }
      continue;
    }
    return std::string(a);
  }
  return "";
}

}  // namespace

int RunCli(int argc, char** argv) {
  try {
    ledger::EnsureSodium();
    Context ctx(ProcessEnv(), schema::SystemClock::Default());
    GlobalOptions& g = ctx.options();
    CLI::App app{kDescription, "custodyctl"};
    app.require_subcommand(1);
    app.fallthrough();  // global options may follow the subcommand
    app.footer(kFooter);
    app.add_option("--server", g.settings.server, "custodyd URL, http://HOST:PORT");
    app.add_option("--token", g.settings.token, "bearer token");
    app.add_option("--config", g.settings.config_file, "client config file (TOML)");
    app.add_option("--key", g.settings.verifier_key,
                   "the log's verifier key, <origin>+<hex id>+<base64 key> (pins it)");
    app.add_option("--key-file", g.key_file, "file holding the verifier key");
    app.add_option("-o,--output", g.output, "table, json or ndjson")
        ->check(CLI::IsMember({"table", "json", "ndjson"}))
        ->capture_default_str();
    app.add_flag("--no-color", g.no_color, "never colour the output");
    app.add_option("--timeout", g.timeout_seconds, "seconds per request")
        ->capture_default_str()
        ->check(CLI::Range(1u, 86400u));

    std::vector<Command> commands;
    AddSendCommand(app, ctx, &commands);
    AddQueryCommand(app, ctx, &commands);
    AddTailCommand(app, ctx, &commands);
    AddAlertsCommand(app, ctx, &commands);
    AddApprovalsCommand(app, ctx, &commands);
    AddCheckpointCommand(app, ctx, &commands);
    AddProveCommand(app, ctx, &commands);
    AddExportCommand(app, ctx, &commands);
    AddStatusCommand(app, ctx, &commands);
    AddPolicyCommand(app, ctx, &commands);
    AddKeygenCommand(app, ctx, &commands);
    AddTokenCommand(app, ctx, &commands);

    const std::string word = FirstWord(argc, argv);
    const auto names = [&word](const CLI::App* sub) { return sub->check_name(word); };
    if (!word.empty() && app.get_subcommands(names).empty()) {
      std::fprintf(stderr, "custodyctl: unknown command %s; see custodyctl --help\n",
                   word.c_str());
      return kExitUsage;
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int rc = app.exit(e);
      return rc == 0 ? kExitOk : kExitUsage;
    }
    if (!g.settings.verifier_key.empty() && !g.key_file.empty()) {
      std::fputs("custodyctl: give --key or --key-file, not both\n", stderr);
      return kExitUsage;
    }
    ctx.Finish(Terminal::Detect(g.no_color));
    for (const Command& c : commands) {
      if (!c.app->parsed()) continue;
      const Status st = c.run();
      std::fflush(stdout);
      if (st.ok()) return kExitOk;
      std::fprintf(stderr, "custodyctl: %s\n", st.message().c_str());
      return ExitCodeFor(st);
    }
    std::fputs("custodyctl: no command given (see --help)\n", stderr);
    return kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custodyctl: internal error: %s\n", e.what());
    return kExitServer;
  }
}

}  // namespace custody::client
