// Policy: parsing, compiling, diagnostics (file:line:column, what, how to
// fix), warnings for rules that can never match, durations, hashing and the
// ledger entry body.
#include "daemon/policy/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "custody/schema/json_canon.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tests/daemon/policy_test_util.h"

namespace custody::daemon::policy {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// Parses `toml`, expecting failure; returns every diagnostic.
std::vector<Diagnostic> Errors(std::string_view toml) {
  std::vector<Diagnostic> diags;
  auto p = Policy::Parse(toml, "p.toml", &diags);
  EXPECT_FALSE(p.ok()) << "policy unexpectedly valid:\n" << toml;
  return diags;
}

// Parses `toml`, expecting success; returns the warnings.
std::vector<Diagnostic> Warnings(std::string_view toml) {
  std::vector<Diagnostic> diags;
  auto p = Policy::Parse(toml, "p.toml", &diags);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  for (const Diagnostic& d : diags) EXPECT_FALSE(d.is_error()) << d.ToString();
  return diags;
}

// The one diagnostic whose message contains `needle`.
Diagnostic Find(const std::vector<Diagnostic>& diags, std::string_view needle) {
  std::vector<Diagnostic> found;
  for (const Diagnostic& d : diags) {
    if (d.message.find(needle) != std::string::npos) found.push_back(d);
  }
  std::string all;
  for (const Diagnostic& d : diags) all += d.ToString() + "\n";
  EXPECT_EQ(found.size(), 1u) << "looking for '" << needle << "' in:\n" << all;
  return found.empty() ? Diagnostic{} : found[0];
}

constexpr std::string_view kMinimalRule = R"(
[[rule]]
id = "r"
version = 1
severity = "low"
[rule.match]
)";

// ---------------------------------------------------------------------------
// The shipped example.

TEST(Policy, ExampleLoadsWithoutDiagnostics) {
  std::vector<Diagnostic> diags;
  ASSERT_OK_AND_ASSIGN(
      auto p,
      Policy::Load(custody::testing::SourceDir() / "docs/examples/boundaries.toml", &diags));
  EXPECT_THAT(diags, IsEmpty());
  std::vector<std::string> ids;
  for (const Rule& r : p->rules()) ids.push_back(r.id);
  EXPECT_THAT(ids, ElementsAre("gov-id-in-chat", "us-personal-data-leaves-us",
                               "us-sensitive-data-to-country-of-concern", "bulk-export"));
  EXPECT_EQ(p->name(), "custody example boundaries");
  EXPECT_EQ(p->version(), "2026-05-01");
  const Rule* bulk = p->FindRule("bulk-export");
  ASSERT_NE(bulk, nullptr);
  ASSERT_TRUE(bulk->window.has_value());
  EXPECT_EQ(bulk->window->duration, std::chrono::hours(24));
  EXPECT_EQ(bulk->window->exceeds, 10000);
  EXPECT_TRUE(bulk->window->per_actor);
  EXPECT_FALSE(bulk->window->per_target);
  EXPECT_EQ(p->FindRule("nope"), nullptr);
}

// ---------------------------------------------------------------------------
// Errors carry file:line:column and a fix.

TEST(PolicyErrors, TomlSyntaxErrorHasPosition) {
  const auto diags = Errors("[policy]\nname = \"x\"\n[[rule]\nid = \"r\"\n");
  ASSERT_THAT(diags, SizeIs(1));
  EXPECT_EQ(diags[0].line, 3u);
  EXPECT_EQ(diags[0].column, 8u);  // the end of line where ']' was expected
  EXPECT_THAT(diags[0].ToString(), StartsWith("p.toml:3:8: error: TOML syntax: "));
  EXPECT_FALSE(diags[0].hint.empty());
}

TEST(PolicyErrors, DiagnosticAsJson) {
  const auto diags = Errors(
      "[[rule]]\nid = \"r\"\nversion = 1\nseverity = \"hgh\"\nmatch = { activity = \"read\" }\n");
  ASSERT_THAT(diags, SizeIs(1));
  EXPECT_EQ(
      boost::json::serialize(diags[0].ToJson()),
      R"({"level":"error","source":"p.toml","line":4,"column":12,)"
      R"("message":"rule 'r' severity 'hgh' is not a severity","hint":"did you mean 'high'?"})");
}

