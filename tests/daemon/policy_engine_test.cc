// Engine: the scenario set end to end, decisions and their JSON, approvals
// as the engine applies them, rolling windows through batches, restarts
// (Replay) and reloads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "custody/schema/json_canon.h"
#include "daemon/policy/approvals.h"
#include "daemon/policy/engine.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tests/daemon/policy_test_util.h"

namespace custody::daemon::policy {
namespace {

namespace json = boost::json;
using test::MakeEvent;
using test::MustParse;
using test::RuleIds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::shared_ptr<const Policy> ExamplePolicy() {
  std::vector<Diagnostic> diags;
  auto p = Policy::Load(custody::testing::SourceDir() / "docs/examples/boundaries.toml", &diags);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  for (const Diagnostic& d : diags) ADD_FAILURE() << "unexpected diagnostic: " << d.ToString();
  return p.ok() ? *p : nullptr;
}

void RegisterScenarioApprovals(Engine& engine) {
  const json::value approvals = test::JsonOrDie(
      custody::testing::ReadFileOrDie(custody::testing::ScenariosDir() / "approvals.json"));
  uint64_t seq = 1;
  for (const json::value& a : approvals.as_array()) {
    engine.OnRecordCommitted("approval", a, seq++);
  }
  ASSERT_EQ(engine.approvals().size(), approvals.as_array().size());
  ASSERT_EQ(engine.record_errors(), 0u) << engine.last_record_error();
}

std::vector<schema::Event> ScenarioEvents() {
  const std::string text =
      custody::testing::ReadFileOrDie(custody::testing::ScenariosDir() / "events.ndjson");
  schema::ParsedBatch batch = schema::ParseEventBatch(text, /*ndjson=*/true, 100000);
  EXPECT_TRUE(batch.ok()) << (batch.errors.empty() ? "" : batch.errors[0].message);
  return batch.events;
}

using Alerts = std::map<std::string, std::set<std::string>>;  // event_id -> rule ids

Alerts ExpectedAlerts() {
  const json::value expected = test::JsonOrDie(
      custody::testing::ReadFileOrDie(custody::testing::ScenariosDir() / "expected.json"));
  Alerts out;
  for (const json::value& a : expected.at("alerts").as_array()) {
    auto& rules = out[std::string(a.at("event_id").as_string())];
    for (const json::value& r : a.at("rules").as_array()) rules.insert(std::string(r.as_string()));
  }
  return out;
}

// ---------------------------------------------------------------------------
// The scenario set: the acceptance criterion of issue 4.

TEST(EngineScenario, ExamplePolicyRaisesExactlyTheExpectedAlerts) {
  Engine engine(ExamplePolicy(), nullptr);
  RegisterScenarioApprovals(engine);
  Alerts got;
  engine.BeginBatch();
  for (const schema::Event& e : ScenarioEvents()) {
    const Decision d = engine.Decide(e);
    for (const Hit& h : d.hits) got[e.event_id].insert(h.rule);
  }
  engine.CommitBatch();
  EXPECT_EQ(got, ExpectedAlerts());
}

TEST(EngineScenario, SameAlertsOneEventPerBatchWithRolledBackAttempts) {
  // Each batch is first attempted and rolled back (as after a failed LMDB
  // commit), then decided again: the rolled-back attempt leaves no trace.
  Engine engine(ExamplePolicy(), nullptr);
  RegisterScenarioApprovals(engine);
  Alerts got;
  for (const schema::Event& e : ScenarioEvents()) {
    engine.BeginBatch();
    (void)engine.Decide(e);
    (void)engine.Decide(e);
    engine.RollbackBatch();
    engine.BeginBatch();
    const Decision d = engine.Decide(e);
    engine.CommitBatch();
    for (const Hit& h : d.hits) got[e.event_id].insert(h.rule);
  }
  EXPECT_EQ(got, ExpectedAlerts());
}

TEST(EngineScenario, ApprovalOutcomesAreExplained) {
  Engine engine(ExamplePolicy(), nullptr);
  RegisterScenarioApprovals(engine);
  std::map<std::string, Decision> by_id;
  for (const schema::Event& e : ScenarioEvents()) by_id[e.event_id] = engine.Decide(e);

  // pub-04: in scope of APR-100 -> lifted, no hit.
  EXPECT_THAT(by_id["pub-04"].hits, IsEmpty());
  json::object d4 = test::DecisionObject(by_id["pub-04"]);
  ASSERT_EQ(d4["lifted"].as_array().size(), 1u);
  EXPECT_EQ(d4["lifted"].as_array()[0].at("rule"), "us-personal-data-leaves-us");
  EXPECT_EQ(d4["lifted"].as_array()[0].at("approval_id"), "APR-100");

  // pub-05: the same access after APR-100 expired.
  ASSERT_EQ(by_id["pub-05"].hits.size(), 1u);
  EXPECT_EQ(by_id["pub-05"].hits[0].approval_id, "APR-100");
  EXPECT_EQ(by_id["pub-05"].hits[0].approval_status, "expired");
  EXPECT_THAT(by_id["pub-05"].hits[0].reason, HasSubstr("expired at 2026-06-30T23:59:59Z"));

  // pub-06: financial.card is outside APR-100's categories.
  ASSERT_EQ(by_id["pub-06"].hits.size(), 1u);
  EXPECT_EQ(by_id["pub-06"].hits[0].approval_status, "out-of-scope: categories");
  EXPECT_THAT(by_id["pub-06"].hits[0].reason, HasSubstr("financial.card"));

  // pub-09: APR-200 lifts the transfer to the German mail vendor.
  EXPECT_THAT(by_id["pub-09"].hits, IsEmpty());
  EXPECT_EQ(test::DecisionObject(by_id["pub-09"])["lifted"].as_array()[0].at("approval_id"),
            "APR-200");

  // pub-11: the 24 h export sum, explained.
  ASSERT_EQ(by_id["pub-11"].hits.size(), 1u);
  EXPECT_EQ(by_id["pub-11"].hits[0].severity, Severity::kHigh);
  EXPECT_THAT(by_id["pub-11"].hits[0].reason, HasSubstr("is 11000 > 10000"));
  EXPECT_THAT(by_id["pub-11"].hits[0].reason, HasSubstr("emp-us-4"));
}

TEST(EngineScenario, SeveritiesAndVersionsMatchTheReadme) {
  auto p = ExamplePolicy();
  ASSERT_NE(p, nullptr);
  std::map<std::string, Severity> sev;
  for (const Rule& r : p->rules()) {
    sev[r.id] = r.severity;
    EXPECT_EQ(r.version, 1);
  }
  EXPECT_EQ(sev, (std::map<std::string, Severity>{
                     {"gov-id-in-chat", Severity::kCritical},
                     {"us-personal-data-leaves-us", Severity::kHigh},
                     {"us-sensitive-data-to-country-of-concern", Severity::kCritical},
                     {"bulk-export", Severity::kHigh}}));
  EXPECT_TRUE(p->FindRule("us-personal-data-leaves-us")->liftable);
  EXPECT_FALSE(p->FindRule("gov-id-in-chat")->liftable);
  EXPECT_FALSE(p->FindRule("us-sensitive-data-to-country-of-concern")->liftable);
  EXPECT_FALSE(p->FindRule("bulk-export")->liftable);
}

// ---------------------------------------------------------------------------
// Decision JSON.

TEST(EngineDecision, JsonIsCanonicalAndComplete) {
  Engine engine(ExamplePolicy(), nullptr);
  const Decision d = engine.Decide(MakeEvent(R"({
    "activity": "share", "actor": {"country": "SG"},
    "target": {"system": "lark", "type": "chat_channel", "country": "SG", "id": "ops"},
    "data": {"categories": ["gov_id.drivers_license"], "record_count": 1},
    "context": {"approval_id": "APR-9"}})"));
  ASSERT_THAT(RuleIds(d), ElementsAre("gov-id-in-chat", "us-personal-data-leaves-us"));
  ASSERT_OK_AND_ASSIGN(std::string canon, schema::CanonicalJson(test::JsonOrDie(d.json)));
  EXPECT_EQ(d.json, canon);
  json::object o = test::DecisionObject(d);
  EXPECT_EQ(o["policy_sha256"].as_string(), engine.PolicySha256());
  EXPECT_EQ(o["policy_version"], "2026-05-01");
  EXPECT_TRUE(o["lifted"].as_array().empty());
  const json::object& h0 = o["hits"].as_array()[0].as_object();
  EXPECT_EQ(h0.at("rule"), "gov-id-in-chat");
  EXPECT_EQ(h0.at("version"), 1);
  EXPECT_EQ(h0.at("severity"), "critical");
  EXPECT_EQ(h0.at("approval_id"), "APR-9");
  EXPECT_EQ(h0.at("approval_status"), "not-liftable");
  EXPECT_THAT(std::string(h0.at("reason").as_string()),
              HasSubstr("government id reached a chat channel: "));
  const json::object& h1 = o["hits"].as_array()[1].as_object();
  EXPECT_EQ(h1.at("approval_status"), "unknown");
  EXPECT_THAT(std::string(h1.at("reason").as_string()),
              HasSubstr("actor country SG not in [US], target country SG not in [US]"));
}

TEST(EngineDecision, NoHitDecisionNamesThePolicy) {
  Engine engine(ExamplePolicy(), nullptr);
  const Decision d = engine.Decide(MakeEvent());
  EXPECT_THAT(d.hits, IsEmpty());
  EXPECT_EQ(d.json, R"({"hits":[],"lifted":[],"policy_sha256":")" + engine.PolicySha256() +
                        R"(","policy_version":"2026-05-01"})");
}

