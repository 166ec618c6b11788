// Handle() without sockets: a real ledger, tables, pseudonymizer and
// ingestor in a temp dir; requests built by hand; responses captured.
#include "daemon/server/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <future>

#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/merkle.h"
#include "daemon/server/no_policy_decider.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "tests/daemon/token_test_util.h"

namespace custody::daemon {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kProducer = "p-secret";
constexpr const char* kReader = "r-secret";
constexpr const char* kAdmin = "a-secret";

using test::Token;

std::string Event(const std::string& id, const std::string& subject = "user:1001") {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:00:00Z","activity":"read","actor":{"type":"human","id":"emp-us-1","country":"US"},"target":{"system":"us-crm","type":"database","country":"US","id":"users"},"data":{"categories":["contact.email"],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1},"ids":[")" +
         subject + R"("]}})";
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger::LedgerOptions lo;
    lo.dir = dir_.File("ledger");
    lo.origin = "router.test/log";
    ASSERT_OK_AND_ASSIGN(ledger_, ledger::Ledger::Open(lo));
    ASSERT_OK_AND_ASSIGN(tables_, Tables::Open(*ledger_));
    ASSERT_OK(IndexPolicyEntries(*ledger_, tables_));  // as custodyd does at start-up
    ASSERT_OK_AND_ASSIGN(pseudonymizer_, Pseudonymizer::LoadOrCreate(dir_.File("pseudonym.key")));
    IngestOptions io;
    io.max_batch_events = 64;
    io.queue_capacity_events = 1000;
    ingestor_ = std::make_unique<Ingestor>(ledger_.get(), &tables_, &decider_,
                                           schema::SystemClock::Default(), &registry_, io);
    ASSERT_OK(ingestor_->Start());
    auth_ = std::make_unique<Authenticator>(std::vector<TokenConfig>{
        Token("chat", Role::kProducer, kProducer), Token("investigator", Role::kReader, kReader),
        Token("ops", Role::kAdmin, kAdmin)});
    http_metrics_ = std::make_unique<HttpMetrics>(&registry_);
    s_.ledger = ledger_.get();
    s_.tables = &tables_;
    s_.pseudonymizer = pseudonymizer_.get();
    s_.ingestor = ingestor_.get();
    s_.registry = &registry_;
    s_.auth = auth_.get();
    s_.http_metrics = http_metrics_.get();
    s_.http.max_entries_per_request = 5;
    s_.http.max_events_per_request = 10;
    s_.queue_capacity = 1000;
    s_.ready = true;
  }

  void TearDown() override {
    if (ingestor_) ingestor_->Drain();
  }

  static Request Req(http::verb verb, std::string target, std::string token = "",
                     std::string body = "", std::string content_type = "") {
    Request req{verb, target, 11};
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }

  Response Call(Request req) {
    auto promise = std::make_shared<std::promise<Response>>();
    auto future = promise->get_future();
    Completion done;
    done.respond = [promise](Response res) { promise->set_value(std::move(res)); };
    Handle(std::move(req), s_, std::move(done));
    EXPECT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return future.get();
  }

  Response Get(std::string target, std::string token = "") {
    return Call(Req(http::verb::get, std::move(target), std::move(token)));
  }
  Response Post(std::string body, std::string token = kProducer,
                std::string content_type = "application/json") {
    return Call(Req(http::verb::post, "/v1/events", std::move(token), std::move(body),
                    std::move(content_type)));
  }

  static json::value Json(const Response& res) { return json::parse(res.body()); }

  // Asserts `res` is a problem+json with `status` and `slug`; returns the body.
  static json::object Problem(const Response& res, unsigned status, const std::string& slug) {
    EXPECT_EQ(res.result_int(), status) << res.body();
    EXPECT_EQ(res[http::field::content_type], "application/problem+json");
    json::object o = json::parse(res.body()).as_object();
    EXPECT_EQ(o.at("type").as_string(), "urn:custody:problem:" + slug);
    EXPECT_EQ(o.at("status").as_int64(), status);
    EXPECT_TRUE(o.at("title").is_string());
    EXPECT_TRUE(o.at("detail").is_string());
    EXPECT_TRUE(o.at("errors").is_array());
    return o;
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  Tables tables_;
  std::unique_ptr<Pseudonymizer> pseudonymizer_;
  NoPolicyDecider decider_;
  metrics::Registry registry_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<HttpMetrics> http_metrics_;
  Services s_;
};

