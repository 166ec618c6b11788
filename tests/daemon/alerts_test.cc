#include "daemon/alerts/alerts.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <set>
#include <thread>

#include "testing/status_matchers.h"
#include "testing/temp_dir.h"
#include "testing/webhook_receiver.h"

namespace custody::daemon::alerts {
namespace {

using namespace std::chrono_literals;

SinkConfig Sink(const std::string& name, SinkType type, const std::string& url = "") {
  SinkConfig c;
  c.name = name;
  c.type = type;
  c.url = url;
  return c;
}

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger::LedgerOptions o;
    o.dir = dir_.File("ledger");
    o.origin = "alerts.example/log";
    ledger_ = std::move(ledger::Ledger::Open(o)).value();
    tables_ = *Tables::Open(*ledger_);
  }

  // Commits `n` alerts (rule r, given actor) through `router` in one batch.
  void RecordAlerts(Router& router, int n, const std::string& actor, schema::TimePoint now,
                    policy::Severity severity = policy::Severity::kHigh) {
    router.BeginBatch();
    auto r = ledger_->Write([&](ledger::WriteTxn& txn) -> Status {
      for (int i = 0; i < n; ++i) {
        CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append({"note", "t", now, "{}", ""}));
        boost::json::object a;
        a["rule"] = "r";
        a["actor"] = actor;
        a["seq"] = seq;
        a["severity"] = policy::SeverityName(severity);  // as the ingestor's alerts have
        a["received_at"] = schema::FormatRfc3339Micros(now);
        CUSTODY_RETURN_IF_ERROR(router.Record(txn, seq, 0, severity, a, now));
      }
      return Status::Ok();
    });
    ASSERT_OK(r);
    router.CommitBatch();
  }

  // A file sink on dir_/alerts.ndjson with its dispatcher running.
  struct FileSinkRig {
    explicit FileSinkRig(AlertsTest& t)
        : test(t),
          config(Config(t)),
          router(config, &t.tables_),
          dispatcher(t.ledger_.get(), &t.tables_, config, &t.registry_) {
      dispatcher.Start();
    }
    static AlertsConfig Config(AlertsTest& t) {
      AlertsConfig c;
      SinkConfig file = Sink("file", SinkType::kFile);
      file.path = t.dir_.File("alerts.ndjson");
      c.sinks = {file};
      return c;
    }
    // Records `n` alerts of `actor` and waits until the outbox is empty.
    void Deliver(int n, const std::string& actor) {
      test.RecordAlerts(router, n, actor, schema::SystemClock::Default()->Now());
      dispatcher.Notify();
      for (int i = 0; i < 200 && !test.Outbox().empty(); ++i) std::this_thread::sleep_for(10ms);
      EXPECT_TRUE(test.Outbox().empty());
    }
    AlertsTest& test;
    AlertsConfig config;
    Router router;
    Dispatcher dispatcher;
  };

  std::vector<std::string> Outbox() {
    std::vector<std::string> keys;
    auto view = std::move(ledger_->Read()).value();
    auto c = std::move(view.NewCursor(tables_.alert_outbox)).value();
    for (bool more = *c.SeekFirst(); more; more = *c.Next()) keys.emplace_back(c.key());
    return keys;
  }

  boost::json::object Alert(uint64_t seq) {
    auto view = std::move(ledger_->Read()).value();
    auto text = std::move(view.Get(tables_.alerts, AlertKey(seq, 0))).value();
    return boost::json::parse(*text).as_object();
  }

  testing::ScopedTempDir dir_;
  std::unique_ptr<ledger::Ledger> ledger_;
  Tables tables_;
  metrics::Registry registry_;
};

TEST_F(AlertsTest, OutboxRowPerQualifyingSink) {
  AlertsConfig config;
  config.sinks = {Sink("all", SinkType::kLog), Sink("critical-only", SinkType::kLog)};
  config.sinks[1].min_severity = policy::Severity::kCritical;
  Router router(config, &tables_);
  RecordAlerts(router, 1, "a", schema::SystemClock::Default()->Now(), policy::Severity::kHigh);
  RecordAlerts(router, 1, "a", schema::SystemClock::Default()->Now(), policy::Severity::kCritical);
  const auto outbox = Outbox();
  ASSERT_EQ(outbox.size(), 3u);
  EXPECT_EQ(std::count_if(outbox.begin(), outbox.end(),
                          [](const std::string& k) { return k.rfind("all", 0) == 0; }),
            2);
  EXPECT_TRUE(router.wrote_outbox());
  EXPECT_EQ(Alert(0).at("alert_id").as_string(), "0-0");
  EXPECT_TRUE(Alert(0).at("notified").as_bool());
}

