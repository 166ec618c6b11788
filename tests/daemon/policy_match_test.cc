// Matching: every condition type of the policy language, one at a time,
// through EvaluateSample (no state). See docs/policy.md for the semantics
// under test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon/policy/engine.h"
#include "daemon/policy/policy.h"
#include "testing/paths.h"
#include "tests/daemon/policy_test_util.h"

namespace custody::daemon::policy {
namespace {

using test::MakeEvent;
using ::testing::HasSubstr;

// A policy of one rule "r" whose [rule.match] table is `match` (TOML lines),
// preceded by `lists` (TOML lines for [lists]).
std::shared_ptr<const Policy> OneRule(std::string_view match, std::string_view lists = "") {
  std::string text;
  if (!lists.empty()) text += "[lists]\n" + std::string(lists) + "\n";
  text +=
      "[[rule]]\nid = \"r\"\nversion = 1\nseverity = \"low\"\nsummary = \"s\"\n"
      "[rule.match]\n" +
      std::string(match) + "\n";
  return test::MustParse(text);
}

bool Fires(const Policy& p, std::string_view event_overrides) {
  return !EvaluateSample(p, MakeEvent(event_overrides), nullptr).hits.empty();
}

std::string Reason(const Policy& p, std::string_view event_overrides) {
  const Decision d = EvaluateSample(p, MakeEvent(event_overrides), nullptr);
  return d.hits.empty() ? "(no hit)" : d.hits[0].reason;
}

TEST(MatchActivity, InAndNotIn) {
  auto p = OneRule(R"(activity = ["export", "download"])");
  EXPECT_TRUE(Fires(*p, R"({"activity":"export"})"));
  EXPECT_TRUE(Fires(*p, R"({"activity":"download"})"));
  EXPECT_FALSE(Fires(*p, R"({"activity":"read"})"));
  auto q = OneRule(R"(activity = { not_in = ["read", "query"] })");
  EXPECT_FALSE(Fires(*q, R"({"activity":"read"})"));
  EXPECT_TRUE(Fires(*q, R"({"activity":"share"})"));
  EXPECT_EQ(Reason(*p, R"({"activity":"export"})"), "s: activity export in [export, download]");
}

TEST(MatchCategories, AnyWithPrefixes) {
  auto p = OneRule(R"(categories.any = ["gov_id.*", "location.precise.*", "health"])");
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["gov_id"]}})"));  // the bare prefix itself
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["gov_id.passport"]}})"));
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["gov_id.passport.number"]}})"));
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["location.precise"]}})"));
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["location.precise.gps"]}})"));
  EXPECT_FALSE(Fires(*p, R"({"data":{"categories":["location.city"]}})"));
  EXPECT_FALSE(Fires(*p, R"({"data":{"categories":["location"]}})"));
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["health"]}})"));          // exact
  EXPECT_FALSE(Fires(*p, R"({"data":{"categories":["health.mental"]}})"));  // exact only
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["telemetry.cpu","gov_id.ssn"]}})"));
  EXPECT_EQ(Reason(*p, R"({"data":{"categories":["gov_id.ssn","telemetry.cpu"]}})"),
            "s: category gov_id.ssn in [gov_id.*, location.precise.*, health]");
}

TEST(MatchCategories, ShorthandIsAny) {
  auto p = OneRule(R"(categories = "contact.*")");
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["contact.email","business.x"]}})"));
  EXPECT_FALSE(Fires(*p, R"({"data":{"categories":["business.x"]}})"));
}

TEST(MatchCategories, AllAndNone) {
  auto all = OneRule(R"(categories.all = ["telemetry.*", "public.*"])");
  EXPECT_TRUE(Fires(*all, R"({"data":{"categories":["telemetry.cpu","public.name"]}})"));
  EXPECT_FALSE(Fires(*all, R"({"data":{"categories":["telemetry.cpu","contact.email"]}})"));
  auto none = OneRule(R"(categories = { any = ["*"], none = ["contact.*"] })");
  EXPECT_TRUE(Fires(*none, R"({"data":{"categories":["identity.name"]}})"));
  EXPECT_FALSE(Fires(*none, R"({"data":{"categories":["identity.name","contact.phone"]}})"));
}

