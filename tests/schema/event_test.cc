#include "custody/schema/event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include "custody/schema/json_canon.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::schema {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

// Every field, optional ones included.
constexpr std::string_view kFull = R"({
  "event_id": "evt-1",
  "time": "2026-05-04T11:00:00.25+02:00",
  "activity": "share",
  "actor": {"type": "human", "id": "emp-sg-7", "country": "sg", "entity": "acme-sg"},
  "target": {"system": "lark", "type": "chat_channel", "id": "global-ops", "country": "SG",
             "audience_size": 4200},
  "data": {"categories": ["identity.name", "gov_id.drivers_license", "identity.name"],
           "record_count": 2},
  "subjects": {"count": 2, "jurisdictions": {"us": 1, "SG": 1}, "ids": ["user:1", "user:2"]},
  "origin": {"system": "us-crm", "country": "US"},
  "outcome": "denied",
  "context": {"purpose": "support", "approval_id": "APR-1", "correlation_id": "c-9"},
  "attributes": {"ticket": "T-1", "note": "line1\nline2"}
})";

// Only the required fields.
constexpr std::string_view kMinimal = R"({
  "event_id": "evt-2", "time": "2026-05-04T09:00:00Z", "activity": "read",
  "actor": {"type": "service", "id": "svc", "country": "US"},
  "target": {"system": "db", "type": "database", "country": "US"},
  "data": {"categories": ["contact.email"], "record_count": 0},
  "subjects": {"count": 0, "jurisdictions": {}}
})";

json::value Json(std::string_view text) {
  Result<json::value> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString() << "\n" << text;
  return v.ok() ? *v : json::value();
}

std::string Dump(const std::vector<FieldError>& errors) {
  std::ostringstream out;
  for (const FieldError& e : errors) out << "  " << e.pointer << ": " << e.message << "\n";
  return out.str();
}

std::vector<std::string> Pointers(const std::vector<FieldError>& errors) {
  std::vector<std::string> out;
  for (const FieldError& e : errors) out.push_back(e.pointer);
  return out;
}

// Parses and checks the contract between the result and the error list.
std::vector<FieldError> ErrorsOf(const json::value& v) {
  std::vector<FieldError> errors;
  std::optional<Event> e = ParseEvent(v, &errors);
  EXPECT_EQ(e.has_value(), errors.empty()) << Dump(errors);
  return errors;
}

// kFull (or `base`) with the member at `pointer` (objects only, e.g.
// "/actor/country") replaced by `value` (JSON text), or removed when `value`
// is nullopt.
json::value With(std::string_view pointer, std::optional<std::string_view> value,
                 std::string_view base = kFull) {
  json::value root = Json(base);
  json::object* obj = &root.as_object();
  std::string_view rest = pointer.substr(1);
  for (size_t slash; (slash = rest.find('/')) != std::string_view::npos;
       rest = rest.substr(slash + 1)) {
    obj = &obj->at(rest.substr(0, slash)).as_object();
  }
  if (value) {
    (*obj)[rest] = Json(*value);
  } else {
    EXPECT_EQ(obj->erase(rest), 1u) << pointer;
  }
  return root;
}

// The single error that `v` produces; fails the test unless exactly one.
FieldError OnlyError(const json::value& v) {
  std::vector<FieldError> errors = ErrorsOf(v);
  EXPECT_EQ(errors.size(), 1u) << json::serialize(v) << "\n" << Dump(errors);
  return errors.empty() ? FieldError{"<none>", "<none>"} : errors[0];
}

Event ParseOk(const json::value& v) {
  std::vector<FieldError> errors;
  std::optional<Event> e = ParseEvent(v, &errors);
  EXPECT_TRUE(e.has_value()) << Dump(errors);
  return e.value_or(Event{});
}

// ---------------------------------------------------------------------------
// Valid input.