TEST(EngineDecision, DeterministicAcrossEnginesAndRuns) {
  auto policy = ExamplePolicy();
  std::vector<std::string> first;
  for (int run = 0; run < 3; ++run) {
    Engine engine(policy, nullptr);
    RegisterScenarioApprovals(engine);
    std::vector<std::string> jsons;
    for (const schema::Event& e : ScenarioEvents()) {
      jsons.push_back(engine.Decide(e).json);
      // Canonical by construction: equal to the canonical form of itself.
      ASSERT_OK_AND_ASSIGN(std::string canon, schema::CanonicalJson(test::JsonOrDie(jsons.back())));
      EXPECT_EQ(jsons.back(), canon) << e.event_id;
    }
    if (run == 0) {
      first = jsons;
    } else {
      EXPECT_EQ(jsons, first);
    }
  }
}

TEST(EngineDecision, EscapesTextCanonically) {
  Engine engine(MustParse(R"(
[policy]
version = 3
[[rule]]
id = "r"
version = 9007199254740991
severity = "info"
summary = "quote \" backslash \\ tab \t é"
match = { purpose = { present = true } }
)"),
                nullptr);
  const Decision d = engine.Decide(MakeEvent(R"({"context":{"purpose":"p\"ü"}})"));
  ASSERT_THAT(RuleIds(d), ElementsAre("r"));
  ASSERT_OK_AND_ASSIGN(std::string canon, schema::CanonicalJson(test::JsonOrDie(d.json)));
  EXPECT_EQ(d.json, canon);
  json::object o = test::DecisionObject(d);
  EXPECT_EQ(o["policy_version"], "3");
  EXPECT_EQ(o["hits"].as_array()[0].at("version"), 9007199254740991);
  // A control character (the tab) can only come from the policy text.
  EXPECT_EQ(d.hits[0].reason, "quote \" backslash \\ tab \t é: purpose p\"ü present");
  EXPECT_THAT(d.json, HasSubstr(R"(tab \t é)"));
}

