#include "daemon/config/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"
#include "custody/schema/encoding.h"
#include "custody/schema/json_canon.h"

namespace custody::daemon {
namespace {

constexpr std::string_view kDefaultConfig =
    R"toml(# custodyd configuration (TOML). Every key is shown with its default.
# Unknown keys are errors. Reload tokens with `systemctl reload custodyd` (SIGHUP).

# TCP listener, HOST:PORT. Keep it on loopback (or a private interface) and
# put a TLS-terminating proxy in front for remote producers. Port 0 picks a
# free port (see custodyd --port-file).
listen = "127.0.0.1:7411"

# Optional Unix socket listener, e.g. "/run/custody/custodyd.sock", and who
# may connect to it (octal permission bits; tokens are still required).
unix_socket = ""
unix_socket_mode = "0660"

# Ledger (LMDB), checkpoint signing key and pseudonym key. Created on first start.
data_dir = "/var/lib/custody"

# The log's name: the first line of every checkpoint and the name of its
# signing key. Choose it once; it cannot change for an existing ledger.
origin = "custody.localhost/log"

# Boundary policy (TOML), optional. Without one, events are recorded with no rule hits.
policy = ""

# trace | debug | info | warn | error | critical | off
log_level = "info"

[http]
io_threads = 2
# Connections beyond this are answered 503 and closed.
max_connections = 1024
# Request body limit in bytes (413 beyond it).
body_limit = 8_388_608
# Request header limit in bytes (431 beyond it).
header_limit = 16_384
# A keep-alive connection waiting for its next request is closed after this.
idle_timeout_ms = 60_000
# Time allowed to receive a request's headers once it has started.
header_timeout_ms = 10_000
# Time allowed to receive a request's body, and to send a response.
body_timeout_ms = 30_000
max_events_per_request = 10_000
# Most entries one GET /v1/entries may ask for.
max_entries_per_request = 10_000
# Retry-After (seconds) sent with 503 when the ingest queue is full.
retry_after_seconds = 1

[ingest]
# Events accepted but not yet committed. When full, POST /v1/events gets 503.
queue_capacity = 100_000
# Most events per LMDB transaction (one fsync, one signed checkpoint).
batch_size = 8192

# Bearer tokens, one [[token]] table each. Store only the token's SHA-256:
#   custodyctl token hash     (or: printf %s "$TOKEN" | sha256sum)
# Roles: producer (POST /v1/events), reader (queries, alerts), admin (everything).
#
# [[token]]
# name = "chat-platform"      # recorded as the producer of its events
# role = "producer"
# sha256 = "<64 hex digits>"
)toml";

// Collects errors as "<source>:<line>:<column>: <key>: <message>".
class Errors {
 public:
  explicit Errors(std::string_view source) : source_(source) {}

  void Add(const toml::source_region& where, std::string_view key, std::string_view message) {
    std::ostringstream out;
    out << source_;
    if (where.begin.line != 0) out << ':' << where.begin.line << ':' << where.begin.column;
    out << ": ";
    if (!key.empty()) out << key << ": ";
    out << message;
    lines_.push_back(out.str());
  }

  bool empty() const { return lines_.empty(); }
  Status ToStatus() const {
    std::string all;
    for (const auto& line : lines_) {
      if (!all.empty()) all += '\n';
      all += line;
    }
    return Status::InvalidArgument(all);
  }

 private:
  std::string source_;
  std::vector<std::string> lines_;
};

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(std::string_view key, const std::vector<std::string_view>& allowed) {
  std::string msg = "unknown key";
  std::string_view best;
  size_t best_distance = 3;  // suggest only close matches
  for (auto a : allowed) {
    size_t d = EditDistance(key, a);
    if (d < best_distance) best_distance = d, best = a;
  }
  if (!best.empty()) {
    msg += "; did you mean '" + std::string(best) + "'?";
  } else {
    msg += "; allowed here: ";
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (i) msg += ", ";
      msg += allowed[i];
    }
  }
  return msg;
}