TEST(MatchCategories, NamedListsAndNesting) {
  auto p = OneRule(R"(categories.any = "@personal")",
                   R"(sensitive = ["gov_id.*", "health.*"]
personal = ["contact.*", "@sensitive"])");
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["health.diagnosis"]}})"));
  EXPECT_TRUE(Fires(*p, R"({"data":{"categories":["contact.email"]}})"));
  EXPECT_FALSE(Fires(*p, R"({"data":{"categories":["identity.name"]}})"));
  EXPECT_THAT(Reason(*p, R"({"data":{"categories":["contact.email"]}})"),
              HasSubstr("category contact.email in @personal"));
}

TEST(MatchJurisdictions, CountAboveZeroAndMin) {
  auto p = OneRule(R"(subjects.jurisdictions = ["US"])");
  EXPECT_TRUE(Fires(*p, R"({"subjects":{"count":1,"jurisdictions":{"US":1}}})"));
  EXPECT_FALSE(Fires(*p, R"({"subjects":{"count":5,"jurisdictions":{"US":0,"CN":5}}})"));
  EXPECT_FALSE(Fires(*p, R"({"subjects":{"count":0,"jurisdictions":{}}})"));
  auto min = OneRule(R"(subjects.jurisdictions = { in = ["DE", "FR"], min = 100 })");
  EXPECT_FALSE(Fires(*min, R"({"subjects":{"count":599,"jurisdictions":{"DE":99,"US":500}}})"));
  EXPECT_TRUE(Fires(*min, R"({"subjects":{"count":100,"jurisdictions":{"DE":60,"FR":40}}})"));
  EXPECT_THAT(Reason(*min, R"({"subjects":{"count":100,"jurisdictions":{"DE":60,"FR":40}}})"),
              HasSubstr("subjects DE:60, FR:40 in [DE, FR] (at least 100)"));
}

TEST(MatchJurisdictions, NotIn) {
  auto p = OneRule(R"(subjects.jurisdictions = { not_in = ["US"] })");
  EXPECT_FALSE(Fires(*p, R"({"subjects":{"count":1,"jurisdictions":{"US":1}}})"));
  EXPECT_FALSE(Fires(*p, R"({"subjects":{"count":1,"jurisdictions":{"US":1,"DE":0}}})"));
  EXPECT_TRUE(Fires(*p, R"({"subjects":{"count":2,"jurisdictions":{"US":1,"DE":1}}})"));
}

TEST(MatchSubjects, CountRange) {
  auto p = OneRule(R"(subjects.count = { min = 10, max = 20 })");
  EXPECT_FALSE(Fires(*p, R"({"subjects":{"count":9}})"));
  EXPECT_TRUE(Fires(*p, R"({"subjects":{"count":10}})"));
  EXPECT_TRUE(Fires(*p, R"({"subjects":{"count":20}})"));
  EXPECT_FALSE(Fires(*p, R"({"subjects":{"count":21}})"));
}

TEST(MatchActor, IdTypeCountryEntity) {
  auto id = OneRule(R"(actor.id = ["svc-etl", "emp-9"])");
  EXPECT_TRUE(Fires(*id, R"({"actor":{"id":"emp-9"}})"));
  EXPECT_FALSE(Fires(*id, R"({"actor":{"id":"emp-90"}})"));
  auto type = OneRule(R"(actor.type = "service")");
  EXPECT_TRUE(Fires(*type, R"({"actor":{"type":"service"}})"));
  EXPECT_FALSE(Fires(*type, R"({"actor":{"type":"human"}})"));
  auto country = OneRule(R"(actor.country = { not_in = ["US", "CA"] })");
  EXPECT_TRUE(Fires(*country, R"({"actor":{"country":"MX"}})"));
  EXPECT_FALSE(Fires(*country, R"({"actor":{"country":"ca"}})"));  // events are upper-cased
  auto entity = OneRule(R"(actor.entity = ["acme-sg"])");
  EXPECT_TRUE(Fires(*entity, R"({"actor":{"entity":"acme-sg"}})"));
  EXPECT_FALSE(Fires(*entity, R"({"actor":{"entity":"acme-us"}})"));
  EXPECT_FALSE(Fires(*entity, "{}"));  // absent is in no set
  auto not_entity = OneRule(R"(actor.entity = { not_in = ["acme-sg"] })");
  EXPECT_TRUE(Fires(*not_entity, "{}"));  // ...and not in any
  auto no_entity = OneRule(R"(actor.entity = { present = false })");
  EXPECT_TRUE(Fires(*no_entity, "{}"));
  EXPECT_FALSE(Fires(*no_entity, R"({"actor":{"entity":"acme-sg"}})"));
}

