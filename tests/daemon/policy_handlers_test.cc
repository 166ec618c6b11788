// The approval and policy routes through Handle(), without sockets: a real
// ledger, ingestor and decider (the policy engine over the example policy,
// or NoPolicyDecider) in a temp dir.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <future>

#include "custody/ledger/entry.h"
#include "custody/ledger/hash.h"
#include "daemon/policy/engine.h"
#include "daemon/server/no_policy_decider.h"
#include "daemon/server/router.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tests/daemon/token_test_util.h"

namespace custody::daemon {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kReader = "r-secret";
constexpr const char* kAdmin = "a-secret";

using test::Token;

const char* kApproval = R"({"approval_id":"APR-1","granted_by":"dpo","legal_basis":"SCC",
  "scope":{"actor_countries":["ie"]},"valid_from":"2026-01-01T00:00:00Z",
  "valid_until":"2026-12-31T23:59:59Z"})";

// Like shared/scenarios pub-04, under APR-1.
const char* kIrishRead = R"({"event_id":"e-1","time":"2026-05-04T09:10:00Z","activity":"read",
  "actor":{"type":"human","id":"emp-ie-3","country":"IE"},
  "target":{"system":"us-crm","type":"database","country":"US","id":"users"},
  "data":{"categories":["contact.phone"],"record_count":1},
  "subjects":{"count":1,"jurisdictions":{"US":1}},
  "context":{"purpose":"customer-support","approval_id":"APR-1"}})";

class PolicyHandlersTest : public ::testing::Test {
 protected:
  // `engine`: decide with the example policy (else no policy).
  void Start(bool engine) {
    ledger::LedgerOptions lo;
    lo.dir = dir_.File("ledger");
    lo.origin = "handlers.test/log";
    ASSERT_OK_AND_ASSIGN(ledger_, ledger::Ledger::Open(lo));
    ASSERT_OK_AND_ASSIGN(tables_, Tables::Open(*ledger_));
    policy_path_ = dir_.File("policy.toml");
    std::filesystem::copy_file(testing::SourceDir() / "docs/examples/boundaries.toml",
                               policy_path_);
    if (engine) {
      ASSERT_OK_AND_ASSIGN(auto policy, policy::Policy::Load(policy_path_, nullptr));
      auto e = std::make_unique<policy::Engine>(std::move(policy), nullptr);
      s_.engine = e.get();
      s_.approvals = &e->approvals();
      decider_ = std::move(e);
    } else {
      auto none = std::make_unique<NoPolicyDecider>();
      s_.approvals = &none->approvals();
      decider_ = std::move(none);
    }
    ingestor_ =
        std::make_unique<Ingestor>(ledger_.get(), &tables_, decider_.get(),
                                   schema::SystemClock::Default(), &registry_, IngestOptions{});
    ASSERT_OK(ingestor_->Start());
    auth_ = std::make_unique<Authenticator>(std::vector<TokenConfig>{
        Token("investigator", Role::kReader, kReader), Token("dpo", Role::kAdmin, kAdmin)});
    ASSERT_OK_AND_ASSIGN(pseudonymizer_, Pseudonymizer::LoadOrCreate(dir_.File("pseudonym.key")));
    s_.ledger = ledger_.get();
    s_.tables = &tables_;
    s_.pseudonymizer = pseudonymizer_.get();
    s_.ingestor = ingestor_.get();
    s_.registry = &registry_;
    s_.auth = auth_.get();
    if (s_.engine != nullptr) {
      s_.reload_policy = [this](std::vector<policy::Diagnostic>* diagnostics) {
        CUSTODY_RETURN_IF_ERROR(s_.engine->Reload(policy_path_, diagnostics));
        return ingestor_->RecordPolicyIfChanged();
      };
    }
  }

  void TearDown() override {
    if (ingestor_) ingestor_->Drain();
  }

  Response Call(http::verb verb, std::string target, std::string token, std::string body = "") {
    Request req{verb, target, 11};
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    auto promise = std::make_shared<std::promise<Response>>();
    auto future = promise->get_future();
    Completion done;
    done.respond = [promise](Response res) { promise->set_value(std::move(res)); };
    Handle(std::move(req), s_, std::move(done));
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }

  static json::value Json(const Response& res) { return json::parse(res.body()); }

  static std::string Slug(const Response& res) {
    return std::string(Json(res).at("type").as_string()).substr(20);  // urn:custody:problem:
  }

  ledger::DecodedEntry Entry(uint64_t seq) {
    auto view = ledger_->Read();
    EXPECT_TRUE(view.ok());
    auto bytes = view->Entry(seq);
    EXPECT_TRUE(bytes.ok());
    auto e = ledger::DecodeEntry(*bytes);
    EXPECT_TRUE(e.ok());
    return *e;
  }

  testing::ScopedTempDir dir_;
  std::string policy_path_;
  std::unique_ptr<ledger::Ledger> ledger_;
  Tables tables_;
  std::unique_ptr<policy::Decider> decider_;
  std::unique_ptr<Pseudonymizer> pseudonymizer_;
  metrics::Registry registry_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<Authenticator> auth_;
  Services s_;
};

