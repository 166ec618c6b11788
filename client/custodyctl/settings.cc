#include "client/custodyctl/settings.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace custody::client {
namespace {

std::optional<std::string> NonEmpty(const EnvLookup& env, const char* name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string ConfigDir(const EnvLookup& env) {
  if (auto xdg = NonEmpty(env, "XDG_CONFIG_HOME")) return *xdg + "/custody";
  if (auto home = NonEmpty(env, "HOME")) return *home + "/.config/custody";
  return "";
}

ConfigLocation FindConfigFile(const SettingFlags& flags, const EnvLookup& env) {
  if (!flags.config_file.empty()) return {flags.config_file, true};
  if (auto p = NonEmpty(env, "CUSTODY_CONFIG")) return {*p, true};
  const std::string dir = ConfigDir(env);
  if (dir.empty()) return {};
  return {dir + "/client.toml", false};
}

Result<FileSettings> ParseClientConfig(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Status::InvalidArgument(std::string(source) + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " +
                                   std::string(e.description()));
  }
  FileSettings out;
  std::string problems;
  for (const auto& [key, node] : root) {
    const std::string where = std::string(source) + ":" + std::to_string(node.source().begin.line) +
                              ": " + std::string(key.str());
    std::optional<std::string>* slot = nullptr;
    if (key == "server") slot = &out.server;
    if (key == "token") slot = &out.token;
    if (key == "verifier_key") slot = &out.verifier_key;
    if (slot == nullptr) {
      problems += where + ": unknown key (expected server, token or verifier_key)\n";
      continue;
    }
    if (!node.is_string()) {
      problems += where + ": must be a string\n";
      continue;
    }
    *slot = std::string(*node.value<std::string>());
  }
  if (!problems.empty()) {
    problems.pop_back();
    return Status::InvalidArgument(problems);
  }
  return out;
}

Settings Resolve(const SettingFlags& flags, const EnvLookup& env,
                 const std::optional<FileSettings>& file, std::string_view file_path) {
  Settings s;
  auto pick = [&](const std::string& flag, const char* flag_name, const char* env_name,
                  const std::optional<std::string> FileSettings::*member, std::string* value,
                  std::string* source) {
    if (!flag.empty()) {
      *value = flag;
      *source = flag_name;
      return;
    }
    if (env_name != nullptr) {
      if (auto v = NonEmpty(env, env_name)) {
        *value = *v;
        *source = env_name;
        return;
      }
    }
    if (file && (*file.*member) && !(*file.*member)->empty()) {
      *value = *(*file.*member);
      *source = std::string(file_path);
    }
  };
  pick(flags.server, "--server", "CUSTODY_SERVER", &FileSettings::server, &s.server,
       &s.server_source);
  pick(flags.token, "--token", "CUSTODY_TOKEN", &FileSettings::token, &s.token, &s.token_source);
  pick(flags.verifier_key, "--key", nullptr, &FileSettings::verifier_key, &s.verifier_key,
       &s.key_source);
  if (s.server.empty()) {
    s.server = std::string(kDefaultServer);
    s.server_source = "default";
  }
  return s;
}

Result<Settings> LoadSettings(const SettingFlags& flags, const EnvLookup& env) {
  const ConfigLocation loc = FindConfigFile(flags, env);
  std::optional<FileSettings> file;
  if (!loc.path.empty()) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(loc.path, ec);
    if (!exists && loc.explicit_path) {
      return Status::InvalidArgument("config file " + loc.path + " does not exist");
    }
    if (exists) {
      std::ifstream in(loc.path, std::ios::binary);
      if (!in) return Status::IOError("cannot read config file " + loc.path);
      std::ostringstream text;
      text << in.rdbuf();
      CUSTODY_ASSIGN_OR_RETURN(file, ParseClientConfig(text.str(), loc.path));
      struct stat st;
      if (file->token && ::stat(loc.path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        std::fprintf(stderr,
                     "custodyctl: warning: %s holds a token but others can read it; "
                     "chmod 600 %s\n",
                     loc.path.c_str(), loc.path.c_str());
      }
    }
  }
  return Resolve(flags, env, file, loc.path);
}

}  // namespace custody::client
