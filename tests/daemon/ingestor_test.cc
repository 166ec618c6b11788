#include "daemon/ingest/ingestor.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <future>

#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/schema/json_canon.h"
#include "daemon/ingest/query.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::daemon {
namespace {

// Raises one "test-rule" hit (high) on every `share` event and counts the
// batch bracket calls.
class CountingDecider final : public policy::Decider {
 public:
  std::string PolicySha256() const override { return std::string(64, 'a'); }
  std::string PolicyEntryBody() const override {
    return R"({"sha256":")" + std::string(64, 'a') + R"(","text":"test"})";
  }
  void BeginBatch() override { ++begun; }
  policy::Decision Decide(const schema::Event& e) override {
    ++decided;
    policy::Decision d;
    if (e.activity == schema::Activity::kShare) {
      policy::Hit hit;
      hit.rule = "test-rule";
      hit.severity = policy::Severity::kHigh;
      hit.reason = "shared";
      d.hits.push_back(hit);
      d.json = R"({"hits":[{"rule":"test-rule"}],"policy_sha256":")" + std::string(64, 'a') + "\"}";
    } else {
      d.json = R"({"hits":[],"policy_sha256":")" + std::string(64, 'a') + "\"}";
    }
    return d;
  }
  void CommitBatch() override { ++committed; }
  void RollbackBatch() override { ++rolled_back; }
  void OnRecordCommitted(std::string_view kind, const boost::json::value&, uint64_t) override {
    records.emplace_back(kind);
  }
  int begun = 0, decided = 0, committed = 0, rolled_back = 0;
  std::vector<std::string> records;
};

std::string EventJson(const std::string& id, const std::string& activity = "read",
                      const std::string& actor = "emp-1",
                      const std::string& time = "2026-05-04T09:00:00Z") {
  return R"({"event_id":")" + id + R"(","time":")" + time + R"(","activity":")" + activity +
         R"(","actor":{"type":"human","id":")" + actor +
         R"(","country":"SG"},"target":{"system":"lark","type":"chat_channel","country":"SG"},)"
         R"("data":{"categories":["gov_id.drivers_license","identity.name"],"record_count":1},)"
         R"("subjects":{"count":1,"jurisdictions":{"US":1},"ids":["user:)" +
         id + R"("]}})";
}

class IngestorTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(1ull << 30); }
  void Open(uint64_t max_map, size_t capacity = 1000) {
    ingestor_.reset();
    ledger_.reset();
    ledger::LedgerOptions o;
    o.dir = dir_.File("ledger");
    o.origin = "test.example/log";
    o.initial_map_size = 1 << 20;
    o.max_map_size = max_map;
    ledger_ = std::move(ledger::Ledger::Open(o)).value();
    tables_ = *Tables::Open(*ledger_);
    if (!pseudo_)
      pseudo_ = std::move(Pseudonymizer::LoadOrCreate(dir_.File("pseudonym.key"))).value();
    IngestOptions io;
    io.queue_capacity_events = capacity;
    ingestor_ = std::make_unique<Ingestor>(ledger_.get(), &tables_, &decider_,
                                           schema::SystemClock::Default(), &registry_, io);
    ASSERT_OK(ingestor_->Start());
  }

  std::vector<PreparedEvent> Prepare(const std::vector<std::string>& jsons) {
    std::string body;
    for (const auto& j : jsons) body += j + "\n";
    schema::ParsedBatch parsed = schema::ParseEventBatch(body, true, 1000);
    EXPECT_TRUE(parsed.errors.empty())
        << parsed.errors[0].pointer << " " << parsed.errors[0].message;
    auto prepared = PrepareEvents(std::move(parsed.events), *pseudo_);
    EXPECT_TRUE(prepared.ok());
    return std::move(prepared).value();
  }

  Result<IngestReply> SubmitAndWait(const std::vector<std::string>& jsons,
                                    const std::string& producer = "crm") {
    std::promise<Result<IngestReply>> done;
    auto future = done.get_future();
    Status s = ingestor_->Submit(producer, Prepare(jsons),
                                 [&](Result<IngestReply> r) { done.set_value(std::move(r)); });
    if (!s.ok()) return s;
    return future.get();
  }

  testing::ScopedTempDir dir_;
  metrics::Registry registry_;
  CountingDecider decider_;
  std::unique_ptr<ledger::Ledger> ledger_;
  Tables tables_;
  std::unique_ptr<Pseudonymizer> pseudo_;
  std::unique_ptr<Ingestor> ingestor_;
};

