// The real custodyd with a boundary policy, over loopback: the shared
// scenarios end to end (approvals, events, exactly the expected alerts,
// across a restart), and the admin routes -- approvals, revocations, policy
// dry runs and reloads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "custody/ledger/entry.h"
#include "custody/schema/json_canon.h"
#include "testing/daemon_harness.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::testing {
namespace {

namespace json = boost::json;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

using Pair = std::pair<std::string, std::string>;  // (event_id, rule)

std::string BoundariesPath() { return (SourceDir() / "docs/examples/boundaries.toml").string(); }

DaemonOptions WithPolicy(const std::string& path) {
  DaemonOptions o;
  o.top_level = "policy = \"" + path + "\"\n";
  return o;
}

json::value Json(const HttpResult& r) {
  auto v = schema::ParseJson(r.body);
  EXPECT_TRUE(v.ok()) << r.status << " " << r.error << " " << r.body;
  return v.ok() ? *v : json::value();
}

std::string Str(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  const json::value* m = o ? o->if_contains(key) : nullptr;
  return m && m->is_string() ? std::string(m->as_string()) : std::string();
}

// Asserts an RFC 9457 problem with `status` and `slug`; returns its errors' pointers.
std::vector<std::string> ProblemPointers(const HttpResult& r, int status, const std::string& slug) {
  EXPECT_EQ(r.status, status) << r.error << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json") << r.body;
  json::value v = Json(r);
  std::vector<std::string> pointers;
  if (!v.is_object()) return pointers;
  EXPECT_EQ(Str(v, "type"), "urn:custody:problem:" + slug) << r.body;
  const json::value* errors = v.as_object().if_contains("errors");
  EXPECT_TRUE(errors && errors->is_array()) << r.body;
  if (errors && errors->is_array()) {
    for (const auto& e : errors->as_array()) pointers.push_back(Str(e, "pointer"));
  }
  return pointers;
}

// Every alert, paging through /v1/alerts `limit` at a time (newest first).
std::vector<json::object> AllAlerts(HttpClient& c, int limit = 2) {
  std::vector<json::object> out;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    HttpResult r = c.Get(
        "/v1/alerts?limit=" + std::to_string(limit) + (cursor.empty() ? "" : "&cursor=" + cursor),
        kReaderToken);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) break;
    json::value v = Json(r);
    for (const auto& a : v.at("alerts").as_array()) out.push_back(a.as_object());
    const json::value& next = v.at("next_cursor");
    if (next.is_null()) break;
    cursor = std::string(next.as_string());
  }
  return out;
}

std::set<Pair> AlertPairs(const std::vector<json::object>& alerts) {
  std::set<Pair> out;
  for (const auto& a : alerts) {
    const bool fresh = out.emplace(Str(a, "event_id"), Str(a, "rule")).second;
    EXPECT_TRUE(fresh) << "two alerts for " << Str(a, "event_id") << " " << Str(a, "rule");
  }
  return out;
}

std::set<Pair> ExpectedPairs() {
  auto v = schema::ParseJson(ReadFileOrDie(ScenariosDir() / "expected.json"));
  EXPECT_TRUE(v.ok());
  std::set<Pair> out;
  for (const auto& a : v->at("alerts").as_array()) {
    for (const auto& rule : a.at("rules").as_array()) {
      out.emplace(std::string(a.at("event_id").as_string()), std::string(rule.as_string()));
    }
  }
  return out;
}

uint64_t LogSize(HttpClient& c) {
  HttpResult r = c.Get("/v1/log");
  EXPECT_EQ(r.status, 200) << r.body;
  return Json(r).at("size").to_number<uint64_t>();
}

// The decoded entry at `seq`.
ledger::DecodedEntry EntryAt(HttpClient& c, uint64_t seq) {
  HttpResult r =
      c.Get("/v1/entries?start=" + std::to_string(seq) + "&end=" + std::to_string(seq + 1));
  EXPECT_EQ(r.status, 200) << r.body;
  auto e = ledger::DecodeEntry(r.body.substr(0, r.body.find('\n')));
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? *e : ledger::DecodedEntry{};
}

