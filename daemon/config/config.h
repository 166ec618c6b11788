// custodyd's configuration: one TOML file (DESIGN.md, "Programs and
// configuration"), optionally overridden by command-line flags.
//
//   listen           = "127.0.0.1:7411"   HOST:PORT ("[::1]:7411" for IPv6; port 0 = any free)
//   unix_socket      = "/run/custody/api.sock"   optional second listener
//   unix_socket_mode = "0660"             who may connect to it (octal)
//   data_dir         = "/var/lib/custody"  ledger, signing key and pseudonym key live here
//   origin           = "example.com/custody"   the log's name (and its key name)
//   policy           = "/etc/custody/boundaries.toml"   optional
//   log_level        = "info"              trace|debug|info|warn|error|critical|off
//   [http]      io_threads, max_connections, body_limit, header_limit,
//               idle_timeout_ms, header_timeout_ms, body_timeout_ms,
//               max_events_per_request, max_entries_per_request, retry_after_seconds
//   [ingest]    queue_capacity, batch_size
//   [alerts]    dedup_window_seconds, dedup_key
//   [[alert_sink]] name, type (webhook|log|file), url | path, min_severity, timeout_ms,
//               initial_backoff_ms, max_backoff_ms
//   [[token]]   name, role (producer|reader|admin), sha256 (hex SHA-256 of the bearer token)
//
// Every key is optional except as Validate() says; unknown keys are errors
// (a typo must not silently leave a default in force). Errors name the file,
// line and column, the key, what is wrong and how to fix it, one per line:
//   /etc/custody/custodyd.toml:7:14: http.io_threads: must be 1..256, got 0
//
// Bearer tokens are never stored in clear: the file holds their SHA-256
// (TokenSha256Hex), and the daemon hashes each presented token to compare.
//
// Thread safety: plain values and pure functions.
#ifndef CUSTODY_DAEMON_CONFIG_CONFIG_H_
#define CUSTODY_DAEMON_CONFIG_CONFIG_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/result.h"
#include "daemon/alerts/alerts.h"

namespace custody::daemon {

using schema::Result;
using schema::Status;

enum class Role { kProducer, kReader, kAdmin };
std::string_view RoleName(Role role);  // "producer", "reader", "admin"
std::optional<Role> ParseRole(std::string_view name);

struct TokenConfig {
  std::string name;  // the producer id recorded for events sent with it
  Role role = Role::kProducer;
  std::array<uint8_t, 32> sha256{};  // SHA-256 of the bearer token
};

// "HOST:PORT": a numeric IPv4 address, a bracketed IPv6 address, or
// "localhost"; PORT 0..65535 (0 = let the kernel pick).
struct ListenAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 7411;
  std::string ToString() const;  // "127.0.0.1:7411", "[::1]:7411"
};
// InvalidArgument saying what is wrong with `text`.
Result<ListenAddress> ParseListenAddress(std::string_view text);

struct HttpConfig {
  unsigned io_threads = 2;
  size_t max_connections = 1024;       // more are answered 503 and closed
  uint64_t body_limit = 8ull << 20;    // bytes; larger requests get 413
  uint32_t header_limit = 16 * 1024;   // bytes; larger headers get 431
  uint32_t idle_timeout_ms = 60000;    // keep-alive connection with no request
  uint32_t header_timeout_ms = 10000;  // from the first byte of a request to its last header
  uint32_t body_timeout_ms = 30000;    // reading the body, and writing the response
  size_t max_events_per_request = 10000;
  size_t max_entries_per_request = 10000;  // GET /v1/entries range cap
  uint32_t retry_after_seconds = 1;        // the Retry-After of a 503
};

struct IngestConfig {
  size_t queue_capacity = 100000;  // events waiting for the appender; beyond: 503
  size_t batch_size = 8192;        // events per LMDB transaction
};

// [alerts] and [[alert_sink]]: see daemon/alerts/alerts.h. Example:
//   [alerts]
//   dedup_window_seconds = 300          # 0 (default): every alert notifies
//   dedup_key = ["actor"]               # alert fields that, with the rule, form the key
//   [[alert_sink]]
//   name = "soc"                        # unique
//   type = "webhook"                    # webhook | log | file
//   url = "http://127.0.0.1:9000/custody"
//   min_severity = "high"               # info | low | medium | high | critical
//   timeout_ms = 2000
//   initial_backoff_ms = 100
//   max_backoff_ms = 30000
//   (a file sink has path = "/var/log/custody/alerts.ndjson")
// Without any [[alert_sink]], alerts are still recorded and queryable, and a
// "log" sink (spdlog, hence journald) notifies.

struct Config {
  std::string source;  // the file it was read from ("" for built-in defaults)
  ListenAddress listen;
  std::string unix_socket;           // empty: none
  uint32_t unix_socket_mode = 0660;  // octal string in the file: "0660"
  std::string data_dir;
  std::string origin;
  std::string policy;  // empty: no policy file
  std::string log_level = "info";
  HttpConfig http;
  IngestConfig ingest;
  alerts::AlertsConfig alerts;
  std::vector<TokenConfig> tokens;
  // Where the keys that Validate() checks across fields were written
  // ("origin", "ingest.batch_size", "token[1].name", ...): line, column.
  // Filled by ParseConfig; absent for defaults and overrides.
  std::map<std::string, std::pair<uint32_t, uint32_t>> positions;
};

// Parses config text. `source` names it in error messages (a path).
// Checks types, ranges and unknown keys; not the cross-field requirements of
// Validate() (flags may still supply data_dir). InvalidArgument listing every
// problem found, one per line.
Result<Config> ParseConfig(std::string_view text, std::string_view source);

// Reads and parses the file at `path` (NotFound / IOError when unreadable).
// Relative data_dir, policy, unix_socket and file sink paths are made
// absolute against the file's directory (flags such as --data-dir are
// relative to the working directory, as on any command line).
Result<Config> LoadConfig(const std::string& path);

// Command-line overrides, applied after the file.
struct ConfigOverrides {
  std::optional<std::string> listen;    // --listen HOST:PORT
  std::optional<std::string> data_dir;  // --data-dir DIR
};
Status ApplyOverrides(const ConfigOverrides& overrides, Config* config);

// Checks what a runnable configuration needs: data_dir and origin set, a
// valid origin (a C2SP note key name), unique token names and hashes, and
// that at least one token can append. InvalidArgument otherwise.
Status Validate(const Config& config);

// The configuration `custodyd --print-default-config` prints: every key with
// its default and a comment (the same text as systemd/custodyd.example.toml).
std::string_view DefaultConfigText();

// Lower-case hex SHA-256 of `token`: the value for a [[token]] sha256 key.
std::string TokenSha256Hex(std::string_view token);

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_CONFIG_CONFIG_H_