TEST_F(IngestorTest, RecordsPolicyThenAppendsWithDurableReceipt) {
  ASSERT_OK_AND_ASSIGN(IngestReply reply, SubmitAndWait({EventJson("e1"), EventJson("e2")}));
  ASSERT_EQ(reply.results.size(), 2u);
  EXPECT_EQ(reply.results[0].event_id, "e1");
  EXPECT_EQ(reply.results[0].seq, 1u);  // seq 0 is the policy entry
  EXPECT_EQ(reply.results[1].seq, 2u);
  EXPECT_FALSE(reply.results[0].duplicate);
  ASSERT_OK_AND_ASSIGN(ledger::Checkpoint cp,
                       ledger::OpenCheckpoint(reply.checkpoint, ledger_->verifier_key()));
  EXPECT_EQ(cp.size, 3u);

  ASSERT_OK_AND_ASSIGN(ledger::ReadView view, ledger_->Read());
  ASSERT_OK_AND_ASSIGN(std::string_view policy_bytes, view.Entry(0));
  ASSERT_OK_AND_ASSIGN(ledger::DecodedEntry policy, ledger::DecodeEntry(policy_bytes));
  EXPECT_EQ(policy.kind, "policy");
  ASSERT_OK_AND_ASSIGN(std::string_view bytes, view.Entry(1));
  ASSERT_OK_AND_ASSIGN(ledger::DecodedEntry entry, ledger::DecodeEntry(bytes));
  EXPECT_EQ(entry.kind, "access");
  EXPECT_EQ(entry.producer, "crm");
  EXPECT_TRUE(entry.decision.is_object());
  // Raw subject ids never reach the ledger; the pseudonym does.
  EXPECT_EQ(bytes.find("user:e1"), std::string_view::npos);
  EXPECT_NE(bytes.find(pseudo_->Ref("user:e1")), std::string_view::npos);
}

TEST_F(IngestorTest, RetriesAreDuplicatesWithOriginalSeq) {
  ASSERT_OK_AND_ASSIGN(IngestReply first, SubmitAndWait({EventJson("e1")}));
  ASSERT_OK_AND_ASSIGN(IngestReply again,
                       SubmitAndWait({EventJson("e1"), EventJson("e2"), EventJson("e2")}));
  ASSERT_EQ(again.results.size(), 3u);
  EXPECT_TRUE(again.results[0].duplicate);
  EXPECT_EQ(again.results[0].seq, first.results[0].seq);
  EXPECT_FALSE(again.results[1].duplicate);
  EXPECT_TRUE(again.results[2].duplicate);
  EXPECT_EQ(again.results[2].seq, again.results[1].seq);
  EXPECT_EQ(ledger_->size(), 3u);
  // The same event id from another producer is a different event.
  ASSERT_OK_AND_ASSIGN(IngestReply other, SubmitAndWait({EventJson("e1")}, "other-producer"));
  EXPECT_FALSE(other.results[0].duplicate);
  // And duplicates survive a restart (the map is in LMDB).
  Open(1ull << 30);
  ASSERT_OK_AND_ASSIGN(IngestReply after, SubmitAndWait({EventJson("e1")}));
  EXPECT_TRUE(after.results[0].duplicate);
  EXPECT_EQ(after.results[0].seq, first.results[0].seq);
}