TEST_F(AlertsTest, DedupSuppressesNotificationsButKeepsEveryRecord) {
  AlertsConfig config;
  config.sinks = {Sink("log", SinkType::kLog)};
  config.dedup.window_seconds = 60;
  Router router(config, &tables_);
  const auto t0 = schema::SystemClock::Default()->Now();
  RecordAlerts(router, 3, "alice", t0);  // seq 0 notifies, 1 and 2 suppressed
  RecordAlerts(router, 1, "bob", t0);    // other key: notifies
  RecordAlerts(router, 1, "alice", t0 + std::chrono::seconds(61));  // window over: notifies
  EXPECT_EQ(Outbox().size(), 3u);
  EXPECT_EQ(Alert(0).at("suppressed").as_int64(), 2);
  EXPECT_FALSE(Alert(1).at("notified").as_bool());
  EXPECT_EQ(Alert(1).at("suppressed_by").as_string(), "0-0");
  EXPECT_TRUE(Alert(3).at("notified").as_bool());
  EXPECT_TRUE(Alert(4).at("notified").as_bool());
}

// Sinks pick alerts by severity, so dedup keys include it: a critical alert
// after a medium one of the same rule and actor (a reload raised the rule's
// severity) must still reach the sink that takes only high and above.
TEST_F(AlertsTest, DedupNeverHidesAnAlertFromASinkTheFirstOneSkipped) {
  AlertsConfig config;
  config.sinks = {Sink("high-only", SinkType::kLog)};
  config.sinks[0].min_severity = policy::Severity::kHigh;
  config.dedup.window_seconds = 300;
  config.dedup.key = {"actor"};
  Router router(config, &tables_);
  const auto t0 = schema::SystemClock::Default()->Now();
  RecordAlerts(router, 1, "alice", t0, policy::Severity::kMedium);
  RecordAlerts(router, 1, "alice", t0 + std::chrono::seconds(1), policy::Severity::kCritical);
  RecordAlerts(router, 1, "alice", t0 + std::chrono::seconds(2), policy::Severity::kCritical);
  EXPECT_TRUE(Alert(1).at("notified").as_bool());
  EXPECT_FALSE(Alert(2).at("notified").as_bool());
  EXPECT_EQ(Alert(2).at("suppressed_by").as_string(), "1-0");
  EXPECT_EQ(Outbox().size(), 1u);  // the critical one, for the high-only sink
}

// A restart inside a dedup window must not notify again what the window
// covered: the new Router rebuilds the open windows from the ledger.
TEST_F(AlertsTest, DedupWindowsSurviveARestart) {
  AlertsConfig config;
  config.sinks = {Sink("log", SinkType::kLog)};
  config.dedup.window_seconds = 60;
  const auto t0 = schema::SystemClock::Default()->Now();
  {
    Router before(config, &tables_);
    RecordAlerts(before, 1, "bob", t0 - std::chrono::seconds(120));  // 0-0: closed long ago
    RecordAlerts(before, 1, "alice", t0);                            // 1-0 notifies
  }
  Router after(config, &tables_);
  ASSERT_OK(after.RestoreWindows(*ledger_, t0 + std::chrono::seconds(10)));
  RecordAlerts(after, 1, "alice", t0 + std::chrono::seconds(20));  // 2-0: inside 1-0's window
  RecordAlerts(after, 1, "bob", t0 + std::chrono::seconds(20));    // 3-0: bob's is closed
  EXPECT_FALSE(Alert(2).at("notified").as_bool());
  EXPECT_EQ(Alert(2).at("suppressed_by").as_string(), "1-0");
  EXPECT_EQ(Alert(1).at("suppressed").as_int64(), 1);
  EXPECT_TRUE(Alert(3).at("notified").as_bool());
  RecordAlerts(after, 1, "alice", t0 + std::chrono::seconds(61));  // the window is over
  EXPECT_TRUE(Alert(4).at("notified").as_bool());
}