std::string_view TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// Reads typed members of one TOML table, reporting problems with positions.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix, Errors* errors)
      : table_(table), prefix_(std::move(prefix)), errors_(errors) {}

  std::string Key(std::string_view name) const { return prefix_ + std::string(name); }

  void String(std::string_view name, std::string* out) {
    allowed_.push_back(name);
    const toml::node* node = table_.get(name);
    if (node == nullptr) return;
    if (!node->is_string()) {
      errors_->Add(node->source(), Key(name),
                   "expected a string, got " + std::string(TypeName(*node)) +
                       " (quote the value: " + std::string(name) + " = \"...\")");
      return;
    }
    *out = node->as_string()->get();
  }

  template <typename T>
  void Integer(std::string_view name, T* out, int64_t min, int64_t max) {
    allowed_.push_back(name);
    const toml::node* node = table_.get(name);
    if (node == nullptr) return;
    if (!node->is_integer()) {
      errors_->Add(node->source(), Key(name),
                   "expected an integer, got " + std::string(TypeName(*node)));
      return;
    }
    int64_t v = node->as_integer()->get();
    if (v < min || v > max) {
      errors_->Add(node->source(), Key(name),
                   "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                       std::to_string(v));
      return;
    }
    *out = static_cast<T>(v);
  }

  // Marks `name` as known without reading it (the caller handles it).
  const toml::node* Take(std::string_view name) {
    allowed_.push_back(name);
    return table_.get(name);
  }

  // Reports every key that no reader call named.
  void RejectUnknown() {
    for (auto&& [key, node] : table_) {
      if (std::find(allowed_.begin(), allowed_.end(), key.str()) != allowed_.end()) continue;
      errors_->Add(key.source(), Key(key.str()), UnknownKeyMessage(key.str(), allowed_));
    }
  }

 private:
  const toml::table& table_;
  std::string prefix_;
  Errors* errors_;
  std::vector<std::string_view> allowed_;
};

const toml::table* SubTable(TableReader& reader, std::string_view name, Errors* errors) {
  const toml::node* node = reader.Take(name);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    errors->Add(
        node->source(), name,
        "expected a table ([" + std::string(name) + "]), got " + std::string(TypeName(*node)));
    return nullptr;
  }
  return node->as_table();
}

bool IsValidTokenName(std::string_view name) {
  if (name.empty() || name.size() > 128 || !schema::IsValidUtf8(name)) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

void ParseTokens(const toml::node* node, Config* config, Errors* errors) {
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    errors->Add(node->source(), "token",
                "expected an array of tables; write each token as a [[token]] table");
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::table& t = *array->get(i)->as_table();
    std::string prefix = "token[" + std::to_string(i) + "].";
    TableReader r(t, prefix, errors);
    TokenConfig token;
    std::string role, hex;
    r.String("name", &token.name);
    r.String("role", &role);
    r.String("sha256", &hex);
    r.RejectUnknown();

    auto where = [&](std::string_view key) {
      const toml::node* n = t.get(key);
      return n ? n->source() : t.source();
    };
    bool ok = true;
    if (!t.contains("name") || !IsValidTokenName(token.name)) {
      errors->Add(where("name"), prefix + "name",
                  t.contains("name") ? "must be 1..128 bytes of UTF-8 without control characters"
                                     : "missing; every token needs a name (its producer id)");
      ok = false;
    }
    if (auto parsed = ParseRole(role)) {
      token.role = *parsed;
    } else {
      errors->Add(where("role"), prefix + "role",
                  t.contains("role") ? "must be producer, reader or admin, got \"" + role + "\""
                                     : "missing; set role = \"producer\", \"reader\" or \"admin\"");
      ok = false;
    }
    auto bytes = schema::HexDecode(hex);
    if (!t.contains("sha256")) {
      errors->Add(where("sha256"), prefix + "sha256",
                  "missing; set it to the token's SHA-256 (custodyctl token hash, or "
                  "printf %s \"$TOKEN\" | sha256sum)");
      ok = false;
    } else if (!bytes.ok() || bytes->size() != 32) {
      errors->Add(where("sha256"), prefix + "sha256",
                  "must be 64 hex digits (the SHA-256 of the token, never the token itself)");
      ok = false;
    } else {
      std::copy(bytes->begin(), bytes->end(), token.sha256.begin());
    }
    if (ok) config->tokens.push_back(std::move(token));
  }
}