// The non-empty lines of ../shared/scenarios/events.ndjson.
std::vector<std::string> ScenarioEventLines() {
  std::istringstream in(testing::ReadFileOrDie(testing::ScenariosDir() / "events.ndjson"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(ParseEvent, AcceptsEveryScenarioEvent) {
  int n = 0;
  for (const std::string& line : ScenarioEventLines()) {
    ++n;
    std::vector<FieldError> errors;
    std::optional<Event> e = ParseEvent(Json(line), &errors);
    ASSERT_TRUE(e.has_value()) << line << "\n" << Dump(errors);
    EXPECT_THAT(e->event_id, StartsWith("pub-"));
    // Every scenario body round-trips to canonical JSON.
    EXPECT_OK(CanonicalJson(json::value(NormalizedBody(*e))));
  }
  EXPECT_EQ(n, 14);
}

TEST(ParseEvent, ScenarioEventsKeepTheirMeaning) {
  const std::string text = testing::ReadFileOrDie(testing::ScenariosDir() / "events.ndjson");
  ParsedBatch batch = ParseEventBatch(text, /*ndjson=*/true, 1000);
  ASSERT_TRUE(batch.ok()) << Dump(batch.errors);
  ASSERT_EQ(batch.events.size(), 14u);
  const Event& pub02 = batch.events[1];
  EXPECT_EQ(pub02.event_id, "pub-02");
  EXPECT_EQ(pub02.activity, Activity::kShare);
  EXPECT_EQ(pub02.target.type, "chat_channel");
  EXPECT_EQ(pub02.target.audience_size, 4200);
  EXPECT_THAT(pub02.categories, ElementsAre("gov_id.drivers_license", "identity.name"));
  EXPECT_THAT(pub02.subject_ids, ElementsAre("user:1002"));
  EXPECT_EQ(pub02.outcome, Outcome::kAllowed);
  const Event& pub04 = batch.events[3];
  EXPECT_EQ(pub04.context.purpose, "customer-support");
  EXPECT_EQ(pub04.context.approval_id, "APR-100");
  EXPECT_FALSE(pub04.context.correlation_id.has_value());
  const Event& pub08 = batch.events[7];
  EXPECT_EQ(pub08.jurisdictions, (std::map<std::string, int64_t>{{"CN", 1000000}, {"US", 0}}));
  EXPECT_EQ(pub08.record_count, 1000000);
  EXPECT_EQ(batch.events[12].outcome, Outcome::kDenied);
  EXPECT_EQ(batch.events[0].origin, (Origin{"us-crm", "US"}));
  EXPECT_FALSE(batch.events[1].origin.has_value());
}

TEST(ParseEvent, ReadsEveryField) {
  const Event e = ParseOk(Json(kFull));
  EXPECT_EQ(e.event_id, "evt-1");
  EXPECT_EQ(e.time_text, "2026-05-04T11:00:00.25+02:00");
  EXPECT_EQ(e.time, *ParseRfc3339("2026-05-04T09:00:00.250Z"));
  EXPECT_EQ(e.activity, Activity::kShare);
  EXPECT_EQ(e.actor, (Actor{"human", "emp-sg-7", "SG", "acme-sg"}));
  EXPECT_EQ(e.target, (Target{"lark", "chat_channel", "global-ops", "SG", 4200}));
  EXPECT_THAT(e.categories, ElementsAre("gov_id.drivers_license", "identity.name"));
  EXPECT_EQ(e.record_count, 2);
  EXPECT_EQ(e.subject_count, 2);
  EXPECT_EQ(e.jurisdictions, (std::map<std::string, int64_t>{{"SG", 1}, {"US", 1}}));
  EXPECT_THAT(e.subject_ids, ElementsAre("user:1", "user:2"));
  EXPECT_TRUE(e.subject_refs.empty());
  EXPECT_EQ(e.origin, (Origin{"us-crm", "US"}));
  EXPECT_EQ(e.outcome, Outcome::kDenied);
  EXPECT_EQ(e.context, (Context{"support", "APR-1", "c-9"}));
  EXPECT_EQ(e.attributes,
            (std::map<std::string, std::string>{{"note", "line1\nline2"}, {"ticket", "T-1"}}));
}

TEST(ParseEvent, OptionalFieldsDefault) {
  const Event e = ParseOk(Json(kMinimal));
  EXPECT_EQ(e.outcome, Outcome::kAllowed);
  EXPECT_FALSE(e.origin.has_value());
  EXPECT_FALSE(e.actor.entity.has_value());
  EXPECT_FALSE(e.target.id.has_value());
  EXPECT_FALSE(e.target.audience_size.has_value());
  EXPECT_EQ(e.context, Context{});
  EXPECT_TRUE(e.attributes.empty());
  EXPECT_TRUE(e.subject_ids.empty());
  EXPECT_TRUE(e.jurisdictions.empty());
}

TEST(ParseEvent, NullOptionalFieldsAreAbsent) {
  for (const char* pointer :
       {"/origin", "/outcome", "/context", "/attributes", "/actor/entity", "/target/id",
        "/target/audience_size", "/subjects/ids", "/context/purpose"}) {
    SCOPED_TRACE(pointer);
    EXPECT_TRUE(ErrorsOf(With(pointer, "null")).empty());
  }
  const Event e = ParseOk(With("/outcome", "null"));
  EXPECT_EQ(e.outcome, Outcome::kAllowed);
}

TEST(ParseEvent, AcceptsLimitsExactly) {
  EXPECT_TRUE(ErrorsOf(With("/event_id", "\"" + std::string(128, 'e') + "\"")).empty());
  EXPECT_TRUE(ErrorsOf(With("/actor/id", "\"" + std::string(256, 'a') + "\"")).empty());
  EXPECT_TRUE(ErrorsOf(With("/data/record_count", "9007199254740991")).empty());
  EXPECT_TRUE(ErrorsOf(With("/data/record_count", "0")).empty());
  EXPECT_TRUE(ErrorsOf(With("/subjects/ids", "[\"" + std::string(256, 'i') + "\"]")).empty());
  EXPECT_TRUE(ErrorsOf(With("/subjects/ids", "[]")).empty());
  EXPECT_TRUE(ErrorsOf(With("/event_id", "\"\xc3\xa9v\xf0\x9f\x98\x80\"")).empty());
  EXPECT_TRUE(ErrorsOf(With("/attributes/empty", "\"\"")).empty());
}

// ---------------------------------------------------------------------------
// Missing and mistyped fields.

TEST(ParseEvent, ReportsEachMissingRequiredField) {
  for (const char* pointer :
       {"/event_id", "/time", "/activity", "/actor", "/target", "/data", "/subjects", "/actor/type",
        "/actor/id", "/actor/country", "/target/system", "/target/type", "/target/country",
        "/data/categories", "/data/record_count", "/subjects/count", "/subjects/jurisdictions",
        "/origin/system", "/origin/country"}) {
    SCOPED_TRACE(pointer);
    const FieldError e = OnlyError(With(pointer, std::nullopt));
    EXPECT_EQ(e.pointer, pointer);
    EXPECT_THAT(e.message, StartsWith("required field is missing; expected "));
  }
  EXPECT_THAT(OnlyError(With("/actor/country", std::nullopt)).message, HasSubstr("country code"));
  EXPECT_THAT(OnlyError(With("/activity", std::nullopt)).message, HasSubstr("read, query"));
}

TEST(ParseEvent, ReportsEachWrongType) {
  struct Case {
    const char* pointer;
    const char* value;
    const char* message;
  };
  const Case cases[] = {
      {"/event_id", "7", "expected a non-empty string of at most 128 bytes, got a number"},
      {"/time", "1777885200", "expected an RFC 3339 date-time string"},
      {"/activity", "[\"read\"]", "got an array"},
      {"/actor", "\"emp-1\"", "expected an object {type, id, country, entity?}, got a string"},
      {"/actor/type", "true", "got a boolean"},
      {"/actor/id", "{}", "got an object"},
      {"/actor/country", "840", "country code"},
      {"/actor/entity", "1", "got a number"},
      {"/target", "[]", "got an array"},
      {"/target/system", "false", "got a boolean"},
      {"/target/type", "2", "got a number"},
      {"/target/id", "3", "got a number"},
      {"/target/country", "{}", "got an object"},
      {"/target/audience_size", "\"4200\"",
       "expected an integer from 0 to 9007199254740991, got a string"},
      {"/data", "\"x\"", "got a string"},
      {"/data/categories", "\"contact.email\"", "expected a non-empty array of category names"},
      {"/data/record_count", "\"2\"", "got a string"},
      {"/subjects", "3", "got a number"},
      {"/subjects/count", "true", "got a boolean"},
      {"/subjects/jurisdictions", "[\"US\"]", "mapping country codes to subject counts"},
      {"/subjects/ids", "\"user:1\"", "expected an array of subject id strings, got a string"},
      {"/origin", "\"us-crm\"", "got a string"},
      {"/outcome", "false", "got a boolean"},
      {"/context", "\"support\"", "got a string"},
      {"/context/purpose", "1", "got a number"},
      {"/attributes", "[]", "got an array"},
      {"/event_id", "null", "got null"},  // required: null is not absence
      {"/actor/id", "null", "got null"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.pointer) + " = " + c.value);
    const FieldError e = OnlyError(With(c.pointer, c.value));
    EXPECT_EQ(e.pointer, c.pointer);
    EXPECT_THAT(e.message, HasSubstr(c.message));
  }
}

TEST(ParseEvent, ReportsWrongTypesInsideArraysAndMaps) {
  FieldError e = OnlyError(With("/data/categories", "[\"contact.email\", 5]"));
  EXPECT_EQ(e.pointer, "/data/categories/1");
  EXPECT_THAT(e.message, HasSubstr("got a number"));
  e = OnlyError(With("/subjects/ids", "[\"a\", \"b\", null]"));
  EXPECT_EQ(e.pointer, "/subjects/ids/2");
  EXPECT_THAT(e.message, HasSubstr("got null"));
  e = OnlyError(With("/subjects/jurisdictions", R"({"US": "3"})"));
  EXPECT_EQ(e.pointer, "/subjects/jurisdictions/US");
  e = OnlyError(With("/attributes", R"({"n": 5})"));
  EXPECT_EQ(e.pointer, "/attributes/n");
  EXPECT_THAT(e.message, HasSubstr("attribute values are strings"));
}

TEST(ParseEvent, RejectsANonObject) {
  for (const char* text : {"[]", "\"event\"", "1", "null"}) {
    const FieldError e = OnlyError(Json(text));
    EXPECT_EQ(e.pointer, "");
    EXPECT_THAT(e.message, StartsWith("expected an event object, got "));
  }
}

// ---------------------------------------------------------------------------
// Unknown fields.

TEST(ParseEvent, ReportsUnknownFieldsAtEveryLevel) {
  struct Case {
    const char* pointer;
    const char* allowed;
  };
  const Case cases[] = {
      {"/producer",
       "allowed: event_id, time, activity, actor, target, data, subjects, origin, outcome, "
       "context, attributes"},
      {"/actor/name", "allowed: type, id, country, entity"},
      {"/target/region", "allowed: system, type, id, country, audience_size"},
      {"/data/fields", "allowed: categories, record_count"},
      {"/subjects/names", "allowed: count, jurisdictions, ids"},
      {"/origin/id", "allowed: system, country"},
      {"/context/ticket", "allowed: purpose, approval_id, correlation_id"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    const FieldError e = OnlyError(With(c.pointer, "\"x\""));
    EXPECT_EQ(e.pointer, c.pointer);
    EXPECT_EQ(e.message, std::string("unknown field; ") + c.allowed);
  }
  // Unknown even when null: nothing is dropped silently.
  EXPECT_EQ(OnlyError(With("/extra", "null")).pointer, "/extra");
  // Case matters.
  EXPECT_EQ(OnlyError(With("/Event_Id", "\"x\"")).pointer, "/Event_Id");
}

TEST(ParseEvent, EscapesPointerTokens) {
  EXPECT_EQ(OnlyError(With("/a~b", "1")).pointer, "/a~0b");
  json::value v = Json(kFull);
  v.as_object()["x/y"] = 1;
  EXPECT_EQ(OnlyError(v).pointer, "/x~1y");
  v = Json(kFull);
  v.as_object()["attributes"].as_object()["a/b"] = 1;
  EXPECT_EQ(OnlyError(v).pointer, "/attributes/a~1b");
  v = Json(kFull);
  v.as_object()["attributes"].as_object()[""] = "x";
  EXPECT_EQ(OnlyError(v).pointer, "/attributes/");
}

// ---------------------------------------------------------------------------
// Values.

TEST(ParseEvent, RejectsUnknownEnumValuesListingAllowedOnes) {
  FieldError e = OnlyError(With("/activity", "\"copy\""));
  EXPECT_EQ(e.pointer, "/activity");
  EXPECT_THAT(e.message, StartsWith("unknown activity \"copy\"; expected one of: "));
  for (Activity a : kAllActivities) EXPECT_THAT(e.message, HasSubstr(ActivityName(a)));
  EXPECT_FALSE(ErrorsOf(With("/activity", "\"Read\"")).empty());  // case-sensitive

  e = OnlyError(With("/outcome", "\"ok\""));
  EXPECT_EQ(e.pointer, "/outcome");
  EXPECT_EQ(e.message, "unknown outcome \"ok\"; expected one of: allowed, denied, error");

  e = OnlyError(With("/actor/type", "\"robot\""));
  EXPECT_EQ(e.pointer, "/actor/type");
  EXPECT_EQ(e.message, "unknown actor type \"robot\"; expected one of: human, service");

  e = OnlyError(With("/target/type", "\"email\""));
  EXPECT_EQ(e.pointer, "/target/type");
  for (std::string_view t : kTargetTypes) EXPECT_THAT(e.message, HasSubstr(t));
}

TEST(ParseEvent, RejectsBadTimes) {
  for (const char* t :
       {"\"2026-13-01T00:00:00Z\"", "\"2026-02-30T00:00:00Z\"", "\"2026-05-04 09:00:00Z\"",
        "\"2026-05-04T09:00:00\"", "\"2026-05-04\"", "\"2026-05-04T25:00:00Z\"", "\"\"",
        "\"yesterday\"", "\"2026-05-04T09:00:00Z \"", "\"2026-05-04T09:00:00+0200\""}) {
    SCOPED_TRACE(t);
    const FieldError e = OnlyError(With("/time", t));
    EXPECT_EQ(e.pointer, "/time");
    EXPECT_THAT(e.message, HasSubstr("RFC 3339"));
  }
  // Non-ASCII and overlong text are described without echoing them whole.
  FieldError e = OnlyError(With("/time", "\"2026-05-04T09:00:00\xc3\xa9\""));
  EXPECT_THAT(e.message, HasSubstr("is not an RFC 3339 date-time"));
  e = OnlyError(With("/time", "\"" + std::string(1000, '9') + "\""));
  EXPECT_LT(e.message.size(), 300u);
}

TEST(ParseEvent, RejectsBadCounts) {
  for (const char* pointer : {"/data/record_count", "/subjects/count", "/target/audience_size",
                              "/subjects/jurisdictions/US"}) {
    SCOPED_TRACE(pointer);
    FieldError e = OnlyError(With(pointer, "-1"));
    EXPECT_EQ(e.pointer, pointer);
    EXPECT_EQ(e.message, "negative number -1; expected an integer from 0 to 9007199254740991");
    for (const char* dbl : {"1.0", "1.5", "1e3", "-0.0"}) {
      e = OnlyError(With(pointer, dbl));
      EXPECT_EQ(e.pointer, pointer);
      EXPECT_THAT(e.message, StartsWith("number with a fraction or exponent"));
    }
    e = OnlyError(With(pointer, "9007199254740992"));
    EXPECT_EQ(e.message,
              "9007199254740992 is too large; expected an integer from 0 to 9007199254740991");
    e = OnlyError(With(pointer, "18446744073709551615"));  // parsed as uint64
    EXPECT_THAT(e.message, HasSubstr("is too large"));
    // Beyond 64 bits an integer parses as a double: still "too large", not
    // "a fraction or exponent".
    for (const char* huge : {"18446744073709551616", "1234567890123456789012345678"}) {
      e = OnlyError(With(pointer, huge));
      EXPECT_THAT(e.message, StartsWith("number too large; expected an integer")) << huge;
    }
    e = OnlyError(With(pointer, "1e400"));  // beyond double range: still rejected
    EXPECT_EQ(e.pointer, pointer);
  }
}

// The parts of subjects cannot exceed the whole.
TEST(ParseEvent, SubjectPartsCannotExceedTheCount) {
  FieldError e = OnlyError(With("/subjects", R"({"count":1,"jurisdictions":{"US":5}})"));
  EXPECT_EQ(e.pointer, "/subjects/jurisdictions/US");
  EXPECT_THAT(e.message, StartsWith("5 subjects in US but count is 1"));
  e = OnlyError(With("/subjects", R"({"count":1,"jurisdictions":{"US":1},"ids":["a","b","c"]})"));
  EXPECT_EQ(e.pointer, "/subjects/ids");
  EXPECT_THAT(e.message, StartsWith("3 subject ids but count is 1"));
  // Fewer is fine: jurisdictions or ids may be partly known; and one subject
  // may be under several jurisdictions.
  ParseOk(With("/subjects", R"({"count":4,"jurisdictions":{"US":1,"DE":2},"ids":["a"]})"));
  ParseOk(With("/subjects", R"({"count":2,"jurisdictions":{"US":2,"DE":2}})"));
}

TEST(ParseEvent, ValidatesAndNormalisesCountryCodes) {
  const Event e = ParseOk(With("/target/country", "\"de\""));
  EXPECT_EQ(e.target.country, "DE");
  EXPECT_EQ(e.actor.country, "SG");  // kFull sends "sg"
  for (const char* bad : {"\"USA\"", "\"U\"", "\"\"", "\"U1\"", "\"U S\"", "\"\xc3\x9c\x53\""}) {
    SCOPED_TRACE(bad);
    for (const char* pointer : {"/actor/country", "/target/country", "/origin/country"}) {
      const FieldError err = OnlyError(With(pointer, bad));
      EXPECT_EQ(err.pointer, pointer);
      EXPECT_THAT(err.message, HasSubstr("is not a country code; expected a 2-letter country "
                                         "code (ISO 3166-1 alpha-2)"));
    }
  }
}

TEST(ParseEvent, ValidatesJurisdictions) {
  FieldError e = OnlyError(With("/subjects/jurisdictions", R"({"USA": 1})"));
  EXPECT_EQ(e.pointer, "/subjects/jurisdictions/USA");
  EXPECT_THAT(e.message, HasSubstr("\"USA\" is not a country code"));
  e = OnlyError(With("/subjects/jurisdictions", R"({"us": 1, "US": 2})"));
  EXPECT_EQ(e.pointer, "/subjects/jurisdictions/US");
  EXPECT_THAT(e.message, HasSubstr("duplicate jurisdiction \"US\""));
  // A bad key and a bad count are both reported.
  const auto errors = ErrorsOf(With("/subjects/jurisdictions", R"({"x": -1})"));
  EXPECT_THAT(Pointers(errors),
              ElementsAre("/subjects/jurisdictions/x", "/subjects/jurisdictions/x"));
}

TEST(ParseEvent, ValidatesCategories) {
  FieldError e = OnlyError(With("/data/categories", "[]"));
  EXPECT_EQ(e.pointer, "/data/categories");
  EXPECT_THAT(e.message, StartsWith("empty array; expected a non-empty array"));

  for (const char* bad : {"\"Contact.Email\"", "\"contact..email\"", "\".contact\"", "\"contact.\"",
                          "\"contact email\"", "\"contact-email\"", "\"\"", "\"contact.*\""}) {
    SCOPED_TRACE(bad);
    e = OnlyError(With("/data/categories", std::string("[\"contact.email\", ") + bad + "]"));
    EXPECT_EQ(e.pointer, "/data/categories/1");
    EXPECT_THAT(e.message, HasSubstr("is not a category name; expected a dotted lower-case name"));
  }
  e = OnlyError(With("/data/categories", "[\"pii.email\"]"));
  EXPECT_EQ(e.pointer, "/data/categories/0");
  EXPECT_EQ(e.message,
            "unknown category \"pii.email\"; a category is one of, or starts with one of: "
            "contact, gov_id, location, financial, health, biometric, identity, credentials, "
            "telemetry, business, public");
  e = OnlyError(With("/data/categories", "[\"" + std::string(129, 'a') + "\"]"));
  EXPECT_EQ(e.pointer, "/data/categories/0");

  std::string many = "[";
  for (size_t i = 0; i <= kMaxCategories; ++i) many += i ? ",\"public\"" : "\"public\"";
  many += "]";
  e = OnlyError(With("/data/categories", many));
  EXPECT_EQ(e.pointer, "/data/categories");
  EXPECT_THAT(e.message, HasSubstr("at most 64"));

  const Event ok = ParseOk(
      With("/data/categories",
           R"(["financial", "contact.email", "gov_id.passport", "contact.email", "credentials",
          "location.precise.gps", "business.revenue_2026"])"));
  EXPECT_THAT(ok.categories, ElementsAre("business.revenue_2026", "contact.email", "credentials",
                                         "financial", "gov_id.passport", "location.precise.gps"));
}

TEST(ParseEvent, ValidatesStringsAndIds) {
  FieldError e = OnlyError(With("/event_id", "\"\""));
  EXPECT_EQ(e.pointer, "/event_id");
  EXPECT_EQ(e.message, "empty string; expected a non-empty string of at most 128 bytes");
  e = OnlyError(With("/event_id", "\"" + std::string(129, 'e') + "\""));
  EXPECT_EQ(e.message,
            "string of 129 bytes is too long; expected a non-empty string of at most 128 bytes");
  e = OnlyError(With("/actor/id", "\"a\\u0000b\""));
  EXPECT_EQ(e.pointer, "/actor/id");
  EXPECT_THAT(e.message, HasSubstr("control character"));
  e = OnlyError(With("/target/system", "\"" + std::string(257, 's') + "\""));
  EXPECT_EQ(e.pointer, "/target/system");
  EXPECT_EQ(OnlyError(With("/context/approval_id", "\"\"")).pointer, "/context/approval_id");
  EXPECT_EQ(OnlyError(With("/actor/entity", "\"\"")).pointer, "/actor/entity");
  EXPECT_EQ(OnlyError(With("/target/id", "\"x\\ny\"")).pointer, "/target/id");

  e = OnlyError(With("/subjects/ids", R"(["user:1", ""])"));
  EXPECT_EQ(e.pointer, "/subjects/ids/1");
  EXPECT_THAT(e.message, HasSubstr("subject id"));
  e = OnlyError(With("/subjects/ids", "[\"" + std::string(257, 'i') + "\"]"));
  EXPECT_EQ(e.pointer, "/subjects/ids/0");

  json::value v = Json(kFull);
  v.at("subjects").as_object()["count"] = static_cast<int64_t>(kMaxSubjectIds + 1);  // >= ids
  json::array& ids = v.at("subjects").at("ids").as_array();
  ids.clear();
  for (size_t i = 0; i < kMaxSubjectIds; ++i) ids.emplace_back("u");
  EXPECT_TRUE(ErrorsOf(v).empty()) << Dump(ErrorsOf(v));
  ids.emplace_back("u");
  e = OnlyError(v);
  EXPECT_EQ(e.pointer, "/subjects/ids");
  EXPECT_THAT(e.message, HasSubstr("10001 subject ids; at most 10000"));
}

TEST(ParseEvent, RejectsInvalidUtf8InBuiltValues) {
  // boost::json's parser guarantees UTF-8; values built in code do not.
  json::value v = Json(kFull);
  v.as_object()["event_id"] = "bad\xff";
  EXPECT_EQ(OnlyError(v).pointer, "/event_id");
  v = Json(kFull);
  v.at("attributes").as_object()["k"] = "\xc0\xaf";
  EXPECT_EQ(OnlyError(v).pointer, "/attributes/k");
}

TEST(ParseEvent, ValidatesAttributes) {
  json::value v = Json(kFull);
  json::object& attrs = v.as_object()["attributes"].as_object();
  attrs.clear();
  for (size_t i = 0; i < kMaxAttributes; ++i) attrs["k" + std::to_string(i)] = "v";
  EXPECT_TRUE(ErrorsOf(v).empty());
  attrs["one-more"] = "v";
  FieldError e = OnlyError(v);
  EXPECT_EQ(e.pointer, "/attributes");
  EXPECT_THAT(e.message, HasSubstr("at most 64"));

  e = OnlyError(With("/attributes", "{\"" + std::string(129, 'k') + "\": \"v\"}"));
  EXPECT_THAT(e.message, HasSubstr("attribute name of 129 bytes is too long"));
  e = OnlyError(With("/attributes", "{\"k\": \"" + std::string(1025, 'v') + "\"}"));
  EXPECT_EQ(e.pointer, "/attributes/k");
  EXPECT_THAT(e.message, HasSubstr("attribute value of 1025 bytes is too long"));
}

TEST(ParseEvent, ReportsEveryProblemAtOnce) {
  const json::value v = Json(R"({
    "event_id": "",
    "time": "2026-05-04T09:00:00",
    "activity": "copy",
    "actor": {"type": "human", "country": "usa", "nick": "x"},
    "target": {"system": "lark", "type": "chat_channel", "country": "US", "audience_size": -5},
    "data": {"categories": ["contact.email", "Gov_ID"], "record_count": 1.5},
    "subjects": {"count": 1, "jurisdictions": {"US": 1}, "ids": [1]},
    "outcome": "maybe",
    "extra": true
  })");
  const std::vector<FieldError> errors = ErrorsOf(v);
  EXPECT_THAT(Pointers(errors),
              ElementsAre("/event_id", "/time", "/activity", "/actor/country", "/actor/nick",
                          "/actor/id", "/target/audience_size", "/data/categories/1",
                          "/data/record_count", "/subjects/ids/0", "/outcome", "/extra"))
      << Dump(errors);
}

TEST(ParseEvent, AMistypedObjectIsOneErrorNotACascade) {
  const std::vector<FieldError> errors = ErrorsOf(With("/actor", "null"));
  EXPECT_THAT(Pointers(errors), ElementsAre("/actor"));
}

// ---------------------------------------------------------------------------
// Batches.

std::string Line(std::string_view id, std::string_view country = "US") {
  json::value v = Json(kMinimal);
  v.as_object()["event_id"] = id;
  v.at("actor").as_object()["country"] = country;
  return json::serialize(v);
}

TEST(ParseEventBatch, SingleObject) {
  ParsedBatch b = ParseEventBatch(Line("a"), false, 10);
  ASSERT_TRUE(b.ok()) << Dump(b.errors);
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].event_id, "a");

  b = ParseEventBatch(Line("a", "USA"), false, 10);
  EXPECT_TRUE(b.events.empty());
  EXPECT_THAT(Pointers(b.errors), ElementsAre("/actor/country"));
}