TEST(PolicyErrors, StatusListsEveryError) {
  std::vector<Diagnostic> diags;
  auto p = Policy::Parse("colour = 1\n[[rule]]\nid = \"r\"\n", "f.toml", &diags);
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(p.status().IsInvalidArgument());
  EXPECT_THAT(p.status().message(), HasSubstr("f.toml:1:1: error: unknown key 'colour'"));
  EXPECT_THAT(p.status().message(), HasSubstr("has no version"));
  EXPECT_THAT(p.status().message(), HasSubstr("has no severity"));
  EXPECT_THAT(p.status().message(), HasSubstr("has no match table"));
}

TEST(PolicyErrors, UnknownKeySuggestsTheNearestKey) {
  const auto diags = Errors(R"([[rule]]
id = "r"
version = 1
serverity = "low"
match = {}
)");
  const Diagnostic d = Find(diags, "unknown key 'serverity'");
  EXPECT_EQ(d.line, 4u);
  EXPECT_EQ(d.column, 1u);
  EXPECT_EQ(d.hint, "did you mean 'severity'?");
}

TEST(PolicyErrors, UnknownMatchKeyAndNestedKeys) {
  const auto diags = Errors(std::string(kMinimalRule) + R"(actvity = ["read"]
actor.contry = ["US"]
target.type = { in = ["api"], nott_in = ["x"] }
)");
  EXPECT_EQ(Find(diags, "unknown key 'actvity'").hint, "did you mean 'activity'?");
  EXPECT_EQ(Find(diags, "unknown key 'contry'").hint, "did you mean 'country'?");
  EXPECT_EQ(Find(diags, "unknown key 'nott_in'").hint, "did you mean 'not_in'?");
}

TEST(PolicyErrors, MissingRequiredRuleKeysPointAtTheRule) {
  const auto diags = Errors("\n\n[[rule]]\nid = \"r\"\n");
  for (const char* what : {"has no version", "has no severity", "has no match table"}) {
    const Diagnostic d = Find(diags, what);
    EXPECT_EQ(d.line, 3u) << what;
    EXPECT_EQ(d.column, 1u) << what;
  }
  EXPECT_EQ(
      Find(Errors("[[rule]]\nversion = 1\nseverity = \"low\"\nmatch = {}\n"), "has no id").line,
      1u);
}

TEST(PolicyErrors, BadValues) {
  const auto diags = Errors(R"([[rule]]
id = "Not An Id"
version = 0
severity = "urgent"
liftable_by_approval = "yes"
match = { record_count = { min = -1 }, subjects = { count = 5 } }
)");
  EXPECT_EQ(Find(diags, "is not a valid id").line, 2u);
  EXPECT_EQ(Find(diags, "version is 0").line, 3u);
  EXPECT_EQ(Find(diags, "severity 'urgent' is not a severity").column, 12u);
  EXPECT_THAT(Find(diags, "liftable_by_approval is a string").message,
              HasSubstr("expected true or false"));
  EXPECT_EQ(Find(diags, "record_count min is negative").line, 6u);
  EXPECT_THAT(Find(diags, "subjects.count").message, HasSubstr("expected a table"));
}

TEST(PolicyErrors, OutcomeIsNotACondition) {
  const auto diags = Errors(std::string(kMinimalRule) + "outcome = [\"denied\"]\n");
  ASSERT_THAT(diags, SizeIs(1));
  EXPECT_EQ(diags[0].line, 7u);
  EXPECT_THAT(diags[0].hint, HasSubstr("never see events whose outcome is denied or error"));
}

