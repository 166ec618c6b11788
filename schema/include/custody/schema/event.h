// The access event: what a producer tells custody each time it touches
// personal data (DESIGN.md, "Event (producer JSON, schema v1)").
//
// This header is the event model's contract:
//   - ParseEvent / ParseEventBatch turn producer JSON into Events, or into a
//     list of FieldErrors (RFC 6901 JSON pointer + message), one per problem,
//     which the daemon returns as an RFC 9457 problem's `errors[]`;
//   - NormalizedBody turns an Event into the `body` stored in the ledger;
//   - the category helpers define the category vocabulary and the matching
//     rules the policy engine and approvals use (shared/scenarios/README.md).
//
// Producer JSON, schema v1 (`?` = optional):
//   {
//     "event_id":   string, 1..128 bytes, no control characters
//     "time":       RFC 3339 date-time, any offset ("2026-05-04T09:00:00Z")
//     "activity":   read|query|list|export|download|print|post|share|transfer|write|delete
//     "actor":      {"type": human|service, "id": id, "country": CC, "entity"?: id}
//     "target":     {"system": id, "type": database|table|bucket|file|api|chat_channel|
//                    export_file|external_recipient, "id"?: id, "country": CC,
//                    "audience_size"?: count}
//     "data":       {"categories": [category, ...] (1..64), "record_count": count}
//     "subjects":   {"count": count, "jurisdictions": {CC: count, ...},
//                    "ids"?: [subject id, ...] (0..10000)}
//     "origin"?:    {"system": id, "country": CC}
//     "outcome"?:   allowed|denied|error            (absent => allowed)
//     "context"?:   {"purpose"?: id, "approval_id"?: id, "correlation_id"?: id}
//     "attributes"?: {string: string, ...}           (0..64 entries)
//   }
// where
//   id         = a string of 1..256 bytes without control characters (U+0000..U+001F, U+007F);
//   subject id = the same (the raw id the daemon pseudonymises; never stored);
//   CC         = exactly two ASCII letters (ISO 3166-1 alpha-2 shape, e.g. "US");
//                lower case is accepted and upper-cased. Only the shape is
//                checked, not membership in the ISO list ("EU", "XX" pass);
//   count      = an integer 0..2^53-1 (kMaxSafeInteger). 1.0, 1e3, -1 and
//                2^53 are rejected: the ledger's canonical JSON holds only
//                integers every JSON reader reads exactly;
//   category   = dotted lower-case name, segments of [a-z0-9_]+ joined by '.',
//                at most 128 bytes, whose first segment is a known prefix
//                (kCategoryPrefixes), e.g. "gov_id.drivers_license", "financial".
//   attributes = keys 1..128 bytes without control characters; values 0..1024
//                bytes, any text.
// Unknown fields at any level are errors ("unknown field; allowed: ..."),
// never dropped silently. A member name repeated in one object keeps its last
// value (boost::json's parser; the ledger stores the normalised body, so the
// stored event is never ambiguous). An optional field given as JSON null is
// treated as absent (producers in many languages serialise "no value" as
// null); a required field given as null is a type error. Nothing else is inferred:
// subjects.count is not checked against the jurisdiction counts or the ids
// (a subject may have several jurisdictions, and ids may be a sample).
//
// Thread safety: every function here is pure (no shared state); Event and
// FieldError are plain values. Call from any number of threads.
// No function throws (boost::json allocation failure aside, which custody
// treats as fatal like any other std::bad_alloc).
#ifndef CUSTODY_SCHEMA_EVENT_H_
#define CUSTODY_SCHEMA_EVENT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include "custody/schema/clock.h"