// {"event_id":"a","event_id":"b"} is valid JSON that parsers read
// differently (first or last wins): evidence must read one way only.
TEST(ParseEventBatchRejectsRepeatedMemberNames, InTheEventAndInNestedObjects) {
  const std::string line = Line("dk1");
  const std::string top = "{\"event_id\":\"dk0\"," + line.substr(1);
  ParsedBatch b = ParseEventBatch(top, false, 10);
  EXPECT_TRUE(b.events.empty());
  ASSERT_EQ(b.errors.size(), 1u) << Dump(b.errors);
  EXPECT_EQ(b.errors[0].pointer, "");
  EXPECT_THAT(b.errors[0].message, HasSubstr("member name appears more than once"));

  std::string nested = line;
  nested.replace(nested.find("\"country\":\"US\""), 14, "\"country\":\"US\",\"country\":\"CN\"");
  b = ParseEventBatch("[" + line + "," + nested + "]", false, 10);
  EXPECT_TRUE(b.events.empty());
  EXPECT_THAT(Pointers(b.errors), ElementsAre("/1/actor")) << Dump(b.errors);
  b = ParseEventBatch(line + "\n" + nested + "\n", true, 10);
  EXPECT_THAT(Pointers(b.errors), ElementsAre("/1/actor")) << Dump(b.errors);
  // Every member once: fine, in every shape.
  EXPECT_TRUE(ParseEventBatch(line, false, 10).ok());
  EXPECT_TRUE(ParseEventBatch("[" + line + "," + Line("dk2") + "]", false, 10).ok());
}

