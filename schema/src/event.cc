#include "custody/schema/event.h"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <cstdint>
#include <utility>

#include <boost/json/error.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>

#include "custody/schema/json_canon.h"

namespace custody::schema {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 11> kActivityNames = {"read",     "query", "list",  "export",
                                                             "download", "print", "post",  "share",
                                                             "transfer", "write", "delete"};
constexpr std::array<std::string_view, 3> kOutcomeNames = {"allowed", "denied", "error"};
constexpr std::array<std::string_view, 7> kPersonalPrefixes = {
    "contact", "gov_id", "location", "financial", "health", "biometric", "identity"};
constexpr std::array<std::string_view, 4> kSensitivePrefixes = {"gov_id", "biometric", "health",
                                                                "financial"};

std::string_view View(json::string_view s) { return {s.data(), s.size()}; }

template <size_t N>
int IndexOf(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<int>(i);
  }
  return -1;
}

template <size_t N>
std::string Join(const std::array<std::string_view, N>& names, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i) out += sep;
    out += names[i];
  }
  return out;
}

std::string Cat(std::initializer_list<std::string_view> parts) {
  size_t n = 0;
  for (auto p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (auto p : parts) out += p;
  return out;
}

std::string Num(uint64_t n) { return std::to_string(n); }

std::string_view KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "an unknown JSON value";
}

// A JSON string literal of `s` for messages, cut to 64 bytes on a character
// boundary so an attacker's megabyte string does not come back in full.
std::string Quote(std::string_view s) {
  if (!IsValidUtf8(s)) return "(a string that is not valid UTF-8)";
  constexpr size_t kMax = 64;
  std::string out;
  if (s.size() <= kMax) {
    AppendJsonString(s, &out);
    return out;
  }
  size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  AppendJsonString(s.substr(0, cut), &out);
  out.insert(out.size() - 1, "...");
  return out;
}