namespace custody::schema {

// ---------------------------------------------------------------------------
// Limits. Part of the producer contract: raising one is compatible, lowering
// one is not.

inline constexpr size_t kMaxEventIdBytes = 128;
inline constexpr size_t kMaxIdBytes = 256;    // actor.id, target.system, subject ids, context ...
inline constexpr size_t kMaxCategories = 64;  // per event, before de-duplication
inline constexpr size_t kMaxCategoryBytes = 128;
inline constexpr size_t kMaxSubjectIds = 10000;  // per event
inline constexpr size_t kMaxAttributes = 64;
inline constexpr size_t kMaxAttributeKeyBytes = 128;
inline constexpr size_t kMaxAttributeValueBytes = 1024;
// ParseEventBatch reports at most this many errors, then one last error with
// pointer "" saying that more were left out.
inline constexpr size_t kMaxBatchErrors = 100;

// ---------------------------------------------------------------------------
// Errors.

// One problem with the producer's input. `pointer` is an RFC 6901 JSON
// pointer into the request body ("/actor/country", "/3/data/categories/0";
// "" for the whole body); for a missing field it points where the field
// should be. `message` says what is wrong and what is expected, in English,
// without repeating the pointer.
struct FieldError {
  std::string pointer;
  std::string message;
  bool operator==(const FieldError&) const = default;
};

// ---------------------------------------------------------------------------
// Enumerations. Names are the JSON spellings; Parse* accept exactly those
// (case-sensitive) and return nullopt otherwise.

enum class Activity {
  kRead,
  kQuery,
  kList,
  kExport,
  kDownload,
  kPrint,
  kPost,
  kShare,
  kTransfer,
  kWrite,
  kDelete
};
enum class Outcome { kAllowed, kDenied, kError };

std::string_view ActivityName(Activity a);  // "read", "query", ...
std::optional<Activity> ParseActivity(std::string_view name);
std::string_view OutcomeName(Outcome o);  // "allowed", "denied", "error"
std::optional<Outcome> ParseOutcome(std::string_view name);

// Every activity, in declaration order (for config validation and help text).
inline constexpr std::array<Activity, 11> kAllActivities = {
    Activity::kRead,     Activity::kQuery, Activity::kList,  Activity::kExport,
    Activity::kDownload, Activity::kPrint, Activity::kPost,  Activity::kShare,
    Activity::kTransfer, Activity::kWrite, Activity::kDelete};

// Actor and target types stay strings (policy rules name them as strings);
// ParseEvent guarantees they are one of these.
inline constexpr std::array<std::string_view, 2> kActorTypes = {"human", "service"};
inline constexpr std::array<std::string_view, 8> kTargetTypes = {
    "database", "table",        "bucket",      "file",
    "api",      "chat_channel", "export_file", "external_recipient"};

// True when `s` (either case) is an officially assigned ISO 3166-1 alpha-2
// code (the 249 of the standard), or XK (Kosovo, user-assigned but what
// everyone uses). A typo such as "UK" (GB) must not be recorded as a place
// no policy knows.
bool IsCountryCode(std::string_view s);
// For a common non-ISO code, the one meant ("UK" -> "GB", "EL" -> "GR");
// empty otherwise. For error messages.
std::string_view CountryCodeHint(std::string_view s);

// ---------------------------------------------------------------------------
// The event.

struct Actor {
  std::string type;  // "human" | "service"
  std::string id;
  std::string country;                // upper case, 2 letters
  std::optional<std::string> entity;  // legal entity / subsidiary the actor works for
  bool operator==(const Actor&) const = default;
};

struct Target {
  std::string system;
  std::string type;  // one of kTargetTypes
  std::optional<std::string> id;
  std::string country;  // upper case, 2 letters
  std::optional<int64_t> audience_size;
  bool operator==(const Target&) const = default;
};

struct Origin {
  std::string system;
  std::string country;  // upper case, 2 letters
  bool operator==(const Origin&) const = default;
};

struct Context {
  std::optional<std::string> purpose;
  std::optional<std::string> approval_id;
  std::optional<std::string> correlation_id;
  bool operator==(const Context&) const = default;
};

// A validated event. ParseEvent establishes every invariant noted below; code
// that builds or edits an Event by hand is responsible for keeping them.
struct Event {
  std::string event_id;
  TimePoint time{};       // the instant `time_text` names (microseconds)
  std::string time_text;  // `time` exactly as the producer sent it
  Activity activity = Activity::kRead;
  Actor actor;
  Target target;
  // data: sorted, de-duplicated, every one IsKnownCategory.
  std::vector<std::string> categories;
  int64_t record_count = 0;  // 0..kMaxSafeInteger
  // subjects
  int64_t subject_count = 0;                     // 0..kMaxSafeInteger
  std::map<std::string, int64_t> jurisdictions;  // upper-case country -> 0..kMaxSafeInteger
  // Raw subject ids as sent. The daemon pseudonymises them into
  // `subject_refs` and must never store or log them; NormalizedBody omits them.
  std::vector<std::string> subject_ids;
  // Pseudonyms of `subject_ids` (same order), filled by the daemon; empty
  // after ParseEvent.
  std::vector<std::string> subject_refs;
  std::optional<Origin> origin;
  Outcome outcome = Outcome::kAllowed;  // absent in the JSON => kAllowed
  Context context;
  std::map<std::string, std::string> attributes;

