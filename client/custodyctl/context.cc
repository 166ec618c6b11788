#include "client/custodyctl/context.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace custody::client {

int ExitCodeFor(const Status& status) {
  using schema::Code;
  switch (status.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kNotFound:
    case Code::kCorruption:
      return kExitNotFound;
    case Code::kInvalidArgument:
    case Code::kIOError:
      return kExitUsage;
    default:
      return kExitServer;
  }
}

Context::Context(EnvLookup env, schema::Clock* clock) : env_(std::move(env)), clock_(clock) {}

void Context::Finish(const Terminal& term) {
  term_ = term;
  format_ = options_.output == "json"     ? Format::kJson
            : options_.output == "ndjson" ? Format::kNdjson
                                          : Format::kTable;
}

Result<const Settings*> Context::settings() {
  if (!settings_) {
    CUSTODY_ASSIGN_OR_RETURN(Settings s, LoadSettings(options_.settings, env_));
    settings_ = std::move(s);
  }
  return &*settings_;
}

Result<Api*> Context::api() {
  if (!api_) {
    CUSTODY_ASSIGN_OR_RETURN(const Settings* s, settings());
    auto url = ParseServerUrl(s->server);
    if (!url.ok()) return url.status().Annotate("from " + s->server_source);
    api_ = std::make_unique<Api>(HttpClient(std::move(url).value(), s->token,
                                            std::chrono::seconds(options_.timeout_seconds)));
  }
  return api_.get();
}

Result<ledger::VerifierKey> Context::VerifierKey(bool* pinned) {
  std::string text, source;
  if (!options_.key_file.empty()) {
    CUSTODY_ASSIGN_OR_RETURN(text, ReadInput(options_.key_file));
    source = options_.key_file;
  } else {
    CUSTODY_ASSIGN_OR_RETURN(const Settings* s, settings());
    text = s->verifier_key;
    source = s->key_source;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (!text.empty()) {
    *pinned = true;
    auto key = ledger::VerifierKey::Parse(text);
    if (!key.ok()) return key.status().Annotate("verifier key from " + source);
    return key;
  }
  *pinned = false;
  CUSTODY_ASSIGN_OR_RETURN(Api * a, api());
  CUSTODY_ASSIGN_OR_RETURN(LogInfo info, a->Log());
  auto key = ledger::VerifierKey::Parse(info.verifier_key);
  if (!key.ok())
    return Status::Internal("GET /v1/log: bad verifier_key: " + key.status().message());
  return key;
}

std::string Context::TrustedCheckpointPath(const std::string& origin) const {
  const std::string dir = ConfigDir(env_);
  if (dir.empty()) return "";
  std::string name;
  for (unsigned char c : origin) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    name += safe ? static_cast<char>(c) : '_';
  }
  return dir + "/checkpoints/" + name + ".txt";
}

Result<std::string> ReadInput(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + " is a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read " + path + ": " + std::strerror(errno));
  }
  text << in.rdbuf();
  return text.str();
}

Status WriteFileAtomic(const std::string& path, std::string_view contents, unsigned mode) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status st = Status::FromErrno(errno, "write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  if (::close(fd) != 0 || !synced) {
    Status st = Status::FromErrno(synced ? errno : sync_errno, "fsync " + tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Status::FromErrno(errno, "rename " + tmp);
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

}  // namespace custody::client