TEST_F(RouterTest, PostEventAnswersWithReceiptAndVerifiableCheckpoint) {
  Response res = Post(Event("e-1"));
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(res[http::field::content_type], "application/json");
  json::value v = Json(res);
  const json::array& results = v.at("results").as_array();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].at("event_id").as_string(), "e-1");
  EXPECT_FALSE(results[0].at("duplicate").as_bool());
  const uint64_t seq = results[0].at("seq").to_number<uint64_t>();
  ASSERT_OK_AND_ASSIGN(auto cp, ledger::OpenCheckpoint(v.at("checkpoint").as_string(),
                                                       ledger_->verifier_key(), "router.test/log"));
  EXPECT_GT(cp.size, seq);
}

TEST_F(RouterTest, RetryIsADuplicateWithTheOriginalSeq) {
  Response first = Post(Event("e-dup"));
  ASSERT_EQ(first.result_int(), 200u);
  const uint64_t size = ledger_->size();
  Response again = Post(Event("e-dup"));
  ASSERT_EQ(again.result_int(), 200u);
  const json::value a = Json(first).at("results").as_array()[0];
  const json::value b = Json(again).at("results").as_array()[0];
  EXPECT_EQ(a.at("seq"), b.at("seq"));
  EXPECT_TRUE(b.at("duplicate").as_bool());
  EXPECT_EQ(ledger_->size(), size);
}

TEST_F(RouterTest, ArrayAndNdjsonBodiesAppendInOrder) {
  Response arr = Post("[" + Event("a-1") + "," + Event("a-2") + "]");
  ASSERT_EQ(arr.result_int(), 200u) << arr.body();
  const json::array r = Json(arr).at("results").as_array();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].at("seq").to_number<uint64_t>(), r[0].at("seq").to_number<uint64_t>() + 1);

  Response nd = Post(Event("n-1") + "\n" + Event("n-2") + "\n", kProducer,
                     "application/x-ndjson; charset=utf-8");
  ASSERT_EQ(nd.result_int(), 200u) << nd.body();
  EXPECT_EQ(Json(nd).at("results").as_array().size(), 2u);
}

TEST_F(RouterTest, InvalidEventsGive400WithAPointerPerError) {
  Response res = Post("[" + Event("ok-1") + R"(,{"event_id":"x","bogus":1}])");
  json::object p = Problem(res, 400, "invalid-event");
  const json::array& errors = p.at("errors").as_array();
  ASSERT_GE(errors.size(), 2u);
  bool saw_bogus = false;
  for (const auto& e : errors) {
    EXPECT_TRUE(e.at("pointer").as_string().starts_with("/1"));
    EXPECT_FALSE(e.at("message").as_string().empty());
    if (e.at("pointer").as_string() == "/1/bogus") saw_bogus = true;
  }
  EXPECT_TRUE(saw_bogus);
  EXPECT_THAT(std::string(p.at("detail").as_string()), HasSubstr("nothing was appended"));
  EXPECT_EQ(ledger_->size(), 1u);  // only the policy record
}

TEST_F(RouterTest, MalformedJsonAndEmptyBodyAre400) {
  // api.md: a body that is not JSON is malformed-request, not invalid-event.
  Problem(Post("{not json"), 400, "malformed-request");
  Problem(Post(""), 400, "malformed-request");
}

// Over 100 problems (10 events of 10 unknown fields and 7 missing ones):
// the list stops at 100 (and says so); the detail must not claim 101.
TEST_F(RouterTest, ManyBadEventsSayMoreThanTheListShows) {
  std::string bad = "{";
  for (int f = 0; f < 10; ++f) bad += std::string(f ? "," : "") + "\"x" + std::to_string(f) + "\":1";
  bad += "}";
  std::string body = "[";
  for (int i = 0; i < 10; ++i) body += std::string(i ? "," : "") + bad;
  body += "]";
  json::object p = Problem(Post(body), 400, "invalid-event");
  EXPECT_THAT(std::string(p.at("detail").as_string()),
              HasSubstr("more than 100 problems in the request body"));
}

TEST_F(RouterTest, TooManyEventsInOneRequestIs400) {
  std::string body = "[";
  for (int i = 0; i < 11; ++i) body += (i ? "," : "") + Event("many-" + std::to_string(i));
  body += "]";
  json::object p = Problem(Post(body), 400, "invalid-event");
  EXPECT_EQ(p.at("errors").as_array()[0].at("pointer").as_string(), "");
}