TEST(ParseEventBatch, ArrayPointersCarryTheIndex) {
  ParsedBatch b = ParseEventBatch("[" + Line("a") + "," + Line("b") + "]", false, 10);
  ASSERT_TRUE(b.ok()) << Dump(b.errors);
  ASSERT_EQ(b.events.size(), 2u);
  EXPECT_EQ(b.events[1].event_id, "b");

  b = ParseEventBatch(
      "[" + Line("a") + "," + Line("b", "x") + "," + Line("c") + ", 7," + Line("", "y") + "]",
      false, 10);
  EXPECT_TRUE(b.events.empty());  // all or nothing
  EXPECT_THAT(Pointers(b.errors),
              ElementsAre("/1/actor/country", "/3", "/4/event_id", "/4/actor/country"))
      << Dump(b.errors);
  EXPECT_THAT(b.errors[1].message, StartsWith("expected an event object, got a number"));
}

TEST(ParseEventBatch, NdjsonPointersCarryTheLineIndex) {
  const std::string body = Line("a") + "\n" + Line("b", "x") + "\n" + Line("c") + "\n";
  ParsedBatch b = ParseEventBatch(body, true, 10);
  EXPECT_TRUE(b.events.empty());
  ASSERT_THAT(Pointers(b.errors), ElementsAre("/1/actor/country"));
  EXPECT_THAT(b.errors[0].message, StartsWith("line 2: \"x\" is not a country code"));

  b = ParseEventBatch(Line("a") + "\n" + Line("b") + "\n" + Line("c"), true, 10);
  ASSERT_TRUE(b.ok()) << Dump(b.errors);
  EXPECT_EQ(b.events.size(), 3u);
}