// POSTs one event (JSON text); returns its seq.
uint64_t Send(HttpClient& c, const std::string& event) {
  HttpResult r = c.Post("/v1/events", event, "application/json", kProducerToken);
  EXPECT_EQ(r.status, 200) << r.body;
  if (r.status != 200) return 0;
  return Json(r).at("results").as_array().at(0).at("seq").to_number<uint64_t>();
}

// The rule ids of an access entry's decision hits / lifted list.
std::vector<std::string> Rules(const ledger::DecodedEntry& e, std::string_view list = "hits") {
  std::vector<std::string> out;
  if (!e.decision.is_object()) return out;
  const json::value* l = e.decision.as_object().if_contains(list);
  if (l == nullptr || !l->is_array()) return out;
  for (const auto& h : l->as_array()) out.push_back(Str(h, "rule"));
  return out;
}

// Like pub-04: an IE agent reads a US subject's phone number under APR-100.
std::string Pub04Like(const std::string& id, const std::string& approval = "APR-100") {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:10:00Z","activity":"read","actor":{"type":"human","id":"emp-ie-3","country":"IE"},"target":{"system":"us-crm","type":"database","country":"US","id":"users"},"data":{"categories":["contact.phone"],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1}},"context":{"purpose":"customer-support")" +
         (approval.empty() ? "" : R"(,"approval_id":")" + approval + "\"") + "}}";
}

// Like pub-02: a driver's licence shared into a worldwide chat channel.
std::string Pub02Like(const std::string& id) {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:05:00Z","activity":"share","actor":{"type":"human","id":"emp-sg-7","country":"SG"},"target":{"system":"lark","type":"chat_channel","country":"SG","id":"global-ops","audience_size":4200},"data":{"categories":["gov_id.drivers_license","identity.name"],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1},"ids":["user:1002"]}})";
}

const char* kApr100 =
    R"({"approval_id":"APR-100","granted_by":"dpo@example.com","legal_basis":"SCC",
  "scope":{"categories":["contact.*","identity.*"],"subject_jurisdictions":["US"],
           "actor_countries":["IE"],"purposes":["customer-support"]},
  "valid_from":"2026-01-01T00:00:00Z","valid_until":"2026-06-30T23:59:59Z"})";

std::vector<std::string> ApprovalIds(HttpClient& c) {
  HttpResult r = c.Get("/v1/approvals", kReaderToken);
  EXPECT_EQ(r.status, 200) << r.body;
  std::vector<std::string> ids;
  const json::value v = Json(r);
  for (const auto& a : v.at("approvals").as_array()) ids.push_back(Str(a, "approval_id"));
  return ids;
}

// ---------------------------------------------------------------------------