TEST_F(RouterTest, AuthenticationAndRoles) {
  Response none = Post(Event("r-1"), "");
  Problem(none, 401, "unauthenticated");
  EXPECT_EQ(none[http::field::www_authenticate], "Bearer realm=\"custody\"");
  Problem(Post(Event("r-1"), "wrong-token"), 401, "unauthenticated");
  json::object forbidden = Problem(Post(Event("r-1"), kReader), 403, "forbidden");
  EXPECT_THAT(std::string(forbidden.at("detail").as_string()),
              HasSubstr("\"investigator\" has role reader"));
  EXPECT_EQ(Post(Event("r-1"), kAdmin).result_int(), 200u);

  Problem(Get("/v1/events", kProducer), 403, "forbidden");
  Problem(Get("/v1/alerts", kProducer), 403, "forbidden");
  Problem(Get("/v1/events"), 401, "unauthenticated");
  EXPECT_EQ(Get("/v1/events", kReader).result_int(), 200u);
  EXPECT_EQ(Get("/v1/events", kAdmin).result_int(), 200u);
  // Public routes need no token.
  for (const char* t : {"/v1/log", "/v1/checkpoint", "/v1/entries?start=0", "/metrics", "/healthz",
                        "/readyz", "/v1/proof/inclusion?index=0"}) {
    EXPECT_EQ(Get(t).result_int(), 200u) << t;
  }
}

TEST_F(RouterTest, OtherContentTypesAre415) {
  Problem(Post(Event("c-1"), kProducer, "text/plain"), 415, "unsupported-media-type");
  json::object p = Problem(Post(Event("c-1"), kProducer, ""), 415, "unsupported-media-type");
  EXPECT_THAT(std::string(p.at("detail").as_string()), HasSubstr("application/x-ndjson"));
  EXPECT_EQ(Post(Event("c-1"), kProducer, "Application/JSON; charset=UTF-8").result_int(), 200u);
}

TEST_F(RouterTest, SubmitAfterDrainIs503ShuttingDownWithRetryAfter) {
  ingestor_->Drain();
  Response res = Post(Event("late"));
  Problem(res, 503, "shutting-down");
  EXPECT_EQ(res[http::field::retry_after], "1");
}

TEST_F(RouterTest, LogCheckpointEntriesAndProofsVerify) {
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Post(Event("v-" + std::to_string(i))).result_int(), 200u);

  json::value log = Json(Get("/v1/log"));
  EXPECT_EQ(log.at("origin").as_string(), "router.test/log");
  ASSERT_OK_AND_ASSIGN(auto key, ledger::VerifierKey::Parse(log.at("verifier_key").as_string()));
  const uint64_t size = log.at("size").to_number<uint64_t>();
  EXPECT_EQ(size, 5u);

  Response cp_res = Get("/v1/checkpoint");
  EXPECT_EQ(cp_res[http::field::content_type], "text/plain; charset=utf-8");
  ASSERT_OK_AND_ASSIGN(auto cp, ledger::OpenCheckpoint(cp_res.body(), key));
  EXPECT_EQ(cp.size, size);

  // The entries, byte-exact, hash to the checkpoint's root.
  std::string all = Get("/v1/entries?start=0&end=5").body();
  ledger::MemoryTree tree;
  size_t lines = 0;
  for (size_t pos = 0; pos < all.size();) {
    size_t nl = all.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string_view entry(all.data() + pos, nl - pos);
    ASSERT_OK_AND_ASSIGN(auto stored, ledger_->Read());
    ASSERT_OK_AND_ASSIGN(auto bytes, stored.Entry(lines));
    EXPECT_EQ(entry, bytes);  // byte-exact
    tree.AppendLeaf(ledger::LeafHash(entry));
    pos = nl + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 5u);
  EXPECT_EQ(tree.Root(), cp.root);

  for (uint64_t i = 0; i < size; ++i) {
    json::value proof = Json(Get("/v1/proof/inclusion?index=" + std::to_string(i) + "&size=5"));
    EXPECT_EQ(proof.at("index").to_number<uint64_t>(), i);
    std::vector<ledger::Hash> hashes;
    for (const auto& h : proof.at("hashes").as_array()) {
      ASSERT_OK_AND_ASSIGN(auto hash, ledger::HashFromBase64(h.as_string()));
      hashes.push_back(hash);
    }
    ASSERT_OK_AND_ASSIGN(auto leaf, tree.GetNode(0, i));
    EXPECT_OK(ledger::VerifyInclusion(i, size, leaf, hashes, cp.root));
  }

  json::value c = Json(Get("/v1/proof/consistency?from=2&to=5"));
  std::vector<ledger::Hash> hashes;
  for (const auto& h : c.at("hashes").as_array()) {
    ASSERT_OK_AND_ASSIGN(auto hash, ledger::HashFromBase64(h.as_string()));
    hashes.push_back(hash);
  }
  ASSERT_OK_AND_ASSIGN(auto view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(auto root2, view.RootAt(2));
  EXPECT_OK(ledger::VerifyConsistency(2, 5, root2, cp.root, hashes));
  // `to` defaults to the current size.
  EXPECT_EQ(Json(Get("/v1/proof/consistency?from=2")).at("to").to_number<uint64_t>(), 5u);
}