TEST(PolicyErrors, DuplicateRuleIdNamesTheFirst) {
  const auto diags = Errors(std::string(kMinimalRule) + std::string(kMinimalRule));
  const Diagnostic d = Find(diags, "duplicate rule id 'r'");
  EXPECT_EQ(d.line, 9u);
  EXPECT_THAT(d.message, HasSubstr("first defined at line 3"));
}

TEST(PolicyErrors, ListReferences) {
  const auto diags = Errors(R"([lists]
a = ["@b"]
b = ["@a"]
c = "not-an-array"
[[rule]]
id = "r"
version = 1
severity = "low"
match = { activity = "@a", purpose = "@missing", target.system = "@sytems" }
)");
  EXPECT_THAT(Find(diags, "refers to itself").message, HasSubstr("@a -> @b -> @a"));
  EXPECT_EQ(Find(diags, "list 'c' is a string").line, 4u);
  EXPECT_EQ(Find(diags, "unknown list '@missing'").column, 38u);
  EXPECT_THAT(Find(diags, "unknown list '@sytems'").hint, HasSubstr("define it under [lists]"));
}

TEST(PolicyErrors, CountriesNeedOnePartyQuantifierAndASet) {
  const auto diags = Errors(std::string(kMinimalRule) + R"(countries = [
  { any_of = ["actor"], all_of = ["target"], in = ["CN"] },
  { any_of = ["actor", "targte"], in = ["CN"] },
  { any_of = ["actor"] },
]
)");
  EXPECT_THAT(Find(diags, "exactly one of any_of or all_of").line, 8u);
  EXPECT_EQ(Find(diags, "'targte' is not a party").hint, "did you mean 'target'?");
  EXPECT_EQ(Find(diags, "needs in or not_in").line, 10u);
}

TEST(PolicyErrors, Windows) {
  auto window = [](std::string_view body) {
    return Errors(std::string(kMinimalRule) + "[rule.window]\n" + std::string(body));
  };
  EXPECT_THAT(Find(window("exceeds = 1\n"), "has no duration").hint,
              HasSubstr("duration = \"24h\""));
  EXPECT_THAT(Find(window("duration = \"24h\"\n"), "has no exceeds").hint, HasSubstr("exceeds"));
  const Diagnostic bad = Find(window("duration = \"24hours\"\nexceeds = 1\n"), "24hours");
  EXPECT_EQ(bad.line, 8u);
  EXPECT_EQ(bad.column, 12u);
  EXPECT_THAT(Find(window("duration = \"0s\"\nexceeds = 1\n"), "greater than zero").message,
              HasSubstr("duration"));
  EXPECT_EQ(
      Find(window("duration = \"1h\"\nexceeds = 1\nsum = \"records\"\n"), "not a measure").hint,
      "did you mean 'record_count'?");
  EXPECT_THAT(
      Find(window("duration = \"1h\"\nexceeds = 1\nper = [\"acter\"]\n"), "window key").hint,
      HasSubstr("'actor'"));
  EXPECT_THAT(
      Find(window("duration = \"1m\"\nexceeds = 1\nresolution = \"2m\"\n"), "longer than").message,
      HasSubstr("resolution 2m"));
  EXPECT_THAT(Find(window("duration = \"1h\"\nexceeds = 1.5\n"), "exceeds is a float").message,
              HasSubstr("expected an integer"));
}

TEST(PolicyErrors, RuleAsSingleTableIsExplained) {
  const Diagnostic d = Find(Errors("[rule]\nid = \"r\"\n"), "expected an array of tables");
  EXPECT_THAT(d.hint, HasSubstr("[[rule]]"));
}

TEST(PolicyErrors, SummaryMustBeOneLine) {
  const auto diags = Errors(
      std::string(kMinimalRule)
          .replace(std::string(kMinimalRule).find("[rule.match]"), 0, "summary = \"a\\nb\"\n"));
  Find(diags, "summary spans several lines");
}

TEST(PolicyErrors, LiftableAliasesMustAgree) {
  const auto diags = Errors(R"([[rule]]
id = "r"
version = 1
severity = "low"
liftable_by_approval = true
unless_approved = false
match = {}
)");
  EXPECT_EQ(Find(diags, "differently").line, 6u);
}

