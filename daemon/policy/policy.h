// Policy: a parsed, validated and compiled boundary policy file.
//
// The language is documented in docs/policy.md. In short, a TOML file of
//   [policy]   name, version, description              (all optional)
//   [lists]    name = ["value", "@other_list", ...]    (written once, used as "@name")
//   [[rule]]   id, version, severity, description, summary,
//              liftable_by_approval (alias unless_approved),
//              [rule.match] conditions, [[rule.allow]] exceptions,
//              [rule.window] a rolling-window threshold
//
// Parsing reports every problem it finds as a Diagnostic carrying the file,
// line and column, what is wrong and how to fix it. Errors make the policy
// unusable; warnings flag rules (or parts of rules) that can never match --
// an empty list, min > max, an unknown category prefix, a country that is
// not a two-letter code -- and leave the policy usable.
//
// A Policy is immutable once built and is shared (std::shared_ptr<const
// Policy>) between the engine, dry runs and the HTTP layer: every const
// method is thread-safe.
#ifndef CUSTODY_DAEMON_POLICY_POLICY_H_
#define CUSTODY_DAEMON_POLICY_POLICY_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/result.h"
#include "daemon/policy/rule.h"

namespace custody::daemon::policy {

using schema::Result;
using schema::Status;

struct Diagnostic {
  enum class Level { kError, kWarning };
  Level level = Level::kError;
  std::string source;   // the file name given to ParsePolicy
  uint32_t line = 0;    // 1-based; 0 when the problem has no place (an empty file)
  uint32_t column = 0;  // 1-based, in UTF-8 code points as toml++ counts them
  std::string message;  // what is wrong
  std::string hint;     // how to fix it; may be empty

  // "boundaries.toml:12:3: error: unknown key 'serverity' in [[rule]] (fix: did you
  // mean 'severity'?)". Compilers' format, so editors can jump to it.
  std::string ToString() const;
  // {"column","hint"?,"level":"error"|"warning","line","message","source"}
  // for HTTP responses (POST /v1/policy/evaluate, reloads).
  boost::json::object ToJson() const;
  bool is_error() const { return level == Level::kError; }
};

// Durations in policy files: one or more <integer><unit> groups, units
// ms, s, m, h, d, w ("24h", "1h30m", "7d", "500ms"). InvalidArgument
// otherwise (naming the problem). The result is >= 0.
Result<std::chrono::microseconds> ParseDuration(std::string_view text);
// The shortest spelling ParseDuration reads back: "24h", "90m", "1500ms", "0s".
std::string FormatDuration(std::chrono::microseconds d);

class Policy {
 public:
  // Parses `text` (TOML) and compiles it. `source` names the text in
  // diagnostics and in the ledger's `policy` entry (normally the file path).
  // Every diagnostic, errors and warnings, is appended to `*diagnostics`
  // (which may be null) in order of position. Returns InvalidArgument when
  // there is at least one error; its message lists the errors, one per line.
  // Never throws.
  static Result<std::shared_ptr<const Policy>> Parse(std::string_view text, std::string source,
                                                     std::vector<Diagnostic>* diagnostics);

  // Reads the file at `path` and Parse()s it with the path as `source`.
  // IOError when the file cannot be read.
  static Result<std::shared_ptr<const Policy>> Load(const std::filesystem::path& path,
                                                    std::vector<Diagnostic>* diagnostics);

  // Hex SHA-256 of text(): the identity of the policy in the ledger.
  const std::string& sha256() const { return sha256_; }
  const std::string& text() const { return text_; }
  const std::string& source() const { return source_; }
  const std::string& name() const { return name_; }        // [policy] name, may be empty
  const std::string& version() const { return version_; }  // [policy] version, may be empty

  // Rules in file order: the order they are evaluated and reported in.
  const std::vector<Rule>& rules() const { return rules_; }
  const Rule* FindRule(std::string_view id) const;
  // The interned category patterns that Condition::patterns index.
  const std::vector<CategoryPattern>& patterns() const { return patterns_; }
  // The warnings found while parsing (the policy has no errors).
  const std::vector<Diagnostic>& warnings() const { return warnings_; }

  // Canonical JSON {"rules":[ids...],"sha256":"<hex>","source":"<path>",
  // "text":"<policy text>"}: the body of the ledger's `policy` entry.
  std::string EntryBody() const;

  // The largest window duration + late tolerance of any windowed rule (0 when
  // there is none): how far back (by received_at) access entries must be
  // replayed after a restart (Engine::Replay).
  std::chrono::microseconds replay_horizon() const { return replay_horizon_; }

 private:
  friend class PolicyCompiler;
  Policy() = default;

  std::string sha256_, text_, source_, name_, version_;
  std::vector<Rule> rules_;
  std::vector<CategoryPattern> patterns_;
  std::vector<Diagnostic> warnings_;
  std::chrono::microseconds replay_horizon_{0};
};

// Hex SHA-256 of `bytes` (libsodium).
std::string Sha256Hex(std::string_view bytes);

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_POLICY_H_