TEST(EngineDecision, HitsFollowRuleOrderInTheFile) {
  Engine engine(MustParse(R"(
[[rule]]
id = "zeta"
version = 1
severity = "low"
match = {}
[[rule]]
id = "alpha"
version = 2
severity = "medium"
match = {}
)"),
                nullptr);
  const Decision d = engine.Decide(MakeEvent());
  EXPECT_THAT(RuleIds(d), ElementsAre("zeta", "alpha"));
  EXPECT_EQ(d.hits[1].version, 2);
}

// ---------------------------------------------------------------------------
// Outcome: denied and error events move no data.

TEST(EngineOutcome, DeniedAndErrorEventsRaiseNothingAndCountNothing) {
  Engine engine(MustParse(R"(
[[rule]]
id = "any-read"
version = 1
severity = "low"
match = { activity = ["read"] }
[[rule]]
id = "bulk"
version = 1
severity = "high"
match = {}
window = { duration = "1h", exceeds = 10 }
)"),
                nullptr);
  for (const char* outcome : {"denied", "error"}) {
    const Decision d = engine.Decide(
        MakeEvent(std::string(R"({"outcome":")") + outcome + R"(", "data":{"record_count":100}})"));
    EXPECT_THAT(d.hits, IsEmpty()) << outcome;
  }
  // Had the 200 denied/error records counted, 10 more would exceed 10... they
  // did not: 10 records alone do not.
  EXPECT_THAT(RuleIds(engine.Decide(MakeEvent(R"({"data":{"record_count":10}})"))),
              ElementsAre("any-read"));
  EXPECT_THAT(RuleIds(engine.Decide(MakeEvent(R"({"data":{"record_count":1}})"))),
              ElementsAre("any-read", "bulk"));
}

// ---------------------------------------------------------------------------
// Approvals as the engine applies them.

constexpr std::string_view kLiftable = R"(
[[rule]]
id = "leaves-us"
version = 3
severity = "high"
liftable_by_approval = true
[rule.match]
countries = { any_of = ["actor", "target"], not_in = ["US"] }
[[rule]]
id = "never-liftable"
version = 1
severity = "critical"
unless_approved = false
[rule.match]
target.country = ["DE"]
)";