TEST(PolicyErrors, LoadOfMissingFileIsIOError) {
  auto p = Policy::Load("/nonexistent/policy.toml", nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), schema::Code::kIOError);
  EXPECT_THAT(p.status().message(), HasSubstr("/nonexistent/policy.toml"));
}

// A directory once loaded as an empty policy: no rules, no alerts, no error.
TEST(PolicyErrors, LoadOfADirectoryIsIOError) {
  custody::testing::ScopedTempDir dir;
  auto p = Policy::Load(dir.path(), nullptr);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), schema::Code::kIOError);
  EXPECT_THAT(p.status().message(), HasSubstr("is a directory"));
}

TEST(PolicyErrors, LoadNamesTheFileInDiagnostics) {
  custody::testing::ScopedTempDir dir;
  const std::string path = dir.File("bad.toml");
  custody::testing::WriteFileOrDie(path, "\n[[rule]]\nid = 3\n");
  std::vector<Diagnostic> diags;
  auto p = Policy::Load(path, &diags);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(Find(diags, "id is an integer").ToString(),
              StartsWith(path + ":3:6: error: rule id is an integer; expected a string"));
}

// ---------------------------------------------------------------------------
// Warnings: rules (or values) that can never match.

TEST(PolicyWarnings, EmptyList) {
  const auto w = Warnings(std::string(kMinimalRule) + "target.type = []\n");
  const Diagnostic d = Find(w, "can never match: target.type must be in an empty list");
  EXPECT_EQ(d.line, 7u);
  EXPECT_EQ(d.level, Diagnostic::Level::kWarning);
  EXPECT_THAT(d.ToString(), StartsWith("p.toml:7:15: warning: rule 'r' can never match"));
}

TEST(PolicyWarnings, EmptyNamedList) {
  const auto w = Warnings(R"([lists]
nobody = []
)" + std::string(kMinimalRule) +
                          "actor.id = \"@nobody\"\n");
  Find(w, "can never match: actor.id must be in an empty list");
}

TEST(PolicyWarnings, MinGreaterThanMax) {
  const auto w =
      Warnings(std::string(kMinimalRule) + "target.audience_size = { min = 100, max = 10 }\n");
  EXPECT_EQ(Find(w, "min 100 is greater than max 10").line, 7u);
}

TEST(PolicyWarnings, UnknownCategoryPrefix) {
  const auto w = Warnings(std::string(kMinimalRule) + "categories.any = [\"gov-id.*\"]\n");
  const Diagnostic d = Find(w, "'gov-id.*' is not a category pattern");
  EXPECT_EQ(d.column, 19u);
  EXPECT_THAT(d.hint, HasSubstr("did you mean 'gov_id'?"));
  Find(w, "can never match: categories.any has no valid pattern");
}

TEST(PolicyWarnings, CountryNotTwoLetters) {
  const auto w = Warnings(R"([lists]
coc = ["CN", "RUS", "ir"]
)" + std::string(kMinimalRule) +
                          "countries = { any_of = [\"actor\"], in = \"@coc\" }\n");
  const Diagnostic d = Find(w, "'RUS' is not a two-letter country code");
  EXPECT_EQ(d.line, 2u);  // the list element itself
  EXPECT_EQ(d.column, 14u);
  EXPECT_THAT(w, SizeIs(1));  // "ir" is accepted (upper-cased)
}

TEST(PolicyWarnings, UnknownEnumValues) {
  const auto w = Warnings(std::string(kMinimalRule) +
                          "activity = [\"exprot\"]\nactor.type = [\"robot\"]\n"
                          "target.type = [\"chat\"]\n");
  EXPECT_EQ(Find(w, "'exprot' is not a valid activity").hint, "did you mean 'export'?");
  Find(w, "'robot' is not a valid actor.type");
  EXPECT_THAT(Find(w, "'chat' is not a valid target.type").hint, HasSubstr("chat_channel"));
  Find(w, "can never match: activity");
}