  bool operator==(const Event&) const = default;
};

// ---------------------------------------------------------------------------
// Parsing.

// Validates one producer event (a parsed JSON value; see the grammar above).
// Returns the Event, or appends to `*errors` every problem found (not just
// the first) and returns nullopt. Errors come in document order, each
// object's missing required fields after its members; a value of the wrong
// type gets one error and its contents are not examined. Pointers are
// relative to `json` ("" is `json` itself). `errors` must not be null; it is
// appended to, never cleared. Never fails without adding an error.
std::optional<Event> ParseEvent(const boost::json::value& json, std::vector<FieldError>* errors);

struct ParsedBatch {
  std::vector<Event> events;       // in body order; empty whenever errors is not
  std::vector<FieldError> errors;  // at most kMaxBatchErrors + 1
  // The body (application/json) is not JSON at all, rather than JSON that
  // is not a valid event: HTTP's malformed-request, not invalid-event.
  bool malformed = false;
  bool ok() const { return errors.empty(); }
};

// Parses a POST /v1/events body:
//   - ndjson == false: one event object (pointers as in ParseEvent: "/actor/id"),
//     or a JSON array of event objects (pointers prefixed with the index:
//     "/2/actor/id");
//   - ndjson == true (Content-Type application/x-ndjson): one event object
//     per line, '\n' or "\r\n" separated. Whitespace-only lines (a trailing
//     newline, a blank last line) are skipped. Pointers are prefixed with the
//     0-based line index ("/4/actor/id"), and every message for a line starts
//     with its 1-based number ("line 5: ...") for humans.
// The body is all or nothing: if any event is invalid, `events` is empty and
// `errors` lists the problems of every event (up to kMaxBatchErrors). An
// empty body, a body with no events, or more than `max_events` events (>= 1)
// is one error with pointer "" (the events are then not validated); so is
// malformed JSON outside NDJSON ("invalid JSON at byte N: ..."). A
// `max_events` of 0 counts as 1. Parsed values live in a per-call arena, so
// a batch costs one allocation burst and one free, not one per JSON node.
ParsedBatch ParseEventBatch(std::string_view body, bool ndjson, size_t max_events);

// ---------------------------------------------------------------------------
// The ledger body.

// The normalised body of an `access` ledger entry: the event in the producer
// schema's shape, ready for CanonicalJson (integers only, valid UTF-8), with
//   - "time" re-formatted as RFC 3339 UTC (FormatRfc3339; `time_text` is not kept);
//   - country codes upper case, categories sorted and de-duplicated;
//   - "outcome" always present;
//   - "subjects": {"count", "jurisdictions", "refs": [subject_refs...]} --
//     "refs" always present (possibly []), raw subject ids never;
//   - absent optionals omitted (no nulls); "context" and "attributes" omitted
//     when empty.
// Deterministic: equal Events give equal objects, hence equal canonical bytes.
// `e` should be valid (as ParseEvent returns it); counts above
// kMaxSafeInteger in a hand-built Event make CanonicalJson fail later.
// The object's memory comes from `sp` (e.g. a per-batch monotonic_resource).
boost::json::object NormalizedBody(const Event& e, boost::json::storage_ptr sp = {});

// Appends CanonicalJson(NormalizedBody(e)) to `*out`: the same bytes, written
// straight from the Event without building the object (the ingest path
// canonicalises every event it accepts). Fails exactly when CanonicalJson
// would (a hand-built Event with an invalid UTF-8 string or a count beyond
// +/-kMaxSafeInteger), with its message; `*out` is then unspecified.
Status AppendNormalizedBodyJson(const Event& e, std::string* out);

// ---------------------------------------------------------------------------
// Categories.
//
// A category is a dotted lower-case name whose first segment is one of
// kCategoryPrefixes; the bare prefix ("financial", "health") is itself a
// category meaning "some data of this kind".

inline constexpr std::array<std::string_view, 11> kCategoryPrefixes = {
    "contact",  "gov_id",      "location",  "financial", "health", "biometric",
    "identity", "credentials", "telemetry", "business",  "public"};

// True when `c` has the category shape ([a-z0-9_]+ segments joined by '.',
// 1..kMaxCategoryBytes) and a known first segment.
bool IsKnownCategory(std::string_view c);

// Personal data (shared/scenarios/README.md): the category is, or is under,
// contact, gov_id, location, financial, health, biometric or identity.
// telemetry, business, public and credentials are not personal.
bool IsPersonalCategory(std::string_view c);

// Sensitive personal data: the category is, or is under, gov_id, biometric,
// health or financial; or is, or is under, location.precise ("location" and
// "location.city" are personal but not sensitive).
bool IsSensitiveCategory(std::string_view c);

// Pattern match used by policy rules and approval scopes:
//   "*"        matches every category;
//   "contact.*" matches "contact" itself and everything under "contact."
//              ("contact.email", "contact.email.work"), not "contactx";
//   otherwise  the pattern matches only the identical category.
// A '*' anywhere else has no special meaning (and so matches nothing valid).
bool CategoryMatches(std::string_view pattern, std::string_view category);

// True for a pattern CategoryMatches gives meaning to and that can match a
// known category: "*", a known category, or a known category followed by ".*".
// For validating policy files and approvals ("gov-id.*" is a typo, not a rule
// that silently never fires).
bool IsValidCategoryPattern(std::string_view pattern);

}  // namespace custody::schema

#endif  // CUSTODY_SCHEMA_EVENT_H_