// api.md: unknown query parameters are errors, on every route -- a typo
// must not pass silently (POST /v1/events?dry_run=1 would append).
TEST_F(RouterTest, RoutesWithoutParametersRefuseUnknownOnes) {
  const size_t size = ledger_->size();
  Response post = Call(Req(http::verb::post, "/v1/events?dry_run=1", kProducer,
                           Event("unknown-param"), "application/json"));
  json::object p = Problem(post, 400, "invalid-request");
  EXPECT_EQ(p.at("errors").as_array()[0].at("parameter").as_string(), "dry_run");
  EXPECT_EQ(ledger_->size(), size);
  for (const char* target : {"/v1/log?x=1", "/metrics?x=1", "/healthz?x=1", "/readyz?x=1"}) {
    Problem(Get(target), 400, "invalid-request");
  }
  EXPECT_EQ(Get("/healthz").result_int(), 200u);
}

TEST_F(RouterTest, EntriesParameterErrorsSayWhatToDo) {
  for (int i = 0; i < 7; ++i) ASSERT_EQ(Post(Event("p-" + std::to_string(i))).result_int(), 200u);
  auto param = [&](const std::string& target) {
    json::object p = Problem(Get(target), 400, "invalid-request");
    return std::string(p.at("errors").as_array()[0].at("parameter").as_string()) + ": " +
           std::string(p.at("errors").as_array()[0].at("message").as_string());
  };
  EXPECT_THAT(param("/v1/entries"), HasSubstr("start: required"));
  EXPECT_THAT(param("/v1/entries?start=abc"), HasSubstr("start: must be a non-negative decimal"));
  EXPECT_THAT(param("/v1/entries?start=-1"), HasSubstr("start: must be a non-negative"));
  EXPECT_THAT(param("/v1/entries?start=8"), HasSubstr("start: must be below the log size 8"));
  EXPECT_THAT(param("/v1/entries?start=3&end=3"), HasSubstr("end: must be greater than start"));
  EXPECT_THAT(param("/v1/entries?start=0&end=9"), HasSubstr("end: must be at most the log size 8"));
  EXPECT_THAT(param("/v1/entries?start=0&end=8"),
              HasSubstr("end: at most 5 entries per request; page with start=0&end=5"));
  EXPECT_THAT(param("/v1/entries?start=0&start=1"), HasSubstr("start: given more than once"));
  EXPECT_THAT(param("/v1/entries?start=0&limit=3"),
              HasSubstr("limit: unknown parameter; allowed: start, end"));
  // Without end: up to the cap.
  Response page = Get("/v1/entries?start=1");
  ASSERT_EQ(page.result_int(), 200u);
  EXPECT_EQ(page[http::field::content_type], "application/x-ndjson");
  EXPECT_EQ(std::count(page.body().begin(), page.body().end(), '\n'), 5);
  const std::string tail = Get("/v1/entries?start=6").body();
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 2);
}