void ParseAlertSinks(const toml::node* node, Config* config, Errors* errors) {
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    errors->Add(node->source(), "alert_sink",
                "expected an array of tables; write each sink as an [[alert_sink]] table");
    return;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::table& t = *array->get(i)->as_table();
    const std::string prefix = "alert_sink[" + std::to_string(i) + "].";
    TableReader r(t, prefix, errors);
    alerts::SinkConfig sink;
    std::string type, severity = "info";
    r.String("name", &sink.name);
    r.String("type", &type);
    r.String("url", &sink.url);
    r.String("path", &sink.path);
    r.String("min_severity", &severity);
    r.Integer("timeout_ms", &sink.timeout_ms, 1, 600000);
    r.Integer("initial_backoff_ms", &sink.initial_backoff_ms, 1, 600000);
    r.Integer("max_backoff_ms", &sink.max_backoff_ms, 1, 86400000);
    r.RejectUnknown();
    auto where = [&](std::string_view key) {
      const toml::node* n = t.get(key);
      return n ? n->source() : t.source();
    };
    bool ok = true;
    if (sink.name.empty()) {
      errors->Add(where("name"), prefix + "name", "missing; every sink needs a unique name");
      ok = false;
    }
    if (type == "webhook") {
      sink.type = alerts::SinkType::kWebhook;
      if (sink.url.rfind("http://", 0) != 0) {
        errors->Add(
            where("url"), prefix + "url",
            "a webhook needs url = \"http://host:port/path\" (plain HTTP on a trusted network)");
        ok = false;
      }
    } else if (type == "log") {
      sink.type = alerts::SinkType::kLog;
    } else if (type == "file") {
      sink.type = alerts::SinkType::kFile;
      if (sink.path.empty()) {
        errors->Add(where("path"), prefix + "path",
                    "a file sink needs path = \"/path/alerts.ndjson\"");
        ok = false;
      }
    } else {
      errors->Add(where("type"), prefix + "type",
                  "must be webhook, log or file, got \"" + type + "\"");
      ok = false;
    }
    if (!policy::ParseSeverity(severity, &sink.min_severity)) {
      errors->Add(where("min_severity"), prefix + "min_severity",
                  "must be info, low, medium, high or critical, got \"" + severity + "\"");
      ok = false;
    }
    if (sink.max_backoff_ms < sink.initial_backoff_ms)
      sink.max_backoff_ms = sink.initial_backoff_ms;
    if (ok) config->alerts.sinks.push_back(std::move(sink));
  }
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kProducer:
      return "producer";
    case Role::kReader:
      return "reader";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "producer") return Role::kProducer;
  if (name == "reader") return Role::kReader;
  if (name == "admin") return Role::kAdmin;
  return std::nullopt;
}

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress out;
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("\"" + std::string(text) +
                                     "\": write an IPv6 address as [ADDRESS]:PORT");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("\"" + std::string(text) +
                                     "\": expected HOST:PORT, e.g. 127.0.0.1:7411");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("\"" + std::string(text) +
                                     "\": write an IPv6 address as [ADDRESS]:PORT");
    }
  }
  if (host.empty()) {
    return Status::InvalidArgument(
        "\"" + std::string(text) +
        "\": missing host (use 127.0.0.1 for loopback, 0.0.0.0 for all)");
  }
  // Checked here, not when binding: a bad address must fail before the data
  // dir is created, and name the file and line.
  const std::string host_text(host);
  unsigned char addr[16];
  if (host_text != "localhost" && ::inet_pton(AF_INET, host_text.c_str(), addr) != 1 &&
      ::inet_pton(AF_INET6, host_text.c_str(), addr) != 1) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": \"" + host_text +
                                   "\" is not a numeric IP address (or localhost); e.g. "
                                   "127.0.0.1 for loopback, 0.0.0.0 for all");
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": port must be 0..65535");
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  return out;
}

namespace {

// Positions of the keys Validate() checks, so its errors name file:line:col.
void RecordPositions(const toml::table& root, Config* config) {
  auto put = [config](const std::string& key, const toml::node* n) {
    if (n != nullptr && n->source().begin.line != 0) {
      config->positions[key] = {n->source().begin.line, n->source().begin.column};
    }
  };
  put("data_dir", root.get("data_dir"));
  put("origin", root.get("origin"));
  if (const toml::table* ingest = root.get_as<toml::table>("ingest")) {
    put("ingest.batch_size", ingest->get("batch_size"));
  }
  if (const toml::array* tokens = root.get_as<toml::array>("token")) {
    for (size_t i = 0; i < tokens->size(); ++i) {
      const toml::table* t = tokens->get(i)->as_table();
      if (t == nullptr) continue;
      put("token[" + std::to_string(i) + "].name", t->get("name"));
      put("token[" + std::to_string(i) + "].sha256", t->get("sha256"));
    }
  }
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, std::string_view source) {
  Errors errors(source);
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    errors.Add(e.source(), "", "TOML syntax error: " + std::string(e.description()));
    return errors.ToStatus();
  }

