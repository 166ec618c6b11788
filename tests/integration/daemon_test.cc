// The real custodyd over loopback: receipts, verification of what the HTTP
// API serves, errors, roles, lifecycle (SIGTERM, SIGHUP, sd_notify, restart).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "custody/ledger/checkpoint.h"
#include "custody/ledger/entry.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"
#include "custody/ledger/merkle.h"
#include "custody/schema/json_canon.h"
#include "testing/daemon_harness.h"
#include "testing/paths.h"
#include "testing/status_matchers.h"

namespace custody::testing {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::string Event(const std::string& id, const std::string& subject = "user:1001",
                  const std::string& activity = "read") {
  return R"({"event_id":")" + id + R"(","time":"2026-05-04T09:00:00Z","activity":")" + activity +
         R"(","actor":{"type":"human","id":"emp-us-1","country":"US"},"target":{"system":"us-crm","type":"database","country":"US","id":"users"},"data":{"categories":["contact.email"],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1},"ids":[")" +
         subject + R"("]}})";
}

json::value Json(const HttpResult& r) {
  auto v = schema::ParseJson(r.body);
  EXPECT_TRUE(v.ok()) << r.status << " " << r.body;
  return v.ok() ? *v : json::value();
}

// Asserts an RFC 9457 problem with `status` and `slug`.
json::object Problem(const HttpResult& r, int status, const std::string& slug) {
  EXPECT_EQ(r.status, status) << r.error << r.body;
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  auto v = schema::ParseJson(r.body);
  if (!v.ok() || !v->is_object()) {
    ADD_FAILURE() << "not JSON: " << r.body;
    return {};
  }
  json::object o = v->as_object();
  EXPECT_EQ(o["type"], json::value("urn:custody:problem:" + slug)) << r.body;
  EXPECT_EQ(o["status"], json::value(status));
  EXPECT_TRUE(o["title"].is_string());
  EXPECT_TRUE(o["detail"].is_string());
  EXPECT_TRUE(o["errors"].is_array());
  return o;
}

std::vector<ledger::Hash> Hashes(const json::value& proof) {
  std::vector<ledger::Hash> out;
  for (const auto& h : proof.at("hashes").as_array()) {
    auto hash = ledger::HashFromBase64(h.as_string());
    EXPECT_TRUE(hash.ok());
    if (hash.ok()) out.push_back(*hash);
  }
  return out;
}