TEST_F(RouterTest, ProofParameterErrors) {
  ASSERT_EQ(Post(Event("q-1")).result_int(), 200u);
  Problem(Get("/v1/proof/inclusion"), 400, "invalid-request");
  Problem(Get("/v1/proof/inclusion?index=2"), 400, "invalid-request");
  Problem(Get("/v1/proof/inclusion?index=0&size=3"), 400, "invalid-request");
  Problem(Get("/v1/proof/consistency?from=0&to=2"), 400, "invalid-request");
  Problem(Get("/v1/proof/consistency?from=2&to=1"), 400, "invalid-request");
  Problem(Get("/v1/proof/consistency?to=2"), 400, "invalid-request");
  EXPECT_EQ(Json(Get("/v1/proof/consistency?from=2&to=2")).at("hashes").as_array().size(), 0u);
}

// What custodyctl export --from S downloads: the compact range of [0, S)
// and the policy entries before S with inclusion proofs.
TEST_F(RouterTest, PrefixForAnExportFromALaterSeq) {
  for (int i = 0; i < 6; ++i) ASSERT_EQ(Post(Event("x-" + std::to_string(i))).result_int(), 200u);
  ASSERT_OK_AND_ASSIGN(auto view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(std::string_view first, view.Entry(0));
  ASSERT_OK_AND_ASSIGN(auto entry0, ledger::DecodeEntry(first));
  ASSERT_EQ(entry0.kind, "policy");  // the Ingestor records the policy in force first
  const uint64_t size = view.size();
  ASSERT_OK_AND_ASSIGN(auto root, view.RootAt(size));
  for (uint64_t from = 1; from <= size; ++from) {
    Response res = Get("/v1/proof/prefix?size=" + std::to_string(from));
    ASSERT_EQ(res.result_int(), 200u) << res.body();
    json::object o = Json(res).as_object();
    EXPECT_EQ(o.at("size").to_number<uint64_t>(), from);
    EXPECT_EQ(o.at("tree_size").to_number<uint64_t>(), size);
    ASSERT_OK_AND_ASSIGN(auto range, view.CompactRangeAt(from));
    std::vector<std::string> want;
    for (const auto& h : range.hashes()) want.push_back(ledger::HashToBase64(h));
    std::vector<std::string> got;
    for (const auto& h : o.at("hashes").as_array()) got.emplace_back(h.as_string());
    EXPECT_EQ(got, want) << from;
    const json::array& policies = o.at("policies").as_array();
    ASSERT_EQ(policies.size(), 1u);
    EXPECT_EQ(policies[0].at("seq").to_number<uint64_t>(), 0u);
    EXPECT_EQ(policies[0].at("entry").as_string(), first);
    std::vector<ledger::Hash> proof;
    for (const auto& h : policies[0].at("hashes").as_array()) {
      ASSERT_OK_AND_ASSIGN(auto hash, ledger::HashFromBase64(h.as_string()));
      proof.push_back(hash);
    }
    EXPECT_OK(ledger::VerifyInclusion(0, size, ledger::LeafHash(first), proof, root));
  }
  EXPECT_EQ(Json(Get("/v1/proof/prefix?size=2&tree_size=4")).at("tree_size").to_number<uint64_t>(),
            4u);
  auto param = [&](const std::string& target) {
    json::object p = Problem(Get(target), 400, "invalid-request");
    return std::string(p.at("errors").as_array()[0].at("parameter").as_string()) + ": " +
           std::string(p.at("errors").as_array()[0].at("message").as_string());
  };
  EXPECT_THAT(param("/v1/proof/prefix"), HasSubstr("size: required"));
  EXPECT_THAT(param("/v1/proof/prefix?size=0"), HasSubstr("size: must be at least 1"));
  EXPECT_THAT(param("/v1/proof/prefix?size=3&tree_size=2"), HasSubstr("size: must be at most"));
  EXPECT_THAT(param("/v1/proof/prefix?size=1&tree_size=99"),
              HasSubstr("tree_size: must be at most"));
}

// A data dir from before the policy-entry index gets it at start-up.
TEST_F(RouterTest, PolicyEntriesAreIndexedOnceForOlderDataDirs) {
  ASSERT_EQ(Post(Event("old-1")).result_int(), 200u);
  ingestor_->Drain();
  ASSERT_OK(ledger_
                ->Write([&](ledger::WriteTxn& txn) {
                  CUSTODY_RETURN_IF_ERROR(txn.Delete(tables_.daemon_meta, PolicyEntryKey(0)));
                  return txn.Delete(tables_.daemon_meta, kPolicyEntriesIndexedKey);
                })
                .status());
  {
    ASSERT_OK_AND_ASSIGN(auto view, ledger_->Read());
    ASSERT_OK_AND_ASSIGN(auto seqs, PolicyEntrySeqs(view, tables_));
    EXPECT_TRUE(seqs.empty());
  }
  ASSERT_OK(IndexPolicyEntries(*ledger_, tables_));
  ASSERT_OK_AND_ASSIGN(auto view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(auto seqs, PolicyEntrySeqs(view, tables_));
  EXPECT_EQ(seqs, std::vector<uint64_t>{0});
  ASSERT_OK_AND_ASSIGN(auto marker, view.Get(tables_.daemon_meta, kPolicyEntriesIndexedKey));
  EXPECT_TRUE(marker.has_value());
}

TEST_F(RouterTest, QueryBySubjectUsesThePseudonymAndNeverReturnsTheRawId) {
  ASSERT_EQ(Post(Event("s-1", "user:42")).result_int(), 200u);
  ASSERT_EQ(Post(Event("s-2", "user:43")).result_int(), 200u);
  Response res = Get("/v1/events?subject=user%3A42", kReader);
  ASSERT_EQ(res.result_int(), 200u) << res.body();
  json::value v = Json(res);
  const json::array& events = v.at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("body").at("event_id").as_string(), "s-1");
  EXPECT_THAT(res.body(), Not(HasSubstr("user:42")));
  EXPECT_THAT(res.body(), HasSubstr(pseudonymizer_->Ref("user:42")));
  EXPECT_TRUE(v.at("next_cursor").is_null() || v.at("next_cursor").is_string());
}

TEST_F(RouterTest, QueryPagingWithCursor) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Post(Event("pg-" + std::to_string(i))).result_int(), 200u);
  json::value first = Json(Get("/v1/events?actor=emp-us-1&limit=2", kReader));
  ASSERT_EQ(first.at("events").as_array().size(), 2u);
  EXPECT_EQ(first.at("events").as_array()[0].at("body").at("event_id").as_string(), "pg-2");
  ASSERT_TRUE(first.at("next_cursor").is_string());
  json::value second = Json(Get("/v1/events?actor=emp-us-1&limit=2&cursor=" +
                                    std::string(first.at("next_cursor").as_string()),
                                kReader));
  ASSERT_EQ(second.at("events").as_array().size(), 1u);
  EXPECT_EQ(second.at("events").as_array()[0].at("body").at("event_id").as_string(), "pg-0");
}