constexpr std::string_view kApproval = R"({
  "approval_id": "APR-1", "granted_by": "dpo@example.com", "legal_basis": "SCC",
  "scope": {"target_countries": ["DE"]},
  "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2026-12-31T23:59:59Z"})";

TEST(EngineApprovals, LiftsOnlyLiftableRulesAndOnlyWhenNamed) {
  Engine engine(MustParse(kLiftable), nullptr);
  engine.OnRecordCommitted("approval", test::JsonOrDie(kApproval), 7);
  const schema::Event named =
      MakeEvent(R"({"target":{"country":"DE"},"context":{"approval_id":"APR-1"}})");
  const Decision d = engine.Decide(named);
  ASSERT_THAT(RuleIds(d), ElementsAre("never-liftable"));
  EXPECT_EQ(d.hits[0].approval_status, "not-liftable");
  json::object o = test::DecisionObject(d);
  ASSERT_EQ(o["lifted"].as_array().size(), 1u);
  EXPECT_EQ(o["lifted"].as_array()[0].at("rule"), "leaves-us");
  EXPECT_EQ(o["lifted"].as_array()[0].at("version"), 3);

  // Not named: the approval exists and would apply, but lifts nothing.
  const Decision unnamed = engine.Decide(MakeEvent(R"({"target":{"country":"DE"}})"));
  EXPECT_THAT(RuleIds(unnamed), ElementsAre("leaves-us", "never-liftable"));
  EXPECT_TRUE(unnamed.hits[0].approval_id.empty());
  EXPECT_TRUE(unnamed.hits[0].approval_status.empty());
  EXPECT_FALSE(
      test::DecisionObject(unnamed)["hits"].as_array()[0].as_object().contains("approval_id"));
}

TEST(EngineApprovals, UnknownRevokedExpiredNotYetValidOutOfScope) {
  Engine engine(MustParse(kLiftable), nullptr);
  engine.OnRecordCommitted("approval", test::JsonOrDie(kApproval), 1);
  auto status_for = [&](std::string_view overrides) {
    const Decision d = engine.Decide(MakeEvent(overrides));
    for (const Hit& h : d.hits) {
      if (h.rule == "leaves-us") return h.approval_status;
    }
    return std::string("(lifted)");
  };
  EXPECT_EQ(status_for(R"({"target":{"country":"DE"},"context":{"approval_id":"APR-1"}})"),
            "(lifted)");
  EXPECT_EQ(status_for(R"({"target":{"country":"DE"},"context":{"approval_id":"APR-404"}})"),
            "unknown");
  EXPECT_EQ(status_for(R"({"time":"2027-01-01T00:00:00Z","target":{"country":"DE"},
                           "context":{"approval_id":"APR-1"}})"),
            "expired");
  EXPECT_EQ(status_for(R"({"time":"2025-12-31T23:59:59Z","target":{"country":"DE"},
                           "context":{"approval_id":"APR-1"}})"),
            "not-yet-valid");
  EXPECT_EQ(status_for(R"({"target":{"country":"FR"},"context":{"approval_id":"APR-1"}})"),
            "out-of-scope: target_countries");

  engine.OnRecordCommitted("approval-revocation",
                           test::JsonOrDie(R"({"approval_id":"APR-1","revoked_by":"dpo@example.com",
                          "reason":"vendor contract ended"})"),
                           2);
  EXPECT_EQ(status_for(R"({"target":{"country":"DE"},"context":{"approval_id":"APR-1"}})"),
            "revoked");
  const Decision d =
      engine.Decide(MakeEvent(R"({"target":{"country":"DE"},"context":{"approval_id":"APR-1"}})"));
  EXPECT_THAT(d.hits[0].reason, HasSubstr("vendor contract ended"));
}

TEST(EngineApprovals, BadRecordsAreCountedAndChangeNothing) {
  Engine engine(MustParse(kLiftable), nullptr);
  engine.OnRecordCommitted("approval", test::JsonOrDie(R"({"approval_id":"X"})"), 1);
  EXPECT_EQ(engine.record_errors(), 1u);
  EXPECT_THAT(engine.last_record_error(), HasSubstr("seq 1"));
  engine.OnRecordCommitted("approval", test::JsonOrDie(kApproval), 2);
  engine.OnRecordCommitted("approval", test::JsonOrDie(kApproval), 3);  // duplicate id
  engine.OnRecordCommitted(
      "approval-revocation",
      test::JsonOrDie(R"({"approval_id":"NOPE","revoked_by":"a","reason":"b"})"), 4);
  EXPECT_EQ(engine.record_errors(), 3u);
  EXPECT_EQ(engine.approvals().size(), 1u);
  EXPECT_EQ(engine.approvals().Get("APR-1", test::T("2026-05-01T00:00:00Z"))->seq, 2u);
  engine.OnRecordCommitted("access", test::JsonOrDie("{}"), 5);  // other kinds are ignored
  EXPECT_EQ(engine.record_errors(), 3u);
}