bool HasControl(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

bool IsAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

std::string UpperCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiUpper(c);
  return out;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsBlank(std::string_view s) { return std::all_of(s.begin(), s.end(), IsJsonSpace); }

bool CategoryShapeOk(std::string_view c) {
  if (c.empty() || c.size() > kMaxCategoryBytes) return false;
  bool segment_empty = true;
  for (char ch : c) {
    if (ch == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_') {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

std::string_view FirstSegment(std::string_view c) { return c.substr(0, c.find('.')); }

// `c` is `base` or lies under "base.".
bool IsSelfOrUnder(std::string_view c, std::string_view base) {
  return c.size() >= base.size() && c.compare(0, base.size(), base) == 0 &&
         (c.size() == base.size() || c[base.size()] == '.');
}

// ---------------------------------------------------------------------------
// Expectations, used both in "expected X, got Y" and "required field is
// missing; expected X".

constexpr std::string_view kExpEventId = "a non-empty string of at most 128 bytes";
constexpr std::string_view kExpId = "a non-empty string of at most 256 bytes";
constexpr std::string_view kExpTime =
    "an RFC 3339 date-time string such as \"2026-05-04T09:00:00Z\"";
constexpr std::string_view kExpActivity =
    "one of: read, query, list, export, download, print, post, share, transfer, write, delete";
constexpr std::string_view kExpOutcome = "one of: allowed, denied, error";
constexpr std::string_view kExpActorType = "one of: human, service";
constexpr std::string_view kExpTargetType =
    "one of: database, table, bucket, file, api, chat_channel, export_file, external_recipient";
constexpr std::string_view kExpCountry =
    "a 2-letter country code (ISO 3166-1 alpha-2) such as \"US\"";
constexpr std::string_view kExpCount = "an integer from 0 to 9007199254740991";
constexpr std::string_view kExpActor = "an object {type, id, country, entity?}";
constexpr std::string_view kExpTarget = "an object {system, type, id?, country, audience_size?}";
constexpr std::string_view kExpData = "an object {categories, record_count}";
constexpr std::string_view kExpSubjects = "an object {count, jurisdictions, ids?}";
constexpr std::string_view kExpOrigin = "an object {system, country}";
constexpr std::string_view kExpContext = "an object {purpose?, approval_id?, correlation_id?}";
constexpr std::string_view kExpAttributes = "an object mapping names to string values";
constexpr std::string_view kExpCategories =
    "a non-empty array of category names such as [\"contact.email\"]";
constexpr std::string_view kExpJurisdictions =
    "an object mapping country codes to subject counts, such as {\"US\": 3}";
constexpr std::string_view kExpSubjectIds = "an array of subject id strings";
constexpr std::string_view kExpSubjectId = "a non-empty subject id string of at most 256 bytes";

struct Field {
  std::string_view name;
  bool required;
  std::string_view expect;
};

enum EventField {
  kEventId,
  kTime,
  kActivity,
  kActor,
  kTarget,
  kData,
  kSubjects,
  kOrigin,
  kOutcome,
  kContext,
  kAttributes
};
constexpr std::array<Field, 11> kEventFields = {{
    {"event_id", true, kExpEventId},
    {"time", true, kExpTime},
    {"activity", true, kExpActivity},
    {"actor", true, kExpActor},
    {"target", true, kExpTarget},
    {"data", true, kExpData},
    {"subjects", true, kExpSubjects},
    {"origin", false, kExpOrigin},
    {"outcome", false, kExpOutcome},
    {"context", false, kExpContext},
    {"attributes", false, kExpAttributes},
}};

enum ActorField { kActorType, kActorId, kActorCountry, kActorEntity };
constexpr std::array<Field, 4> kActorFields = {{
    {"type", true, kExpActorType},
    {"id", true, kExpId},
    {"country", true, kExpCountry},
    {"entity", false, kExpId},
}};

enum TargetField { kTargetSystem, kTargetType, kTargetId, kTargetCountry, kTargetAudience };
constexpr std::array<Field, 5> kTargetFields = {{
    {"system", true, kExpId},
    {"type", true, kExpTargetType},
    {"id", false, kExpId},
    {"country", true, kExpCountry},
    {"audience_size", false, kExpCount},
}};

enum DataField { kDataCategories, kDataRecordCount };
constexpr std::array<Field, 2> kDataFields = {{
    {"categories", true, kExpCategories},
    {"record_count", true, kExpCount},
}};

enum SubjectsField { kSubjectsCount, kSubjectsJurisdictions, kSubjectsIds };
constexpr std::array<Field, 3> kSubjectsFields = {{
    {"count", true, kExpCount},
    {"jurisdictions", true, kExpJurisdictions},
    {"ids", false, kExpSubjectIds},
}};

enum OriginField { kOriginSystem, kOriginCountry };
constexpr std::array<Field, 2> kOriginFields = {{
    {"system", true, kExpId},
    {"country", true, kExpCountry},
}};

enum ContextField { kContextPurpose, kContextApprovalId, kContextCorrelationId };
constexpr std::array<Field, 3> kContextFields = {{
    {"purpose", false, kExpId},
    {"approval_id", false, kExpId},
    {"correlation_id", false, kExpId},
}};

// Walks one event value, building the Event and recording every problem with
// its pointer. One Validator per event; not reusable.
class Validator {
 public:
  // Errors go to `*errors` with `pointer_prefix` before each pointer and
  // `message_prefix` before each message, until `*errors` holds `max_errors`.
  // Both prefixes must outlive the Validator.
  Validator(std::string_view pointer_prefix, std::string_view message_prefix,
            std::vector<FieldError>* errors, size_t max_errors)
      : pointer_prefix_(pointer_prefix),
        message_prefix_(message_prefix),
        errors_(errors),
        max_errors_(max_errors) {}

  // The values come straight from the parser (ParseEventBatch), so object
  // capacities tell repeated member names (Object()).
  void set_fresh_parse() { fresh_parse_ = true; }

  // Fills `*e` (a default Event) from `v`. False when anything was wrong;
  // `*e` then holds partial data and must be discarded.
  bool Run(const json::value& v, Event* e);

  // True when an error was found but not recorded (the cap was reached).
  bool dropped() const { return dropped_; }

 private:
  // One step of the path from the event to the value being checked. Only
  // turned into a JSON pointer when there is an error to report.
  struct Token {
    std::string_view key;  // when !is_index
    size_t index = 0;      // when is_index
    bool is_index = false;
  };

  // Pushes one path token for the lifetime of the scope.
  class Scope {
   public:
    Scope(Validator* v, std::string_view key) : v_(v) { v->Push({key, 0, false}); }
    Scope(Validator* v, size_t index) : v_(v) { v->Push({{}, index, true}); }
    ~Scope() { --v_->depth_; }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    Validator* v_;
  };

  void Push(const Token& t) {
    // The schema is at most 4 levels deep (/subjects/jurisdictions/US), so
    // the fixed stack cannot overflow; stay safe if it ever grows.
    if (depth_ < path_.size()) path_[depth_] = t;
    ++depth_;
  }

  std::string Pointer() const {
    std::string out(pointer_prefix_);
    for (size_t i = 0; i < depth_ && i < path_.size(); ++i) {
      out.push_back('/');
      if (path_[i].is_index) {
        out += Num(path_[i].index);
        continue;
      }
      for (char c : path_[i].key) {  // RFC 6901 escaping
        if (c == '~') {
          out += "~0";
        } else if (c == '/') {
          out += "~1";
        } else {
          out.push_back(c);
        }
      }
    }
    return out;
  }

  void Error(std::string_view message) {
    failed_ = true;
    if (errors_->size() >= max_errors_) {
      dropped_ = true;
      return;
    }
    errors_->push_back({Pointer(), Cat({message_prefix_, message})});
  }
  void Expected(std::string_view expect, const json::value& got) {
    Error(Cat({"expected ", expect, ", got ", KindName(got)}));
  }

  template <size_t N, typename OnField>
  void Walk(const json::object& o, const std::array<Field, N>& fields, OnField&& on_field);

  const json::object* Object(const json::value& v, std::string_view expect) {
    if (!v.is_object()) {
      Expected(expect, v);
      return nullptr;
    }
    const json::object& o = v.get_object();
    // Boost.JSON keeps the last of repeated member names; another parser
    // may keep the first, so the record would read differently to different
    // readers. The parser sizes an object for every member it read, so a
    // freshly parsed object with room to spare had a name twice (Boost 1.81;
    // ParseEventBatchRejectsRepeatedMemberNames guards the assumption).
    if (fresh_parse_ && o.capacity() > o.size()) {
      Error("a member name appears more than once in this object; send each member once");
    }
    return &o;
  }
  const json::string* String(const json::value& v, std::string_view expect) {
    if (v.is_string()) return &v.get_string();
    Expected(expect, v);
    return nullptr;
  }

  bool Id(const json::value& v, size_t max_bytes, std::string_view expect, std::string* out);
  bool OptionalId(const json::value& v, std::optional<std::string>* out);
  bool Country(const json::value& v, std::string* out);
  bool Count(const json::value& v, int64_t* out);
  template <size_t N>
  int OneOf(const json::value& v, const std::array<std::string_view, N>& names,
            std::string_view what, std::string_view expect);

  void ParseTime(const json::value& v, Event* e);
  void ParseActor(const json::value& v, Actor* out);
  void ParseTarget(const json::value& v, Target* out);
  void ParseData(const json::value& v, Event* e);
  void ParseCategories(const json::value& v, std::vector<std::string>* out);
  void ParseSubjects(const json::value& v, Event* e);
  void ParseJurisdictions(const json::value& v, std::map<std::string, int64_t>* out);
  void ParseSubjectIds(const json::value& v, std::vector<std::string>* out);
  void ParseOrigin(const json::value& v, std::optional<Origin>* out);
  void ParseContext(const json::value& v, Context* out);
  void ParseAttributes(const json::value& v, std::map<std::string, std::string>* out);

  std::string_view pointer_prefix_;
  std::string_view message_prefix_;
  std::array<Token, 8> path_;
  size_t depth_ = 0;
  std::vector<FieldError>* errors_;
  size_t max_errors_;
  bool fresh_parse_ = false;
  bool failed_ = false;
  bool dropped_ = false;
};

template <size_t N, typename OnField>
void Validator::Walk(const json::object& o, const std::array<Field, N>& fields,
                     OnField&& on_field) {
  static_assert(N <= 32);
  uint32_t seen = 0;
  for (const json::key_value_pair& kv : o) {
    const std::string_view key = View(kv.key());
    size_t i = 0;
    while (i < N && fields[i].name != key) ++i;
    Scope scope(this, key);
    if (i == N) {
      std::string allowed;
      for (size_t j = 0; j < N; ++j) {
        if (j) allowed += ", ";
        allowed += fields[j].name;
      }
      Error(Cat({"unknown field; allowed: ", allowed}));
      continue;
    }
    seen |= uint32_t{1} << i;
    if (kv.value().is_null() && !fields[i].required) continue;  // null == absent
    on_field(i, kv.value());
  }
  for (size_t i = 0; i < N; ++i) {
    if (fields[i].required && !(seen & (uint32_t{1} << i))) {
      Scope scope(this, fields[i].name);
      Error(Cat({"required field is missing; expected ", fields[i].expect}));
    }
  }
}

bool Validator::Id(const json::value& v, size_t max_bytes, std::string_view expect,
                   std::string* out) {
  const json::string* s = String(v, expect);
  if (s == nullptr) return false;
  const std::string_view sv = View(*s);
  if (sv.empty()) {
    Error(Cat({"empty string; expected ", expect}));
    return false;
  }
  if (sv.size() > max_bytes) {
    Error(Cat({"string of ", Num(sv.size()), " bytes is too long; expected ", expect}));
    return false;
  }
  if (!IsValidUtf8(sv)) {
    Error("string is not valid UTF-8");
    return false;
  }
  if (HasControl(sv)) {
    Error("string contains a control character (U+0000..U+001F or U+007F); identifiers must not");
    return false;
  }
  out->assign(sv);
  return true;
}

bool Validator::OptionalId(const json::value& v, std::optional<std::string>* out) {
  std::string s;
  if (!Id(v, kMaxIdBytes, kExpId, &s)) return false;
  *out = std::move(s);
  return true;
}

bool Validator::Country(const json::value& v, std::string* out) {
  const json::string* s = String(v, kExpCountry);
  if (s == nullptr) return false;
  const std::string_view sv = View(*s);
  if (!IsCountryCode(sv)) {
    const std::string_view hint = CountryCodeHint(sv);
    const std::string did_you_mean =
        hint.empty() ? std::string() : Cat({" (did you mean \"", hint, "\"?)"});
    Error(Cat({Quote(sv), " is not a country code; expected ", kExpCountry, did_you_mean}));
    return false;
  }
  *out = UpperCopy(sv);
  return true;
}

bool Validator::Count(const json::value& v, int64_t* out) {
  switch (v.kind()) {
    case json::kind::int64: {
      const int64_t n = v.get_int64();
      if (n < 0) {
        Error(Cat({"negative number ", std::to_string(n), "; expected ", kExpCount}));
        return false;
      }
      if (n > kMaxSafeInteger) {
        Error(Cat({std::to_string(n), " is too large; expected ", kExpCount}));
        return false;
      }
      *out = n;
      return true;
    }
    case json::kind::uint64:
      Error(Cat({Num(v.get_uint64()), " is too large; expected ", kExpCount}));
      return false;
    case json::kind::double_:
      // Integers beyond 64 bits parse as doubles too: say what is wrong with them.
      if (std::fabs(v.get_double()) > static_cast<double>(kMaxSafeInteger)) {
        Error(Cat({"number too large; expected ", kExpCount}));
        return false;
      }
      Error(Cat({"number with a fraction or exponent (such as 1.5, 1.0 or 1e3); expected ",
                 kExpCount, ", written without either"}));
      return false;
    default:
      Expected(kExpCount, v);
      return false;
  }
}

template <size_t N>
int Validator::OneOf(const json::value& v, const std::array<std::string_view, N>& names,
                     std::string_view what, std::string_view expect) {
  const json::string* s = String(v, expect);
  if (s == nullptr) return -1;
  const int i = IndexOf(names, View(*s));
  if (i < 0) Error(Cat({"unknown ", what, " ", Quote(View(*s)), "; expected ", expect}));
  return i;
}

void Validator::ParseTime(const json::value& v, Event* e) {
  const json::string* s = String(v, kExpTime);
  if (s == nullptr) return;
  const std::string_view sv = View(*s);
  if (sv.size() > 64 || !IsAscii(sv)) {
    Error(Cat({Quote(sv), " is not an RFC 3339 date-time; expected ", kExpTime}));
    return;
  }
  Result<TimePoint> t = ParseRfc3339(sv);
  if (!t.ok()) {
    Error(t.status().message());
    return;
  }
  e->time = *t;
  e->time_text.assign(sv);
}

void Validator::ParseActor(const json::value& v, Actor* out) {
  const json::object* o = Object(v, kExpActor);
  if (o == nullptr) return;
  Walk(*o, kActorFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kActorType:
        if (int t = OneOf(f, kActorTypes, "actor type", kExpActorType); t >= 0) {
          out->type.assign(kActorTypes[t]);
        }
        break;
      case kActorId:
        Id(f, kMaxIdBytes, kExpId, &out->id);
        break;
      case kActorCountry:
        Country(f, &out->country);
        break;
      case kActorEntity:
        OptionalId(f, &out->entity);
        break;
    }
  });
}

void Validator::ParseTarget(const json::value& v, Target* out) {
  const json::object* o = Object(v, kExpTarget);
  if (o == nullptr) return;
  Walk(*o, kTargetFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kTargetSystem:
        Id(f, kMaxIdBytes, kExpId, &out->system);
        break;
      case kTargetType:
        if (int t = OneOf(f, kTargetTypes, "target type", kExpTargetType); t >= 0) {
          out->type.assign(kTargetTypes[t]);
        }
        break;
      case kTargetId:
        OptionalId(f, &out->id);
        break;
      case kTargetCountry:
        Country(f, &out->country);
        break;
      case kTargetAudience: {
        int64_t n;
        if (Count(f, &n)) out->audience_size = n;
        break;
      }
    }
  });
}