TEST(MatchTarget, SystemTypeIdCountryAudience) {
  auto sys = OneRule(R"(target.system = ["lark"])");
  EXPECT_TRUE(Fires(*sys, R"({"target":{"system":"lark"}})"));
  EXPECT_FALSE(Fires(*sys, R"({"target":{"system":"larks"}})"));
  auto type = OneRule(R"(target.type = ["chat_channel", "external_recipient"])");
  EXPECT_TRUE(Fires(*type, R"({"target":{"type":"external_recipient"}})"));
  EXPECT_FALSE(Fires(*type, R"({"target":{"type":"api"}})"));
  auto id = OneRule(R"(target.id = { in = ["global-ops"] })");
  EXPECT_TRUE(Fires(*id, R"({"target":{"id":"global-ops"}})"));
  EXPECT_FALSE(Fires(*id, "{}"));
  auto has_id = OneRule(R"(target.id = { present = true })");
  EXPECT_TRUE(Fires(*has_id, R"({"target":{"id":"x"}})"));
  EXPECT_FALSE(Fires(*has_id, "{}"));
  auto country = OneRule(R"(target.country = "@eu")", R"(eu = ["DE", "FR", "IE"])");
  EXPECT_TRUE(Fires(*country, R"({"target":{"country":"IE"}})"));
  EXPECT_FALSE(Fires(*country, R"({"target":{"country":"GB"}})"));
  auto audience = OneRule(R"(target.audience_size = { min = 100, max = 5000 })");
  EXPECT_FALSE(Fires(*audience, R"({"target":{"audience_size":99}})"));
  EXPECT_TRUE(Fires(*audience, R"({"target":{"audience_size":100}})"));
  EXPECT_TRUE(Fires(*audience, R"({"target":{"audience_size":5000}})"));
  EXPECT_FALSE(Fires(*audience, R"({"target":{"audience_size":5001}})"));
  EXPECT_FALSE(Fires(*audience, "{}"));  // no audience: out of range
  EXPECT_THAT(Reason(*audience, R"({"target":{"audience_size":4200}})"),
              HasSubstr("target.audience_size 4200 in [100, 5000]"));
}

TEST(MatchOrigin, SystemAndCountry) {
  auto p = OneRule(R"(origin.country = ["US"]
origin.system = ["us-crm"])");
  EXPECT_TRUE(Fires(*p, R"({"origin":{"system":"us-crm","country":"US"}})"));
  EXPECT_FALSE(Fires(*p, R"({"origin":{"system":"us-crm","country":"DE"}})"));
  EXPECT_FALSE(Fires(*p, R"({"origin":{"system":"eu-crm","country":"US"}})"));
  EXPECT_FALSE(Fires(*p, "{}"));
  auto absent = OneRule(R"(origin.country = { present = false })");
  EXPECT_TRUE(Fires(*absent, "{}"));
}

TEST(MatchPurpose, InNotInAbsent) {
  auto p = OneRule(R"(purpose = ["marketing"])");
  EXPECT_TRUE(Fires(*p, R"({"context":{"purpose":"marketing"}})"));
  EXPECT_FALSE(Fires(*p, R"({"context":{"purpose":"support"}})"));
  EXPECT_FALSE(Fires(*p, "{}"));
  auto no_purpose = OneRule(R"(purpose = { present = false })");
  EXPECT_TRUE(Fires(*no_purpose, "{}"));
  EXPECT_FALSE(Fires(*no_purpose, R"({"context":{"purpose":"support"}})"));
  auto not_support = OneRule(R"(purpose = { not_in = ["support"] })");
  EXPECT_TRUE(Fires(*not_support, "{}"));
  EXPECT_FALSE(Fires(*not_support, R"({"context":{"purpose":"support"}})"));
}