// ---------------------------------------------------------------------------
// Windows through the engine.

constexpr std::string_view kBulk = R"(
[[rule]]
id = "bulk"
version = 1
severity = "high"
[rule.match]
activity = ["export"]
[rule.window]
duration = "24h"
exceeds = 100
)";

schema::Event Export(std::string_view time, int64_t records, std::string_view actor = "emp-1",
                     std::string_view system = "crm") {
  return MakeEvent(std::string(R"({"activity":"export","time":")") + std::string(time) +
                   R"(","actor":{"id":")" + std::string(actor) + R"("},"target":{"system":")" +
                   std::string(system) + R"("},"data":{"record_count":)" + std::to_string(records) +
                   "}}");
}

TEST(EngineWindow, EdgesLowerExcludedUpperIncluded) {
  Engine engine(MustParse(kBulk), nullptr);
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:00Z", 60)).hits, IsEmpty());
  // Exactly 24 h later: the first event sits on the excluded lower edge.
  EXPECT_THAT(engine.Decide(Export("2026-05-05T10:00:00Z", 60)).hits, IsEmpty());
  // 1 µs earlier than 24 h after the second: both the second and this count.
  EXPECT_THAT(RuleIds(engine.Decide(Export("2026-05-06T09:59:59.999999Z", 41))),
              ElementsAre("bulk"));
}

TEST(EngineWindow, ThresholdIsExceedsNotReaches) {
  Engine engine(MustParse(kBulk), nullptr);
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:00Z", 100)).hits, IsEmpty());
  EXPECT_THAT(RuleIds(engine.Decide(Export("2026-05-04T10:00:01Z", 1))), ElementsAre("bulk"));
}

TEST(EngineWindow, PerActorKeepsActorsApart) {
  Engine engine(MustParse(kBulk), nullptr);
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:00Z", 80, "a")).hits, IsEmpty());
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:01Z", 80, "b")).hits, IsEmpty());
  EXPECT_THAT(RuleIds(engine.Decide(Export("2026-05-04T10:00:02Z", 21, "a"))), ElementsAre("bulk"));
}

TEST(EngineWindow, PerActorAndTarget) {
  std::string policy(kBulk);
  policy.replace(policy.find("duration"), 0, "per = [\"actor\", \"target\"]\n");
  Engine engine(MustParse(policy), nullptr);
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:00Z", 80, "a", "s1")).hits, IsEmpty());
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:01Z", 80, "a", "s2")).hits, IsEmpty());
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:01Z", 80, "b", "s1")).hits, IsEmpty());
  const Decision d = engine.Decide(Export("2026-05-04T10:00:02Z", 21, "a", "s1"));
  ASSERT_THAT(RuleIds(d), ElementsAre("bulk"));
  EXPECT_THAT(d.hits[0].reason, HasSubstr("for actor a and target s1"));
}

TEST(EngineWindow, OnlyMatchingEventsCount) {
  Engine engine(MustParse(kBulk), nullptr);
  // Reads do not match activity = export: they neither fire nor count.
  EXPECT_THAT(engine.Decide(MakeEvent(R"({"data":{"record_count":1000}})")).hits, IsEmpty());
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:00Z", 100)).hits, IsEmpty());
}

TEST(EngineWindow, RollbackLeavesWindowsAsBefore) {
  Engine engine(MustParse(kBulk), nullptr);
  engine.BeginBatch();
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:00Z", 50)).hits, IsEmpty());
  engine.CommitBatch();
  const auto before = engine.window_stats();

  engine.BeginBatch();
  EXPECT_THAT(engine.Decide(Export("2026-05-04T11:00:00Z", 40)).hits, IsEmpty());
  EXPECT_THAT(engine.Decide(Export("2026-05-04T09:00:00Z", 5)).hits, IsEmpty());  // late
  EXPECT_THAT(engine.Decide(Export("2026-05-04T11:00:00Z", 40, "someone-else")).hits, IsEmpty());
  EXPECT_THAT(RuleIds(engine.Decide(Export("2026-05-04T12:00:00Z", 10))), ElementsAre("bulk"));
  engine.RollbackBatch();
  EXPECT_EQ(engine.window_stats().keys, before.keys);
  EXPECT_EQ(engine.window_stats().buckets, before.buckets);

  // 50 + 50 = 100 does not exceed: the rolled-back 55 records are gone.
  engine.BeginBatch();
  EXPECT_THAT(engine.Decide(Export("2026-05-04T12:00:00Z", 50)).hits, IsEmpty());
  EXPECT_THAT(RuleIds(engine.Decide(Export("2026-05-04T12:00:01Z", 1))), ElementsAre("bulk"));
  engine.CommitBatch();
}