TEST(ParseEventBatch, NdjsonToleratesBlankLinesAndCrlf) {
  ParsedBatch b = ParseEventBatch(Line("a") + "\n" + Line("b") + "\n\n", true, 2);
  ASSERT_TRUE(b.ok()) << Dump(b.errors);
  EXPECT_EQ(b.events.size(), 2u);
  b = ParseEventBatch(Line("a") + "\r\n" + Line("b") + "\r\n  \r\n", true, 10);
  ASSERT_TRUE(b.ok()) << Dump(b.errors);
  EXPECT_EQ(b.events.size(), 2u);
  // A blank line in the middle is skipped, but pointers keep the physical line.
  b = ParseEventBatch(Line("a") + "\n\n" + Line("b", "x") + "\n", true, 10);
  EXPECT_THAT(Pointers(b.errors), ElementsAre("/2/actor/country"));
  EXPECT_THAT(b.errors[0].message, StartsWith("line 3: "));
}

TEST(ParseEventBatch, NdjsonReportsBadJsonPerLine) {
  ParsedBatch b =
      ParseEventBatch(Line("a") + "\n{\"event_id\":\n" + Line("c") + "\n[1]\n", true, 10);
  EXPECT_TRUE(b.events.empty());
  EXPECT_THAT(Pointers(b.errors), ElementsAre("/1", "/3"));
  EXPECT_THAT(b.errors[0].message, StartsWith("line 2: invalid JSON at byte "));
  EXPECT_THAT(b.errors[1].message, StartsWith("line 4: expected an event object, got an array"));
  // A JSON array on one line is not a batch inside NDJSON.
  b = ParseEventBatch("[" + Line("a") + "]", true, 10);
  EXPECT_THAT(Pointers(b.errors), ElementsAre("/0"));
}