TEST(PolicyWarnings, UnusedListAndNoRulesAndEmptyMatch) {
  EXPECT_EQ(Find(Warnings("[lists]\nx = [\"a\"]\n"), "list 'x' is never used").line, 2u);
  Find(Warnings(""), "the policy has no rules");
  Find(Warnings(kMinimalRule), "has no conditions: it matches every event");
}

TEST(PolicyWarnings, EmptyAllowGroupMeansNeverFires) {
  const auto w = Warnings(std::string(kMinimalRule) + "activity = [\"read\"]\n[[rule.allow]]\n");
  Find(w, "allow #1 has no conditions");
}

TEST(PolicyWarnings, PolicyWithWarningsIsUsableAndKeepsThem) {
  ASSERT_OK_AND_ASSIGN(
      auto p, Policy::Parse(std::string(kMinimalRule) + "activity = [\"read\", \"x\"]\n", "w.toml",
                            nullptr));
  ASSERT_THAT(p->warnings(), SizeIs(1));
  EXPECT_THAT(p->warnings()[0].message, HasSubstr("'x' is not a valid activity"));
}

// ---------------------------------------------------------------------------
// Compilation details.

TEST(PolicyCompile, ListsAreSplicedAndNested) {
  auto p = test::MustParse(R"([lists]
a = ["contact.*", "@b"]
b = ["gov_id.*"]
[[rule]]
id = "r"
version = 1
severity = "low"
match = { categories.any = ["@a", "health.*"] }
)");
  ASSERT_NE(p, nullptr);
  std::vector<std::string> pats;
  for (const CategoryPattern& c : p->patterns()) pats.push_back(c.text);
  EXPECT_THAT(pats, ElementsAre("contact.*", "gov_id.*", "health.*"));
  EXPECT_EQ(p->rules()[0].match[0].display, "[@a, health.*]");
  EXPECT_EQ(p->rules()[0].match[0].patterns.count(), 3u);
}

TEST(PolicyCompile, PatternsAreInternedAcrossRules) {
  auto p = test::MustParse(R"([lists]
personal = ["contact.*", "gov_id.*"]
[[rule]]
id = "a"
version = 1
severity = "low"
match = { categories = "@personal" }
[[rule]]
id = "b"
version = 1
severity = "low"
match = { categories = { all = ["gov_id.*"], none = ["contact.*"] } }
)");
  ASSERT_NE(p, nullptr);
  EXPECT_THAT(p->patterns(), SizeIs(2));
  EXPECT_EQ(p->rules()[0].match[0].display, "@personal");
}

TEST(PolicyCompile, CheapConditionsAreEvaluatedFirst) {
  auto p = test::MustParse(std::string(kMinimalRule) +
                           "categories = [\"gov_id.*\"]\nactor.id = [\"x\"]\n"
                           "target.type = [\"api\"]\n");
  ASSERT_NE(p, nullptr);
  std::vector<Field> fields;
  for (const Condition& c : p->rules()[0].match) fields.push_back(c.field);
  EXPECT_THAT(fields, ElementsAre(Field::kTargetType, Field::kActorId, Field::kCategories));
}

TEST(PolicyCompile, DefaultsAndAliases) {
  auto p = test::MustParse(R"([[rule]]
id = "r"
version = 7
severity = "medium"
unless_approved = true
match = { activity = "export" }
window = { duration = "1h30m", exceeds = 5, per = ["target"], sum = "events" }
)");
  ASSERT_NE(p, nullptr);
  const Rule& r = p->rules()[0];
  EXPECT_EQ(r.version, 7);
  EXPECT_EQ(r.severity, Severity::kMedium);
  EXPECT_TRUE(r.liftable);
  ASSERT_TRUE(r.window);
  EXPECT_EQ(r.window->duration, std::chrono::minutes(90));
  EXPECT_EQ(r.window->late_tolerance, std::chrono::minutes(90));  // defaults to the duration
  EXPECT_EQ(r.window->resolution, std::chrono::microseconds(0));  // exact by default
  EXPECT_FALSE(r.window->per_actor);
  EXPECT_TRUE(r.window->per_target);
  EXPECT_EQ(r.window->measure, WindowSpec::Measure::kEvents);
  EXPECT_EQ(p->replay_horizon(), std::chrono::minutes(180));
}