TEST(EngineWindow, DryRunChangesNothing) {
  Engine engine(MustParse(kBulk), nullptr);
  (void)engine.Decide(Export("2026-05-04T10:00:00Z", 90));
  EXPECT_THAT(RuleIds(engine.DryRun(Export("2026-05-04T10:00:01Z", 20))), ElementsAre("bulk"));
  EXPECT_THAT(RuleIds(engine.DryRun(Export("2026-05-04T10:00:01Z", 20))), ElementsAre("bulk"));
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:02Z", 10)).hits, IsEmpty());
}

TEST(EngineWindow, ReplayRebuildsWindowsAfterRestart) {
  auto policy = MustParse(kBulk);
  std::vector<schema::Event> past = {Export("2026-05-04T09:00:00Z", 30),
                                     Export("2026-05-04T10:00:00Z", 30),
                                     MakeEvent(R"({"outcome":"denied","activity":"export",
                                                   "data":{"record_count":1000}})"),
                                     Export("2026-05-04T11:00:00Z", 30)};
  Engine before(policy, nullptr);
  for (const auto& e : past) (void)before.Decide(e);

  Engine after(policy, nullptr);  // a restart
  EXPECT_EQ(policy->replay_horizon(), std::chrono::hours(48));
  for (const auto& e : past) after.Replay(e);

  for (Engine* engine : {&before, &after}) {
    EXPECT_THAT(engine->Decide(Export("2026-05-04T12:00:00Z", 10)).hits, IsEmpty());
    EXPECT_THAT(RuleIds(engine->Decide(Export("2026-05-04T12:00:01Z", 1))), ElementsAre("bulk"));
  }
}

TEST(EngineWindow, ScenarioReplayedSlowlyMonthsLaterStillCounts) {
  // The scenario's May events sent in November, with minutes between them,
  // and a restart (Replay) in the middle.
  test::FakeClock clock(test::T("2026-11-23T19:00:00Z"));
  auto policy = ExamplePolicy();
  std::vector<schema::Event> sent;
  auto engine = std::make_unique<Engine>(policy, &clock);
  RegisterScenarioApprovals(*engine);
  Alerts got;
  for (const schema::Event& e : ScenarioEvents()) {
    clock.Advance(std::chrono::minutes(5));
    if (e.event_id == "pub-11") {  // restart just before it
      engine = std::make_unique<Engine>(policy, &clock);
      RegisterScenarioApprovals(*engine);
      for (const schema::Event& past : sent) engine->Replay(past);
    }
    engine->BeginBatch();
    for (const Hit& h : engine->Decide(e).hits) got[e.event_id].insert(h.rule);
    engine->CommitBatch();
    sent.push_back(e);
  }
  EXPECT_EQ(got, ExpectedAlerts());
}

// bulk-export of the example policy, as the scenario README states it: the
// sum over the actor's data-moving personal events with time in (t - 24h, t].
schema::Event PersonalExport(std::string_view time, int64_t records, std::string_view actor) {
  return MakeEvent(std::string(R"({"activity":"export","time":")") + std::string(time) +
                   R"(","actor":{"id":")" + std::string(actor) +
                   R"("},"data":{"categories":["contact.email"],"record_count":)" +
                   std::to_string(records) + "}}");
}

std::vector<std::string> Decide(Engine& engine, const schema::Event& e) {
  engine.BeginBatch();
  std::vector<std::string> ids = RuleIds(engine.Decide(e));
  engine.CommitBatch();
  return ids;
}

TEST(EngineWindow, ExamplePolicySumsAreExactBelowASecond) {
  test::FakeClock clock(test::T("2026-11-23T19:00:00Z"));
  Engine engine(ExamplePolicy(), &clock);
  // Lower edge: 10:00:00.5 is inside (t - 24h, t] for t = 10:00:00.6 next day,
  // 10:00:00 is not. 6000 + 5000 would exceed; 1 + 5000 does not.
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00Z", 6000, "a")), IsEmpty());
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00.5Z", 1, "a")), IsEmpty());
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-05T10:00:00.6Z", 5000, "a")), IsEmpty());
  // Upper edge, late: an event at .4 does not see the 6000 records at .8.
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00Z", 1, "b")), IsEmpty());
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00.8Z", 6000, "b")), IsEmpty());
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00.4Z", 5000, "b")), IsEmpty());
  // ...while one at .8 itself does.
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00.8Z", 4000, "b")),
              ElementsAre("bulk-export"));
}