std::vector<std::string> Lines(const std::string& ndjson) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < ndjson.size()) {
    size_t nl = ndjson.find('\n', pos);
    if (nl == std::string::npos) nl = ndjson.size();
    out.push_back(ndjson.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

class DaemonTest : public ::testing::Test {
 protected:
  void StartOrDie(DaemonHarness& d) { ASSERT_TRUE(d.Start()) << d.last_error(); }

  // Polls `done` every 10 ms for up to 2 s (a reload is asynchronous).
  static bool Eventually(const std::function<bool()>& done) {
    for (int i = 0; i < 200; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  // The log's verifier key, as GET /v1/log publishes it.
  static ledger::VerifierKey KeyOf(HttpClient& c) {
    HttpResult log = c.Get("/v1/log");
    EXPECT_EQ(log.status, 200);
    auto key = ledger::VerifierKey::Parse(Json(log).at("verifier_key").as_string());
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.value_or(ledger::VerifierKey{});
  }

  // Every entry of the log, fetched in pages.
  static std::vector<std::string> AllEntries(HttpClient& c, uint64_t size) {
    std::vector<std::string> out;
    while (out.size() < size) {
      HttpResult page =
          c.Get("/v1/entries?start=" + std::to_string(out.size()) + "&end=" + std::to_string(size));
      EXPECT_EQ(page.status, 200) << page.body;
      if (page.status != 200) break;
      for (auto& line : Lines(page.body)) out.push_back(std::move(line));
    }
    return out;
  }
};

TEST_F(DaemonTest, AppendGivesReceiptWithCheckpointThatVerifies) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  HttpResult r = c.Post("/v1/events", Event("evt-1"), "application/json", kProducerToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  json::value v = Json(r);
  const auto& res = v.at("results").as_array();
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].at("event_id").as_string(), "evt-1");
  EXPECT_FALSE(res[0].at("duplicate").as_bool());
  const uint64_t seq = res[0].at("seq").to_number<uint64_t>();

  ledger::VerifierKey key = KeyOf(c);
  EXPECT_EQ(key.name, "custody.test/log");
  ASSERT_OK_AND_ASSIGN(
      auto cp, ledger::OpenCheckpoint(v.at("checkpoint").as_string(), key, "custody.test/log"));
  EXPECT_GT(cp.size, seq);
  // The receipt's checkpoint proves the event is in the log.
  json::value proof = Json(c.Get("/v1/proof/inclusion?index=" + std::to_string(seq) +
                                 "&size=" + std::to_string(cp.size)));
  HttpResult entry =
      c.Get("/v1/entries?start=" + std::to_string(seq) + "&end=" + std::to_string(seq + 1));
  ASSERT_EQ(entry.status, 200);
  ASSERT_EQ(entry.body.back(), '\n');
  const std::string bytes = entry.body.substr(0, entry.body.size() - 1);
  EXPECT_OK(ledger::VerifyInclusion(seq, cp.size, ledger::LeafHash(bytes), Hashes(proof), cp.root));
  ASSERT_OK_AND_ASSIGN(auto decoded, ledger::DecodeEntry(bytes));
  EXPECT_EQ(decoded.kind, "access");
  EXPECT_EQ(decoded.producer, "producer-1");        // from the token, not the body
  EXPECT_THAT(bytes, Not(HasSubstr("user:1001")));  // subject ids are pseudonymised
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST_F(DaemonTest, EntriesHashToTheCheckpointRootAndChainByPrev) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(c.Post("/v1/events", Event("chain-" + std::to_string(i)), "application/json",
                     kProducerToken)
                  .status,
              200);
  }
  ledger::VerifierKey key = KeyOf(c);
  HttpResult note = c.Get("/v1/checkpoint");
  ASSERT_EQ(note.status, 200);
  EXPECT_THAT(note.header("content-type"), HasSubstr("text/plain"));
  ASSERT_OK_AND_ASSIGN(auto cp, ledger::OpenCheckpoint(note.body, key, "custody.test/log"));
  ASSERT_EQ(cp.size, 21u);  // the policy record and 20 events

  std::vector<std::string> entries = AllEntries(c, cp.size);
  ASSERT_EQ(entries.size(), cp.size);
  ledger::MemoryTree tree;
  ledger::Hash prev = ledger::EmptyRoot();
  for (size_t i = 0; i < entries.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(auto e, ledger::DecodeEntry(entries[i]));
    EXPECT_EQ(e.seq, i);
    EXPECT_EQ(e.prev, prev) << "entry " << i;
    prev = ledger::LeafHash(entries[i]);
    tree.AppendLeaf(prev);
  }
  EXPECT_EQ(tree.Root(), cp.root);
}

TEST_F(DaemonTest, InclusionAndConsistencyProofsVerify) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  std::vector<std::string> notes;
  for (int i = 0; i < 9; ++i) {
    HttpResult r = c.Post("/v1/events", Event("proof-" + std::to_string(i)), "application/json",
                          kProducerToken);
    ASSERT_EQ(r.status, 200);
    notes.push_back(std::string(Json(r).at("checkpoint").as_string()));
  }
  ledger::VerifierKey key = KeyOf(c);
  std::vector<ledger::Checkpoint> cps;
  for (const auto& n : notes) {
    ASSERT_OK_AND_ASSIGN(auto cp, ledger::OpenCheckpoint(n, key));
    cps.push_back(cp);
  }
  const ledger::Checkpoint& last = cps.back();
  std::vector<std::string> entries = AllEntries(c, last.size);
  for (uint64_t i = 0; i < last.size; ++i) {
    json::value p = Json(c.Get("/v1/proof/inclusion?index=" + std::to_string(i) +
                               "&size=" + std::to_string(last.size)));
    EXPECT_OK(
        ledger::VerifyInclusion(i, last.size, ledger::LeafHash(entries[i]), Hashes(p), last.root));
  }
  for (const auto& older : cps) {
    json::value p = Json(c.Get("/v1/proof/consistency?from=" + std::to_string(older.size) +
                               "&to=" + std::to_string(last.size)));
    EXPECT_EQ(p.at("from").to_number<uint64_t>(), older.size);
    EXPECT_OK(ledger::VerifyConsistency(older.size, last.size, older.root, last.root, Hashes(p)));
  }
}

TEST_F(DaemonTest, OlderCheckpointsAreServedBySizeAndAtOrBelowASize) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  std::vector<std::string> notes;  // one commit per request: one checkpoint each
  for (int i = 0; i < 3; ++i) {
    const std::string id = "cp-" + std::to_string(i);
    HttpResult r = c.Post("/v1/events", "[" + Event(id + "a") + "," + Event(id + "b") + "]",
                          "application/json", kProducerToken);
    ASSERT_EQ(r.status, 200);
    notes.push_back(std::string(Json(r).at("checkpoint").as_string()));
  }
  ledger::VerifierKey key = KeyOf(c);
  std::vector<uint64_t> sizes;
  for (const auto& n : notes) {
    ASSERT_OK_AND_ASSIGN(auto cp, ledger::OpenCheckpoint(n, key));
    sizes.push_back(cp.size);
  }
  ASSERT_LT(sizes[0], sizes[1]);
  for (size_t i = 0; i < notes.size(); ++i) {
    HttpResult r = c.Get("/v1/checkpoint?size=" + std::to_string(sizes[i]));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, notes[i]);
    r = c.Get("/v1/checkpoint?max_size=" + std::to_string(sizes[i]));
    EXPECT_EQ(r.body, notes[i]);
  }
  // Between two signed sizes: the lower one; past the end: the latest.
  ASSERT_EQ(sizes[1], sizes[0] + 2);
  EXPECT_EQ(c.Get("/v1/checkpoint?max_size=" + std::to_string(sizes[0] + 1)).body, notes[0]);
  Problem(c.Get("/v1/checkpoint?size=" + std::to_string(sizes[0] + 1)), 404, "not-found");
  EXPECT_EQ(c.Get("/v1/checkpoint?max_size=1000000").body, notes.back());
  Problem(c.Get("/v1/checkpoint?max_size=0"), 404, "not-found");
  Problem(c.Get("/v1/checkpoint?size=1&max_size=2"), 400, "invalid-request");
  Problem(c.Get("/v1/checkpoint?sise=1"), 400, "invalid-request");
}