void Validator::ParseData(const json::value& v, Event* e) {
  const json::object* o = Object(v, kExpData);
  if (o == nullptr) return;
  Walk(*o, kDataFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kDataCategories:
        ParseCategories(f, &e->categories);
        break;
      case kDataRecordCount:
        Count(f, &e->record_count);
        break;
    }
  });
}

void Validator::ParseCategories(const json::value& v, std::vector<std::string>* out) {
  if (!v.is_array()) {
    Expected(kExpCategories, v);
    return;
  }
  const json::array& a = v.get_array();
  if (a.empty()) {
    Error(Cat({"empty array; expected ", kExpCategories}));
    return;
  }
  if (a.size() > kMaxCategories) {
    Error(Cat({Num(a.size()), " categories; at most ", Num(kMaxCategories), " are allowed"}));
    return;
  }
  out->reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    Scope scope(this, i);
    const json::string* s = String(a[i], "a category name such as \"contact.email\"");
    if (s == nullptr) continue;
    const std::string_view c = View(*s);
    if (!CategoryShapeOk(c)) {
      Error(Cat({Quote(c),
                 " is not a category name; expected a dotted lower-case name such as "
                 "\"gov_id.passport\" (segments of a-z, 0-9 and _ joined by '.', at most ",
                 Num(kMaxCategoryBytes), " bytes)"}));
      continue;
    }
    if (IndexOf(kCategoryPrefixes, FirstSegment(c)) < 0) {
      Error(Cat({"unknown category ", Quote(c), "; a category is one of, or starts with one of: ",
                 Join(kCategoryPrefixes, ", ")}));
      continue;
    }
    out->emplace_back(c);
  }
}