TEST(EngineWindow, ExamplePolicyCountsEventsThatArriveDaysLate) {
  test::FakeClock clock(test::T("2026-11-23T19:00:00Z"));
  Engine engine(ExamplePolicy(), &clock);
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T10:00:00Z", 6000, "a")), IsEmpty());
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-06T11:00:00Z", 1, "a")), IsEmpty());
  clock.Advance(std::chrono::hours(1));  // a sweep may run: nothing of "a" may go
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-11T11:00:00Z", 1, "other")), IsEmpty());
  // 39 hours behind the actor's newest event (and days behind the newest
  // event seen), and still its window holds the 6000 records of 10 h before.
  EXPECT_THAT(Decide(engine, PersonalExport("2026-05-04T20:00:00Z", 5000, "a")),
              ElementsAre("bulk-export"));
}

TEST(EngineReload, StagedPolicyTakesEffectAtNextBatchAndKeepsUnchangedWindows) {
  Engine engine(MustParse(kBulk), nullptr);
  (void)engine.Decide(Export("2026-05-04T10:00:00Z", 90));

  std::string extra(kBulk);
  extra += R"(
[[rule]]
id = "any-export"
version = 1
severity = "info"
match = { activity = ["export"] }
)";
  auto next = MustParse(extra);
  const std::string old_sha = engine.PolicySha256();
  engine.BeginBatch();
  engine.SetPolicy(next);
  // Visible to readers at once...
  EXPECT_EQ(engine.policy()->sha256(), next->sha256());
  // ...but the open batch stays under the old policy, and so does what the
  // appender would record for it.
  EXPECT_EQ(engine.PolicySha256(), old_sha);
  const Decision in_batch = engine.Decide(Export("2026-05-04T10:00:01Z", 1));
  EXPECT_THAT(in_batch.hits, IsEmpty());
  EXPECT_EQ(test::DecisionObject(in_batch)["policy_sha256"].as_string(), old_sha);
  engine.CommitBatch();

  engine.BeginBatch();
  EXPECT_EQ(engine.PolicySha256(), next->sha256());
  EXPECT_EQ(engine.PolicyEntryBody(), next->EntryBody());
  // The bulk rule is unchanged: its window (91 so far) carried over.
  const Decision d = engine.Decide(Export("2026-05-04T10:00:02Z", 10));
  EXPECT_THAT(RuleIds(d), ElementsAre("bulk", "any-export"));
  EXPECT_EQ(test::DecisionObject(d)["policy_sha256"].as_string(), next->sha256());
  engine.CommitBatch();
}

TEST(EngineReload, ChangedWindowedRuleStartsEmpty) {
  Engine engine(MustParse(kBulk), nullptr);
  (void)engine.Decide(Export("2026-05-04T10:00:00Z", 90));
  std::string changed(kBulk);
  changed.replace(changed.find("exceeds = 100"), 13, "exceeds = 95");
  engine.SetPolicy(MustParse(changed));
  EXPECT_THAT(engine.Decide(Export("2026-05-04T10:00:01Z", 10)).hits, IsEmpty());
  EXPECT_THAT(RuleIds(engine.Decide(Export("2026-05-04T10:00:02Z", 86))), ElementsAre("bulk"));
}

TEST(EngineReload, BadFileKeepsThePolicyInForce) {
  custody::testing::ScopedTempDir dir;
  custody::testing::WriteFileOrDie(dir.path() / "bad.toml", "[[rule]]\nid = \"x\"\n");
  Engine engine(MustParse(kBulk), nullptr);
  const std::string sha = engine.PolicySha256();
  std::vector<Diagnostic> diags;
  const Status s = engine.Reload(dir.path() / "bad.toml", &diags);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr("previous policy stays"));
  EXPECT_THAT(s.message(), HasSubstr("bad.toml:1:1: error:"));
  EXPECT_FALSE(diags.empty());
  EXPECT_EQ(engine.PolicySha256(), sha);
  EXPECT_TRUE(engine.Reload(dir.path() / "missing.toml", nullptr).code() == schema::Code::kIOError);
}

// ---------------------------------------------------------------------------
// Dry runs.

TEST(EvaluateSample, EvaluatesWithoutStateAndExplainsWindows) {
  auto policy = ExamplePolicy();
  const schema::Event big = MakeEvent(R"({"activity":"export","data":{"record_count":20000}})");
  const Decision d = EvaluateSample(*policy, big, nullptr);
  ASSERT_THAT(RuleIds(d), ElementsAre("bulk-export"));
  EXPECT_THAT(d.hits[0].reason, HasSubstr("dry run: this event alone"));
  const schema::Event small = MakeEvent(R"({"activity":"export","data":{"record_count":2}})");
  EXPECT_THAT(EvaluateSample(*policy, small, nullptr).hits, IsEmpty());
  EXPECT_THAT(EvaluateSample(*policy, small, nullptr).hits, IsEmpty());
}

