#include "daemon/policy/policy.h"

#include <sodium.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "custody/schema/encoding.h"
#include "custody/schema/json_canon.h"

namespace custody::daemon::policy {

std::string Diagnostic::ToString() const {
  std::string out = source;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(column);
  }
  out += is_error() ? ": error: " : ": warning: ";
  out += message;
  if (!hint.empty()) out += " (fix: " + hint + ")";
  return out;
}

boost::json::object Diagnostic::ToJson() const {
  boost::json::object o;
  o["level"] = is_error() ? "error" : "warning";
  o["source"] = source;
  o["line"] = line;
  o["column"] = column;
  o["message"] = message;
  if (!hint.empty()) o["hint"] = hint;
  return o;
}

Result<std::chrono::microseconds> ParseDuration(std::string_view text) {
  using std::chrono::microseconds;
  if (text.empty()) return Status::InvalidArgument("empty duration; expected e.g. \"24h\"");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t digits_start = i;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (INT64_MAX / 10) - 10) return Status::InvalidArgument("duration is too long");
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    if (i == digits_start) {
      return Status::InvalidArgument("duration \"" + std::string(text) +
                                     "\" is not <number><unit>...; expected e.g. \"24h\", "
                                     "\"1h30m\", \"7d\" (units ms, s, m, h, d, w)");
    }
    const size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    struct Unit {
      std::string_view name;
      int64_t scale;
    };
    static constexpr Unit kUnits[] = {{"ms", 1000},
                                      {"s", 1000000},
                                      {"m", 60LL * 1000000},
                                      {"h", 3600LL * 1000000},
                                      {"d", 86400LL * 1000000},
                                      {"w", 7 * 86400LL * 1000000}};
    int64_t scale = 0;
    for (const Unit& u : kUnits) {
      if (u.name == unit) scale = u.scale;
    }
    if (scale == 0) {
      return Status::InvalidArgument("duration \"" + std::string(text) + "\" has unit \"" +
                                     std::string(unit) +
                                     "\"; expected one of ms, s, m, h, d, w (e.g. \"24h\")");
    }
    if (n > (INT64_MAX - total) / scale) return Status::InvalidArgument("duration is too long");
    total += n * scale;
  }
  return microseconds(total);
}

std::string FormatDuration(std::chrono::microseconds d) {
  const int64_t us = d.count();
  struct Unit {
    int64_t scale;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {7 * 86400LL * 1000000, "w"}, {86400LL * 1000000, "d"}, {3600LL * 1000000, "h"},
      {60LL * 1000000, "m"},        {1000000, "s"},           {1000, "ms"}};
  if (us == 0) return "0s";
  for (const Unit& u : kUnits) {
    // "24h" reads better than "1d": days and weeks only from two of them.
    if (us % u.scale == 0 && (u.scale < 86400LL * 1000000 || us / u.scale >= 2)) {
      return std::to_string(us / u.scale) + u.name;
    }
  }
  // Below a millisecond: not expressible in the policy language; say it in µs.
  return std::to_string(us) + "us";
}

std::string Sha256Hex(std::string_view bytes) {
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return schema::HexEncode(std::span<const uint8_t>(digest, sizeof digest));
}

const Rule* Policy::FindRule(std::string_view id) const {
  for (const Rule& r : rules_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::string Policy::EntryBody() const {
  boost::json::object body;
  boost::json::array ids;
  for (const Rule& r : rules_) ids.emplace_back(r.id);
  body["rules"] = std::move(ids);
  body["sha256"] = sha256_;
  body["source"] = source_;
  body["text"] = text_;
  // Parse() accepted only valid UTF-8 text (toml++ checks it), and the
  // source is the caller's path; a path that is not UTF-8 is escaped away.
  Result<std::string> canon = schema::CanonicalJson(body);
  if (!canon.ok()) {
    body["source"] = "(source path is not valid UTF-8)";
    canon = schema::CanonicalJson(body);
  }
  return canon.ok() ? *canon : std::string("{}");
}

std::string_view FieldName(Field f) {
  switch (f) {
    case Field::kActivity:
      return "activity";
    case Field::kCategories:
      return "categories";
    case Field::kJurisdictions:
      return "subjects.jurisdictions";
    case Field::kSubjectCount:
      return "subjects.count";
    case Field::kActorId:
      return "actor.id";
    case Field::kActorType:
      return "actor.type";
    case Field::kActorCountry:
      return "actor.country";
    case Field::kActorEntity:
      return "actor.entity";
    case Field::kTargetSystem:
      return "target.system";
    case Field::kTargetType:
      return "target.type";
    case Field::kTargetId:
      return "target.id";
    case Field::kTargetCountry:
      return "target.country";
    case Field::kTargetAudience:
      return "target.audience_size";
    case Field::kOriginSystem:
      return "origin.system";
    case Field::kOriginCountry:
      return "origin.country";
    case Field::kPurpose:
      return "purpose";
    case Field::kRecordCount:
      return "record_count";
    case Field::kCountries:
      return "countries";
  }
  return "?";
}

std::string_view MeasureName(WindowSpec::Measure m) {
  switch (m) {
    case WindowSpec::Measure::kRecordCount:
      return "record_count";
    case WindowSpec::Measure::kSubjectCount:
      return "subject_count";
    case WindowSpec::Measure::kEvents:
      return "events";
  }
  return "?";
}

Result<std::shared_ptr<const Policy>> Policy::Load(const std::filesystem::path& path,
                                                   std::vector<Diagnostic>* diagnostics) {
  // An ifstream opens a directory and reads nothing: an empty policy, which
  // would raise no alerts at all.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::IOError("cannot read policy file " + path.string() +
                           ": it is a directory; policy names a TOML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::IOError("cannot read policy file " + path.string() +
                           ": it does not exist or is not readable");
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::IOError("error reading policy file " + path.string());
  return Parse(text.str(), path.string(), diagnostics);
}

}  // namespace custody::daemon::policy