TEST(ParseEventBatch, RejectsEmptyAndWrongShapedBodies) {
  for (std::string_view body : {"", "  \n", "\r\n"}) {
    for (bool ndjson : {false, true}) {
      ParsedBatch b = ParseEventBatch(body, ndjson, 10);
      ASSERT_EQ(b.errors.size(), 1u);
      EXPECT_EQ(b.errors[0].pointer, "");
    }
  }
  ParsedBatch b = ParseEventBatch("[]", false, 10);
  ASSERT_THAT(Pointers(b.errors), ElementsAre(""));
  EXPECT_THAT(b.errors[0].message, HasSubstr("empty array"));
  b = ParseEventBatch("42", false, 10);
  ASSERT_THAT(Pointers(b.errors), ElementsAre(""));
  EXPECT_THAT(b.errors[0].message, HasSubstr("got a number"));
  b = ParseEventBatch("{\"event_id\": ", false, 10);
  ASSERT_THAT(Pointers(b.errors), ElementsAre(""));
  EXPECT_THAT(b.errors[0].message, StartsWith("invalid JSON at byte "));
  // NDJSON sent without the NDJSON content type: say what to do.
  b = ParseEventBatch(Line("a") + "\n" + Line("b"), false, 10);
  ASSERT_THAT(Pointers(b.errors), ElementsAre(""));
  EXPECT_THAT(b.errors[0].message, HasSubstr("application/x-ndjson"));
}

TEST(ParseEventBatch, EnforcesMaxEvents) {
  ParsedBatch b = ParseEventBatch("[" + Line("a") + "," + Line("b") + "]", false, 2);
  EXPECT_TRUE(b.ok());
  b = ParseEventBatch("[" + Line("a") + "," + Line("b") + "," + Line("c") + "]", false, 2);
  EXPECT_TRUE(b.events.empty());
  ASSERT_THAT(Pointers(b.errors), ElementsAre(""));
  EXPECT_THAT(b.errors[0].message, HasSubstr("at most 2"));
  b = ParseEventBatch(Line("a") + "\n" + Line("b") + "\n" + Line("c") + "\n", true, 2);
  EXPECT_TRUE(b.events.empty());
  ASSERT_THAT(Pointers(b.errors), ElementsAre(""));
  EXPECT_THAT(b.errors[0].message, HasSubstr("at most 2"));
}

TEST(ParseEventBatch, CapsTheErrorList) {
  std::string body;
  for (int i = 0; i < 300; ++i) body += Line("e", "bad") + "\n";
  ParsedBatch b = ParseEventBatch(body, true, 1000);
  EXPECT_TRUE(b.events.empty());
  ASSERT_EQ(b.errors.size(), kMaxBatchErrors + 1);
  EXPECT_EQ(b.errors[kMaxBatchErrors - 1].pointer, "/99/actor/country");
  EXPECT_EQ(b.errors.back().pointer, "");
  EXPECT_THAT(b.errors.back().message, HasSubstr("too many errors"));

  // One event with more problems than the cap.
  json::value v = Json(kMinimal);
  for (int i = 0; i < 150; ++i) v.as_object()["x" + std::to_string(i)] = 1;
  b = ParseEventBatch(json::serialize(v), false, 10);
  ASSERT_EQ(b.errors.size(), kMaxBatchErrors + 1);
  EXPECT_THAT(b.errors.back().message, HasSubstr("too many errors"));

  // Exactly at the cap with nothing left out: no note.
  body.clear();
  for (size_t i = 0; i < kMaxBatchErrors; ++i) body += Line("e", "bad") + "\n";
  b = ParseEventBatch(body, true, 1000);
  EXPECT_EQ(b.errors.size(), kMaxBatchErrors);
  EXPECT_NE(b.errors.back().pointer, "");
}

// ---------------------------------------------------------------------------
// NormalizedBody.

TEST(NormalizedBody, MatchesTheLedgerFormExactly) {
  Event e = ParseOk(Json(kFull));
  e.subject_refs = {"ref-b", "ref-a"};
  ASSERT_OK_AND_ASSIGN(std::string canon, CanonicalJson(json::value(NormalizedBody(e))));
  EXPECT_EQ(
      canon,
      R"({"activity":"share",)"
      R"("actor":{"country":"SG","entity":"acme-sg","id":"emp-sg-7","type":"human"},)"
      R"("attributes":{"note":"line1\nline2","ticket":"T-1"},)"
      R"("context":{"approval_id":"APR-1","correlation_id":"c-9","purpose":"support"},)"
      R"("data":{"categories":["gov_id.drivers_license","identity.name"],"record_count":2},)"
      R"("event_id":"evt-1",)"
      R"("origin":{"country":"US","system":"us-crm"},)"
      R"("outcome":"denied",)"
      R"("subjects":{"count":2,"jurisdictions":{"SG":1,"US":1},"refs":["ref-b","ref-a"]},)"
      R"("target":{"audience_size":4200,"country":"SG","id":"global-ops","system":"lark","type":"chat_channel"},)"
      R"("time":"2026-05-04T09:00:00.250000Z"})");
}

TEST(NormalizedBody, DropsRawIdsAndKeepsRefs) {
  Event e = ParseOk(Json(kFull));
  e.subject_refs = {"p1", "p2"};
  const json::object body = NormalizedBody(e);
  const json::object& subjects = body.at("subjects").as_object();
  EXPECT_FALSE(subjects.contains("ids"));
  EXPECT_EQ(subjects.at("refs"), Json(R"(["p1","p2"])"));
  ASSERT_OK_AND_ASSIGN(std::string canon, CanonicalJson(json::value(body)));
  EXPECT_EQ(canon.find("user:1"), std::string::npos);
  EXPECT_EQ(canon.find("user:2"), std::string::npos);
}

TEST(NormalizedBody, MinimalEventOmitsAbsentOptionals) {
  const Event e = ParseOk(Json(kMinimal));
  ASSERT_OK_AND_ASSIGN(std::string canon, CanonicalJson(json::value(NormalizedBody(e))));
  EXPECT_EQ(canon, R"({"activity":"read","actor":{"country":"US","id":"svc","type":"service"},)"
                   R"("data":{"categories":["contact.email"],"record_count":0},"event_id":"evt-2",)"
                   R"("outcome":"allowed","subjects":{"count":0,"jurisdictions":{},"refs":[]},)"
                   R"("target":{"country":"US","system":"db","type":"database"},)"
                   R"("time":"2026-05-04T09:00:00Z"})");
  Event partial = e;
  partial.context.purpose = "audit";
  const json::object body = NormalizedBody(partial);
  EXPECT_EQ(body.at("context"), Json(R"({"purpose":"audit"})"));
}

TEST(NormalizedBody, IsDeterministic) {
  // Same event, different member order, offset and category order.
  const json::value a = Json(kFull);
  json::value b = Json(R"({
    "attributes": {"note": "line1\nline2", "ticket": "T-1"},
    "context": {"correlation_id": "c-9", "approval_id": "APR-1", "purpose": "support"},
    "outcome": "denied", "origin": {"country": "us", "system": "us-crm"},
    "subjects": {"ids": ["user:9"], "jurisdictions": {"SG": 1, "US": 1}, "count": 2},
    "data": {"record_count": 2, "categories": ["identity.name", "gov_id.drivers_license"]},
    "target": {"audience_size": 4200, "country": "sg", "id": "global-ops", "type": "chat_channel",
               "system": "lark"},
    "actor": {"entity": "acme-sg", "country": "SG", "id": "emp-sg-7", "type": "human"},
    "activity": "share", "time": "2026-05-04T09:00:00.250Z", "event_id": "evt-1"
  })");
  Event ea = ParseOk(a);
  Event eb = ParseOk(b);
  ea.subject_refs = eb.subject_refs = {"r"};
  ASSERT_OK_AND_ASSIGN(std::string ca, CanonicalJson(json::value(NormalizedBody(ea))));
  ASSERT_OK_AND_ASSIGN(std::string cb, CanonicalJson(json::value(NormalizedBody(eb))));
  EXPECT_EQ(ca, cb);
  ASSERT_OK_AND_ASSIGN(std::string again, CanonicalJson(json::value(NormalizedBody(ea))));
  EXPECT_EQ(ca, again);
}