TEST_F(DaemonTest, RetriesAreDuplicatesAcrossRequestsFormatsAndRestarts) {
  DaemonHarness d;
  StartOrDie(d);
  {
    HttpClient c = d.Client();
    HttpResult first = c.Post("/v1/events", Event("dup-1"), "application/json", kProducerToken);
    ASSERT_EQ(first.status, 200);
    const auto seq = Json(first).at("results").at(0).at("seq");
    HttpResult again = c.Post("/v1/events", Event("dup-1") + "\n" + Event("dup-2") + "\n",
                              "application/x-ndjson", kProducerToken);
    ASSERT_EQ(again.status, 200) << again.body;
    const json::array r = Json(again).at("results").as_array();
    EXPECT_EQ(r[0].at("seq"), seq);
    EXPECT_TRUE(r[0].at("duplicate").as_bool());
    EXPECT_FALSE(r[1].at("duplicate").as_bool());
  }
  ASSERT_EQ(d.Stop(), 0);
  StartOrDie(d);
  HttpClient c = d.Client();
  HttpResult after =
      c.Post("/v1/events", "[" + Event("dup-2") + "]", "application/json", kProducerToken);
  ASSERT_EQ(after.status, 200);
  EXPECT_TRUE(Json(after).at("results").at(0).at("duplicate").as_bool());
  // Another producer's event with the same id is a different event.
  HttpResult admin = c.Post("/v1/events", Event("dup-2"), "application/json", kAdminToken);
  EXPECT_FALSE(Json(admin).at("results").at(0).at("duplicate").as_bool());
  EXPECT_EQ(Json(c.Get("/v1/log")).at("size").to_number<uint64_t>(), 4u);
}

// A retry is the same event; an event_id reused for different content is a
// second access under a used id, which must not be dropped as a "duplicate":
// the whole request is refused (409) and nothing of it is appended.
TEST_F(DaemonTest, AnEventIdReusedForDifferentContentIsAConflict) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  HttpResult first = c.Post("/v1/events", Event("c-1"), "application/json", kProducerToken);
  ASSERT_EQ(first.status, 200) << first.body;
  const uint64_t seq = Json(first).at("results").at(0).at("seq").to_number<uint64_t>();
  auto size = [&] { return Json(c.Get("/v1/log")).at("size").to_number<uint64_t>(); };
  const uint64_t before = size();
  auto pointers_and_messages = [](const HttpResult& r) {
    std::vector<std::string> out;
    auto v = schema::ParseJson(r.body);
    if (!v.ok()) return out;
    for (const auto& e : v->at("errors").as_array()) {
      out.push_back(std::string(e.at("pointer").as_string()) + " " +
                    std::string(e.at("message").as_string()));
    }
    return out;
  };

  // The same id, another subject: a single object.
  HttpResult other = c.Post("/v1/events", Event("c-1", "user:2002"), "application/json",
                            kProducerToken);
  EXPECT_EQ(other.status, 409) << other.body;
  EXPECT_EQ(other.header("content-type"), "application/problem+json");
  EXPECT_EQ(Json(other).at("type").as_string(), "urn:custody:problem:event-id-conflict");
  EXPECT_THAT(pointers_and_messages(other),
              ElementsAre("/event_id event_id \"c-1\" was recorded at seq " +
                          std::to_string(seq) + " with different content (custodyctl prove " +
                          std::to_string(seq) + " shows it)"));
  // In an array with a new event: refused whole, the new one is not appended.
  HttpResult mixed = c.Post("/v1/events", "[" + Event("c-2") + "," + Event("c-1", "user:3") + "]",
                            "application/json", kProducerToken);
  EXPECT_EQ(mixed.status, 409) << mixed.body;
  EXPECT_THAT(pointers_and_messages(mixed), ElementsAre(::testing::StartsWith("/1/event_id ")));
  // Twice in one NDJSON request with different content.
  HttpResult twice = c.Post("/v1/events", Event("c-3") + "\n" + Event("c-3", "user:4") + "\n",
                            "application/x-ndjson", kProducerToken);
  EXPECT_EQ(twice.status, 409) << twice.body;
  EXPECT_THAT(pointers_and_messages(twice),
              ElementsAre("/1/event_id event_id \"c-3\" is also the id of event 0 of this "
                          "request, with different content"));
  EXPECT_EQ(size(), before);

  // The true retry still is one, and c-2 goes in once resent on its own.
  HttpResult retry = c.Post("/v1/events", "[" + Event("c-1") + "," + Event("c-2") + "," +
                                              Event("c-2") + "]",
                            "application/json", kProducerToken);
  ASSERT_EQ(retry.status, 200) << retry.body;
  const json::array r = Json(retry).at("results").as_array();
  EXPECT_TRUE(r[0].at("duplicate").as_bool());
  EXPECT_EQ(r[0].at("seq").to_number<uint64_t>(), seq);
  EXPECT_FALSE(r[1].at("duplicate").as_bool());
  EXPECT_TRUE(r[2].at("duplicate").as_bool());
  EXPECT_EQ(r[2].at("seq"), r[1].at("seq"));
  EXPECT_EQ(size(), before + 1);
}