TEST(MatchRecordCount, MinAndMax) {
  auto p = OneRule(R"(record_count = { min = 1000 })");
  EXPECT_FALSE(Fires(*p, R"({"data":{"record_count":999}})"));
  EXPECT_TRUE(Fires(*p, R"({"data":{"record_count":1000}})"));
  auto q = OneRule(R"(record_count.max = 0)");
  EXPECT_TRUE(Fires(*q, R"({"data":{"record_count":0}})"));
  EXPECT_FALSE(Fires(*q, R"({"data":{"record_count":1}})"));
}

TEST(MatchCountries, ActorOrTargetNotInList) {
  // The shape of us-personal-data-leaves-us.
  auto p = OneRule(R"(countries = { any_of = ["actor", "target"], not_in = ["US"] })");
  EXPECT_FALSE(Fires(*p, R"({"actor":{"country":"US"},"target":{"country":"US"}})"));
  EXPECT_TRUE(Fires(*p, R"({"actor":{"country":"IE"},"target":{"country":"US"}})"));
  EXPECT_TRUE(Fires(*p, R"({"actor":{"country":"US"},"target":{"country":"DE"}})"));
  EXPECT_TRUE(Fires(*p, R"({"actor":{"country":"SG"},"target":{"country":"SG"}})"));
  EXPECT_EQ(Reason(*p, R"({"actor":{"country":"US"},"target":{"country":"DE"}})"),
            "s: target country DE not in [US]");
}

TEST(MatchCountries, ActorOrTargetInList) {
  // The shape of us-sensitive-data-to-country-of-concern.
  auto p = OneRule(R"(countries = { any_of = ["actor", "target"], in = "@coc" })",
                   R"(coc = ["CN", "RU", "IR", "KP", "CU", "VE"])");
  EXPECT_TRUE(Fires(*p, R"({"actor":{"country":"CN"},"target":{"country":"US"}})"));
  EXPECT_TRUE(Fires(*p, R"({"actor":{"country":"US"},"target":{"country":"VE"}})"));
  EXPECT_FALSE(Fires(*p, R"({"actor":{"country":"SG"},"target":{"country":"US"}})"));
  EXPECT_EQ(Reason(*p, R"({"actor":{"country":"CN"},"target":{"country":"RU"}})"),
            "s: actor country CN in @coc, target country RU in @coc");
}

TEST(MatchCountries, AllOfAndOrigin) {
  auto all =
      OneRule(R"(countries = { all_of = ["actor", "target", "origin"], in = ["DE", "FR"] })");
  EXPECT_TRUE(Fires(*all, R"({"actor":{"country":"DE"},"target":{"country":"FR"}})"));  // no origin
  EXPECT_FALSE(Fires(*all, R"({"actor":{"country":"DE"},"target":{"country":"FR"},
                               "origin":{"system":"x","country":"US"}})"));
  auto origin = OneRule(R"(countries = { any_of = ["origin"], not_in = ["US"] })");
  EXPECT_FALSE(Fires(*origin, "{}"));  // no origin: nothing to be outside the US
  EXPECT_TRUE(Fires(*origin, R"({"origin":{"system":"x","country":"BR"}})"));
}

TEST(MatchCountries, SeveralConditionsAllHold) {
  auto p = OneRule(R"(countries = [
  { any_of = ["actor"], in = ["US"] },
  { any_of = ["target"], not_in = ["US"] },
])");
  EXPECT_TRUE(Fires(*p, R"({"actor":{"country":"US"},"target":{"country":"DE"}})"));
  EXPECT_FALSE(Fires(*p, R"({"actor":{"country":"DE"},"target":{"country":"DE"}})"));
}

TEST(MatchRule, AllConditionsMustHold) {
  auto p = OneRule(R"(categories.any = ["gov_id.*"]
target.type = ["chat_channel"])");
  EXPECT_TRUE(Fires(*p, R"({"target":{"type":"chat_channel"},
                            "data":{"categories":["gov_id.ssn"]}})"));
  EXPECT_FALSE(Fires(*p, R"({"target":{"type":"chat_channel"}})"));
  EXPECT_FALSE(Fires(*p, R"({"data":{"categories":["gov_id.ssn"]}})"));
}