TEST_F(PolicyHandlersTest, ApprovalIsRecordedNormalisedAndListed) {
  Start(true);
  Response res = Call(http::verb::post, "/v1/approvals", kAdmin, kApproval);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const uint64_t seq = Json(res).at("seq").to_number<uint64_t>();
  ledger::DecodedEntry e = Entry(seq);
  EXPECT_EQ(e.kind, "approval");
  EXPECT_EQ(e.producer, "dpo");
  EXPECT_EQ(e.body.at("scope").at("actor_countries").as_array()[0], "IE");  // normalised

  res = Call(http::verb::get, "/v1/approvals", kReader);
  ASSERT_EQ(res.result_int(), 200u);
  const json::value list = Json(res);
  ASSERT_EQ(list.at("approvals").as_array().size(), 1u);
  EXPECT_EQ(list.at("approvals").as_array()[0].at("seq").to_number<uint64_t>(), seq);
  EXPECT_FALSE(list.as_object().contains("policy"));
}

TEST_F(PolicyHandlersTest, EvaluateUsesTheRegisteredApprovalsAndRecordsNothing) {
  Start(true);
  ASSERT_EQ(Call(http::verb::post, "/v1/approvals", kAdmin, kApproval).result_int(), 200u);
  const uint64_t size = ledger_->size();
  Response res = Call(http::verb::post, "/v1/policy/evaluate", kAdmin, kIrishRead);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  const json::value v = Json(res);
  EXPECT_TRUE(v.at("decision").at("hits").as_array().empty());
  EXPECT_EQ(v.at("decision").at("lifted").as_array()[0].at("rule"), "us-personal-data-leaves-us");
  EXPECT_EQ(ledger_->size(), size);
  EXPECT_EQ(Call(http::verb::post, "/v1/policy/evaluate", kReader, kIrishRead).result_int(), 403u);
}

TEST_F(PolicyHandlersTest, ReloadAnswers422WithDiagnosticsAndKeepsThePolicy) {
  Start(true);
  const std::string sha = s_.engine->policy()->sha256();
  testing::WriteFileOrDie(policy_path_, "[[rule]]\nid = 7\n");
  Response res = Call(http::verb::post, "/v1/policy/reload", kAdmin);
  ASSERT_EQ(res.result_int(), 422u) << res.body();
  EXPECT_EQ(Slug(res), "invalid-policy");
  const json::value v = Json(res);
  std::vector<int> lines;
  for (const auto& d : v.at("diagnostics").as_array())
    lines.push_back(d.at("line").to_number<int>());
  EXPECT_THAT(lines, ::testing::Contains(2)) << res.body();
  EXPECT_EQ(s_.engine->policy()->sha256(), sha);

  std::filesystem::remove(policy_path_);
  res = Call(http::verb::post, "/v1/policy/reload", kAdmin);
  EXPECT_EQ(res.result_int(), 422u) << res.body();
  EXPECT_EQ(s_.engine->policy()->sha256(), sha);
}

TEST_F(PolicyHandlersTest, WithoutAPolicyApprovalsAreTrackedAndPolicyRoutesConflict) {
  Start(false);
  Response res = Call(http::verb::post, "/v1/approvals", kAdmin, kApproval);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Json(res).at("policy"), "none");
  EXPECT_EQ(Call(http::verb::post, "/v1/approvals", kAdmin, kApproval).result_int(), 409u);
  res = Call(http::verb::post, "/v1/approvals/revoke", kAdmin,
             R"({"approval_id":"APR-1","revoked_by":"dpo","reason":"done"})");
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(Json(res).at("approval").at("state"), "revoked");
  EXPECT_EQ(Slug(Call(http::verb::post, "/v1/policy/evaluate", kAdmin, kIrishRead)), "conflict");
  EXPECT_EQ(Slug(Call(http::verb::post, "/v1/policy/reload", kAdmin)), "conflict");
}

TEST_F(PolicyHandlersTest, WithoutARegistryTheApprovalRoutesAreUnavailable) {
  Start(false);
  s_.approvals = nullptr;
  EXPECT_EQ(Call(http::verb::get, "/v1/approvals", kReader).result_int(), 503u);
  EXPECT_EQ(Call(http::verb::post, "/v1/approvals", kAdmin, kApproval).result_int(), 503u);
}

TEST(PolicyRoutes, ClassifyAndMethods) {
  EXPECT_EQ(ClassifyRoute(http::verb::post, "/v1/approvals"), Route::kApprovalsPost);
  EXPECT_EQ(ClassifyRoute(http::verb::get, "/v1/approvals"), Route::kApprovalsList);
  EXPECT_EQ(ClassifyRoute(http::verb::post, "/v1/approvals/revoke"), Route::kApprovalsRevoke);
  EXPECT_EQ(ClassifyRoute(http::verb::post, "/v1/policy/evaluate"), Route::kPolicyEvaluate);
  EXPECT_EQ(ClassifyRoute(http::verb::post, "/v1/policy/reload?x=1"), Route::kPolicyReload);
  EXPECT_EQ(ClassifyRoute(http::verb::get, "/v1/approvals/revoke"), Route::kOther);
  EXPECT_EQ(RouteName(Route::kApprovalsRevoke), "post_approvals_revoke");
  EXPECT_EQ(RouteName(Route::kPolicyReload), "post_policy_reload");
}

}  // namespace
}  // namespace custody::daemon