TEST_F(DaemonTest, EveryErrorIsProblemJson) {
  DaemonOptions o;
  o.http = {"body_limit = 4096", "header_limit = 2048"};
  DaemonHarness d(o);
  StartOrDie(d);
  HttpClient c = d.Client();

  json::object bad = Problem(c.Post("/v1/events", R"({"event_id":"x","time":"nope","zzz":1})",
                                    "application/json", kProducerToken),
                             400, "invalid-event");
  std::set<std::string> pointers;
  for (const auto& e : bad["errors"].as_array()) {
    pointers.insert(std::string(e.at("pointer").as_string()));
    EXPECT_FALSE(e.at("message").as_string().empty());
  }
  EXPECT_TRUE(pointers.count("/time")) << json::serialize(bad);
  EXPECT_TRUE(pointers.count("/zzz"));
  EXPECT_TRUE(pointers.count("/actor"));

  HttpResult unauth = c.Post("/v1/events", Event("e"), "application/json", "");
  Problem(unauth, 401, "unauthenticated");
  EXPECT_EQ(unauth.header("www-authenticate"), "Bearer realm=\"custody\"");
  Problem(c.Post("/v1/events", Event("e"), "application/json", "not-a-token"), 401,
          "unauthenticated");
  Problem(c.Post("/v1/events", Event("e"), "application/json", kReaderToken), 403, "forbidden");
  Problem(c.Post("/v1/events", Event("e"), "text/csv", kProducerToken), 415,
          "unsupported-media-type");
  Problem(c.Post("/v1/events", std::string(5000, ' '), "application/json", kProducerToken), 413,
          "body-too-large");
  Problem(c.Get("/v1/nothing"), 404, "not-found");
  HttpResult not_allowed = c.Request("PUT", "/v1/checkpoint", "x");
  Problem(not_allowed, 405, "method-not-allowed");
  EXPECT_EQ(not_allowed.header("allow"), "GET, HEAD");
  Problem(c.Get("/v1/entries?start=zero"), 400, "invalid-request");
  Problem(c.Get("/v1/checkpoint?x=1"), 400, "invalid-request");
  Problem(c.Request("GET", "/healthz", "", {{"X-Big", std::string(3000, 'a')}}), 431,
          "header-too-large");
  // Malformed HTTP gets a 400 too.
  RawConnection raw(d.port());
  ASSERT_TRUE(raw.Write("GARBAGE\r\n\r\n"));
  std::string reply;
  raw.ReadToClose(&reply, 5s);
  EXPECT_THAT(reply, HasSubstr("HTTP/1.1 400"));
  EXPECT_THAT(reply, HasSubstr("urn:custody:problem:malformed-request"));
  // Still serving afterwards.
  EXPECT_EQ(d.Client().Get("/healthz").status, 200);
}

TEST_F(DaemonTest, RolesAreEnforced) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  EXPECT_EQ(c.Post("/v1/events", Event("r-1"), "application/json", kProducerToken).status, 200);
  EXPECT_EQ(c.Post("/v1/events", Event("r-2"), "application/json", kAdminToken).status, 200);
  Problem(c.Post("/v1/events", Event("r-3"), "application/json", kReaderToken), 403, "forbidden");
  Problem(c.Get("/v1/events", kProducerToken), 403, "forbidden");
  Problem(c.Get("/v1/alerts", kProducerToken), 403, "forbidden");
  Problem(c.Get("/v1/events"), 401, "unauthenticated");
  Problem(c.Get("/v1/alerts"), 401, "unauthenticated");
  EXPECT_EQ(c.Get("/v1/events", kReaderToken).status, 200);
  EXPECT_EQ(c.Get("/v1/alerts", kReaderToken).status, 200);
  EXPECT_EQ(c.Get("/v1/events", kAdminToken).status, 200);
  for (const char* path :
       {"/v1/log", "/v1/checkpoint", "/v1/entries?start=0", "/v1/proof/inclusion?index=0",
        "/v1/proof/consistency?from=1", "/metrics", "/healthz", "/readyz"}) {
    EXPECT_EQ(c.Get(path).status, 200) << path;
  }
}