TEST(ScenarioTest, SharedScenariosRaiseExactlyTheExpectedAlertsAcrossARestart) {
  DaemonHarness d(WithPolicy(BoundariesPath()));
  ASSERT_TRUE(d.Start()) << d.last_error();
  HttpClient c = d.Client();

  // Approvals first, one request each, as an operator would.
  auto approvals = schema::ParseJson(ReadFileOrDie(ScenariosDir() / "approvals.json"));
  ASSERT_TRUE(approvals.ok());
  std::vector<std::pair<std::string, uint64_t>> registered;
  for (const auto& a : approvals->as_array()) {
    HttpResult r = c.Post("/v1/approvals", json::serialize(a), "application/json", kAdminToken);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value v = Json(r);
    EXPECT_EQ(Str(v, "approval_id"), Str(a, "approval_id"));
    EXPECT_FALSE(Str(v, "checkpoint").empty());
    const uint64_t seq = v.at("seq").to_number<uint64_t>();
    EXPECT_EQ(EntryAt(c, seq).kind, "approval");
    registered.emplace_back(Str(a, "approval_id"), seq);
  }

  // The events, in order, as one NDJSON request.
  HttpResult sent = c.Post("/v1/events", ReadFileOrDie(ScenariosDir() / "events.ndjson"),
                           "application/x-ndjson", kProducerToken);
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(Json(sent).at("results").as_array().size(), 14u);

  const std::vector<json::object> before = AllAlerts(c);
  EXPECT_EQ(AlertPairs(before), ExpectedPairs());
  for (const auto& a : before) {
    EXPECT_FALSE(Str(a, "alert_id").empty());
    EXPECT_FALSE(Str(a, "reason").empty());
    EXPECT_FALSE(Str(a, "severity").empty());
    EXPECT_EQ(Str(a, "producer"), "producer-1");
  }

  // A restart changes nothing that was recorded...
  ASSERT_EQ(d.Stop(), 0) << d.Log();
  ASSERT_TRUE(d.Start()) << d.last_error();
  c = d.Client();
  const std::vector<json::object> after = AllAlerts(c, 100);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], before[i]);

  // ...the approvals are registered again from the ledger...
  HttpResult list = c.Get("/v1/approvals", kReaderToken);
  ASSERT_EQ(list.status, 200) << list.body;
  std::vector<std::pair<std::string, uint64_t>> listed;
  const json::value listed_json = Json(list);
  for (const auto& a : listed_json.at("approvals").as_array()) {
    listed.emplace_back(Str(a, "approval_id"), a.at("seq").to_number<uint64_t>());
  }
  EXPECT_EQ(listed, registered);

  // ...and still lift: a fresh pub-04 under APR-100 raises nothing, while the
  // same access without the approval does.
  const uint64_t lifted = Send(c, Pub04Like("pub-04-after-restart"));
  const uint64_t control = Send(c, Pub04Like("pub-04-no-approval", ""));
  ledger::DecodedEntry e = EntryAt(c, lifted);
  EXPECT_THAT(Rules(e), IsEmpty());
  EXPECT_THAT(Rules(e, "lifted"), ElementsAre("us-personal-data-leaves-us"));
  EXPECT_THAT(Rules(EntryAt(c, control)), ElementsAre("us-personal-data-leaves-us"));
  std::set<Pair> now = AlertPairs(AllAlerts(c, 100));
  std::set<Pair> want = ExpectedPairs();
  want.emplace("pub-04-no-approval", "us-personal-data-leaves-us");
  EXPECT_EQ(now, want);
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

// ---------------------------------------------------------------------------

class PolicyApiTest : public ::testing::Test {
 protected:
  void StartOrDie(DaemonHarness& d) { ASSERT_TRUE(d.Start()) << d.last_error(); }
};