TEST(EvaluateSample, UsesGivenApprovals) {
  auto policy = MustParse(kLiftable);
  ApprovalRegistry registry;
  std::vector<schema::FieldError> errors;
  ASSERT_OK(registry.Register(*ParseApproval(test::JsonOrDie(kApproval), &errors), 1));
  const schema::Event e =
      MakeEvent(R"({"target":{"country":"DE"},"context":{"approval_id":"APR-1"}})");
  EXPECT_THAT(RuleIds(EvaluateSample(*policy, e, &registry)), ElementsAre("never-liftable"));
  const Decision none = EvaluateSample(*policy, e, nullptr);
  ASSERT_THAT(RuleIds(none), ElementsAre("leaves-us", "never-liftable"));
  EXPECT_EQ(none.hits[0].approval_status, "unknown");
}

// ---------------------------------------------------------------------------
// Threads: the appender decides while HTTP threads reload, list and
// pre-check approvals (run under the tsan preset to check the locking).

TEST(EngineThreads, ReloadsAndApprovalReadsWhileDeciding) {
  auto a = ExamplePolicy();
  auto b = MustParse(kBulk);
  Engine engine(a, nullptr);
  RegisterScenarioApprovals(engine);
  const std::vector<schema::Event> events = ScenarioEvents();
  std::atomic<bool> done{false};
  std::thread other([&] {
    int i = 0;
    while (!done.load()) {
      engine.SetPolicy(++i % 2 ? b : a);
      EXPECT_FALSE(engine.policy()->sha256().empty());
      EXPECT_FALSE(engine.policy()->EntryBody().empty());
      EXPECT_EQ(engine.approvals().List(test::T("2026-05-01T00:00:00Z")).size(), 2u);
      Approval dup;
      dup.approval_id = "APR-100";
      EXPECT_FALSE(engine.approvals().CheckRegister(dup).ok());
      (void)EvaluateSample(*engine.policy(), events[i % events.size()], &engine.approvals());
    }
  });
  for (int round = 0; round < 200; ++round) {
    engine.BeginBatch();
    std::string sha;
    for (const schema::Event& e : events) {
      const Decision d = engine.Decide(e);
      // One batch, one policy.
      const std::string this_sha(test::DecisionObject(d)["policy_sha256"].as_string());
      if (sha.empty()) sha = this_sha;
      EXPECT_EQ(this_sha, sha);
      // What the appender records for the batch is what decided it.
      EXPECT_EQ(engine.PolicySha256(), sha);
    }
    if (round % 3 == 0) {
      engine.RollbackBatch();
    } else {
      engine.CommitBatch();
    }
  }
  done = true;
  other.join();
}

// ---------------------------------------------------------------------------
// Cost. Printed, not asserted: Decide() must stay around 1 µs per event for
// the example policy (200,000 events/s on the appender thread).

TEST(EnginePerformance, DecideCostPerEvent) {
  Engine engine(ExamplePolicy(), nullptr);
  RegisterScenarioApprovals(engine);
  std::vector<schema::Event> events = ScenarioEvents();
  // Mostly ordinary traffic, as in production: in-country reads.
  for (int i = 0; i < 50; ++i) {
    events.push_back(MakeEvent(R"({"data":{"categories":["contact.email","identity.name"]}})"));
  }
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 8192;
  size_t hits = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int b = 0; b < kBatches; ++b) {
    engine.BeginBatch();
    for (int i = 0; i < kPerBatch; ++i) {
      const schema::Event& e = events[static_cast<size_t>(i) % events.size()];
      hits += engine.Decide(e).hits.size();
    }
    engine.CommitBatch();
  }
  const double ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
  const double per_event = ns / (kBatches * kPerBatch);
  std::printf("[ perf     ] Decide(): %.0f ns/event over %d events (%zu hits, %zu window keys)\n",
              per_event, kBatches * kPerBatch, hits, engine.window_stats().keys);

  // The common case alone: an in-country read that hits nothing.
  const schema::Event quiet = MakeEvent();
  const auto start2 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200000; ++i) (void)engine.Decide(quiet);
  const double ns2 =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start2).count();
  std::printf("[ perf     ] Decide() no-hit read: %.0f ns/event\n", ns2 / 200000);
  SUCCEED();
}

}  // namespace
}  // namespace custody::daemon::policy