void Validator::ParseSubjects(const json::value& v, Event* e) {
  const json::object* o = Object(v, kExpSubjects);
  if (o == nullptr) return;
  bool count_ok = false;
  Walk(*o, kSubjectsFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kSubjectsCount:
        count_ok = Count(f, &e->subject_count);
        break;
      case kSubjectsJurisdictions:
        ParseJurisdictions(f, &e->jurisdictions);
        break;
      case kSubjectsIds:
        ParseSubjectIds(f, &e->subject_ids);
        break;
    }
  });
  // The parts cannot exceed the whole: policy windows and jurisdiction
  // rules count these numbers, and contradicting ones would be evidence
  // that says two things. (The jurisdictions may add up to more than count:
  // one subject can be under several, a resident of one country and a
  // citizen of another.)
  if (!count_ok) return;
  for (const auto& [country, n] : e->jurisdictions) {
    if (n > e->subject_count) {
      Scope scope(this, "jurisdictions");
      Scope member(this, country);
      Error(Cat({std::to_string(n), " subjects in ", country, " but count is ",
                 std::to_string(e->subject_count),
                 "; no jurisdiction can have more subjects than the event has"}));
    }
  }
  if (static_cast<int64_t>(e->subject_ids.size()) > e->subject_count) {
    Scope scope(this, "ids");
    Error(Cat({Num(e->subject_ids.size()), " subject ids but count is ",
               std::to_string(e->subject_count), "; count must be at least the number of ids"}));
  }
}

void Validator::ParseJurisdictions(const json::value& v, std::map<std::string, int64_t>* out) {
  const json::object* o = Object(v, kExpJurisdictions);
  if (o == nullptr) return;
  for (const json::key_value_pair& kv : *o) {
    const std::string_view key = View(kv.key());
    Scope scope(this, key);
    const bool key_ok = IsCountryCode(key);
    if (!key_ok) {
      Error(Cat(
          {Quote(key), " is not a country code; expected jurisdictions keyed by ", kExpCountry}));
    }
    int64_t n;
    if (!Count(kv.value(), &n) || !key_ok) continue;
    if (!out->emplace(UpperCopy(key), n).second) {
      Error(Cat({"duplicate jurisdiction ", Quote(UpperCopy(key)),
                 " (country codes are case-insensitive); expected each country once"}));
    }
  }
}

void Validator::ParseSubjectIds(const json::value& v, std::vector<std::string>* out) {
  if (!v.is_array()) {
    Expected(kExpSubjectIds, v);
    return;
  }
  const json::array& a = v.get_array();
  if (a.size() > kMaxSubjectIds) {
    Error(Cat({Num(a.size()), " subject ids; at most ", Num(kMaxSubjectIds),
               " are allowed per event (split the access into several events)"}));
    return;
  }
  out->reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    Scope scope(this, i);
    std::string id;
    if (Id(a[i], kMaxIdBytes, kExpSubjectId, &id)) out->push_back(std::move(id));
  }
}