TEST(MatchRule, AllowGroupsExcludeEvents) {
  auto p = test::MustParse(R"(
[[rule]]
id = "r"
version = 1
severity = "low"
[rule.match]
activity = ["export"]
[[rule.allow]]
actor.id = ["svc-backup"]
target.system = ["vault"]
[[rule.allow]]
purpose = ["legal-hold"]
)");
  EXPECT_TRUE(Fires(*p, R"({"activity":"export"})"));
  EXPECT_FALSE(Fires(*p, R"({"activity":"export","actor":{"id":"svc-backup"},
                             "target":{"system":"vault"}})"));
  // One group holds only when all its conditions do.
  EXPECT_TRUE(Fires(*p, R"({"activity":"export","actor":{"id":"svc-backup"}})"));
  EXPECT_FALSE(Fires(*p, R"({"activity":"export","context":{"purpose":"legal-hold"}})"));
}

TEST(MatchRule, EmptyMatchMatchesEveryAllowedEvent) {
  auto p = OneRule("");
  EXPECT_TRUE(Fires(*p, "{}"));
  EXPECT_FALSE(Fires(*p, R"({"outcome":"denied"})"));
  EXPECT_FALSE(Fires(*p, R"({"outcome":"error"})"));
  EXPECT_EQ(Reason(*p, "{}"), "s");
}

TEST(MatchRule, ExampleRulesOnTheirEdges) {
  std::vector<Diagnostic> diags;
  auto p = Policy::Load(custody::testing::SourceDir() / "docs/examples/boundaries.toml", &diags);
  ASSERT_TRUE(p.ok());
  const Policy& policy = **p;
  auto rules = [&](std::string_view overrides) {
    return test::RuleIds(EvaluateSample(policy, MakeEvent(overrides), nullptr));
  };
  using ::testing::ElementsAre;
  using ::testing::IsEmpty;
  // Non-personal data of US subjects leaving the US: nothing.
  EXPECT_THAT(rules(R"({"actor":{"country":"DE"},"data":{"categories":["telemetry.cpu"]}})"),
              IsEmpty());
  // location (coarse) is personal, not sensitive; location.precise.x is sensitive.
  EXPECT_THAT(rules(R"({"actor":{"country":"CN"},"data":{"categories":["location.city"]}})"),
              ElementsAre("us-personal-data-leaves-us"));
  EXPECT_THAT(rules(R"({"actor":{"country":"CN"},"data":{"categories":["location.precise.gps"]}})"),
              ElementsAre("us-personal-data-leaves-us", "us-sensitive-data-to-country-of-concern"));
  // Sensitive data, target in a country of concern, actor in the US.
  EXPECT_THAT(rules(R"({"target":{"country":"IR"},"data":{"categories":["health"]}})"),
              ElementsAre("us-personal-data-leaves-us", "us-sensitive-data-to-country-of-concern"));
  // No US subject: neither US rule.
  EXPECT_THAT(rules(R"({"actor":{"country":"CN"},"data":{"categories":["health"]},
                        "subjects":{"count":3,"jurisdictions":{"CN":3,"US":0}}})"),
              IsEmpty());
  // gov_id in a chat channel, even in the US and with no subjects at all.
  EXPECT_THAT(rules(R"({"target":{"type":"chat_channel"},"data":{"categories":["gov_id"]},
                        "subjects":{"count":0,"jurisdictions":{}}})"),
              ElementsAre("gov-id-in-chat"));
  // A big export of non-personal data is not a bulk export.
  EXPECT_THAT(rules(R"({"activity":"export","data":{"categories":["business.sales"],
                        "record_count":50000}})"),
              IsEmpty());
  EXPECT_THAT(rules(R"({"activity":"download","data":{"categories":["identity.name"],
                        "record_count":10001}})"),
              ElementsAre("bulk-export"));
  EXPECT_THAT(rules(R"({"activity":"transfer","data":{"categories":["identity.name"],
                        "record_count":10000}})"),
              IsEmpty());
}

}  // namespace
}  // namespace custody::daemon::policy