// Requests queued back to back usually share a transaction: the second
// meets the first in the batch rather than in the idempotency table. Either
// way a reused id with other content is a conflict, and a same-content one a
// duplicate.
TEST_F(IngestorTest, ReusedIdsConflictWithinABatchAndAcrossCommits) {
  for (int round = 0; round < 20; ++round) {
    const std::string id = "b" + std::to_string(round);
    std::promise<Result<IngestReply>> a, b, c;
    ASSERT_OK(ingestor_->Submit("crm", Prepare({EventJson(id)}),
                                [&](Result<IngestReply> r) { a.set_value(std::move(r)); }));
    ASSERT_OK(ingestor_->Submit("crm", Prepare({EventJson(id, "export")}),
                                [&](Result<IngestReply> r) { b.set_value(std::move(r)); }));
    ASSERT_OK(ingestor_->Submit("crm", Prepare({EventJson(id)}),
                                [&](Result<IngestReply> r) { c.set_value(std::move(r)); }));
    ASSERT_OK_AND_ASSIGN(IngestReply first, a.get_future().get());
    ASSERT_OK_AND_ASSIGN(IngestReply conflict, b.get_future().get());
    ASSERT_OK_AND_ASSIGN(IngestReply retry, c.get_future().get());
    ASSERT_EQ(first.results.size(), 1u);
    EXPECT_TRUE(conflict.results.empty());
    ASSERT_EQ(conflict.conflicts.size(), 1u);
    EXPECT_EQ(conflict.conflicts[0].seq, first.results[0].seq);
    EXPECT_EQ(conflict.conflicts[0].event_id, id);
    ASSERT_EQ(retry.results.size(), 1u);
    EXPECT_TRUE(retry.results[0].duplicate);
    EXPECT_EQ(retry.results[0].seq, first.results[0].seq);
  }
  EXPECT_EQ(ledger_->size(), 21u);  // policy + one per round
}

TEST_F(IngestorTest, FullQueueRefusesWholeRequest) {
  Open(1ull << 30, /*capacity=*/3);
  std::vector<std::string> four;
  for (int i = 0; i < 4; ++i) four.push_back(EventJson("q" + std::to_string(i)));
  Status s = ingestor_->Submit("crm", Prepare(four), [](Result<IngestReply>) { FAIL(); });
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  EXPECT_NE(s.message().find("queue is full"), std::string::npos);
  ASSERT_OK(SubmitAndWait({EventJson("fits")}));
  EXPECT_EQ(ledger_->size(), 2u);  // policy + the one that fit
}

TEST_F(IngestorTest, DrainCommitsEverythingQueuedThenRefuses) {
  std::atomic<int> ok{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(ingestor_->Submit("crm", Prepare({EventJson("d" + std::to_string(i))}),
                                [&](Result<IngestReply> r) { ok += r.ok(); }));
  }
  ingestor_->Drain();
  EXPECT_EQ(ok.load(), 50);
  EXPECT_EQ(ledger_->size(), 51u);
  Status s = ingestor_->Submit("crm", Prepare({EventJson("late")}), [](Result<IngestReply>) {});
  EXPECT_EQ(s.code(), schema::Code::kFailedPrecondition);
}

TEST_F(IngestorTest, FailedCommitRollsBackDeciderAndFailsRequest) {
  Open(/*max_map=*/1 << 20);  // no room to grow
  Status last;
  for (int i = 0; i < 400 && last.ok(); ++i) {
    std::vector<std::string> batch;
    for (int k = 0; k < 20; ++k) batch.push_back(EventJson("f" + std::to_string(i * 20 + k)));
    last = SubmitAndWait(batch).status();
  }
  ASSERT_TRUE(last.IsUnavailable()) << last.ToString();
  EXPECT_GE(decider_.rolled_back, 1);
  const uint64_t size = ledger_->size();
  ASSERT_OK_AND_ASSIGN(ledger::ReadView view, ledger_->Read());
  EXPECT_EQ(view.size(), size);
}