void Validator::ParseOrigin(const json::value& v, std::optional<Origin>* out) {
  const json::object* o = Object(v, kExpOrigin);
  if (o == nullptr) return;
  Origin origin;
  Walk(*o, kOriginFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kOriginSystem:
        Id(f, kMaxIdBytes, kExpId, &origin.system);
        break;
      case kOriginCountry:
        Country(f, &origin.country);
        break;
    }
  });
  *out = std::move(origin);
}

void Validator::ParseContext(const json::value& v, Context* out) {
  const json::object* o = Object(v, kExpContext);
  if (o == nullptr) return;
  Walk(*o, kContextFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kContextPurpose:
        OptionalId(f, &out->purpose);
        break;
      case kContextApprovalId:
        OptionalId(f, &out->approval_id);
        break;
      case kContextCorrelationId:
        OptionalId(f, &out->correlation_id);
        break;
    }
  });
}

void Validator::ParseAttributes(const json::value& v, std::map<std::string, std::string>* out) {
  const json::object* o = Object(v, kExpAttributes);
  if (o == nullptr) return;
  if (o->size() > kMaxAttributes) {
    Error(Cat({Num(o->size()), " attributes; at most ", Num(kMaxAttributes), " are allowed"}));
    return;
  }
  for (const json::key_value_pair& kv : *o) {
    const std::string_view key = View(kv.key());
    Scope scope(this, key);
    bool ok = true;
    if (key.empty()) {
      Error(Cat(
          {"empty attribute name; expected names of 1 to ", Num(kMaxAttributeKeyBytes), " bytes"}));
      ok = false;
    } else if (key.size() > kMaxAttributeKeyBytes) {
      Error(Cat({"attribute name of ", Num(key.size()), " bytes is too long; at most ",
                 Num(kMaxAttributeKeyBytes), " bytes are allowed"}));
      ok = false;
    } else if (!IsValidUtf8(key) || HasControl(key)) {
      Error("attribute name is not valid UTF-8 or contains a control character");
      ok = false;
    }
    const json::string* s =
        String(kv.value(), "a string (attribute values are strings; send numbers as text)");
    if (s == nullptr) continue;
    const std::string_view value = View(*s);
    if (value.size() > kMaxAttributeValueBytes) {
      Error(Cat({"attribute value of ", Num(value.size()), " bytes is too long; at most ",
                 Num(kMaxAttributeValueBytes), " bytes are allowed"}));
      continue;
    }
    if (!IsValidUtf8(value)) {
      Error("string is not valid UTF-8");
      continue;
    }
    if (ok) out->emplace(key, value);
  }
}

bool Validator::Run(const json::value& v, Event* out) {
  const json::object* o = Object(v, "an event object");
  if (o == nullptr) return false;
  Event& e = *out;
  Walk(*o, kEventFields, [&](size_t i, const json::value& f) {
    switch (i) {
      case kEventId:
        Id(f, kMaxEventIdBytes, kExpEventId, &e.event_id);
        break;
      case kTime:
        ParseTime(f, &e);
        break;
      case kActivity:
        if (int a = OneOf(f, kActivityNames, "activity", kExpActivity); a >= 0) {
          e.activity = static_cast<Activity>(a);
        }
        break;
      case kActor:
        ParseActor(f, &e.actor);
        break;
      case kTarget:
        ParseTarget(f, &e.target);
        break;
      case kData:
        ParseData(f, &e);
        break;
      case kSubjects:
        ParseSubjects(f, &e);
        break;
      case kOrigin:
        ParseOrigin(f, &e.origin);
        break;
      case kOutcome:
        if (int x = OneOf(f, kOutcomeNames, "outcome", kExpOutcome); x >= 0) {
          e.outcome = static_cast<Outcome>(x);
        }
        break;
      case kContext:
        ParseContext(f, &e.context);
        break;
      case kAttributes:
        ParseAttributes(f, &e.attributes);
        break;
    }
  });
  if (failed_) return false;
  std::sort(e.categories.begin(), e.categories.end());
  e.categories.erase(std::unique(e.categories.begin(), e.categories.end()), e.categories.end());
  return true;
}

// ---------------------------------------------------------------------------
// Batches.

constexpr std::string_view kBatchShapes =
    "an event object, a JSON array of event objects, or NDJSON (one event object per line, "
    "Content-Type application/x-ndjson)";

// `ndjson_line`: the error is in one line of an NDJSON body.
std::string JsonSyntaxError(size_t consumed, const boost::system::error_code& ec,
                            bool ndjson_line) {
  std::string msg = Cat({"invalid JSON at byte ", Num(consumed), ndjson_line ? " of the line" : "",
                         ": ", ec.message()});
  if (ec == json::error::extra_data && !ndjson_line) {
    msg +=
        " (to send several events, send a JSON array of them, or NDJSON with Content-Type "
        "application/x-ndjson)";
  }
  return msg;
}

// Validates `v` as one event of the batch, appending it to out->events or
// its errors to out->errors. True when an error was left out (the cap).
bool AddEvent(const json::value& v, std::string_view pointer_prefix,
              std::string_view message_prefix, ParsedBatch* out) {
  Validator validator(pointer_prefix, message_prefix, &out->errors, kMaxBatchErrors);
  validator.set_fresh_parse();
  Event& e = out->events.emplace_back();  // parsed in place: events are large
  if (!validator.Run(v, &e) || !out->errors.empty()) out->events.pop_back();
  return validator.dropped();
}

std::string IndexPointer(size_t i) { return Cat({"/", Num(i)}); }

}  // namespace

// ---------------------------------------------------------------------------