// ---------------------------------------------------------------------------
// AppendNormalizedBodyJson: the direct writer must equal the DOM path.

std::string SlowBody(const Event& e) {
  Result<std::string> canon = CanonicalJson(json::value(NormalizedBody(e)));
  EXPECT_OK(canon.status());
  return canon.ok() ? *canon : std::string();
}

std::string FastBody(const Event& e) {
  std::string out = "prefix:";
  EXPECT_OK(AppendNormalizedBodyJson(e, &out));
  EXPECT_THAT(out, StartsWith("prefix:"));
  return out.substr(7);
}

TEST(AppendNormalizedBodyJson, EqualsCanonicalNormalizedBodyForEveryScenarioEvent) {
  int n = 0;
  for (const std::string& line : ScenarioEventLines()) {
    Event e = ParseOk(Json(line));
    e.subject_refs = {"ps1:aa", "ps1:bb"};
    EXPECT_EQ(FastBody(e), SlowBody(e)) << line;
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(AppendNormalizedBodyJson, EqualsCanonicalNormalizedBodyForFullAndMinimal) {
  Event full = ParseOk(Json(kFull));
  full.subject_refs = {"ref-b", "ref-a"};
  EXPECT_EQ(FastBody(full), SlowBody(full));
  const Event minimal = ParseOk(Json(kMinimal));
  EXPECT_EQ(FastBody(minimal), SlowBody(minimal));
  for (int mask = 0; mask < 8; ++mask) {
    Event e = minimal;
    if (mask & 1) e.context.approval_id = "A";
    if (mask & 2) e.context.correlation_id = "C";
    if (mask & 4) e.context.purpose = "P";
    e.target.audience_size = mask;
    EXPECT_EQ(FastBody(e), SlowBody(e)) << mask;
  }
}

TEST(AppendNormalizedBodyJson, EqualsCanonicalNormalizedBodyForHandBuiltEvents) {
  Event e = ParseOk(Json(kFull));
  // Unsorted, duplicated categories; lower-case countries; keys and values
  // that need escaping or sort differently in UTF-16 than in UTF-8.
  e.categories = {"identity.name", "contact.email", "identity.name"};
  e.actor.country = "sg";
  e.target.country = "uS";
  e.origin->country = "us";
  e.attributes = {{"\xef\xbd\x81", "fullwidth"}, {"\xf0\x9f\x98\x80", "emoji"},
                  {"quote\"", "tab\t"}, {"a", "\x01"}};
  e.jurisdictions = {{"US", 1}, {"SG", 2}, {"\xf0\x9f\x98\x80", 3}};
  e.record_count = -5;
  EXPECT_EQ(FastBody(e), SlowBody(e));
  // Jurisdiction keys that upper-case onto each other: merged as NormalizedBody does.
  e.jurisdictions = {{"US", 1}, {"us", 2}};
  EXPECT_EQ(FastBody(e), SlowBody(e));
}

// Random events built from pieces that stress the writer: escapes,
// control characters, every UTF-8 length, strings that sort differently in
// UTF-16 than in UTF-8, big numbers, every optional member present or not.
// Whatever the DOM path makes of them (bytes or an error), the direct writer
// must make the same: a difference would store non-canonical entries.
TEST(AppendNormalizedBodyJson, EqualsTheDomPathOnRandomEvents) {
  static const char* kPieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\b", "\f", "\n",
                                  "\r", "\t", "\x01", "\x1f", "\x7f", "\xc3\xa9",
                                  "\xe2\x82\xac", "\xef\xbd\x81", "\xf0\x9f\x98\x80",
                                  "\xed\x9f\xbf", "\xee\x80\x80"};
  static const char* kInvalid[] = {"\xff", "\xc3", "\xed\xa0\x80", "\xc0\xaf"};
  std::mt19937_64 rng(20261201);
  auto text = [&](size_t max_pieces) {
    std::string out;
    const size_t n = rng() % (max_pieces + 1);
    for (size_t i = 0; i < n; ++i) {
      out += rng() % 200 == 0 ? kInvalid[rng() % std::size(kInvalid)]
                              : kPieces[rng() % std::size(kPieces)];
    }
    return out;
  };
  auto maybe = [&](size_t max_pieces) -> std::optional<std::string> {
    if (rng() % 2) return std::nullopt;
    return text(max_pieces);
  };
  auto number = [&]() -> int64_t {
    switch (rng() % 64) {
      case 0: return kMaxSafeInteger + 1;  // too big for canonical JSON
      case 1: return kMaxSafeInteger;
      case 2: return static_cast<int64_t>(rng() % 1000000);
      default: return static_cast<int64_t>(rng() % 10);
    }
  };
  const Event base = ParseOk(Json(kFull));
  int compared = 0, failed_alike = 0;
  for (int i = 0; i < 4000; ++i) {
    Event e = base;
    e.event_id = text(6);
    e.activity = static_cast<Activity>(rng() % 3);
    e.actor.id = text(5);
    e.actor.type = rng() % 2 ? "human" : "service";
    e.actor.entity = maybe(4);
    e.actor.country = rng() % 5 ? "US" : text(2);
    e.target.system = text(5);
    e.target.id = maybe(4);
    e.target.country = rng() % 5 ? "SG" : text(2);
    e.target.audience_size = rng() % 2 ? std::optional<int64_t>(number()) : std::nullopt;
    e.record_count = number();
    e.subject_count = number();
    e.jurisdictions.clear();
    for (size_t k = rng() % 4; k > 0; --k) e.jurisdictions[text(2)] = number();
    e.subject_refs.clear();
    for (size_t k = rng() % 3; k > 0; --k) e.subject_refs.push_back(text(4));
    if (rng() % 2) {
      e.origin = Origin{text(4), rng() % 3 ? "DE" : text(2)};
    } else {
      e.origin.reset();
    }
    e.context = Context{maybe(4), maybe(3), maybe(3)};
    e.attributes.clear();
    for (size_t k = rng() % 4; k > 0; --k) e.attributes[text(3)] = text(4);

    Result<std::string> slow = CanonicalJson(json::value(NormalizedBody(e)));
    std::string fast;
    Status st = AppendNormalizedBodyJson(e, &fast);
    ASSERT_EQ(st.ok(), slow.ok()) << "event " << i << ": " << st.ToString() << " vs "
                                  << slow.status().ToString();
    if (slow.ok()) {
      ASSERT_EQ(fast, *slow) << "event " << i;
      ++compared;
    } else {
      ASSERT_EQ(st.ToString(), slow.status().ToString()) << "event " << i;
      ++failed_alike;
    }
  }
  EXPECT_GT(compared, 2000);
  EXPECT_GT(failed_alike, 200);
}

TEST(AppendNormalizedBodyJson, FailsLikeCanonicalJson) {
  Event e = ParseOk(Json(kMinimal));
  e.actor.id = "bad\xff";
  std::string out;
  Status fast = AppendNormalizedBodyJson(e, &out);
  Status slow = CanonicalJson(json::value(NormalizedBody(e))).status();
  EXPECT_FALSE(fast.ok());
  EXPECT_EQ(fast.ToString(), slow.ToString());

  e = ParseOk(Json(kMinimal));
  e.record_count = kMaxSafeInteger + 1;
  out.clear();
  fast = AppendNormalizedBodyJson(e, &out);
  slow = CanonicalJson(json::value(NormalizedBody(e))).status();
  EXPECT_FALSE(fast.ok());
  EXPECT_EQ(fast.ToString(), slow.ToString());
}

TEST(NormalizedBody, NormalisesHandBuiltEvents) {
  Event e = ParseOk(Json(kMinimal));
  e.actor.country = "us";
  e.target.country = "de";
  e.categories = {"identity.name", "contact.email", "identity.name"};
  e.jurisdictions = {{"de", 3}};
  e.origin = Origin{"x", "fr"};
  const json::object body = NormalizedBody(e);
  EXPECT_EQ(body.at("actor").at("country"), "US");
  EXPECT_EQ(body.at("target").at("country"), "DE");
  EXPECT_EQ(body.at("origin").at("country"), "FR");
  EXPECT_EQ(body.at("data").at("categories"), Json(R"(["contact.email","identity.name"])"));
  EXPECT_EQ(body.at("subjects").at("jurisdictions"), Json(R"({"DE":3})"));
}

TEST(NormalizedBody, UsesTheGivenStorage) {
  json::monotonic_resource arena;
  const json::storage_ptr sp(&arena);
  const json::object body = NormalizedBody(ParseOk(Json(kFull)), sp);
  EXPECT_EQ(body.storage().get(), sp.get());
  EXPECT_EQ(body.at("actor").as_object().storage().get(), sp.get());
}

// ---------------------------------------------------------------------------
// Names and categories.

TEST(Activity, NamesRoundTrip) {
  for (Activity a : kAllActivities) EXPECT_EQ(ParseActivity(ActivityName(a)), a);
  EXPECT_EQ(ActivityName(Activity::kTransfer), "transfer");
  EXPECT_FALSE(ParseActivity("READ").has_value());
  EXPECT_FALSE(ParseActivity("").has_value());
  for (Outcome o : {Outcome::kAllowed, Outcome::kDenied, Outcome::kError}) {
    EXPECT_EQ(ParseOutcome(OutcomeName(o)), o);
  }
  EXPECT_FALSE(ParseOutcome("ok").has_value());
}

TEST(Country, Shape) {
  EXPECT_TRUE(IsCountryCode("US"));
  EXPECT_TRUE(IsCountryCode("us"));
  EXPECT_FALSE(IsCountryCode("USA"));
  EXPECT_FALSE(IsCountryCode("U"));
  EXPECT_FALSE(IsCountryCode("1A"));
  EXPECT_FALSE(IsCountryCode(""));
}

// ISO 3166-1 alpha-2 as assigned: a typo or a made-up code is not a place a
// policy can reason about.
TEST(Country, OnlyAssignedCodes) {
  for (const char* c : {"GB", "AD", "ZW", "XK", "gb", "Ie", "SS", "BQ"}) {
    EXPECT_TRUE(IsCountryCode(c)) << c;
  }
  for (const char* c : {"UK", "EL", "ZZ", "XX", "AA", "EU", "QZ"}) {
    EXPECT_FALSE(IsCountryCode(c)) << c;
  }
  EXPECT_EQ(CountryCodeHint("uk"), "GB");
  EXPECT_EQ(CountryCodeHint("ZZ"), "");
  FieldError e = OnlyError(With("/actor/country", "\"UK\""));
  EXPECT_EQ(e.pointer, "/actor/country");
  EXPECT_THAT(e.message, HasSubstr("(did you mean \"GB\"?)"));
}

TEST(Categories, PersonalPerScenariosReadme) {
  for (const char* c : {"contact.email", "gov_id.drivers_license", "location.precise",
                        "location.city", "financial.card", "health.diagnosis", "biometric.face",
                        "identity.name", "financial", "health", "biometric", "gov_id"}) {
    EXPECT_TRUE(IsPersonalCategory(c)) << c;
  }
  for (const char* c : {"telemetry.aggregate", "business.revenue", "public.profile", "credentials",
                        "credentials.password", "contactx.email", "telemetry"}) {
    EXPECT_FALSE(IsPersonalCategory(c)) << c;
  }
}

TEST(Categories, SensitivePerScenariosReadme) {
  for (const char* c :
       {"gov_id.ssn", "gov_id", "biometric.face", "health", "health.diagnosis", "financial.card",
        "financial", "location.precise", "location.precise.gps"}) {
    EXPECT_TRUE(IsSensitiveCategory(c)) << c;
  }
  for (const char* c : {"location", "location.city", "location.precise_ish", "contact.email",
                        "identity.name", "telemetry.aggregate", "credentials"}) {
    EXPECT_FALSE(IsSensitiveCategory(c)) << c;
  }
}

TEST(Categories, Matches) {
  EXPECT_TRUE(CategoryMatches("contact.*", "contact.email"));
  EXPECT_TRUE(CategoryMatches("contact.*", "contact.email.work"));
  EXPECT_TRUE(CategoryMatches("contact.*", "contact"));
  EXPECT_FALSE(CategoryMatches("contact.*", "contactx.email"));
  EXPECT_FALSE(CategoryMatches("contact.*", "identity.name"));
  EXPECT_TRUE(CategoryMatches("contact.email", "contact.email"));
  EXPECT_FALSE(CategoryMatches("contact.email", "contact.email.work"));
  EXPECT_FALSE(CategoryMatches("contact.email", "contact.phone"));
  EXPECT_FALSE(CategoryMatches("contact", "contact.email"));
  EXPECT_TRUE(CategoryMatches("gov_id.*", "gov_id.drivers_license"));
  EXPECT_TRUE(CategoryMatches("location.precise.*", "location.precise"));
  EXPECT_FALSE(CategoryMatches("location.precise.*", "location.city"));
  EXPECT_TRUE(CategoryMatches("*", "public.anything"));
  EXPECT_FALSE(CategoryMatches(".*", "contact"));
  EXPECT_FALSE(CategoryMatches("con*", "contact"));
}

TEST(Categories, VocabularyAndPatterns) {
  EXPECT_TRUE(IsKnownCategory("credentials"));
  EXPECT_TRUE(IsKnownCategory("gov_id.drivers_license"));
  EXPECT_FALSE(IsKnownCategory("pii.email"));
  EXPECT_FALSE(IsKnownCategory("Contact.email"));
  EXPECT_FALSE(IsKnownCategory("contact."));
  EXPECT_FALSE(IsKnownCategory(""));
  EXPECT_TRUE(IsValidCategoryPattern("*"));
  EXPECT_TRUE(IsValidCategoryPattern("contact.*"));
  EXPECT_TRUE(IsValidCategoryPattern("contact.email"));
  EXPECT_TRUE(IsValidCategoryPattern("location.precise.*"));
  EXPECT_FALSE(IsValidCategoryPattern("gov-id.*"));
  EXPECT_FALSE(IsValidCategoryPattern("pii.*"));
  EXPECT_FALSE(IsValidCategoryPattern(".*"));
  EXPECT_FALSE(IsValidCategoryPattern("contact*"));
  EXPECT_FALSE(IsValidCategoryPattern("contact.*.email"));
}

}  // namespace
}  // namespace custody::schema
