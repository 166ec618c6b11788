// The compiled form of a policy rule: what the TOML in docs/policy.md turns
// into, and what the engine evaluates on every event.
//
// Everything an event is matched against is resolved when the policy is
// loaded: list references are expanded, enum names become bit masks, country
// codes become indexes into a 676-bit set, category patterns are interned
// into the policy's pattern table (so each event's categories are compared
// with each distinct pattern once), and string sets are sorted for binary
// search. Evaluating a rule therefore parses no text and allocates nothing.
//
// These are plain values, immutable once the Policy that owns them is built;
// share them freely between threads.
#ifndef CUSTODY_DAEMON_POLICY_RULE_H_
#define CUSTODY_DAEMON_POLICY_RULE_H_

#include <bitset>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/policy/decider.h"

namespace custody::daemon::policy {

// ---------------------------------------------------------------------------
// Country codes.

// "AA".."ZZ" as 0..675, case-insensitive; -1 when `cc` is not two ASCII letters.
inline int CountryIndex(std::string_view cc) {
  if (cc.size() != 2) return -1;
  auto up = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a';
    return -1;
  };
  const int a = up(cc[0]), b = up(cc[1]);
  return (a < 0 || b < 0) ? -1 : a * 26 + b;
}

// A set of country codes. Contains(-1) is false: a missing or malformed code
// is in no set.
class CountrySet {
 public:
  void Add(int index) {
    if (index >= 0) bits_.set(static_cast<size_t>(index));
  }
  bool Contains(int index) const { return index >= 0 && bits_.test(static_cast<size_t>(index)); }
  bool empty() const { return bits_.none(); }
  size_t size() const { return bits_.count(); }
  bool operator==(const CountrySet&) const = default;

 private:
  std::bitset<676> bits_;
};

// ---------------------------------------------------------------------------
// Category patterns.

// Distinct category patterns of one policy, at most kMaxCategoryPatterns.
inline constexpr size_t kMaxCategoryPatterns = 256;
using PatternMask = std::bitset<kMaxCategoryPatterns>;

// A pattern as schema::CategoryMatches defines it: "*", "x.*" (x itself and
// everything under "x."), or an exact category.
struct CategoryPattern {
  enum class Kind : uint8_t { kEverything, kSubtree, kExact };
  Kind kind = Kind::kExact;
  std::string stem;  // "contact" for "contact.*", the category for kExact, "" for "*"
  std::string text;  // as written: "contact.*"

  bool Matches(std::string_view category) const {
    switch (kind) {
      case Kind::kEverything:
        return true;
      case Kind::kExact:
        return category == stem;
      case Kind::kSubtree:
        return category.size() >= stem.size() && category.compare(0, stem.size(), stem) == 0 &&
               (category.size() == stem.size() || category[stem.size()] == '.');
    }
    return false;
  }
};

// ---------------------------------------------------------------------------
// Conditions.

// What a condition looks at. The spelling (FieldName) is the TOML path.
enum class Field : uint8_t {
  kActivity,
  kCategories,
  kJurisdictions,  // subjects.jurisdictions
  kSubjectCount,   // subjects.count
  kActorId,
  kActorType,
  kActorCountry,
  kActorEntity,
  kTargetSystem,
  kTargetType,
  kTargetId,
  kTargetCountry,
  kTargetAudience,  // target.audience_size
  kOriginSystem,
  kOriginCountry,
  kPurpose,      // context.purpose
  kRecordCount,  // data.record_count
  kCountries,    // several parties' countries at once
};
std::string_view FieldName(Field f);  // "actor.country", ...

enum class Op : uint8_t {
  kIn,       // the value is in the set (an absent optional value is in no set)
  kNotIn,    // the value is not in the set (an absent value is not in it)
  kPresent,  // the optional value is present (flag) or absent (!flag)
  kRange,    // min <= value <= max (an absent value is out of range)
  kAny,      // categories: some category matches some pattern
  kAll,      // categories: every category matches some pattern
  kNone,     // categories: no category matches any pattern
};

// Parties whose country a kCountries condition examines.
enum Party : uint8_t { kPartyActor = 1, kPartyTarget = 2, kPartyOrigin = 4 };

// One test on one field. Only the members the (field, op) pair needs are set.
struct Condition {
  Field field = Field::kActivity;
  Op op = Op::kIn;

  uint32_t mask = 0;                 // activity / actor type / target type bits; kCountries parties
  bool all_parties = false;          // kCountries: every named party (else any)
  bool flag = false;                 // kPresent
  CountrySet countries;              // country fields, kJurisdictions, kCountries
  std::vector<std::string> strings;  // string fields (sorted, unique)
  PatternMask patterns;              // kCategories
  int64_t min = 0;                   // kRange; kJurisdictions: minimum subjects in (kIn) /
  int64_t max = INT64_MAX;           //   outside (kNotIn) the set
  // How the set reads in a reason: "@countries_of_concern" when the rule
  // named a list, otherwise the values ("[US]", "[contact.*, identity.*]").
  std::string display;
};

// ---------------------------------------------------------------------------
// Rolling windows.

struct WindowSpec {
  enum class Measure : uint8_t { kRecordCount, kSubjectCount, kEvents };
  Measure measure = Measure::kRecordCount;
  bool per_actor = true;    // key includes actor.id
  bool per_target = false;  // key includes target.system and target.id
  std::chrono::microseconds duration{0};
  int64_t exceeds = 0;  // fires when the window's sum is > exceeds
  // Amounts whose times lie within `resolution` of each other may share one
  // bucket (bounded memory); a bucket counts while any of it is in the window,
  // so sums can only err upward, by events less than `resolution` outside.
  // 0 (the default) keeps every distinct time exact.
  std::chrono::microseconds resolution{0};
  // How far behind the newest event of the same key an event may be and
  // still see a complete window.
  std::chrono::microseconds late_tolerance{0};
};
std::string_view MeasureName(WindowSpec::Measure m);  // "record_count", "subject_count", "events"

// ---------------------------------------------------------------------------
// Rules.

struct Rule {
  std::string id;
  int64_t version = 1;
  Severity severity = Severity::kInfo;
  std::string description;  // free text, for people reading the policy
  std::string summary;      // short line that starts every hit's reason; may be empty
  bool liftable = false;    // an approval named by the event may lift it
  // The event must satisfy every condition of `match`, and none of the
  // `allow` groups (a group is satisfied when all its conditions are).
  std::vector<Condition> match;
  std::vector<std::vector<Condition>> allow;
  std::optional<WindowSpec> window;
  uint32_t line = 0;  // where the rule starts in the policy text
  // Equal fingerprints mean equal matching behaviour (match, allow, window):
  // a reload keeps the rolling-window state of a rule whose fingerprint and id
  // are unchanged.
  std::string fingerprint;
};

}  // namespace custody::daemon::policy

#endif  // CUSTODY_DAEMON_POLICY_RULE_H_
