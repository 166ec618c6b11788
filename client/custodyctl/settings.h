// Where custodyctl finds its server, token and pinned verifier key.
//
// Each setting comes from the first of these that sets it (non-empty):
//   1. the command line: --server URL, --token TOKEN, --key VERIFIER_KEY
//   2. the environment: CUSTODY_SERVER, CUSTODY_TOKEN
//   3. the config file: --config FILE, else $CUSTODY_CONFIG, else
//      $XDG_CONFIG_HOME/custody/client.toml, else ~/.config/custody/client.toml:
//        server = "http://127.0.0.1:7411"
//        token = "..."
//        verifier_key = "<origin>+<hex id>+<base64 key>"   (pins the log's key)
//   4. built in: server http://127.0.0.1:7411 (custodyd's default listen
//      address), no token, no key.
// A missing default config file is not an error; a missing file named by
// --config or $CUSTODY_CONFIG is. Unknown keys in the file are errors: a
// misspelt `tokne` must not silently send no token.
//
// Thread safety: pure functions over values.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_SETTINGS_H_
#define CUSTODY_CLIENT_CUSTODYCTL_SETTINGS_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "custody/schema/result.h"

namespace custody::client {

using schema::Result;
using schema::Status;

inline constexpr std::string_view kDefaultServer = "http://127.0.0.1:7411";

// Reads an environment variable; nullopt when unset. (A seam: tests pass a map.)
using EnvLookup = std::function<std::optional<std::string>(const char* name)>;
EnvLookup ProcessEnv();

struct Settings {
  std::string server;
  std::string token;
  std::string verifier_key;  // "" when not pinned
  // Where each came from, for `custodyctl status` and error messages:
  // "--server", "CUSTODY_SERVER", "<path of the config file>", "default".
  std::string server_source;
  std::string token_source;
  std::string key_source;
};

struct SettingFlags {
  std::string server;  // "" = not given
  std::string token;
  std::string verifier_key;
  std::string config_file;  // --config
};

// The directory custodyctl keeps its files in: $XDG_CONFIG_HOME/custody or
// $HOME/.config/custody. "" when neither variable is set.
std::string ConfigDir(const EnvLookup& env);

// The config file that applies (see above) and whether it was named
// explicitly (then it must exist).
struct ConfigLocation {
  std::string path;  // "" when there is none
  bool explicit_path = false;
};
ConfigLocation FindConfigFile(const SettingFlags& flags, const EnvLookup& env);

// Parses client.toml text. `source` names it in errors.
struct FileSettings {
  std::optional<std::string> server, token, verifier_key;
};
Result<FileSettings> ParseClientConfig(std::string_view text, std::string_view source);

// Applies the precedence above. `file` is the parsed config file, if any,
// and `file_path` its name (the source recorded in Settings).
Settings Resolve(const SettingFlags& flags, const EnvLookup& env,
                 const std::optional<FileSettings>& file, std::string_view file_path);

// FindConfigFile + read + ParseClientConfig + Resolve. InvalidArgument for a
// malformed or missing explicit file; IOError when a file cannot be read.
Result<Settings> LoadSettings(const SettingFlags& flags, const EnvLookup& env);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_SETTINGS_H_