TEST_F(DaemonTest, QueryBySubjectFindsTheEvent) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  ASSERT_EQ(
      c.Post("/v1/events", Event("q-1", "driver:77"), "application/json", kProducerToken).status,
      200);
  ASSERT_EQ(
      c.Post("/v1/events", Event("q-2", "driver:78"), "application/json", kProducerToken).status,
      200);
  HttpResult r = c.Get("/v1/events?subject=driver%3A77", kReaderToken);
  ASSERT_EQ(r.status, 200) << r.body;
  const json::array events = Json(r).at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("body").at("event_id").as_string(), "q-1");
  EXPECT_THAT(r.body, Not(HasSubstr("driver:77")));
  HttpResult none = c.Get("/v1/events?subject=driver%3A79", kReaderToken);
  EXPECT_TRUE(Json(none).at("events").as_array().empty());
  HttpResult by_actor =
      c.Get("/v1/events?actor=emp-us-1&country=US&category=contact.*", kReaderToken);
  EXPECT_EQ(Json(by_actor).at("events").as_array().size(), 2u);
}

TEST_F(DaemonTest, SigtermDrainsInFlightRequestsAndExitsZero) {
  DaemonOptions o;
  o.http = {"io_threads = 2"};
  DaemonHarness d(o);
  StartOrDie(d);
  const uint16_t port = d.port();
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<int> sent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient c(port, 10s);
      for (int i = 0; !stop; ++i) {
        std::string id = "drain-" + std::to_string(t) + "-" + std::to_string(i);
        HttpResult r = c.Post("/v1/events", Event(id), "application/json", kProducerToken);
        ++sent;
        if (r.status == 200) {
          std::lock_guard lock(mu);
          acked.insert(id);
        } else if (r.status != 503 && r.status != 0) {
          ADD_FAILURE() << "unexpected " << r.status << " " << r.body;
        }
        if (r.status != 200) break;
      }
    });
  }
  while (sent < 200) std::this_thread::sleep_for(1ms);
  const int code = d.Stop(SIGTERM);
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(code, 0) << d.Log();
  EXPECT_THAT(d.Log(), HasSubstr("shutting down"));
  ASSERT_GE(acked.size(), 100u);

  // Every acknowledged event is in the log after a restart.
  StartOrDie(d);
  HttpClient c = d.Client();
  const uint64_t size = Json(c.Get("/v1/log")).at("size").to_number<uint64_t>();
  std::set<std::string> stored;
  for (const auto& e : AllEntries(c, size)) {
    auto v = json::parse(e);
    if (v.at("kind") == "access")
      stored.insert(std::string(v.at("body").at("event_id").as_string()));
  }
  for (const auto& id : acked) EXPECT_TRUE(stored.count(id)) << id;
}

TEST_F(DaemonTest, RestartKeepsTheLogAndItsKey) {
  DaemonHarness d;
  StartOrDie(d);
  ledger::VerifierKey key;
  {
    HttpClient c = d.Client();
    ASSERT_EQ(c.Post("/v1/events", Event("k-1"), "application/json", kProducerToken).status, 200);
    key = KeyOf(c);
  }
  d.Kill();  // no clean shutdown: the acknowledged event is durable anyway
  StartOrDie(d);
  HttpClient c = d.Client();
  EXPECT_EQ(KeyOf(c), key);
  ASSERT_OK_AND_ASSIGN(auto cp, ledger::OpenCheckpoint(c.Get("/v1/checkpoint").body, key));
  EXPECT_EQ(cp.size, 2u);
}

// Operators tell custodyd's threads apart in top -H, perf and gdb by name.
TEST_F(DaemonTest, ThreadsAreNamedForOperators) {
  DaemonHarness d;
  StartOrDie(d);
  std::set<std::string> names;
  const std::filesystem::path tasks = "/proc/" + std::to_string(d.pid()) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    names.insert(name);
  }
  for (const char* want : {"http-io-0", "ingest-append", "ingest-complete", "ledger-prealloc"}) {
    EXPECT_TRUE(names.count(want)) << "no thread named " << want;
  }
}