std::string_view ActivityName(Activity a) {
  const auto i = static_cast<size_t>(a);
  return i < kActivityNames.size() ? kActivityNames[i] : std::string_view("unknown");
}

std::optional<Activity> ParseActivity(std::string_view name) {
  const int i = IndexOf(kActivityNames, name);
  if (i < 0) return std::nullopt;
  return static_cast<Activity>(i);
}

std::string_view OutcomeName(Outcome o) {
  const auto i = static_cast<size_t>(o);
  return i < kOutcomeNames.size() ? kOutcomeNames[i] : std::string_view("unknown");
}

std::optional<Outcome> ParseOutcome(std::string_view name) {
  const int i = IndexOf(kOutcomeNames, name);
  if (i < 0) return std::nullopt;
  return static_cast<Outcome>(i);
}

namespace {

// ISO 3166-1 alpha-2, the officially assigned codes (249), and XK; sorted.
constexpr std::string_view kCountryCodes[] = {
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "XK", "YE", "YT", "ZA", "ZM", "ZW",
};

}  // namespace

bool IsCountryCode(std::string_view s) {
  if (s.size() != 2) return false;
  const char upper[2] = {static_cast<char>(std::toupper(static_cast<unsigned char>(s[0]))),
                         static_cast<char>(std::toupper(static_cast<unsigned char>(s[1])))};
  return std::binary_search(std::begin(kCountryCodes), std::end(kCountryCodes),
                            std::string_view(upper, 2));
}

std::string_view CountryCodeHint(std::string_view s) {
  if (s.size() != 2) return {};
  const std::string upper = UpperCopy(s);
  if (upper == "UK") return "GB";
  if (upper == "EL") return "GR";
  return {};
}

std::optional<Event> ParseEvent(const boost::json::value& json, std::vector<FieldError>* errors) {
  std::vector<FieldError> local;
  Validator validator("", "", errors != nullptr ? errors : &local, SIZE_MAX);
  std::optional<Event> e(std::in_place);
  if (!validator.Run(json, &*e)) e.reset();
  return e;
}

ParsedBatch ParseEventBatch(std::string_view body, bool ndjson, size_t max_events) {
  ParsedBatch out;
  max_events = std::max<size_t>(max_events, 1);
  auto whole_body_error = [&out](std::string message) {
    out.events.clear();
    out.errors.push_back({"", std::move(message)});
  };
  if (IsBlank(body)) {
    whole_body_error(Cat({"empty body; expected ", kBatchShapes}));
    out.malformed = !ndjson;
    return out;
  }
  // Every parsed value lives in one arena freed on return: no per-node
  // allocation, no per-node free.
  json::monotonic_resource arena(body.size() * 2 + 1024);
  const json::storage_ptr sp(&arena);
  json::parser parser;
  boost::system::error_code ec;
  bool truncated = false;  // errors were left out, or events left unchecked

  if (!ndjson) {
    parser.reset(sp);
    const size_t consumed = parser.write(body.data(), body.size(), ec);
    if (ec) {
      whole_body_error(JsonSyntaxError(consumed, ec, false));
      out.malformed = true;
      return out;
    }
    const json::value v = parser.release();
    if (v.is_object()) {
      out.events.reserve(1);
      truncated = AddEvent(v, "", "", &out);
    } else if (v.is_array()) {
      const json::array& a = v.get_array();
      if (a.empty()) {
        whole_body_error("empty array; expected at least one event object");
        return out;
      }
      if (a.size() > max_events) {
        whole_body_error(Cat({Num(a.size()), " events in one request; at most ", Num(max_events),
                              " are allowed (split the batch)"}));
        return out;
      }
      out.events.reserve(a.size());
      for (size_t i = 0; i < a.size() && !truncated; ++i) {
        if (out.errors.size() >= kMaxBatchErrors) {
          truncated = true;
          break;
        }
        truncated = AddEvent(a[i], IndexPointer(i), "", &out);
      }
    } else {
      whole_body_error(Cat({"expected ", kBatchShapes, "; got ", KindName(v)}));
      return out;
    }
  } else {
    struct Line {
      size_t index;
      std::string_view text;
    };
    std::vector<Line> lines;
    size_t index = 0;
    for (size_t pos = 0; pos <= body.size(); ++index) {
      size_t end = body.find('\n', pos);
      if (end == std::string_view::npos) end = body.size();
      std::string_view text = body.substr(pos, end - pos);
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      if (!IsBlank(text)) {
        if (lines.size() == max_events) {
          whole_body_error(
              Cat({"more than ", Num(max_events), " events (lines) in one request; at most ",
                   Num(max_events), " are allowed (split the batch)"}));
          return out;
        }
        lines.push_back({index, text});
      }
      pos = end + 1;
    }
    if (lines.empty()) {
      whole_body_error("no events: every line is blank; expected one event object per line");
      return out;
    }
    out.events.reserve(lines.size());
    for (const Line& line : lines) {
      if (out.errors.size() >= kMaxBatchErrors) {
        truncated = true;
        break;
      }
      const std::string pointer = IndexPointer(line.index);
      const std::string message_prefix = Cat({"line ", Num(line.index + 1), ": "});
      parser.reset(sp);
      const size_t consumed = parser.write(line.text.data(), line.text.size(), ec);
      if (ec) {
        out.errors.push_back({pointer, Cat({message_prefix, JsonSyntaxError(consumed, ec, true)})});
        continue;
      }
      if (AddEvent(parser.release(), pointer, message_prefix, &out)) {
        truncated = true;
        break;
      }
    }
  }
  if (!out.errors.empty()) {
    out.events.clear();
    if (truncated) {
      out.errors.push_back({"", Cat({"too many errors: only the first ", Num(kMaxBatchErrors),
                                     " are listed, and the body may hold more"})});
    }
  }
  return out;
}