  Config config;
  config.source = std::string(source);
  TableReader top(root, "", &errors);
  std::string listen;
  top.String("listen", &listen);
  if (!listen.empty()) {
    auto parsed = ParseListenAddress(listen);
    if (parsed.ok()) {
      config.listen = *parsed;
    } else {
      errors.Add(root.get("listen")->source(), "listen", parsed.status().message());
    }
  } else if (const toml::node* n = root.get("listen"); n != nullptr && n->is_string()) {
    errors.Add(root.get("listen")->source(), "listen",
               "must not be empty; e.g. listen = \"127.0.0.1:7411\"");
  }
  top.String("unix_socket", &config.unix_socket);
  std::string socket_mode;
  top.String("unix_socket_mode", &socket_mode);
  if (!socket_mode.empty()) {
    const bool octal =
        socket_mode.size() <= 4 && socket_mode.find_first_not_of("01234567") == std::string::npos;
    const unsigned long mode = octal ? std::stoul(socket_mode, nullptr, 8) : 0;
    if (!octal || mode > 0777) {
      errors.Add(root.get("unix_socket_mode")->source(), "unix_socket_mode",
                 "must be octal permission bits such as \"0660\" (owner and group may "
                 "connect), got \"" +
                     socket_mode + "\"");
    } else {
      config.unix_socket_mode = static_cast<uint32_t>(mode);
    }
  }
  top.String("data_dir", &config.data_dir);
  top.String("origin", &config.origin);
  top.String("policy", &config.policy);
  top.String("log_level", &config.log_level);
  static constexpr std::string_view kLevels[] = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
  if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels)) {
    errors.Add(root.get("log_level")->source(), "log_level",
               "must be trace, debug, info, warn, error, critical or off, got \"" +
                   config.log_level + "\"");
  }

  if (const toml::table* http = SubTable(top, "http", &errors)) {
    TableReader r(*http, "http.", &errors);
    HttpConfig& h = config.http;
    r.Integer("io_threads", &h.io_threads, 1, 256);
    r.Integer("max_connections", &h.max_connections, 1, 1000000);
    r.Integer("body_limit", &h.body_limit, 1024, int64_t{1} << 34);
    r.Integer("header_limit", &h.header_limit, 1024, 1 << 20);
    r.Integer("idle_timeout_ms", &h.idle_timeout_ms, 1, 3600000);
    r.Integer("header_timeout_ms", &h.header_timeout_ms, 1, 3600000);
    r.Integer("body_timeout_ms", &h.body_timeout_ms, 1, 3600000);
    r.Integer("max_events_per_request", &h.max_events_per_request, 1, 1000000);
    r.Integer("max_entries_per_request", &h.max_entries_per_request, 1, 1000000);
    r.Integer("retry_after_seconds", &h.retry_after_seconds, 0, 3600);
    r.RejectUnknown();
  }
  if (const toml::table* ingest = SubTable(top, "ingest", &errors)) {
    TableReader r(*ingest, "ingest.", &errors);
    r.Integer("queue_capacity", &config.ingest.queue_capacity, 1, 100000000);
    r.Integer("batch_size", &config.ingest.batch_size, 1, 1000000);
    r.RejectUnknown();
  }
  if (const toml::table* alerts = SubTable(top, "alerts", &errors)) {
    TableReader r(*alerts, "alerts.", &errors);
    r.Integer("dedup_window_seconds", &config.alerts.dedup.window_seconds, 0, 86400 * 30);
    if (const toml::node* key = r.Take("dedup_key")) {
      const toml::array* a = key->as_array();
      std::vector<std::string> fields;
      bool ok = a != nullptr;
      // The alert's text fields that can tell two alerts of one rule apart;
      // a misspelt one would merge every alert of the rule into one window.
      static constexpr std::string_view kFields[] = {
          "actor", "target_system", "producer", "event_id", "approval_id", "approval_status"};
      std::string unknown;
      if (a != nullptr) {
        for (const auto& f : *a) {
          if (!f.is_string()) {
            ok = false;
            break;
          }
          const std::string name = f.as_string()->get();
          if (std::find(std::begin(kFields), std::end(kFields), name) == std::end(kFields)) {
            unknown = name;
          }
          fields.push_back(name);
        }
      }
      if (!ok) {
        errors.Add(key->source(), "alerts.dedup_key",
                   "expected an array of alert field names, e.g. [\"actor\", \"target_system\"]");
      } else if (!unknown.empty()) {
        errors.Add(key->source(), "alerts.dedup_key",
                   "\"" + unknown +
                       "\" is not an alert field to dedup by; use any of actor, target_system, "
                       "producer, event_id, approval_id, approval_status (the rule and its "
                       "severity are always part of the key)");
      } else {
        config.alerts.dedup.key = std::move(fields);
      }
    }
    r.RejectUnknown();
  }
  ParseAlertSinks(top.Take("alert_sink"), &config, &errors);
  ParseTokens(top.Take("token"), &config, &errors);
  top.RejectUnknown();

  if (!errors.empty()) return errors.ToStatus();
  RecordPositions(root, &config);
  return config;
}