TEST(PolicyCompile, FingerprintTracksMeaningNotSpelling) {
  auto a = test::MustParse(R"([lists]
x = ["US"]
[[rule]]
id = "r"
version = 1
severity = "low"
match = { actor.country = "@x" }
)");
  auto b = test::MustParse(R"(
[[rule]]
id = "r"
version = 2
severity = "high"
description = "same matching, other metadata"
[rule.match]
actor.country = ["us"]
)");
  auto c = test::MustParse(R"(
[[rule]]
id = "r"
version = 1
severity = "low"
match = { actor.country = ["DE"] }
)");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->rules()[0].fingerprint, b->rules()[0].fingerprint);
  EXPECT_NE(a->rules()[0].fingerprint, c->rules()[0].fingerprint);
}

// ---------------------------------------------------------------------------
// Identity in the ledger.

TEST(PolicyIdentity, Sha256OfTheTextAndCanonicalEntryBody) {
  const std::string text = std::string(kMinimalRule) + "activity = [\"read\"]\n";
  ASSERT_OK_AND_ASSIGN(auto p, Policy::Parse(text, "/etc/custody/policy.toml", nullptr));
  EXPECT_EQ(p->sha256(), Sha256Hex(text));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string body = p->EntryBody();
  ASSERT_OK_AND_ASSIGN(std::string canon, schema::CanonicalJson(test::JsonOrDie(body)));
  EXPECT_EQ(body, canon);
  boost::json::object o = test::JsonOrDie(body).as_object();
  EXPECT_EQ(o["sha256"].as_string(), p->sha256());
  EXPECT_EQ(o["text"].as_string(), text);
  EXPECT_EQ(o["source"], "/etc/custody/policy.toml");
  EXPECT_EQ(o["rules"], test::JsonOrDie(R"(["r"])"));
  EXPECT_EQ(o.size(), 4u);
}

// ---------------------------------------------------------------------------
// Durations and severities.

TEST(PolicyDuration, ParseAndFormat) {
  using std::chrono::microseconds;
  auto d = [](std::string_view s) { return ParseDuration(s); };
  EXPECT_EQ(*d("24h"), std::chrono::hours(24));
  EXPECT_EQ(*d("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*d("7d"), std::chrono::hours(168));
  EXPECT_EQ(*d("2w"), std::chrono::hours(336));
  EXPECT_EQ(*d("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*d("0s"), microseconds(0));
  for (const char* bad :
       {"", "h", "24", "24 h", "1.5h", "-1h", "24H", "3y", "99999999999999999d"}) {
    EXPECT_FALSE(d(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatDuration(std::chrono::hours(24)), "24h");
  EXPECT_EQ(FormatDuration(std::chrono::hours(48)), "2d");
  EXPECT_EQ(FormatDuration(std::chrono::hours(168)), "7d");
  EXPECT_EQ(FormatDuration(std::chrono::hours(336)), "2w");
  EXPECT_EQ(FormatDuration(std::chrono::minutes(90)), "90m");
  EXPECT_EQ(FormatDuration(std::chrono::milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(microseconds(0)), "0s");
  for (const char* s : {"24h", "90m", "2w", "1500ms", "45s"}) {
    EXPECT_EQ(*d(FormatDuration(*d(s))), *d(s)) << s;
  }
}

TEST(PolicySeverity, NamesRoundTrip) {
  for (Severity s :
       {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    Severity back = Severity::kInfo;
    ASSERT_TRUE(ParseSeverity(SeverityName(s), &back));
    EXPECT_EQ(back, s);
  }
  Severity out;
  EXPECT_FALSE(ParseSeverity("HIGH", &out));
  EXPECT_EQ(SeverityName(Severity::kCritical), "critical");
}

}  // namespace
}  // namespace custody::daemon::policy
