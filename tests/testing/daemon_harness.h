// DaemonHarness: runs the real custodyd binary for integration tests.
//
// It writes a config (tokens, limits) into a fresh temp dir, starts custodyd
// with --listen 127.0.0.1:0 --port-file, waits until GET /readyz answers 200,
// and offers a small synchronous HTTP client. Stop() sends SIGTERM and
// returns the exit status; Kill() sends SIGKILL; Start() again restarts on
// the same data dir (the port changes).
//
// Not thread-safe: one test thread drives a harness. HttpClient objects may
// be used from several threads, one client per thread.
#ifndef CUSTODY_TESTING_DAEMON_HARNESS_H_
#define CUSTODY_TESTING_DAEMON_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "testing/temp_dir.h"

namespace custody::testing {

struct HttpResult {
  int status = 0;     // 0: transport error (see error)
  std::string error;  // transport error text
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names

  // The header's value, "" when absent. `name` in any case.
  std::string header(const std::string& name) const;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// A keep-alive HTTP/1.1 client for 127.0.0.1:<port> (or a Unix socket).
// Reconnects when the server closed the connection.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Over a Unix socket at `path`.
  static HttpClient Unix(std::string path);
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  HttpResult Request(const std::string& method, const std::string& target,
                     const std::string& body = "", const Headers& headers = {});
  HttpResult Get(const std::string& target, const std::string& token = "");
  HttpResult Post(const std::string& target, const std::string& body,
                  const std::string& content_type = "application/json",
                  const std::string& token = "");
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A raw TCP connection: write bytes, read what comes (for streams, pipelining,
// malformed requests, timeouts).
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  bool connected() const;
  bool Write(const std::string& bytes);
  // Reads whatever arrives within `timeout` (at least one byte unless the
  // connection closed or the time ran out). Appends to *out; false on close/error.
  bool ReadSome(std::string* out, std::chrono::milliseconds timeout);
  // Reads until `needle` appears in *out or the time runs out.
  bool ReadUntil(const std::string& needle, std::string* out, std::chrono::milliseconds timeout);
  // Reads until the peer closes (true) or the time runs out (false).
  bool ReadToClose(std::string* out, std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

struct TokenSpec {
  std::string name;
  std::string role;   // producer | reader | admin
  std::string token;  // the clear bearer token; the config gets its SHA-256
};

struct DaemonOptions {
  std::vector<TokenSpec> tokens = DefaultTokens();
  std::string origin = "custody.test/log";
  // Extra top-level TOML (e.g. "policy = \"...\"") placed before any table.
  std::string top_level;
  // [http] and [ingest] keys, e.g. {"body_limit = 4096"}.
  std::vector<std::string> http;
  std::vector<std::string> ingest;
  // Extra TOML tables placed after everything else, e.g.
  // "[alerts]\ndedup_window_seconds = 0\n[[alert_sink]]\nname = \"hook\"\n...".
  std::string tables;
  std::vector<std::string> extra_args;  // more custodyd flags
  std::vector<std::string> extra_env;   // "NAME=value" added to the environment
  // Runs custodyd through this command, e.g. {"/usr/bin/prlimit", "--fsize=N", "--"}
  // (it must exec custodyd in the same process).
  std::vector<std::string> command_prefix;
  std::string unix_socket;              // relative to the temp dir; "" = none

  static std::vector<TokenSpec> DefaultTokens();  // producer-1, reader-1, admin-1
};

inline constexpr const char* kProducerToken = "tok-producer-1";
inline constexpr const char* kReaderToken = "tok-reader-1";
inline constexpr const char* kAdminToken = "tok-admin-1";

class DaemonHarness {
 public:
  explicit DaemonHarness(DaemonOptions options = {});
  ~DaemonHarness();  // SIGKILLs a running daemon

  // (Re)writes the config from the options.
  void WriteConfig();

  // Starts custodyd and waits (up to `timeout`) for GET /readyz == 200.
  // False (with the reason in last_error()) if it exits or never gets ready.
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends `sig` and waits for the exit; returns the exit code, or
  // 128 + signal number if a signal killed it, or -1 after `timeout` (then SIGKILLs).
  int Stop(int sig = 15 /* SIGTERM */,
           std::chrono::milliseconds timeout = std::chrono::seconds(60));
  void Kill();  // SIGKILL and reap
  bool Signal(int sig);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  uint16_t port() const { return port_; }
  HttpClient Client() const { return HttpClient(port_); }

  DaemonOptions& options() { return options_; }
  const std::string& last_error() const { return last_error_; }
  std::string dir() const { return dir_.path().string(); }
  std::string data_dir() const { return dir_.File("data"); }
  std::string config_path() const { return dir_.File("custodyd.toml"); }
  std::string unix_socket_path() const;
  // Everything custodyd wrote to stderr (across restarts).
  std::string Log() const;

  static std::string CustodydPath();

 private:
  DaemonOptions options_;
  ScopedTempDir dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string last_error_;
};

// Lower-case hex SHA-256 (for tokens in configs).
std::string Sha256Hex(const std::string& data);

}  // namespace custody::testing

#endif  // CUSTODY_TESTING_DAEMON_HARNESS_H_