TEST_F(RouterTest, QueryParameterErrors) {
  Problem(Get("/v1/events?country=USA", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?category=gov-id.*", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?since=yesterday", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?limit=0", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?limit=1001", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?subjekt=x", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?actor=", kReader), 400, "invalid-request");
  Problem(Get("/v1/events?since=2026-05-05T00:00:00Z&until=2026-05-04T00:00:00Z", kReader), 400,
          "invalid-request");
  EXPECT_EQ(Get("/v1/events?country=us&category=contact.*", kReader).result_int(), 200u);
}

TEST_F(RouterTest, AlertsListAndFollow) {
  Response list = Get("/v1/alerts?min_severity=high&limit=10", kReader);
  ASSERT_EQ(list.result_int(), 200u) << list.body();
  EXPECT_TRUE(Json(list).at("alerts").as_array().empty());
  Problem(Get("/v1/alerts?min_severity=extreme", kReader), 400, "invalid-request");
  Problem(Get("/v1/alerts?after_seq=3", kReader), 400, "invalid-request");
  json::object bad_cursor = Problem(Get("/v1/alerts?cursor=zz", kReader), 400, "invalid-request");
  EXPECT_EQ(bad_cursor.at("errors").as_array()[0].at("parameter").as_string(), "cursor");
  Problem(Get("/v1/alerts?follow=1", kReader), 501, "not-implemented");

  ASSERT_EQ(Post(Event("f-1")).result_int(), 200u);
  std::optional<AlertFollow> followed;
  Completion done;
  done.respond = [](Response) { ADD_FAILURE() << "follow=1 must not respond"; };
  done.follow = [&](AlertFollow f) { followed = std::move(f); };
  Handle(Req(http::verb::get, "/v1/alerts?follow=1&rule=gov-id-in-chat", kReader), s_,
         std::move(done));
  ASSERT_TRUE(followed.has_value());
  EXPECT_EQ(followed->from_seq, ledger_->size());
  EXPECT_EQ(followed->query.rule, "gov-id-in-chat");

  Request resume = Req(http::verb::get, "/v1/alerts?follow=true", kReader);
  resume.set("Last-Event-ID", "41");
  Completion again;
  again.respond = [](Response) { ADD_FAILURE(); };
  again.follow = [&](AlertFollow f) { followed = std::move(f); };
  Handle(std::move(resume), s_, std::move(again));
  EXPECT_EQ(followed->from_seq, 42u);

  // after_seq is the last entry seen, as in api.md: the stream starts after it.
  Completion after;
  after.respond = [](Response) { ADD_FAILURE(); };
  after.follow = [&](AlertFollow f) { followed = std::move(f); };
  Handle(Req(http::verb::get, "/v1/alerts?follow=1&after_seq=8", kReader), s_, std::move(after));
  EXPECT_EQ(followed->from_seq, 9u);

  Request garbled = Req(http::verb::get, "/v1/alerts?follow=1", kReader);
  garbled.set("Last-Event-ID", "abc");
  Completion bad;
  bad.follow = [](AlertFollow) { ADD_FAILURE() << "a garbled Last-Event-ID must be refused"; };
  std::optional<Response> refused;
  bad.respond = [&](Response r) { refused = std::move(r); };
  Handle(std::move(garbled), s_, std::move(bad));
  ASSERT_TRUE(refused.has_value());
  json::object p = Problem(*refused, 400, "invalid-request");
  EXPECT_EQ(p.at("errors").as_array()[0].at("parameter").as_string(), "Last-Event-ID");
}