TEST_F(IngestorTest, QueriesBySubjectActorCategoryCountryAndTimeWithPaging) {
  ASSERT_OK(SubmitAndWait({EventJson("a1", "read", "alice", "2026-05-04T09:00:00Z"),
                           EventJson("a2", "read", "alice", "2026-05-04T10:00:00Z"),
                           EventJson("b1", "read", "bob", "2026-05-04T11:00:00Z"),
                           EventJson("a3", "share", "alice", "2026-05-04T12:00:00Z")}));
  auto ids = [](const EventPage& page) {
    std::vector<std::string> out;
    for (const auto& e : page.entries) {
      out.push_back(
          std::string(ledger::DecodeEntry(e)->body.as_object().at("event_id").as_string()));
    }
    return out;
  };
  EventQuery q;
  q.subject_ref = pseudo_->Ref("user:b1");
  ASSERT_OK_AND_ASSIGN(EventPage by_subject, QueryEvents(*ledger_, tables_, q));
  EXPECT_EQ(ids(by_subject), std::vector<std::string>{"b1"});

  q = {};
  q.actor = "alice";
  q.limit = 2;
  ASSERT_OK_AND_ASSIGN(EventPage page1, QueryEvents(*ledger_, tables_, q));
  EXPECT_EQ(ids(page1), (std::vector<std::string>{"a3", "a2"}));
  ASSERT_TRUE(page1.next_cursor.has_value());
  q.cursor = page1.next_cursor;
  ASSERT_OK_AND_ASSIGN(EventPage page2, QueryEvents(*ledger_, tables_, q));
  EXPECT_EQ(ids(page2), std::vector<std::string>{"a1"});

  q = {};
  q.category = "gov_id.*";
  q.since = *schema::ParseRfc3339("2026-05-04T10:00:00Z");
  q.until = *schema::ParseRfc3339("2026-05-04T12:00:00Z");
  ASSERT_OK_AND_ASSIGN(EventPage window, QueryEvents(*ledger_, tables_, q));
  EXPECT_EQ(ids(window), (std::vector<std::string>{"b1", "a2"}));

  q = {};
  q.country = "SG";
  q.system = "lark";
  ASSERT_OK_AND_ASSIGN(EventPage all, QueryEvents(*ledger_, tables_, q));
  EXPECT_EQ(all.entries.size(), 4u);
  q.country = "US";
  ASSERT_OK_AND_ASSIGN(EventPage none, QueryEvents(*ledger_, tables_, q));
  EXPECT_TRUE(none.entries.empty());

  q = {};
  q.limit = 0;
  EXPECT_TRUE(QueryEvents(*ledger_, tables_, q).status().IsInvalidArgument());
}

TEST_F(IngestorTest, SubjectQueryFindsEventsAcrossIndexEpochs) {
  // Events 0..8999; every 2500th names subject "user:shared" (ids are
  // "user:<event id>" otherwise), so matches span three index epochs.
  std::vector<std::string> batch;
  int n = 0;
  for (int i = 0; i < 9000; ++i) {
    std::string json = EventJson("x" + std::to_string(i));
    if (i % 2500 == 7) {
      json.replace(json.find("user:x" + std::to_string(i)), 6 + std::to_string(i).size(),
                   "user:shared");
      ++n;
    }
    batch.push_back(std::move(json));
    if (batch.size() == 1000) {
      ASSERT_OK(SubmitAndWait(batch));
      batch.clear();
    }
  }
  EventQuery q;
  q.subject_ref = pseudo_->Ref("user:shared");
  q.limit = 2;
  ASSERT_OK_AND_ASSIGN(EventPage first, QueryEvents(*ledger_, tables_, q));
  ASSERT_EQ(first.entries.size(), 2u);
  EXPECT_NE(first.entries[0].find("\"x7507\""), std::string::npos);
  EXPECT_NE(first.entries[1].find("\"x5007\""), std::string::npos);
  q.cursor = first.next_cursor;
  ASSERT_OK_AND_ASSIGN(EventPage rest, QueryEvents(*ledger_, tables_, q));
  ASSERT_EQ(rest.entries.size(), 2u);
  EXPECT_NE(rest.entries[0].find("\"x2507\""), std::string::npos);
  EXPECT_NE(rest.entries[1].find("\"x7\""), std::string::npos);
  EXPECT_EQ(n, 4);
}

