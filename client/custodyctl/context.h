// Context: what every subcommand shares -- the global options, the resolved
// settings, the server connection, the output format and the clock -- and
// the exit-code contract.
//
// Exit codes (documented in `custodyctl --help`):
//   0  ok
//   1  not found, or a verification failed
//   2  usage: bad flags or arguments, an input the server rejected as
//      invalid (400), an unreadable local file
//   3  server error: cannot connect, 401/403, 409, 5xx, unexpected answers
// ExitCodeFor maps a Status to them.
//
// Thread safety: none; one per process.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_CONTEXT_H_
#define CUSTODY_CLIENT_CUSTODYCTL_CONTEXT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/custodyctl/api.h"
#include "client/custodyctl/output.h"
#include "client/custodyctl/settings.h"
#include "custody/ledger/keys.h"
#include "custody/schema/clock.h"

namespace CLI {
class App;
}

namespace custody::client {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNotFound = 1;  // also: verification failed
inline constexpr int kExitUsage = 2;
inline constexpr int kExitServer = 3;

int ExitCodeFor(const Status& status);

struct GlobalOptions {
  SettingFlags settings;
  std::string key_file;          // --key-file
  std::string output = "table";  // table | json | ndjson
  bool no_color = false;
  unsigned timeout_seconds = 60;
};

class Context {
 public:
  Context(EnvLookup env, schema::Clock* clock);

  GlobalOptions& options() { return options_; }
  const EnvLookup& env() const { return env_; }
  schema::Clock* clock() const { return clock_; }

  // After parsing: fixes the output format and detects the terminal.
  void Finish(const Terminal& term);
  Format format() const { return format_; }
  const Terminal& term() const { return term_; }

  // The settings (LoadSettings on first use).
  Result<const Settings*> settings();
  // The server connection (built on first use).
  Result<Api*> api();

  // The log's verifier key: --key / --key-file / verifier_key in the config
  // file when given ("pinned"), else the key /v1/log announces (then
  // *pinned is false: the server vouches for itself). InvalidArgument for a
  // malformed key.
  Result<ledger::VerifierKey> VerifierKey(bool* pinned);

  // Where verified checkpoints are kept between runs (the trusted state of
  // `checkpoint`, `prove` and `export`): <config dir>/checkpoints/<origin
  // with unsafe characters replaced>.txt. "" when there is no config dir.
  std::string TrustedCheckpointPath(const std::string& origin) const;

 private:
  EnvLookup env_;
  schema::Clock* clock_;
  GlobalOptions options_;
  Format format_ = Format::kTable;
  Terminal term_;
  std::optional<Settings> settings_;
  std::unique_ptr<Api> api_;
};

// A subcommand: its CLI11 node and what runs when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<Status()> run;
};

// Reads a whole file ("-" = stdin). InvalidArgument naming it when it cannot.
Result<std::string> ReadInput(const std::string& path);

// Writes a file atomically (temporary file, fsync, rename) with `mode`.
Status WriteFileAtomic(const std::string& path, std::string_view contents, unsigned mode = 0644);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_CONTEXT_H_