// RFC 9112 3.2.2: a server must accept the absolute form of a target.
TEST_F(RouterTest, AbsoluteFormTargetsAreServed) {
  EXPECT_EQ(Get("http://127.0.0.1:7411/v1/log").result_int(), 200u);
  EXPECT_EQ(Get("http://127.0.0.1:7411/healthz").result_int(), 200u);
  Problem(Get("http://127.0.0.1:7411/v1/entries?start=zero"), 400, "invalid-request");
  Problem(Get("http://127.0.0.1:7411/v2/nothing"), 404, "not-found");
}

TEST_F(RouterTest, UnknownPathIs404AndWrongMethodIs405) {
  Problem(Get("/v2/events"), 404, "not-found");
  Response res = Call(Req(http::verb::delete_, "/v1/events", kAdmin));
  Problem(res, 405, "method-not-allowed");
  EXPECT_EQ(res[http::field::allow], "POST, GET, HEAD");
  Problem(Call(Req(http::verb::post, "/v1/log")), 405, "method-not-allowed");
}

TEST_F(RouterTest, HealthReadinessAndMetrics) {
  EXPECT_EQ(Get("/healthz").result_int(), 200u);
  EXPECT_EQ(Get("/readyz").result_int(), 200u);
  s_.ready = false;
  Response not_ready = Get("/readyz");
  Problem(not_ready, 503, "not-ready");
  s_.ready = true;

  ASSERT_EQ(Post(Event("m-1")).result_int(), 200u);
  (void)Post(Event("m-2"), "");
  Response m = Get("/metrics");
  ASSERT_EQ(m.result_int(), 200u);
  EXPECT_THAT(std::string(m[http::field::content_type]), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(m.body(), HasSubstr("custody_http_requests_total{"));
  EXPECT_THAT(m.body(), HasSubstr("route=\"post_events\""));
  EXPECT_THAT(m.body(), HasSubstr("custody_http_rejects_total{reason=\"unauthenticated\"} 1"));
  EXPECT_THAT(m.body(), HasSubstr("custody_events_appended_total"));
  EXPECT_THAT(m.body(), HasSubstr("custody_http_ingest_seconds_bucket"));
}

TEST(Router, ClassifyRouteIgnoresTheQueryString) {
  EXPECT_EQ(ClassifyRoute(http::verb::post, "/v1/events"), Route::kEventsPost);
  EXPECT_EQ(ClassifyRoute(http::verb::get, "/v1/events?subject=x"), Route::kEventsQuery);
  EXPECT_EQ(ClassifyRoute(http::verb::get, "/v1/entries?start=0"), Route::kEntries);
  EXPECT_EQ(ClassifyRoute(http::verb::put, "/v1/events"), Route::kOther);
  EXPECT_EQ(ClassifyRoute(http::verb::get, "/v1/events/"), Route::kOther);
}

}  // namespace
}  // namespace custody::daemon