// ---------------------------------------------------------------------------

boost::json::object NormalizedBody(const Event& e, boost::json::storage_ptr sp) {
  json::object body(sp);
  body.reserve(12);
  body.emplace("event_id", json::string_view(e.event_id));
  body.emplace("time", json::string_view(FormatRfc3339(e.time)));
  body.emplace("activity", json::string_view(ActivityName(e.activity)));

  json::object actor(sp);
  actor.reserve(4);
  actor.emplace("type", json::string_view(e.actor.type));
  actor.emplace("id", json::string_view(e.actor.id));
  actor.emplace("country", json::string_view(UpperCopy(e.actor.country)));
  if (e.actor.entity) actor.emplace("entity", json::string_view(*e.actor.entity));
  body.emplace("actor", std::move(actor));

  json::object target(sp);
  target.reserve(5);
  target.emplace("system", json::string_view(e.target.system));
  target.emplace("type", json::string_view(e.target.type));
  if (e.target.id) target.emplace("id", json::string_view(*e.target.id));
  target.emplace("country", json::string_view(UpperCopy(e.target.country)));
  if (e.target.audience_size) target.emplace("audience_size", *e.target.audience_size);
  body.emplace("target", std::move(target));

  std::vector<std::string_view> categories(e.categories.begin(), e.categories.end());
  if (!std::is_sorted(categories.begin(), categories.end())) {
    std::sort(categories.begin(), categories.end());
  }
  categories.erase(std::unique(categories.begin(), categories.end()), categories.end());
  json::array cats(sp);
  cats.reserve(categories.size());
  for (std::string_view c : categories) cats.emplace_back(json::string_view(c));
  json::object data(sp);
  data.reserve(2);
  data.emplace("categories", std::move(cats));
  data.emplace("record_count", e.record_count);
  body.emplace("data", std::move(data));

  json::object jurisdictions(sp);
  jurisdictions.reserve(e.jurisdictions.size());
  for (const auto& [country, n] : e.jurisdictions) {
    jurisdictions[json::string_view(UpperCopy(country))] = n;
  }
  json::array refs(sp);
  refs.reserve(e.subject_refs.size());
  for (const std::string& r : e.subject_refs) refs.emplace_back(json::string_view(r));
  json::object subjects(sp);
  subjects.reserve(3);
  subjects.emplace("count", e.subject_count);
  subjects.emplace("jurisdictions", std::move(jurisdictions));
  subjects.emplace("refs", std::move(refs));
  body.emplace("subjects", std::move(subjects));

  if (e.origin) {
    json::object origin(sp);
    origin.reserve(2);
    origin.emplace("system", json::string_view(e.origin->system));
    origin.emplace("country", json::string_view(UpperCopy(e.origin->country)));
    body.emplace("origin", std::move(origin));
  }
  body.emplace("outcome", json::string_view(OutcomeName(e.outcome)));

  const Context& c = e.context;
  if (c.purpose || c.approval_id || c.correlation_id) {
    json::object context(sp);
    context.reserve(3);
    if (c.purpose) context.emplace("purpose", json::string_view(*c.purpose));
    if (c.approval_id) context.emplace("approval_id", json::string_view(*c.approval_id));
    if (c.correlation_id) context.emplace("correlation_id", json::string_view(*c.correlation_id));
    body.emplace("context", std::move(context));
  }
  if (!e.attributes.empty()) {
    json::object attributes(sp);
    attributes.reserve(e.attributes.size());
    for (const auto& [k, v] : e.attributes) {
      attributes.emplace(json::string_view(k), json::string_view(v));
    }
    body.emplace("attributes", std::move(attributes));
  }
  return body;
}

// ---------------------------------------------------------------------------
// The canonical body, written directly.

namespace {

// Writes the members of NormalizedBody in RFC 8785 order (every fixed member
// name is ASCII, so byte order is UTF-16 order). Anything CanonicalJson would
// reject sets `ok_ = false`; the caller then takes the slow path for its
// error message, so both paths fail alike.
class BodyWriter {
 public:
  explicit BodyWriter(std::string* out) : out_(out) {}
  bool ok() const { return ok_; }

  void Write(const Event& e) {
    Raw("{\"activity\":");
    Str(ActivityName(e.activity));
    Raw(",\"actor\":{\"country\":");
    Country(e.actor.country);
    if (e.actor.entity) {
      Raw(",\"entity\":");
      Str(*e.actor.entity);
    }
    Raw(",\"id\":");
    Str(e.actor.id);
    Raw(",\"type\":");
    Str(e.actor.type);
    Raw("}");
    if (!e.attributes.empty()) Attributes(e.attributes);
    const Context& c = e.context;
    if (c.purpose || c.approval_id || c.correlation_id) {
      char sep = '{';
      Raw(",\"context\":");
      if (c.approval_id) Member(&sep, "\"approval_id\":", *c.approval_id);
      if (c.correlation_id) Member(&sep, "\"correlation_id\":", *c.correlation_id);
      if (c.purpose) Member(&sep, "\"purpose\":", *c.purpose);
      Raw("}");
    }
    Raw(",\"data\":{\"categories\":");
    Categories(e.categories);
    Raw(",\"record_count\":");
    Int(e.record_count);
    Raw("},\"event_id\":");
    Str(e.event_id);
    if (e.origin) {
      Raw(",\"origin\":{\"country\":");
      Country(e.origin->country);
      Raw(",\"system\":");
      Str(e.origin->system);
      Raw("}");
    }
    Raw(",\"outcome\":");
    Str(OutcomeName(e.outcome));
    Raw(",\"subjects\":{\"count\":");
    Int(e.subject_count);
    Raw(",\"jurisdictions\":");
    Jurisdictions(e.jurisdictions);
    Raw(",\"refs\":[");
    for (size_t i = 0; i < e.subject_refs.size(); ++i) {
      if (i) Raw(",");
      Str(e.subject_refs[i]);
    }
    Raw("]},\"target\":{");
    char sep = '{';
    if (e.target.audience_size) {
      Raw("\"audience_size\":");
      Int(*e.target.audience_size);
      sep = ',';
    }
    if (sep == ',') Raw(",");
    Raw("\"country\":");
    Country(e.target.country);
    if (e.target.id) {
      Raw(",\"id\":");
      Str(*e.target.id);
    }
    Raw(",\"system\":");
    Str(e.target.system);
    Raw(",\"type\":");
    Str(e.target.type);
    Raw("},\"time\":");
    Time(e.time);
    Raw("}");
  }