// One data dir, one custodyd: a second would append to the same ledger with
// its own view of the tree. A kill -9 leaves no stale lock behind.
TEST_F(DaemonTest, ASecondDaemonOnTheSameDataDirIsRefused) {
  DaemonHarness first;
  StartOrDie(first);
  DaemonOptions o;
  o.extra_args = {"--data-dir", first.data_dir()};
  DaemonHarness second(o);
  EXPECT_FALSE(second.Start(std::chrono::seconds(10)));
  EXPECT_THAT(second.Log(), HasSubstr("is in use by another custodyd (pid " +
                                      std::to_string(first.pid()) + ")"));
  first.Kill();
  StartOrDie(second);
  HttpClient c = second.Client();
  EXPECT_EQ(c.Post("/v1/events", Event("lock-1"), "application/json", kProducerToken).status, 200);
}

TEST_F(DaemonTest, SighupReloadsTokens) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  ASSERT_EQ(c.Get("/v1/events", kReaderToken).status, 200);
  d.options().tokens = {{"producer-1", "producer", kProducerToken},
                        {"auditor", "reader", "tok-new-reader"}};
  d.WriteConfig();
  ASSERT_TRUE(d.Signal(SIGHUP));
  EXPECT_TRUE(Eventually([&] { return c.Get("/v1/events", "tok-new-reader").status == 200; }))
      << d.Log();
  Problem(c.Get("/v1/events", kReaderToken), 401, "unauthenticated");

  // A broken config keeps the tokens in force.
  WriteFileOrDie(d.config_path(), "this is not toml\n");
  ASSERT_TRUE(d.Signal(SIGHUP));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(c.Get("/v1/events", "tok-new-reader").status, 200);
  EXPECT_THAT(d.Log(), HasSubstr("keeping the current tokens"));
  EXPECT_EQ(d.Stop(), 0);
}

// A reload applies the command line's --listen/--data-dir again (they are
// not in the file), and says which file changes need a restart.
TEST_F(DaemonTest, SighupKeepsTheCommandLineOverridesAndNamesRestartOnlyChanges) {
  DaemonOptions o;
  DaemonHarness d(o);
  const std::string flagged = d.dir() + "/flagged-data";
  d.options().extra_args = {"--data-dir", flagged};
  StartOrDie(d);
  HttpClient c = d.Client();
  d.options().tokens.push_back({"late", "reader", "tok-late-reader"});
  d.WriteConfig();
  ASSERT_TRUE(d.Signal(SIGHUP));
  EXPECT_TRUE(Eventually([&] { return c.Get("/v1/events", "tok-late-reader").status == 200; }))
      << d.Log();
  EXPECT_THAT(d.Log(), Not(HasSubstr("restart custodyd to apply"))) << d.Log();

  d.options().origin = "custody.test/renamed";
  d.WriteConfig();
  ASSERT_TRUE(d.Signal(SIGHUP));
  EXPECT_TRUE(Eventually([&] {
    return d.Log().find("origin changed to \"custody.test/renamed\"") != std::string::npos;
  })) << d.Log();
  EXPECT_EQ(Json(c.Get("/v1/log")).at("origin").as_string(), "custody.test/log");
  EXPECT_EQ(d.Stop(), 0);
}

TEST_F(DaemonTest, NotifiesSystemdReadyWatchdogAndStopping) {
  DaemonOptions o;
  ScopedTempDir scratch;
  const std::string path = scratch.File("notify.sock");
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  o.extra_env = {"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=200000"};
  DaemonHarness d(o);
  StartOrDie(d);

  std::string all;
  auto receive_until = [&](const std::string& what, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (all.find(what) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) all.append(buf, static_cast<size_t>(n)).append("\n");
    }
    return all.find(what) != std::string::npos;
  };
  EXPECT_TRUE(receive_until("READY=1", 5s)) << all;
  EXPECT_TRUE(receive_until("WATCHDOG=1", 5s)) << all;
  EXPECT_THAT(all, HasSubstr("STATUS=serving on port " + std::to_string(d.port())));
  ASSERT_TRUE(d.Signal(SIGTERM));
  EXPECT_TRUE(receive_until("STOPPING=1", 10s)) << all;
  EXPECT_EQ(d.Stop(SIGTERM), 0);
  ::close(fd);
}