TEST_F(AlertsTest, RollbackForgetsDedupWindowsOfTheFailedBatch) {
  AlertsConfig config;
  config.sinks = {Sink("log", SinkType::kLog)};
  config.dedup.window_seconds = 60;
  Router router(config, &tables_);
  const auto now = schema::SystemClock::Default()->Now();
  router.BeginBatch();
  auto failed = ledger_->Write([&](ledger::WriteTxn& txn) -> Status {
    CUSTODY_ASSIGN_OR_RETURN(uint64_t seq, txn.Append({"note", "t", now, "{}", ""}));
    boost::json::object a;
    a["rule"] = "r";
    a["actor"] = "carol";
    CUSTODY_RETURN_IF_ERROR(router.Record(txn, seq, 0, policy::Severity::kHigh, a, now));
    return Status::Internal("abort the batch");
  });
  ASSERT_FALSE(failed.ok());
  router.RollbackBatch();
  RecordAlerts(router, 1, "carol", now);
  EXPECT_TRUE(Alert(0).at("notified").as_bool());  // not suppressed by the rolled-back one
}

TEST_F(AlertsTest, WebhookDownThenSlowThenUpDeliversEveryAlertAcrossRestart) {
  testing::WebhookReceiver receiver;  // starts down
  AlertsConfig config;
  SinkConfig hook = Sink("hook", SinkType::kWebhook, receiver.url());
  hook.initial_backoff_ms = 20;
  hook.max_backoff_ms = 200;
  hook.timeout_ms = 300;
  config.sinks = {hook};
  Router router(config, &tables_);
  const auto now = schema::SystemClock::Default()->Now();
  {
    Dispatcher dispatcher(ledger_.get(), &tables_, config, &registry_);
    dispatcher.Start();
    RecordAlerts(router, 5, "a", now);
    dispatcher.Notify();
    std::this_thread::sleep_for(300ms);  // down: every attempt refused
    EXPECT_TRUE(receiver.deliveries().empty());
    EXPECT_EQ(Outbox().size(), 5u);
    receiver.SetDelay(1000ms);  // slow: longer than the sink's timeout
    receiver.Up();
    std::this_thread::sleep_for(500ms);
    dispatcher.Stop();  // "custodyd restarts" with alerts still pending
  }
  EXPECT_FALSE(Outbox().empty());
  receiver.SetDelay(0ms);
  RecordAlerts(router, 3, "b", now);
  Dispatcher restarted(ledger_.get(), &tables_, config, &registry_);
  restarted.Start();
  for (int i = 0; i < 200 && !Outbox().empty(); ++i) std::this_thread::sleep_for(20ms);
  restarted.Stop();
  EXPECT_TRUE(Outbox().empty());
  std::set<std::string> keys;
  for (const auto& d : receiver.deliveries()) {
    keys.insert(d.idempotency_key);
    EXPECT_EQ(boost::json::parse(d.body).at("rule").as_string(), "r");
  }
  EXPECT_EQ(keys.size(), 8u);  // every alert at least once; repeats share a key
  EXPECT_TRUE(keys.contains("alerts.example/log/0-0"));
  EXPECT_GT(registry_.Render().find("custody_alert_delivery_failures_total{sink=\"hook\"}"), 0u);
}

size_t LineCount(const std::string& path) {
  const std::string text = testing::ReadFileOrDie(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST_F(AlertsTest, FileSinkAppendsNdjson) {
  FileSinkRig rig(*this);
  rig.Deliver(2, "a");
  rig.dispatcher.Stop();
  EXPECT_EQ(LineCount(dir_.File("alerts.ndjson")), 2u);
}

TEST_F(AlertsTest, FileSinkReopensItsFileAfterRotation) {
  FileSinkRig rig(*this);
  rig.Deliver(2, "a");
  // logrotate: move the file away, then SIGHUP (ReopenFiles).
  std::filesystem::rename(dir_.File("alerts.ndjson"), dir_.File("alerts.ndjson.1"));
  rig.dispatcher.ReopenFiles();
  rig.Deliver(3, "b");
  rig.dispatcher.Stop();
  EXPECT_EQ(LineCount(dir_.File("alerts.ndjson.1")), 2u);
  EXPECT_EQ(LineCount(dir_.File("alerts.ndjson")), 3u);
}

TEST(AlertsConfig, ValidationNamesTheSink) {
  AlertsConfig config;
  config.sinks = {Sink("hook", SinkType::kWebhook, "https://example.com")};
  Status s = ValidateAlertsConfig(config);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("hook"), std::string::npos);
  config.sinks = {Sink("a", SinkType::kLog), Sink("a", SinkType::kLog)};
  EXPECT_FALSE(ValidateAlertsConfig(config).ok());
}

}  // namespace
}  // namespace custody::daemon::alerts