 private:
  void Raw(std::string_view s) { out_->append(s); }

  void Str(std::string_view s) {
    if (!IsValidUtf8(s)) ok_ = false;
    AppendJsonString(s, out_);
  }

  void Country(std::string_view s) {
    if (std::all_of(s.begin(), s.end(), [](char c) { return c < 'a' || c > 'z'; })) return Str(s);
    Str(UpperCopy(s));
  }

  void Int(int64_t n) {
    if (n > kMaxSafeInteger || n < -kMaxSafeInteger) ok_ = false;
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out_->append(buf, r.ptr);
  }

  void Member(char* sep, std::string_view name, std::string_view value) {
    out_->push_back(*sep);
    *sep = ',';
    Raw(name);
    Str(value);
  }

  void Time(TimePoint t) {
    // FormatRfc3339 is ASCII: no UTF-8 check needed.
    out_->push_back('"');
    out_->append(FormatRfc3339(t));
    out_->push_back('"');
  }

  void Categories(const std::vector<std::string>& categories) {
    // As NormalizedBody: sorted and de-duplicated (ParseEvent already did).
    auto write = [&](auto first, auto last) {
      out_->push_back('[');
      for (auto it = first; it != last; ++it) {
        if (it != first) out_->push_back(',');
        Str(*it);
      }
      out_->push_back(']');
    };
    if (std::is_sorted(categories.begin(), categories.end()) &&
        std::adjacent_find(categories.begin(), categories.end()) == categories.end()) {
      return write(categories.begin(), categories.end());
    }
    std::vector<std::string_view> sorted(categories.begin(), categories.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    write(sorted.begin(), sorted.end());
  }

  void Jurisdictions(const std::map<std::string, int64_t>& j) {
    // Keys are upper-case country codes (ParseEvent); a hand-built Event
    // whose keys upper-case onto each other takes the slow path, which
    // merges them as NormalizedBody does.
    for (const auto& [country, n] : j) {
      auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
      if (std::any_of(country.begin(), country.end(), lower)) {
        ok_ = false;
        return;
      }
    }
    std::vector<const std::pair<const std::string, int64_t>*> members;
    members.reserve(j.size());
    for (const auto& kv : j) members.push_back(&kv);
    SortByKey(&members);
    char sep = '{';
    for (const auto* kv : members) {
      out_->push_back(sep);
      sep = ',';
      Str(kv->first);
      out_->push_back(':');
      Int(kv->second);
    }
    if (sep == '{') out_->push_back('{');
    out_->push_back('}');
  }

  void Attributes(const std::map<std::string, std::string>& a) {
    std::vector<const std::pair<const std::string, std::string>*> members;
    members.reserve(a.size());
    for (const auto& kv : a) members.push_back(&kv);
    SortByKey(&members);
    Raw(",\"attributes\":");
    char sep = '{';
    for (const auto* kv : members) {
      out_->push_back(sep);
      sep = ',';
      Str(kv->first);
      out_->push_back(':');
      Str(kv->second);
    }
    out_->push_back('}');
  }

  // std::map orders keys by bytes; RFC 8785 by UTF-16 code units. They agree
  // unless a key holds characters at or above U+E000.
  template <typename Ptr>
  static void SortByKey(std::vector<Ptr>* members) {
    std::stable_sort(members->begin(), members->end(),
                     [](Ptr a, Ptr b) { return JsonKeyLess(a->first, b->first); });
  }

  std::string* out_;
  bool ok_ = true;
};

}  // namespace

Status AppendNormalizedBodyJson(const Event& e, std::string* out) {
  const size_t mark = out->size();
  BodyWriter writer(out);
  writer.Write(e);
  if (writer.ok()) return Status::Ok();
  out->resize(mark);
  return AppendCanonicalJson(NormalizedBody(e), out);
}

// ---------------------------------------------------------------------------

bool IsKnownCategory(std::string_view c) {
  return CategoryShapeOk(c) && IndexOf(kCategoryPrefixes, FirstSegment(c)) >= 0;
}

bool IsPersonalCategory(std::string_view c) {
  return IndexOf(kPersonalPrefixes, FirstSegment(c)) >= 0;
}

bool IsSensitiveCategory(std::string_view c) {
  return IndexOf(kSensitivePrefixes, FirstSegment(c)) >= 0 || IsSelfOrUnder(c, "location.precise");
}

bool CategoryMatches(std::string_view pattern, std::string_view category) {
  if (pattern == "*") return true;
  if (pattern.size() > 2 && pattern.ends_with(".*")) {
    return IsSelfOrUnder(category, pattern.substr(0, pattern.size() - 2));
  }
  return pattern == category;
}

bool IsValidCategoryPattern(std::string_view pattern) {
  if (pattern == "*") return true;
  if (pattern.ends_with(".*")) pattern.remove_suffix(2);
  return IsKnownCategory(pattern);
}

}  // namespace custody::schema