TEST_F(DaemonTest, ConnectionsBeyondTheCapAreRefusedWith503) {
  DaemonOptions o;
  o.http = {"max_connections = 2"};
  DaemonHarness d(o);
  StartOrDie(d);
  // Fill both slots. Connections of earlier requests (the harness's readiness
  // probe) may take a moment to be torn down, so retry until both are served.
  std::optional<RawConnection> a, b;
  bool both = false;
  for (int attempt = 0; attempt < 50 && !both; ++attempt) {
    a.reset();
    b.reset();
    std::this_thread::sleep_for(20ms);
    a.emplace(d.port());
    b.emplace(d.port());
    std::string ra, rb;
    both = a->Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") &&
           b->Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") &&
           a->ReadUntil("\"ok\"", &ra, 5s) && b->ReadUntil("\"ok\"", &rb, 5s);
  }
  ASSERT_TRUE(both);
  {
    RawConnection third(d.port());
    std::string refused;
    third.ReadToClose(&refused, 5s);
    EXPECT_THAT(refused, HasSubstr("HTTP/1.1 503"));
    EXPECT_THAT(refused, HasSubstr("too-many-connections"));
    EXPECT_THAT(refused, HasSubstr("Retry-After: 1"));
  }
  // Once a connection closes, new ones are served again.
  a.reset();
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    HttpClient c(d.port());
    status = c.Get("/healthz").status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
  b.reset();
  // The server may not have seen the closes yet: a slot frees up shortly.
  HttpResult metrics;
  for (int i = 0; i < 100 && metrics.status != 200; ++i) {
    metrics = d.Client().Get("/metrics");
    if (metrics.status != 200) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(metrics.status, 200) << metrics.body;
  EXPECT_THAT(metrics.body,
              HasSubstr("custody_http_rejects_total{reason=\"too_many_connections\"}"));
}

TEST_F(DaemonTest, SlowHeadersTimeOutAndIdleConnectionsClose) {
  DaemonOptions o;
  o.http = {"header_timeout_ms = 300", "idle_timeout_ms = 500"};
  DaemonHarness d(o);
  StartOrDie(d);
  RawConnection slow(d.port());
  ASSERT_TRUE(slow.Write("GET /healthz HTTP/1.1\r\nHost"));
  std::string out;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.ReadToClose(&out, 5s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);

  RawConnection idle(d.port());
  ASSERT_TRUE(idle.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string first;
  EXPECT_TRUE(idle.ReadToClose(&first, 5s));  // served, then closed after 500 ms idle
  EXPECT_THAT(first, HasSubstr("HTTP/1.1 200"));
}

// HEAD: GET's status and headers (Content-Length included) without a body,
// and the connection stays usable for the next request.
TEST_F(DaemonTest, HeadAnswersLikeGetWithoutABody) {
  DaemonHarness d;
  StartOrDie(d);
  const std::string log_body = d.Client().Get("/v1/log").body;
  RawConnection conn(d.port());
  ASSERT_TRUE(conn.Write("HEAD /v1/log HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string out;
  EXPECT_TRUE(conn.ReadToClose(&out, 5s));
  const size_t head_end = out.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << out;
  const std::string head = out.substr(0, head_end);
  EXPECT_THAT(head, ::testing::StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(head, HasSubstr("Content-Length: " + std::to_string(log_body.size())));
  // Next comes the GET's answer, not a body.
  EXPECT_THAT(out.substr(head_end + 4), ::testing::StartsWith("HTTP/1.1 200")) << out;
  EXPECT_THAT(out, HasSubstr("{\"status\":\"ok\"}"));
}

TEST_F(DaemonTest, PipelinedRequestsAreAnsweredInOrderAndExpectContinueWorks) {
  DaemonHarness d;
  StartOrDie(d);
  RawConnection conn(d.port());
  ASSERT_TRUE(
      conn.Write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string out;
  EXPECT_TRUE(conn.ReadToClose(&out, 5s));
  const size_t ok = out.find("HTTP/1.1 200");
  const size_t nf = out.find("HTTP/1.1 404");
  const size_t ready = out.find("\"ready\"");
  EXPECT_LT(ok, nf);
  EXPECT_LT(nf, ready);
  EXPECT_NE(ready, std::string::npos);

  const std::string body = Event("continue-1");
  RawConnection cont(d.port());
  ASSERT_TRUE(cont.Write(
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Authorization: Bearer " +
      std::string(kProducerToken) +
      "\r\nExpect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  std::string interim;
  ASSERT_TRUE(cont.ReadUntil("\r\n\r\n", &interim, 5s));
  EXPECT_THAT(interim, HasSubstr("HTTP/1.1 100 Continue"));
  ASSERT_TRUE(cont.Write(body));
  std::string final_response;
  EXPECT_TRUE(cont.ReadUntil("\"checkpoint\"", &final_response, 5s)) << final_response;
}

TEST_F(DaemonTest, UnixSocketServesTheApi) {
  DaemonOptions o;
  o.unix_socket = "custodyd.sock";
  DaemonHarness d(o);
  StartOrDie(d);
  // The unit's UMask=0077 must not make the socket owner-only: producers
  // in the daemon's group connect (unix_socket_mode, default 0660).
  struct stat st;
  ASSERT_EQ(::stat(d.unix_socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  HttpClient c = HttpClient::Unix(d.unix_socket_path());
  HttpResult r = c.Post("/v1/events", Event("unix-1"), "application/json", kProducerToken);
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(c.Get("/v1/log").status, 200);
  EXPECT_EQ(d.Stop(), 0);
  EXPECT_FALSE(std::filesystem::exists(d.unix_socket_path()));
}

TEST_F(DaemonTest, AlertsFollowStreamsNewAlertsAsServerSentEvents) {
  ScopedTempDir scratch;
  const std::string policy = scratch.File("policy.toml");
  WriteFileOrDie(policy, R"([[rule]]
id = "share-anything"
version = 1
severity = "critical"
match = { activity = ["share"] }
)");
  DaemonOptions o;
  o.top_level = "policy = \"" + policy + "\"";
  DaemonHarness d(o);
  StartOrDie(d);
  HttpClient c = d.Client();
  ASSERT_EQ(
      c.Post("/v1/events", Event("before", "u:1", "share"), "application/json", kProducerToken)
          .status,
      200);

  RawConnection stream(d.port());
  ASSERT_TRUE(stream.Write("GET /v1/alerts?follow=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           std::string(kReaderToken) + "\r\n\r\n"));
  std::string out;
  ASSERT_TRUE(stream.ReadUntil("retry:", &out, 5s)) << out;
  EXPECT_THAT(out, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(out, HasSubstr("Content-Type: text/event-stream"));

  ASSERT_EQ(c.Post("/v1/events", Event("quiet", "u:2", "read"), "application/json", kProducerToken)
                .status,
            200);
  HttpResult shared =
      c.Post("/v1/events", Event("after", "u:3", "share"), "application/json", kProducerToken);
  ASSERT_EQ(shared.status, 200);
  const uint64_t seq = Json(shared).at("results").at(0).at("seq").to_number<uint64_t>();
  ASSERT_TRUE(stream.ReadUntil("share-anything", &out, 5s)) << out;
  EXPECT_THAT(out, HasSubstr("id: " + std::to_string(seq) + "\nevent: alert\ndata: {"));
  EXPECT_THAT(out, HasSubstr("\"event_id\":\"after\""));
  EXPECT_THAT(out, Not(HasSubstr("\"event_id\":\"before\"")));  // only new alerts

  // The plain listing has both.
  HttpResult list = c.Get("/v1/alerts?rule=share-anything", kReaderToken);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(Json(list).at("alerts").as_array().size(), 2u);
  // SIGTERM ends the stream.
  EXPECT_EQ(d.Stop(), 0);
  std::string rest;
  EXPECT_TRUE(stream.ReadToClose(&rest, 5s));
}

TEST_F(DaemonTest, MetricsCountRequestsAndRejects) {
  DaemonHarness d;
  StartOrDie(d);
  HttpClient c = d.Client();
  ASSERT_EQ(c.Post("/v1/events", Event("m-1"), "application/json", kProducerToken).status, 200);
  (void)c.Post("/v1/events", Event("m-2"), "text/plain", kProducerToken);
  HttpResult m = c.Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_THAT(m.header("content-type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(m.body, HasSubstr("route=\"post_events\""));
  EXPECT_THAT(m.body, HasSubstr("status=\"415\""));
  EXPECT_THAT(m.body, HasSubstr("custody_http_rejects_total{reason=\"unsupported_media_type\"} 1"));
  EXPECT_THAT(m.body, HasSubstr("custody_events_appended_total 1"));
  // Bucket bounds in their shortest form (not 0.00050000000000000001).
  EXPECT_THAT(m.body, HasSubstr("custody_commit_seconds_bucket{le=\"0.0005\"}"));
  EXPECT_THAT(m.body, Not(HasSubstr("0000000001")));
  EXPECT_THAT(m.body, HasSubstr("custody_ledger_entries 2"));
  EXPECT_THAT(m.body, HasSubstr("custody_commit_seconds_bucket"));
}

TEST_F(DaemonTest, BadConfigExitsWithAClearMessage) {
  DaemonOptions o;
  o.http = {"io_thread = 3"};
  DaemonHarness d(o);
  EXPECT_FALSE(d.Start(10s));
  EXPECT_THAT(d.last_error(), HasSubstr("status 512"));  // exit code 2
  EXPECT_THAT(d.Log(), HasSubstr(d.config_path() + ":"));
  EXPECT_THAT(d.Log(), HasSubstr("http.io_thread: unknown key; did you mean 'io_threads'?"));
}

// Usage errors exit 2 like a bad config (not CLI11's 100+ codes).
TEST_F(DaemonTest, UnknownFlagExitsTwo) {
  DaemonOptions o;
  o.extra_args = {"--no-such-flag"};
  DaemonHarness d(o);
  EXPECT_FALSE(d.Start(10s));
  EXPECT_THAT(d.last_error(), HasSubstr("status 512"));  // exit code 2
  EXPECT_THAT(d.Log(), HasSubstr("--no-such-flag"));
}

TEST_F(DaemonTest, PrintDefaultConfigMatchesTheShippedExample) {
  FILE* p = ::popen((DaemonHarness::CustodydPath() + " --print-default-config").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0);
  EXPECT_EQ(out, ReadFileOrDie(SourceDir() / "systemd" / "custodyd.example.toml"));
}

}  // namespace
}  // namespace custody::testing