Result<Config> LoadConfig(const std::string& path) {
  // An ifstream opens a directory and reads nothing: an empty config.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + ": is a directory; --config names a TOML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == ENOENT) {
      return Status::NotFound(path +
                              ": no such file (write one with custodyd --print-default-config)");
    }
    return Status::FromErrno(err, "reading config " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("reading config " + path + " failed");
  CUSTODY_ASSIGN_OR_RETURN(Config config, ParseConfig(text.str(), path));
  // Relative paths in a file mean relative to the file, not to whatever
  // directory the daemon was started from (systemd starts it in /).
  const std::filesystem::path base = std::filesystem::absolute(path).parent_path();
  auto resolve = [&base](std::string* p) {
    if (!p->empty() && std::filesystem::path(*p).is_relative()) *p = (base / *p).string();
  };
  resolve(&config.data_dir);
  resolve(&config.policy);
  resolve(&config.unix_socket);
  for (alerts::SinkConfig& sink : config.alerts.sinks) resolve(&sink.path);
  return config;
}

Status ApplyOverrides(const ConfigOverrides& overrides, Config* config) {
  if (overrides.listen) {
    auto parsed = ParseListenAddress(*overrides.listen);
    if (!parsed.ok()) return parsed.status().Annotate("--listen");
    config->listen = *parsed;
  }
  if (overrides.data_dir) {
    if (overrides.data_dir->empty())
      return Status::InvalidArgument("--data-dir: must not be empty");
    config->data_dir = *overrides.data_dir;
  }
  return Status::Ok();
}

Status Validate(const Config& config) {
  Errors errors(config.source.empty() ? "config" : config.source);
  auto add = [&](const std::string& key, const std::string& message) {
    toml::source_region where{};  // line 0 (no position) unless the key was in the file
    if (auto it = config.positions.find(key); it != config.positions.end()) {
      where.begin.line = it->second.first;
      where.begin.column = it->second.second;
    }
    errors.Add(where, key, message);
  };
  if (config.data_dir.empty()) {
    add("data_dir", "missing; set data_dir in the config or pass --data-dir DIR");
  }
  if (config.origin.empty()) {
    add("origin", "missing; set origin to the log's name, e.g. \"example.com/custody\"");
  } else if (!ledger::IsValidKeyName(config.origin)) {
    add("origin", "\"" + config.origin +
                      "\" is not a valid key name (no '+', spaces or control "
                      "characters)");
  }
  for (size_t i = 0; i < config.tokens.size(); ++i) {
    // The ledger names custodyd itself as the producer of its own entries
    // (policy records); a token of that name could append in its name.
    if (config.tokens[i].name == "custodyd") {
      add("token[" + std::to_string(i) + "].name",
          "\"custodyd\" is reserved for the entries custodyd writes itself; pick another name");
    }
    for (size_t j = 0; j < i; ++j) {
      if (config.tokens[i].name == config.tokens[j].name) {
        add("token[" + std::to_string(i) + "].name",
            "\"" + config.tokens[i].name + "\" is also the name of token[" + std::to_string(j) +
                "]; names must be unique");
      }
      if (config.tokens[i].sha256 == config.tokens[j].sha256) {
        add("token[" + std::to_string(i) + "].sha256",
            "same hash as token[" + std::to_string(j) + "]; give each token its own secret");
      }
    }
  }
  if (config.ingest.batch_size > config.ingest.queue_capacity) {
    add("ingest.batch_size", "must not exceed ingest.queue_capacity (" +
                                 std::to_string(config.ingest.queue_capacity) + ")");
  }
  if (!errors.empty()) return errors.ToStatus();
  return Status::Ok();
}

std::string_view DefaultConfigText() { return kDefaultConfig; }

std::string TokenSha256Hex(std::string_view token) {
  return ledger::HashToHex(ledger::Sha256(token));
}

}  // namespace custody::daemon