TEST_F(PolicyApiTest, InvalidApprovalsAreRefusedWithPointersAndNothingIsRecorded) {
  DaemonHarness d(WithPolicy(BoundariesPath()));
  StartOrDie(d);
  HttpClient c = d.Client();
  const uint64_t size = LogSize(c);

  // Bad dates, an unknown member, a bad category pattern.
  HttpResult r = c.Post("/v1/approvals", R"({"approval_id":"APR-X","granted_by":"dpo",
      "legal_basis":"SCC","scope":{"categories":["contact.*","gov-id.*"]},"scoop":{},
      "valid_from":"2026-13-01T00:00:00Z","valid_until":"yesterday"})",
                        "application/json", kAdminToken);
  EXPECT_THAT(ProblemPointers(r, 400, "invalid-approval"),
              UnorderedElementsAre("/scope/categories/1", "/scoop", "/valid_from", "/valid_until"));

  // valid_until before valid_from.
  r = c.Post("/v1/approvals", R"({"approval_id":"APR-X","granted_by":"dpo","legal_basis":"SCC",
      "scope":{},"valid_from":"2026-06-01T00:00:00Z","valid_until":"2026-05-01T00:00:00Z"})",
             "application/json", kAdminToken);
  EXPECT_THAT(ProblemPointers(r, 400, "invalid-approval"), ElementsAre("/valid_until"));

  // In an array, pointers name the element; one bad element refuses them all.
  r = c.Post("/v1/approvals", std::string("[") + kApr100 + R"(,{"approval_id":"APR-Y"}])",
             "application/json", kAdminToken);
  std::vector<std::string> pointers = ProblemPointers(r, 400, "invalid-approval");
  EXPECT_THAT(pointers, Contains("/1/granted_by"));
  for (const auto& p : pointers) EXPECT_TRUE(p.starts_with("/1/")) << p;

  // The same id twice in one request.
  r = c.Post("/v1/approvals", std::string("[") + kApr100 + "," + kApr100 + "]", "application/json",
             kAdminToken);
  EXPECT_THAT(ProblemPointers(r, 400, "invalid-approval"), ElementsAre("/1/approval_id"));

  // Not JSON, not JSON's media type, an empty array.
  ProblemPointers(c.Post("/v1/approvals", "{", "application/json", kAdminToken), 400,
                  "malformed-request");
  ProblemPointers(c.Post("/v1/approvals", kApr100, "text/plain", kAdminToken), 415,
                  "unsupported-media-type");
  ProblemPointers(c.Post("/v1/approvals", "[]", "application/json", kAdminToken), 400,
                  "invalid-approval");
  // Only admins register; readers list.
  ProblemPointers(c.Post("/v1/approvals", kApr100, "application/json", kReaderToken), 403,
                  "forbidden");
  ProblemPointers(c.Post("/v1/approvals", kApr100, "application/json", kProducerToken), 403,
                  "forbidden");
  ProblemPointers(c.Get("/v1/approvals", kProducerToken), 403, "forbidden");
  ProblemPointers(c.Get("/v1/approvals"), 401, "unauthenticated");

  EXPECT_EQ(LogSize(c), size) << "a refused approval must not be recorded";
  EXPECT_THAT(ApprovalIds(c), IsEmpty());

  // A good one is recorded once; the same id again is a conflict.
  r = c.Post("/v1/approvals", kApr100, "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LogSize(c), size + 1);
  r = c.Post("/v1/approvals", kApr100, "application/json", kAdminToken);
  EXPECT_THAT(ProblemPointers(r, 409, "conflict"), ElementsAre("/approval_id"));
  // Said once: what exists, that nothing was recorded, what to do.
  const std::string detail = Str(Json(r), "detail");
  EXPECT_EQ(detail.find("immutable"), detail.rfind("immutable")) << detail;
  EXPECT_THAT(detail, HasSubstr("nothing was recorded"));
  EXPECT_EQ(LogSize(c), size + 1);
  EXPECT_THAT(ApprovalIds(c), ElementsAre("APR-100"));
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST_F(PolicyApiTest, ArrayOfApprovalsIsRecordedAndListedWithState) {
  DaemonHarness d(WithPolicy(BoundariesPath()));
  StartOrDie(d);
  HttpClient c = d.Client();
  HttpResult r = c.Post("/v1/approvals", ReadFileOrDie(ScenariosDir() / "approvals.json"),
                        "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Json(r);
  const auto& results = v.at("results").as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(Str(results[0], "approval_id"), "APR-100");
  EXPECT_EQ(Str(results[1], "approval_id"), "APR-200");
  EXPECT_FALSE(v.as_object().contains("approval_id"));  // only for a single approval
  EXPECT_FALSE(Str(v, "checkpoint").empty());

  HttpResult list = c.Get("/v1/approvals", kAdminToken);
  ASSERT_EQ(list.status, 200) << list.body;
  const json::value listed = Json(list);
  const auto& approvals = listed.at("approvals").as_array();
  ASSERT_EQ(approvals.size(), 2u);
  for (const auto& a : approvals) {
    EXPECT_THAT(Str(a, "state"), ::testing::AnyOf("active", "expired", "not-yet-valid"));
    EXPECT_TRUE(a.at("scope").is_object());
    EXPECT_FALSE(Str(a, "legal_basis").empty());
  }
  ProblemPointers(c.Get("/v1/approvals?state=active", kReaderToken), 400, "invalid-request");
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST_F(PolicyApiTest, RevokedApprovalNoLongerLifts) {
  DaemonHarness d(WithPolicy(BoundariesPath()));
  StartOrDie(d);
  HttpClient c = d.Client();
  ASSERT_EQ(c.Post("/v1/approvals", kApr100, "application/json", kAdminToken).status, 200);

  const uint64_t before = Send(c, Pub04Like("rv-1"));
  EXPECT_THAT(Rules(EntryAt(c, before)), IsEmpty());
  EXPECT_THAT(Rules(EntryAt(c, before), "lifted"), ElementsAre("us-personal-data-leaves-us"));

  // Revocation: validated, recorded, answered after the commit.
  ProblemPointers(c.Post("/v1/approvals/revoke", R"({"approval_id":"APR-100","by":"x"})",
                         "application/json", kAdminToken),
                  400, "invalid-request");
  ProblemPointers(
      c.Post("/v1/approvals/revoke", R"({"approval_id":"APR-100","revoked_by":"dpo","reason":"r"})",
             "application/json", kReaderToken),
      403, "forbidden");
  HttpResult r =
      c.Post("/v1/approvals/revoke",
             R"({"approval_id":"APR-100","revoked_by":"dpo@example.com","reason":"SCC withdrawn"})",
             "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Json(r);
  EXPECT_EQ(Str(v, "approval_id"), "APR-100");
  EXPECT_EQ(Str(v.at("approval"), "state"), "revoked");
  ledger::DecodedEntry rec = EntryAt(c, v.at("seq").to_number<uint64_t>());
  EXPECT_EQ(rec.kind, "approval-revocation");
  EXPECT_EQ(Str(rec.body, "reason"), "SCC withdrawn");

  // The same access now raises the rule, and its decision says why.
  const uint64_t after = Send(c, Pub04Like("rv-2"));
  ledger::DecodedEntry e = EntryAt(c, after);
  ASSERT_THAT(Rules(e), ElementsAre("us-personal-data-leaves-us"));
  EXPECT_EQ(Str(e.decision.at("hits").as_array()[0], "approval_status"), "revoked");
  EXPECT_THAT(AlertPairs(AllAlerts(c, 100)),
              ElementsAre(Pair("rv-2", "us-personal-data-leaves-us")));

  // Revoking twice, or an unknown id.
  ProblemPointers(c.Post("/v1/approvals/revoke",
                         R"({"approval_id":"APR-100","revoked_by":"dpo","reason":"again"})",
                         "application/json", kAdminToken),
                  409, "conflict");
  ProblemPointers(
      c.Post("/v1/approvals/revoke", R"({"approval_id":"APR-404","revoked_by":"dpo","reason":"r"})",
             "application/json", kAdminToken),
      404, "not-found");

  // The revocation survives a restart.
  ASSERT_EQ(d.Stop(), 0) << d.Log();
  StartOrDie(d);
  c = d.Client();
  HttpResult list = c.Get("/v1/approvals", kReaderToken);
  ASSERT_EQ(list.status, 200);
  const json::value listed = Json(list);
  const auto& a = listed.at("approvals").as_array().at(0);
  EXPECT_EQ(Str(a, "state"), "revoked");
  EXPECT_EQ(Str(a.at("revocation"), "reason"), "SCC withdrawn");
  EXPECT_THAT(Rules(EntryAt(c, Send(c, Pub04Like("rv-3")))),
              ElementsAre("us-personal-data-leaves-us"));
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST_F(PolicyApiTest, EvaluateReturnsTheDecisionAndRecordsNothing) {
  DaemonHarness d(WithPolicy(BoundariesPath()));
  StartOrDie(d);
  HttpClient c = d.Client();
  ASSERT_EQ(c.Post("/v1/approvals", kApr100, "application/json", kAdminToken).status, 200);
  const uint64_t size = LogSize(c);
  // The policy entry recorded at start names the policy in force.
  ledger::DecodedEntry policy = EntryAt(c, 0);
  ASSERT_EQ(policy.kind, "policy");

  HttpResult r = c.Post("/v1/policy/evaluate", Pub02Like("dry-1"), "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Json(r);
  EXPECT_EQ(Str(v, "policy_sha256"), Str(policy.body, "sha256"));
  std::vector<std::string> rules;
  for (const auto& h : v.at("decision").at("hits").as_array()) rules.push_back(Str(h, "rule"));
  EXPECT_THAT(rules, ElementsAre("gov-id-in-chat", "us-personal-data-leaves-us"));
  EXPECT_EQ(Str(v.at("decision"), "policy_sha256"), Str(policy.body, "sha256"));

  // Approvals registered in the daemon take part.
  r = c.Post("/v1/policy/evaluate", Pub04Like("dry-2"), "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  v = Json(r);
  EXPECT_TRUE(v.at("decision").at("hits").as_array().empty()) << r.body;
  EXPECT_EQ(Str(v.at("decision").at("lifted").as_array().at(0), "approval_id"), "APR-100");

  // Errors: a bad event (with pointers), roles.
  std::string bad = Pub02Like("dry-3");
  bad.replace(bad.find("\"share\""), 7, "\"shout\"");
  EXPECT_THAT(ProblemPointers(c.Post("/v1/policy/evaluate", bad, "application/json", kAdminToken),
                              400, "invalid-event"),
              ElementsAre("/activity"));
  ProblemPointers(
      c.Post("/v1/policy/evaluate", Pub02Like("dry-4"), "application/json", kProducerToken), 403,
      "forbidden");

  EXPECT_EQ(LogSize(c), size) << "a dry run must not be recorded";
  EXPECT_THAT(AllAlerts(c, 100), IsEmpty());
  // The dry-run id was not consumed: the real event is new.
  HttpResult real = c.Post("/v1/events", Pub02Like("dry-1"), "application/json", kProducerToken);
  ASSERT_EQ(real.status, 200);
  EXPECT_FALSE(Json(real).at("results").as_array()[0].at("duplicate").as_bool());
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST_F(PolicyApiTest, ReloadWithABrokenPolicyKeepsTheOldOne) {
  ScopedTempDir dir;
  const std::string path = dir.File("policy.toml");
  const std::string good = ReadFileOrDie(BoundariesPath());
  WriteFileOrDie(path, good);
  DaemonHarness d(WithPolicy(path));
  StartOrDie(d);
  HttpClient c = d.Client();
  const std::string sha = Str(EntryAt(c, 0).body, "sha256");

  // Unchanged file: nothing to record.
  uint64_t size = LogSize(c);
  HttpResult r = c.Post("/v1/policy/reload", "", "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Json(r).at("changed").as_bool());
  EXPECT_EQ(Str(Json(r), "policy_sha256"), sha);
  EXPECT_EQ(LogSize(c), size);

  // A broken file: 422 with file:line:column diagnostics; the old policy stays.
  WriteFileOrDie(path, good + "\n[[rule]]\nid = \"broken\"\nserverity = \"high\"\n");
  r = c.Post("/v1/policy/reload", "", "application/json", kAdminToken);
  ProblemPointers(r, 422, "invalid-policy");
  json::value problem = Json(r);
  ASSERT_TRUE(problem.at("diagnostics").is_array()) << r.body;
  ASSERT_FALSE(problem.at("diagnostics").as_array().empty());
  const auto& diag = problem.at("diagnostics").as_array()[0];
  EXPECT_EQ(Str(diag, "level"), "error");
  EXPECT_GT(diag.at("line").to_number<int64_t>(), 0);
  EXPECT_THAT(Str(problem.at("errors").as_array()[0], "message"), HasSubstr("policy.toml:"));
  const std::string detail = Str(problem, "detail");
  EXPECT_EQ(detail.find("stays"), detail.rfind("stays")) << detail;
  EXPECT_THAT(detail, HasSubstr("(in force: sha256 " + sha + ")"));
  EXPECT_EQ(LogSize(c), size);
  ProblemPointers(c.Post("/v1/policy/reload", "", "application/json", kReaderToken), 403,
                  "forbidden");
  EXPECT_THAT(Rules(EntryAt(c, Send(c, Pub02Like("rl-1")))),
              ElementsAre("gov-id-in-chat", "us-personal-data-leaves-us"));
  EXPECT_THAT(d.Log(), HasSubstr("keeping the policy in force"));

  // A good new file: in force at once, recorded with its text and hash.
  WriteFileOrDie(path, R"([[rule]]
id = "gov-id-in-chat"
version = 2
severity = "low"
liftable_by_approval = false
[rule.match]
categories.any = ["gov_id.*"]
target.type = ["chat_channel"]
)");
  size = LogSize(c);
  r = c.Post("/v1/policy/reload", "", "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = Json(r);
  EXPECT_TRUE(v.at("changed").as_bool());
  EXPECT_EQ(Str(v, "previous_sha256"), sha);
  EXPECT_EQ(v.at("rules").to_number<int64_t>(), 1);
  const std::string new_sha = Str(v, "policy_sha256");
  EXPECT_NE(new_sha, sha);
  ASSERT_EQ(LogSize(c), size + 1);
  ledger::DecodedEntry recorded = EntryAt(c, size);
  EXPECT_EQ(recorded.kind, "policy");
  EXPECT_EQ(Str(recorded.body, "sha256"), new_sha);
  EXPECT_THAT(Str(recorded.body, "text"), HasSubstr("version = 2"));

  ledger::DecodedEntry e = EntryAt(c, Send(c, Pub02Like("rl-2")));
  EXPECT_THAT(Rules(e), ElementsAre("gov-id-in-chat"));
  EXPECT_EQ(Str(e.decision, "policy_sha256"), new_sha);
  EXPECT_EQ(Str(e.decision.at("hits").as_array()[0], "severity"), "low");
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

// Reloads racing with appends: every access entry's decision must name a
// policy entry recorded before it (ledger-format §4.2; custody-verify checks
// it), however a reload falls between the appender's transactions.
TEST_F(PolicyApiTest, ReloadsDuringALoadRecordEachPolicyBeforeItDecides) {
  ScopedTempDir dir;
  const std::string path = dir.File("policy.toml");
  const std::string good = ReadFileOrDie(BoundariesPath());
  WriteFileOrDie(path, good);
  DaemonHarness d(WithPolicy(path));
  StartOrDie(d);
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 3; ++t) {
    producers.emplace_back([&, t] {
      HttpClient c = d.Client();
      for (int n = 0; !stop.load(); ++n) {
        std::string batch = "[";
        for (int i = 0; i < 5; ++i) {
          if (i) batch += ',';
          batch += Pub02Like("race-" + std::to_string(t) + "-" + std::to_string(n) + "-" +
                             std::to_string(i));
        }
        batch += ']';
        HttpResult r = c.Post("/v1/events", batch, "application/json", kProducerToken);
        ASSERT_EQ(r.status, 200) << r.body;
        sent += 5;
      }
    });
  }
  HttpClient admin = d.Client();
  for (int reload = 0; reload < 30; ++reload) {
    WriteFileOrDie(path, good + "\n# reload " + std::to_string(reload) + "\n");
    HttpResult r = admin.Post("/v1/policy/reload", "", "application/json", kAdminToken);
    ASSERT_EQ(r.status, 200) << r.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop = true;
  for (auto& t : producers) t.join();

  const uint64_t size = LogSize(admin);
  std::set<std::string> recorded;
  size_t policies = 0, accesses = 0;
  for (uint64_t start = 0; start < size;) {
    HttpResult page = admin.Get("/v1/entries?start=" + std::to_string(start) +
                                "&end=" + std::to_string(size));
    ASSERT_EQ(page.status, 200) << page.body;
    size_t pos = 0;
    while (pos < page.body.size()) {
      const size_t nl = page.body.find('\n', pos);
      auto e = ledger::DecodeEntry(std::string_view(page.body).substr(pos, nl - pos));
      ASSERT_TRUE(e.ok()) << e.status().ToString();
      pos = nl + 1;
      if (e->kind == "policy") {
        recorded.insert(Str(e->body, "sha256"));
        ++policies;
      } else if (e->kind == "access") {
        ASSERT_TRUE(recorded.count(Str(e->decision, "policy_sha256")))
            << "seq " << start << ": decided by a policy not recorded before it";
        ++accesses;
      }
      ++start;
    }
  }
  EXPECT_EQ(policies, 31u);  // the first policy and every reload's
  EXPECT_EQ(accesses, static_cast<size_t>(sent.load()));
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST_F(PolicyApiTest, WithoutAPolicyApprovalsAreStillRecordedAndListed) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  HttpResult r = c.Post("/v1/approvals", kApr100, "application/json", kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(Json(r), "policy"), "none");
  EXPECT_EQ(EntryAt(c, Json(r).at("seq").to_number<uint64_t>()).kind, "approval");
  EXPECT_THAT(ApprovalIds(c), ElementsAre("APR-100"));
  ProblemPointers(c.Post("/v1/approvals", kApr100, "application/json", kAdminToken), 409,
                  "conflict");
  ProblemPointers(c.Post("/v1/policy/evaluate", Pub02Like("np-1"), "application/json", kAdminToken),
                  409, "conflict");
  ProblemPointers(c.Post("/v1/policy/reload", "", "application/json", kAdminToken), 409,
                  "conflict");
  ASSERT_EQ(d.Stop(), 0) << d.Log();

  // Restarted with a policy, the approval recorded without one lifts.
  d.options().top_level = "policy = \"" + BoundariesPath() + "\"\n";
  d.WriteConfig();
  StartOrDie(d);
  c = d.Client();
  EXPECT_THAT(ApprovalIds(c), ElementsAre("APR-100"));
  EXPECT_THAT(Rules(EntryAt(c, Send(c, Pub04Like("np-2"))), "lifted"),
              ElementsAre("us-personal-data-leaves-us"));
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

// custodyd --check-policy FILE [--events F --approvals F]: the offline check
// an operator runs before a reload, through the real binary.
std::pair<int, std::string> RunCustodyd(const std::string& args) {
  FILE* p = ::popen((DaemonHarness::CustodydPath() + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(CheckPolicyTest, CompilesTheExamplePolicyAndDryRunsSampleEvents) {
  const std::string policy = (SourceDir() / "docs/examples/boundaries.toml").string();
  auto [code, out] = RunCustodyd("--check-policy " + policy + " --events " +
                                 (ScenariosDir() / "events.ndjson").string() + " --approvals " +
                                 (ScenariosDir() / "approvals.json").string());
  EXPECT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr(policy + ": ok, 4 rule(s), sha256 "));
  EXPECT_THAT(out, HasSubstr("pub-01: no hits"));
  EXPECT_THAT(out, HasSubstr("pub-02: gov-id-in-chat (critical): "));
  EXPECT_THAT(out, HasSubstr("us-personal-data-leaves-us (high): "));
  EXPECT_THAT(out, HasSubstr("pub-04: no hits"));  // APR-100 lifts it
  // Nothing was started, nothing recorded: the dry run has no data dir.
}

TEST(CheckPolicyTest, ErrorsNameFileLineAndColumnAndExit1) {
  ScopedTempDir dir;
  const std::string policy = dir.File("bad.toml");
  WriteFileOrDie(policy,
                 "[[rule]]\nid = \"r\"\nversion = 1\nseverity = \"urgent\"\n"
                 "[rule.match]\nactivity = [\"share\"]\n");
  auto [code, out] = RunCustodyd("--check-policy " + policy);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr(policy + ":4:"));
  EXPECT_THAT(out, HasSubstr("urgent"));

  // Sample events that are not events: every problem with its pointer.
  const std::string events = dir.File("events.ndjson");
  WriteFileOrDie(events, R"({"event_id":"x","activity":"teleport"})"
                         "\n");
  std::tie(code, out) =
      RunCustodyd("--check-policy " + (SourceDir() / "docs/examples/boundaries.toml").string() +
                  " --events " + events);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr(events + " holds invalid events:"));
  EXPECT_THAT(out, HasSubstr("/activity"));

  std::tie(code, out) = RunCustodyd("--events " + events);
  EXPECT_EQ(code, 2) << out;
  EXPECT_THAT(out, HasSubstr("--events and --approvals go with --check-policy"));
}

}  // namespace
}  // namespace custody::testing
