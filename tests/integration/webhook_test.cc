// Alert delivery through a real webhook receiver on 127.0.0.1 that is down,
// then slow, then up -- across a custodyd restart: every alert recorded is
// delivered at least once, none is lost, and /metrics shows the outbox
// depth and the failed attempts per sink.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "custody/schema/json_canon.h"
#include "testing/daemon_harness.h"
#include "testing/paths.h"
#include "testing/webhook_receiver.h"

namespace custody::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// The value of the sample `name{labels}` in Prometheus text; -1 when absent.
double Metric(const std::string& text, const std::string& sample) {
  size_t pos = 0;
  while ((pos = text.find(sample + " ", pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == '\n') {
      return std::stod(text.substr(pos + sample.size() + 1));
    }
    pos += sample.size();
  }
  return -1;
}

double SinkMetric(HttpClient& c, const std::string& name) {
  HttpResult r = c.Get("/metrics");
  EXPECT_EQ(r.status, 200);
  return Metric(r.body, name + "{sink=\"hook\"}");
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// A gov-id-in-chat event (and, with a non-US actor, us-personal-data-leaves-us).
std::string ChatEvent(const std::string& id, const std::string& country) {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:05:00Z","activity":"share","actor":{"type":"human","id":"emp-)" +
         id + R"(","country":")" + country +
         R"("},"target":{"system":"lark","type":"chat_channel","country":")" + country +
         R"(","id":"global-ops","audience_size":4200},"data":{"categories":["gov_id.passport"],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1}}})";
}

// Every alert id from /v1/alerts, as the idempotency keys custodyd sends.
std::set<std::string> AlertKeys(HttpClient& c, const std::string& origin) {
  std::set<std::string> keys;
  std::string cursor;
  for (int pages = 0; pages < 1000; ++pages) {
    HttpResult r =
        c.Get("/v1/alerts?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor), kReaderToken);
    EXPECT_EQ(r.status, 200) << r.body;
    auto v = schema::ParseJson(r.body);
    if (r.status != 200 || !v.ok()) break;
    for (const auto& a : v->at("alerts").as_array()) {
      keys.insert(origin + "/" + std::string(a.at("alert_id").as_string()));
    }
    if (v->at("next_cursor").is_null()) break;
    cursor = std::string(v->at("next_cursor").as_string());
  }
  return keys;
}

std::set<std::string> DeliveredKeys(const WebhookReceiver& hook) {
  std::set<std::string> keys;
  for (const auto& d : hook.deliveries()) keys.insert(d.idempotency_key);
  return keys;
}

TEST(WebhookAcrossRestartTest, DownThenSlowThenUpAcrossARestartLosesNothing) {
  WebhookReceiver hook;  // starts down: connections are refused
  DaemonOptions o;
  o.top_level = "policy = \"" + (SourceDir() / "docs/examples/boundaries.toml").string() + "\"\n";
  o.tables = "[[alert_sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"" + hook.url() +
             "\"\ntimeout_ms = 200\ninitial_backoff_ms = 20\nmax_backoff_ms = 200\n";
  DaemonHarness d(o);
  ASSERT_TRUE(d.Start()) << d.last_error();
  HttpClient c = d.Client();
  const std::string origin = o.origin;

  // Down: alerts wait in the outbox, every attempt fails.
  int n = 0;
  auto send = [&](int count) {
    for (int i = 0; i < count; ++i, ++n) {
      const std::string id = "wh-" + std::to_string(n);
      HttpResult r = c.Post("/v1/events", ChatEvent(id, n % 2 ? "SG" : "US"), "application/json",
                            kProducerToken);
      ASSERT_EQ(r.status, 200) << r.body;
    }
  };
  send(10);  // 5 US (one alert each) + 5 SG (two each) = 15 alerts
  EXPECT_TRUE(
      WaitFor([&] { return SinkMetric(c, "custody_alert_delivery_failures_total") >= 2; }, 10s));
  EXPECT_TRUE(WaitFor([&] { return SinkMetric(c, "custody_alert_outbox_depth") == 15; }, 5s));
  EXPECT_TRUE(hook.deliveries().empty());

  // Slow: the receiver answers after the sink's timeout; attempts keep
  // failing (the receiver may see bodies custodyd has given up on).
  hook.SetDelay(600ms);
  hook.Up();
  const double failures_down = SinkMetric(c, "custody_alert_delivery_failures_total");
  send(6);  // 9 more alerts
  EXPECT_TRUE(WaitFor(
      [&] {
        return SinkMetric(c, "custody_alert_delivery_failures_total") >= failures_down + 2 &&
               !hook.deliveries().empty();
      },
      15s));
  // Nothing was acknowledged in time: all 24 alerts still wait.
  EXPECT_TRUE(WaitFor([&] { return SinkMetric(c, "custody_alert_outbox_depth") == 24; }, 5s));
  EXPECT_EQ(SinkMetric(c, "custody_alerts_delivered_total"), 0);

  // SIGTERM with a full outbox; the receiver recovers while custodyd is away.
  const std::set<std::string> want = AlertKeys(c, origin);
  ASSERT_EQ(want.size(), 24u);
  ASSERT_EQ(d.Stop(), 0) << d.Log();
  hook.SetDelay(0ms);
  ASSERT_TRUE(d.Start()) << d.last_error();
  c = d.Client();
  EXPECT_EQ(AlertKeys(c, origin), want);

  // Up: what the previous run left in the outbox is delivered.
  EXPECT_TRUE(WaitFor(
      [&] {
        std::set<std::string> got = DeliveredKeys(hook);
        return std::includes(got.begin(), got.end(), want.begin(), want.end()) &&
               SinkMetric(c, "custody_alert_outbox_depth") == 0;
      },
      30s))
      << DeliveredKeys(hook).size() << " of " << want.size() << " delivered";
  EXPECT_EQ(DeliveredKeys(hook), want);  // at least once each, nothing else
  EXPECT_GE(SinkMetric(c, "custody_alerts_delivered_total"), 1);

  // And new alerts go straight through.
  send(1);
  const std::set<std::string> all = AlertKeys(c, origin);
  EXPECT_EQ(all.size(), want.size() + 1);
  EXPECT_TRUE(WaitFor([&] { return DeliveredKeys(hook) == all; }, 10s));
  for (const auto& delivery : hook.deliveries()) {
    auto v = schema::ParseJson(delivery.body);
    ASSERT_TRUE(v.ok()) << delivery.body;
    EXPECT_EQ(origin + "/" + std::string(v->at("alert_id").as_string()), delivery.idempotency_key);
  }
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

}  // namespace
}  // namespace custody::testing