TEST_F(IngestorTest, AlertsAreCommittedWithTheirEventAndQueryable) {
  ASSERT_OK(
      SubmitAndWait({EventJson("s1", "share"), EventJson("r1", "read"), EventJson("s2", "share")}));
  AlertQuery q;
  ASSERT_OK_AND_ASSIGN(AlertPage page, QueryAlerts(*ledger_, tables_, q));
  ASSERT_EQ(page.alerts.size(), 2u);
  auto first = boost::json::parse(page.alerts[0]).as_object();
  EXPECT_EQ(first.at("event_id").as_string(), "s2");  // newest first
  EXPECT_EQ(first.at("rule").as_string(), "test-rule");
  EXPECT_EQ(first.at("severity").as_string(), "high");
  EXPECT_EQ(first.at("producer").as_string(), "crm");

  q.limit = 1;
  ASSERT_OK_AND_ASSIGN(AlertPage p1, QueryAlerts(*ledger_, tables_, q));
  ASSERT_TRUE(p1.next_cursor.has_value());
  q.cursor = p1.next_cursor;
  ASSERT_OK_AND_ASSIGN(AlertPage p2, QueryAlerts(*ledger_, tables_, q));
  ASSERT_EQ(p2.alerts.size(), 1u);
  EXPECT_EQ(boost::json::parse(p2.alerts[0]).at("event_id").as_string(), "s1");
  EXPECT_FALSE(p2.next_cursor.has_value()) << "the last page says it is the last";
  q.cursor.reset();
  q.limit = 2;  // exactly all of them: no cursor to an empty page
  ASSERT_OK_AND_ASSIGN(AlertPage exact, QueryAlerts(*ledger_, tables_, q));
  EXPECT_EQ(exact.alerts.size(), 2u);
  EXPECT_FALSE(exact.next_cursor.has_value());

  AlertQuery critical;
  critical.min_severity = policy::Severity::kCritical;
  ASSERT_OK_AND_ASSIGN(AlertPage none, QueryAlerts(*ledger_, tables_, critical));
  EXPECT_TRUE(none.alerts.empty());
  AlertQuery bad;
  bad.cursor = "zz";
  EXPECT_TRUE(QueryAlerts(*ledger_, tables_, bad).status().IsInvalidArgument());
}

TEST_F(IngestorTest, RecordsAreAppendedAndReportedToDecider) {
  std::promise<Result<RecordReply>> done;
  auto future = done.get_future();
  ASSERT_OK(ingestor_->SubmitRecord({"approval", "admin", R"({"approval_id":"APR-1"})"},
                                    [&](Result<RecordReply> r) { done.set_value(std::move(r)); }));
  auto reply = future.get();
  ASSERT_OK(reply);
  EXPECT_EQ(reply->seq, 1u);
  ASSERT_EQ(decider_.records.size(), 1u);
  EXPECT_EQ(decider_.records[0], "approval");
}

TEST(Pseudonymizer, StableKeyedAndRefusesOpenKeyFile) {
  testing::ScopedTempDir dir;
  ASSERT_OK_AND_ASSIGN(auto a, Pseudonymizer::LoadOrCreate(dir.File("p.key")));
  ASSERT_OK_AND_ASSIGN(auto b, Pseudonymizer::LoadOrCreate(dir.File("p.key")));
  EXPECT_EQ(a->Ref("user:1"), b->Ref("user:1"));
  EXPECT_NE(a->Ref("user:1"), a->Ref("user:2"));
  EXPECT_EQ(a->Ref("user:1").rfind("ps1:", 0), 0u);
  ASSERT_OK_AND_ASSIGN(auto other, Pseudonymizer::LoadOrCreate(dir.File("q.key")));
  EXPECT_NE(a->Ref("user:1"), other->Ref("user:1"));
  ::chmod(dir.File("p.key").c_str(), 0644);
  auto refused = Pseudonymizer::LoadOrCreate(dir.File("p.key"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("chmod 600"), std::string::npos);
}

}  // namespace
}  // namespace custody::daemon
