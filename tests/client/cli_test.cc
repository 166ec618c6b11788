// The real programs against a real custodyd: custodyctl sends, queries,
// proves and exports; custody-verify and docs/verify_bundle.py check the
// export and reject every kind of tampering, naming the seq or checkpoint.
//
// Each test process starts its own custodyd (DaemonHarness) with the
// example policy, sends the boundary scenario events through `custodyctl
// send`, and exports one bundle; the tamper tests work on copies of it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <bit>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "custody/ledger/bundle.h"
#include "custody/ledger/checkpoint.h"
#include "custody/ledger/hash.h"
#include "custody/ledger/keys.h"
#include "custody/schema/encoding.h"
#include "custody/schema/json_canon.h"
#include "run_program.h"
#include "testing/daemon_harness.h"
#include "testing/paths.h"
#include "testing/temp_dir.h"

namespace custody::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string kCtl = CUSTODYCTL_PATH;
const std::string kVerify = CUSTODY_VERIFY_PATH;
const std::string kPython = CUSTODY_PYTHON3;
const std::string kVerifyPy = CUSTODY_VERIFY_BUNDLE_PY;

std::string EventJson(const std::string& id, const std::string& subject,
                      const std::string& target_type = "database",
                      const std::string& category = "contact.email") {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:00:00Z","activity":"share","actor":{"type":"human","id":"emp-e2e","country":"US"},"target":{"system":"e2e-sys","type":")" +
         target_type + R"(","country":"US","id":"t"},"data":{"categories":[")" + category +
         R"("],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1},"ids":[")" +
         subject + R"("]}})";
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  WriteFileOrDie(path, text);
}

json::object ParseObject(const std::string& text) {
  auto v = schema::ParseJson(text);
  EXPECT_TRUE(v.ok() && v->is_object()) << text;
  return v.ok() && v->is_object() ? v->as_object() : json::object();
}

// The runner's PATH (python3 may be a pyenv shim that needs it).
std::string Path() {
  const char* path = std::getenv("PATH");
  return std::string("PATH=") + (path != nullptr ? path : "/usr/bin:/bin");
}

// Starts custodyd with the example policy.
std::unique_ptr<DaemonHarness> StartDaemon(const std::string& key_from = "") {
  DaemonOptions options;
  options.top_level =
      "policy = \"" + (SourceDir() / "docs/examples/boundaries.toml").string() + "\"";
  auto d = std::make_unique<DaemonHarness>(options);
  if (!key_from.empty()) {
    // A second log signed with the first one's key: the fork an operator
    // with the key could make.
    const fs::path ledger_dir = fs::path(d->data_dir()) / "ledger";
    fs::create_directories(ledger_dir);
    ::chmod(d->data_dir().c_str(), 0700);
    ::chmod(ledger_dir.c_str(), 0700);
    fs::copy_file(key_from, ledger_dir / "signing.key");
    ::chmod((ledger_dir / "signing.key").c_str(), 0600);
  }
  EXPECT_TRUE(d->Start()) << d->last_error();
  return d;
}

class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = new ScopedTempDir();
    daemon_ = StartDaemon().release();
    ASSERT_TRUE(daemon_->running());
    fs::create_directories(Home());
    auto sent =
        Ctl({"send", "--token", kProducerToken, (ScenariosDir() / "events.ndjson").string()});
    ASSERT_EQ(sent.exit_code, 0) << sent.Describe();
    auto log = daemon_->Client().Get("/v1/log");
    ASSERT_EQ(log.status, 200);
    key_ = std::string(ParseObject(log.body)["verifier_key"].as_string());
    bundle_ = work_->File("bundle");
    auto exported = Ctl({"export", "--out", bundle_, "--key", key_});
    ASSERT_EQ(exported.exit_code, 0) << exported.Describe();
    bundle_size_ = Lines(ReadFileOrDie(bundle_ + "/entries.ndjson")).size();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
    delete work_;
    work_ = nullptr;
  }

  static std::string Home() { return work_->File("home"); }
  static std::vector<std::string> Env(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> env = {
        Path(), "HOME=" + Home(), "LC_ALL=C",
        "CUSTODY_SERVER=http://127.0.0.1:" + std::to_string(daemon_->port())};
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
  }
  static ProgramResult Ctl(std::vector<std::string> args, const std::string& input = "",
                           const std::vector<std::string>& extra_env = {}) {
    args.insert(args.begin(), kCtl);
    return RunProgram(args, Env(extra_env), input);
  }
  static ProgramResult Verify(std::vector<std::string> args) {
    args.insert(args.begin(), {kVerify, "--key", key_});
    return RunProgram(args, Env());
  }
  static ProgramResult VerifyPy(std::vector<std::string> args) {
    args.insert(args.begin(), {kPython, kVerifyPy, "--key", key_});
    return RunProgram(args, Env());
  }
  // A fresh copy of the exported bundle to tamper with.
  static std::string CopyBundle(const std::string& name) {
    const std::string dir = work_->File(name);
    fs::copy(bundle_, dir, fs::copy_options::recursive);
    return dir;
  }
  static std::string CheckpointFile(const std::string& dir, uint64_t size) {
    return dir + "/checkpoints/" + ledger::CheckpointFileName(size);
  }
  static std::string CheckpointName(uint64_t size) {
    return "checkpoints/" + ledger::CheckpointFileName(size);
  }
  // Sends one event; returns its seq (-1 on failure).
  static int64_t SendOne(const std::string& event) {
    auto r = Ctl({"send", "-o", "json", "--token", kProducerToken}, event + "\n");
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    auto o = ParseObject(r.out);
    if (!o.contains("results")) return -1;
    return o["results"].as_array()[0].as_object()["seq"].as_int64();
  }

  static ScopedTempDir* work_;
  static DaemonHarness* daemon_;
  static std::string key_, bundle_;
  static size_t bundle_size_;
};

ScopedTempDir* ClientTest::work_ = nullptr;
DaemonHarness* ClientTest::daemon_ = nullptr;
std::string ClientTest::key_, ClientTest::bundle_;
size_t ClientTest::bundle_size_ = 0;

// ---------------------------------------------------------------------------
// custodyctl against custodyd

TEST_F(ClientTest, SendThenQueryBySubjectFindsTheEvent) {
  const std::string event = EventJson("e2e-send-1", "user:e2e-subject-1");
  auto sent =
      Ctl({"send", "-o", "json"}, event + "\n", {std::string("CUSTODY_TOKEN=") + kProducerToken});
  ASSERT_EQ(sent.exit_code, 0) << sent.Describe();
  json::object receipt = ParseObject(sent.out);
  ASSERT_EQ(receipt["results"].as_array().size(), 1u);
  const int64_t seq = receipt["results"].as_array()[0].as_object()["seq"].as_int64();
  EXPECT_THAT(std::string(receipt["checkpoint"].as_string()), HasSubstr("custody.test/log\n"));

  auto found =
      Ctl({"query", "--subject", "user:e2e-subject-1", "-o", "ndjson", "--token", kReaderToken});
  ASSERT_EQ(found.exit_code, 0) << found.Describe();
  auto lines = Lines(found.out);
  ASSERT_EQ(lines.size(), 1u) << found.out;
  json::object entry = ParseObject(lines[0]);
  EXPECT_EQ(entry["seq"].as_int64(), seq);
  EXPECT_EQ(entry["body"].as_object()["event_id"], json::value("e2e-send-1"));
  // The raw subject id is never stored, only its pseudonym.
  EXPECT_THAT(lines[0], Not(HasSubstr("user:e2e-subject-1")));

  // Table output names the event; filters combine; relative times work.
  auto table = Ctl({"query", "--subject", "user:e2e-subject-1", "--system", "e2e-sys", "--until",
                    "now", "--token", kReaderToken});
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_THAT(table.out, AllOf(HasSubstr("SEQ"), HasSubstr("e2e-send-1")));

  // Nothing matches: exit 1, like grep.
  auto none = Ctl({"query", "--subject", "user:nobody", "--token", kReaderToken});
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  auto none_json =
      Ctl({"query", "--subject", "user:nobody", "-o", "json", "--token", kReaderToken});
  EXPECT_EQ(none_json.exit_code, 1);
  EXPECT_EQ(ParseObject(none_json.out)["events"].as_array().size(), 0u);

  // --verify checks the receipt's signed checkpoint covers the event.
  auto verified = Ctl({"send", "--verify", "--key", key_, "--token", kProducerToken},
                      EventJson("e2e-send-2", "user:e2e-subject-1") + "\n");
  EXPECT_EQ(verified.exit_code, 0) << verified.Describe();
  EXPECT_THAT(verified.err, HasSubstr("receipt checkpoint verified"));

  // A resend is acknowledged with the same seq, marked duplicate.
  auto again = Ctl({"send", "-o", "ndjson", "--token", kProducerToken}, event);
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("\"duplicate\":true"));
  EXPECT_THAT(again.out, HasSubstr("\"seq\":" + std::to_string(seq)));
}

TEST_F(ClientTest, SendBatchesLargeInputsAndAcceptsArrays) {
  std::string ndjson;
  for (int i = 0; i < 2500; ++i)
    ndjson += EventJson("bulk-" + std::to_string(i), "user:bulk") + "\n";
  auto sent = Ctl({"send", "--batch", "1000", "-o", "ndjson", "--token", kProducerToken}, ndjson);
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_EQ(Lines(sent.out).size(), 2500u);
  EXPECT_THAT(sent.err, HasSubstr("2500 event(s) in 3 request(s): 2500 appended"));

  const std::string array_file = work_->File("array.json");
  WriteFileOrDie(array_file, "[" + EventJson("arr-1", "user:arr") + ",\n  " +
                                 EventJson("arr-2", "user:arr") + "]");
  auto arr = Ctl({"send", array_file, "-o", "ndjson", "--token", kProducerToken});
  ASSERT_EQ(arr.exit_code, 0) << arr.Describe();
  EXPECT_EQ(Lines(arr.out).size(), 2u);

  auto all =
      Ctl({"query", "--subject", "user:bulk", "--all", "-o", "ndjson", "--token", kReaderToken});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(Lines(all.out).size(), 2500u);
  auto limited = Ctl({"query", "--subject", "user:bulk", "--limit", "1200", "-o", "json", "--token",
                      kReaderToken});
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  json::object page = ParseObject(limited.out);
  EXPECT_EQ(page["events"].as_array().size(), 1200u);
  ASSERT_TRUE(page["next_cursor"].is_string());
  auto rest =
      Ctl({"query", "--subject", "user:bulk", "--limit", "5000", "--cursor",
           std::string(page["next_cursor"].as_string()), "-o", "ndjson", "--token", kReaderToken});
  EXPECT_EQ(Lines(rest.out).size(), 1300u) << rest.err;
}

TEST_F(ClientTest, SendPrintsEachServerErrorWithItsInputLine) {
  const std::string bad = EventJson("bad-1", "user:x");
  std::string wrong_country = bad;
  wrong_country.replace(wrong_country.find("\"country\":\"US\""), 14, "\"country\":\"USA\"");
  auto r = Ctl({"send", "--token", kProducerToken}, bad + "\n" + wrong_country + "\n");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("400 invalid-event"));
  EXPECT_THAT(r.err, HasSubstr("stdin:2 /actor/country"));

  auto no_token = Ctl({"send"}, bad + "\n");
  EXPECT_EQ(no_token.exit_code, 3) << no_token.Describe();
  EXPECT_THAT(no_token.err, HasSubstr("401"));

  auto reader = Ctl({"send", "--token", kReaderToken}, bad + "\n");
  EXPECT_EQ(reader.exit_code, 3);
  EXPECT_THAT(reader.err, HasSubstr("403 forbidden"));

  auto garbage = Ctl({"send", "--token", kProducerToken}, "{not json\n");
  EXPECT_EQ(garbage.exit_code, 2) << garbage.Describe();
}

TEST_F(ClientTest, SendPrintsCommittedReceiptsWhenALaterBatchIsRejected) {
  const std::string good = EventJson("partial-1", "user:partial");
  std::string bad = EventJson("partial-3", "user:partial");
  bad.replace(bad.find("\"country\":\"US\""), 14, "\"country\":\"USA\"");
  auto r = Ctl({"send", "--batch", "2", "-o", "ndjson", "--token", kProducerToken},
               good + "\n" + EventJson("partial-2", "user:partial") + "\n" + bad + "\n");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  const auto receipts = Lines(r.out);
  ASSERT_EQ(receipts.size(), 2u) << r.Describe();
  EXPECT_THAT(receipts[0], HasSubstr("\"event_id\":\"partial-1\""));
  EXPECT_THAT(r.err, AllOf(HasSubstr("2 earlier event(s) were committed"),
                           HasSubstr("Re-sending the whole input is safe"),
                           HasSubstr("stdin:3 /actor/country")));
  // -o json still closes its document around the committed receipts.
  r = Ctl({"send", "--batch", "2", "-o", "json", "--token", kProducerToken},
          good + "\n" + EventJson("partial-2", "user:partial") + "\n" + bad + "\n");
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  json::object doc = ParseObject(r.out);
  EXPECT_EQ(doc["results"].as_array().size(), 2u) << r.out;
  EXPECT_TRUE(doc["checkpoint"].is_string());
}

// A connection that breaks after the first batch was acknowledged (a fake
// server: it answers one POST, then closes the next connection unanswered).
TEST_F(ClientTest, SendPrintsCommittedReceiptsWhenTheConnectionFails) {
  const std::string server = R"(
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    posts = 0
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        H.posts += 1
        if H.posts > 1:
            self.close_connection = True
            return
        body = b'{"results":[{"seq":41,"event_id":"conn-1"}],"checkpoint":"x"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("PORT %d" % s.server_address[1], flush=True)
s.serve_forever()
)";
  ChildProcess fake({kPython, "-c", server}, Env());
  ASSERT_TRUE(fake.started());
  ASSERT_TRUE(fake.WaitForOutput("\n", 10s)) << fake.out();
  const std::string port = fake.out().substr(5, fake.out().find('\n') - 5);
  auto r = RunProgram({kCtl, "--server", "http://127.0.0.1:" + port, "send", "--batch", "1",
                       "--retries", "0", "-o", "ndjson", "--token", kProducerToken},
                      Env(), EventJson("conn-1", "user:c") + "\n" + EventJson("conn-2", "user:c") +
                                 "\n");
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("\"seq\":41"));
  EXPECT_THAT(r.err, AllOf(HasSubstr("1 earlier event(s) were committed"),
                           HasSubstr("Re-sending the whole input is safe")))
      << r.Describe();
}

TEST_F(ClientTest, UsageErrorsNameTheOptionOrCommand) {
  auto date = Ctl({"query", "--since", "2026-13-01", "--token", kReaderToken});
  EXPECT_EQ(date.exit_code, 2) << date.Describe();
  EXPECT_THAT(date.err, HasSubstr("month 13 is not 1..12"));
  auto day = Ctl({"query", "--since", "2026-02-30", "--token", kReaderToken});
  EXPECT_EQ(day.exit_code, 2) << day.Describe();
  EXPECT_THAT(day.err, HasSubstr("day 30 is not 1..28"));
  auto empty = Ctl({"query", "--since", "", "--token", kReaderToken});
  EXPECT_EQ(empty.exit_code, 2) << empty.Describe();
  EXPECT_THAT(empty.err, HasSubstr("--since"));
  const std::vector<std::vector<std::string>> negative = {
      {"prove", "-1"}, {"tail", "-n", "-1"}, {"export", "--out", work_->File("neg"), "--from", "-1"}};
  for (const std::vector<std::string>& args : negative) {
    auto r = Ctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr("must not be negative")) << r.Describe();
  }
  auto typo = Ctl({"querry"});
  EXPECT_EQ(typo.exit_code, 2) << typo.Describe();
  EXPECT_THAT(typo.err, HasSubstr("unknown command querry; see custodyctl --help"));
  auto typo_after_global = Ctl({"--server", "http://127.0.0.1:1", "querry", "--all"});
  EXPECT_EQ(typo_after_global.exit_code, 2) << typo_after_global.Describe();
  EXPECT_THAT(typo_after_global.err, HasSubstr("unknown command querry"));
}

TEST_F(ClientTest, QueryLimitCapsAll) {
  auto all = Ctl({"query", "--all", "-o", "ndjson", "--token", kReaderToken});
  ASSERT_EQ(all.exit_code, 0) << all.Describe();
  ASSERT_GT(Lines(all.out).size(), 3u);
  auto capped = Ctl({"query", "--all", "--limit", "3", "-o", "ndjson", "--token", kReaderToken});
  ASSERT_EQ(capped.exit_code, 0) << capped.Describe();
  EXPECT_EQ(Lines(capped.out).size(), 3u);
}

TEST_F(ClientTest, ProveVerifiesAnEntryAgainstTheSignedCheckpoint) {
  const int64_t seq = SendOne(EventJson("e2e-prove", "user:prove"));
  ASSERT_GE(seq, 0);
  auto r = Ctl({"prove", std::to_string(seq), "--key", key_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("VERIFIED: entry " + std::to_string(seq)));
  EXPECT_THAT(r.out, HasSubstr("(pinned)"));

  auto j = Ctl({"prove", "3", "-o", "json"});
  ASSERT_EQ(j.exit_code, 0) << j.Describe();
  json::object o = ParseObject(j.out);
  EXPECT_EQ(o["verified"], json::value(true));
  EXPECT_EQ(o["entry"].as_object()["seq"].as_int64(), 3);
  EXPECT_FALSE(o["inclusion_proof"].as_array().empty());

  auto missing = Ctl({"prove", "999999"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("not in the log"));

  // A key that is not the log's: the checkpoint does not verify.
  auto other = ledger::SigningKey::Generate("custody.test/log");
  ASSERT_TRUE(other.ok());
  auto wrong = Ctl({"prove", "3", "--key", other->verifier().ToString()});
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_THAT(wrong.err, HasSubstr("does NOT verify"));
}

TEST_F(ClientTest, CheckpointRemembersTrustAndChecksConsistency) {
  auto first = Ctl({"checkpoint"});
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_THAT(first.out, HasSubstr("trust on first use"));
  ASSERT_GE(SendOne(EventJson("e2e-cp", "user:cp")), 0);
  auto second = Ctl({"checkpoint", "-o", "json"});
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  json::object o = ParseObject(second.out);
  EXPECT_EQ(o["signature_verified"], json::value(true));
  ASSERT_TRUE(o["consistency"].is_object()) << second.out;
  EXPECT_THAT(std::string(o["consistency"].as_object()["how"].as_string()),
              HasSubstr("consistency proof"));
}

TEST_F(ClientTest, TailShowsTheNewestEntriesByteExact) {
  auto r = Ctl({"tail", "-n", "3", "-o", "ndjson"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  auto log = daemon_->Client().Get("/v1/log");
  const int64_t size = ParseObject(log.body)["size"].as_int64();
  auto entries = daemon_->Client().Get("/v1/entries?start=" + std::to_string(size - 3));
  EXPECT_EQ(r.out, entries.body);
  auto table = Ctl({"tail", "-n", "2"});
  EXPECT_THAT(table.out, AllOf(HasSubstr("SEQ"), HasSubstr("KIND"), HasSubstr("access")));
}

TEST_F(ClientTest, TailFollowPrintsNewEntries) {
  ChildProcess tail({kCtl, "tail", "-f", "-n", "0", "--interval", "100ms", "-o", "ndjson"}, Env());
  ASSERT_TRUE(tail.started());
  bool seen = false;
  for (int i = 0; i < 20 && !seen; ++i) {
    const std::string id = "e2e-tail-" + std::to_string(i);
    ASSERT_GE(SendOne(EventJson(id, "user:tail")), 0);
    seen = tail.WaitForOutput("\"" + id + "\"", 2s);
  }
  EXPECT_TRUE(seen) << tail.out();
}

TEST_F(ClientTest, AlertsListsAndFollowsRuleHits) {
  auto r = Ctl({"alerts", "--rule", "gov-id-in-chat", "-o", "json", "--token", kReaderToken});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("\"event_id\":\"pub-02\""));
  auto table = Ctl(
      {"alerts", "--min-severity", "critical", "--since", "2026-05-01", "--token", kReaderToken});
  EXPECT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_THAT(table.out, AllOf(HasSubstr("critical"), HasSubstr("gov-id-in-chat")));
  EXPECT_THAT(table.out, Not(HasSubstr(" high ")));
  // Nothing matching is exit 1, as for query.
  auto none = Ctl({"alerts", "--rule", "no-such-rule", "--token", kReaderToken});
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_THAT(none.err, HasSubstr("no alerts match"));
  // Paging: one at a time with the printed cursor gives the same alerts as --all.
  auto all = Ctl({"alerts", "--all", "-o", "ndjson", "--token", kReaderToken});
  ASSERT_EQ(all.exit_code, 0) << all.Describe();
  const auto every = Lines(all.out);
  ASSERT_GE(every.size(), 3u);
  std::vector<std::string> paged;
  std::string cursor;
  for (size_t i = 0; i < every.size() + 1; ++i) {
    std::vector<std::string> args = {"alerts", "--limit", "1",         "-o",
                                     "json",   "--token", kReaderToken};
    if (!cursor.empty()) args.insert(args.end(), {"--cursor", cursor});
    auto page = Ctl(args);
    ASSERT_EQ(page.exit_code, 0) << page.Describe();
    json::object o = ParseObject(page.out);
    for (const auto& a : o["alerts"].as_array()) paged.push_back(json::serialize(a));
    if (o["next_cursor"].is_null()) break;
    cursor = std::string(o["next_cursor"].as_string());
  }
  ASSERT_EQ(paged.size(), every.size());
  for (size_t i = 0; i < every.size(); ++i) {
    EXPECT_EQ(ParseObject(paged[i]), ParseObject(every[i])) << i;
  }

  for (bool poll : {false, true}) {
    std::vector<std::string> argv = {kCtl,     "alerts",         "-f",      "-o",        "ndjson",
                                     "--rule", "gov-id-in-chat", "--token", kReaderToken};
    if (poll) argv.insert(argv.end(), {"--poll", "--interval", "100ms"});
    ChildProcess follow(argv, Env());
    ASSERT_TRUE(follow.started());
    bool seen = false;
    for (int i = 0; i < 20 && !seen; ++i) {
      const std::string id = std::string(poll ? "poll" : "sse") + "-alert-" + std::to_string(i);
      ASSERT_GE(SendOne(EventJson(id, "user:alert", "chat_channel", "gov_id.passport")), 0);
      seen = follow.WaitForOutput("\"event_id\":\"" + id + "\"", 2s);
    }
    EXPECT_TRUE(seen) << (poll ? "poll: " : "sse: ") << follow.out();
    EXPECT_THAT(follow.out(), HasSubstr("\"rule\":\"gov-id-in-chat\""));
  }
}

TEST_F(ClientTest, ApprovalsAddListRevoke) {
  auto list = Ctl({"approvals", "list", "--token", kAdminToken});
  if (list.exit_code == 3 && list.err.find("no such endpoint") != std::string::npos) {
    GTEST_SKIP() << "this custodyd does not serve /v1/approvals yet";
  }
  const std::string file = (ScenariosDir() / "approvals.json").string();
  auto add = Ctl({"approvals", "add", file, "--token", kAdminToken});
  ASSERT_EQ(add.exit_code, 0) << add.Describe();
  list = Ctl({"approvals", "list", "-o", "json", "--token", kAdminToken});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  EXPECT_THAT(list.out, AllOf(HasSubstr("APR-100"), HasSubstr("APR-200")));
  auto revoke = Ctl({"approvals", "revoke", "APR-100", "--by", "dpo@example.com", "--reason",
                     "test", "--token", kAdminToken});
  if (revoke.err.find("no such endpoint") != std::string::npos) {
    GTEST_SKIP() << "this custodyd does not serve POST /v1/approvals/revoke yet";
  }
  EXPECT_EQ(revoke.exit_code, 0) << revoke.Describe();
}

TEST_F(ClientTest, StatusReportsReadinessSizeAndQueue) {
  auto r = Ctl({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("ready"), HasSubstr("yes"), HasSubstr("signature verified"),
                           HasSubstr("ingest queue"), HasSubstr("0 event(s) waiting")));
  auto j = Ctl({"status", "-o", "json"});
  json::object o = ParseObject(j.out);
  EXPECT_EQ(o["ready"], json::value(true));
  EXPECT_GE(o["size"].as_int64(), static_cast<int64_t>(bundle_size_));
  EXPECT_EQ(o["queue_events"].as_int64(), 0);
  EXPECT_TRUE(o["checkpoint"].as_object()["age_seconds"].is_double());
}

TEST_F(ClientTest, ServerSettingsComeFromFlagsThenEnvironmentThenConfigFile) {
  // Config file: a dead server and the reader token.
  const std::string config_dir = Home() + "/.config/custody";
  fs::create_directories(config_dir);
  const std::string live = "http://127.0.0.1:" + std::to_string(daemon_->port());
  WriteFileOrDie(config_dir + "/client.toml", "server = \"http://127.0.0.1:1\"\ntoken = \"" +
                                                  std::string(kReaderToken) + "\"\n");
  ::chmod((config_dir + "/client.toml").c_str(), 0600);
  std::vector<std::string> no_server_env = {Path(), "HOME=" + Home()};

  auto from_file = RunProgram({kCtl, "status"}, no_server_env);
  EXPECT_EQ(from_file.exit_code, 3) << from_file.Describe();
  EXPECT_THAT(from_file.err, HasSubstr("http://127.0.0.1:1"));

  auto env = no_server_env;
  env.push_back("CUSTODY_SERVER=" + live);
  auto from_env = RunProgram({kCtl, "query", "--subject", "user:1002", "-o", "ndjson"}, env);
  EXPECT_EQ(from_env.exit_code, 0) << from_env.Describe();  // token from the file

  auto from_flag = RunProgram({kCtl, "--server", "http://127.0.0.1:1", "status"}, env);
  EXPECT_EQ(from_flag.exit_code, 3);
  auto token_flag =
      RunProgram({kCtl, "query", "--subject", "user:1002", "--token", "wrong-token"}, env);
  EXPECT_EQ(token_flag.exit_code, 3);
  EXPECT_THAT(token_flag.err, HasSubstr("401"));

  WriteFileOrDie(config_dir + "/client.toml", "sever = \"x\"\n");
  auto typo = RunProgram({kCtl, "status"}, no_server_env);
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_THAT(typo.err, HasSubstr("unknown key"));
  fs::remove(config_dir + "/client.toml");
}

TEST_F(ClientTest, UsageErrorsExit2AndHelpShowsExamples) {
  EXPECT_EQ(Ctl({}).exit_code, 2);
  EXPECT_EQ(Ctl({"query", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Ctl({"query", "--since", "soonish"}).exit_code, 2);
  EXPECT_EQ(Ctl({"-o", "yaml", "status"}).exit_code, 2);
  EXPECT_EQ(Ctl({"tail", "-f", "-o", "json"}).exit_code, 2);
  auto help = Ctl({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, AllOf(HasSubstr("Exit status"), HasSubstr("CUSTODY_SERVER")));
  for (const char* sub :
       {"send", "query", "tail", "alerts", "checkpoint", "prove", "export", "keygen", "status"}) {
    auto h = Ctl({sub, "--help"});
    EXPECT_EQ(h.exit_code, 0) << sub;
    EXPECT_THAT(h.out, HasSubstr("Example")) << sub;
  }
  for (std::vector<std::string> sub :
       std::vector<std::vector<std::string>>{{"approvals", "add", "--help"},
                                             {"token", "hash", "--help"},
                                             {"policy", "check", "--help"}}) {
    auto h = Ctl(sub);
    EXPECT_EQ(h.exit_code, 0) << sub[0];
    EXPECT_THAT(h.out, HasSubstr("Example")) << sub[0];
  }
  auto down = Ctl({"--server", "http://127.0.0.1:1", "tail"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_THAT(down.err, HasSubstr("cannot connect"));
}

TEST_F(ClientTest, KeygenAndTokenHash) {
  const std::string key_file = work_->File("new.key");
  auto r = Ctl({"keygen", "--name", "example.com/log", "--out", key_file});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto verifier = ledger::VerifierKey::Parse(Lines(r.out).at(0));
  ASSERT_TRUE(verifier.ok()) << r.out;
  EXPECT_EQ(verifier->name, "example.com/log");
  struct stat st;
  ASSERT_EQ(::stat(key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = ledger::SigningKey::Load(key_file);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->verifier(), *verifier);
  EXPECT_EQ(Ctl({"keygen", "--name", "example.com/log", "--out", key_file}).exit_code, 2);
  EXPECT_EQ(Ctl({"keygen", "--name", "bad name", "--out", work_->File("x.key")}).exit_code, 2);

  auto hash = Ctl({"token", "hash"}, "abc\n");
  ASSERT_EQ(hash.exit_code, 0) << hash.Describe();
  EXPECT_EQ(hash.out,
            "sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n");
  auto gen =
      Ctl({"token", "hash", "--generate", "--name", "crm", "--role", "producer", "-o", "json"});
  ASSERT_EQ(gen.exit_code, 0) << gen.Describe();
  json::object o = ParseObject(gen.out);
  const std::string token(o["token"].as_string());
  EXPECT_EQ(o["sha256"], json::value(Sha256Hex(token)));
  auto gen_text = Ctl({"token", "hash", "--generate", "--name", "crm", "--role", "producer"});
  EXPECT_THAT(gen_text.out,
              HasSubstr("[[token]]\nname = \"crm\"\nrole = \"producer\"\nsha256 = \""));
  EXPECT_THAT(gen_text.err, HasSubstr("ctk_"));  // the secret goes to stderr only
  EXPECT_THAT(gen_text.out, Not(HasSubstr("ctk_")));
}

TEST_F(ClientTest, PolicyCheckUsesCustodydsParser) {
  const std::string example = (SourceDir() / "docs/examples/boundaries.toml").string();
  auto ok =
      Ctl({"policy", "check", example, "--events", (ScenariosDir() / "events.ndjson").string(),
           "--approvals", (ScenariosDir() / "approvals.json").string()});
  ASSERT_EQ(ok.exit_code, 0) << ok.Describe();
  EXPECT_THAT(ok.out, AllOf(HasSubstr("OK, 4 rule(s)"), HasSubstr("pub-02: gov-id-in-chat")));
  const std::string bad = work_->File("bad.toml");
  WriteFileOrDie(bad, "[[rule]]\nid = \"x\"\nversion = 1\nserverity = \"high\"\nmatch = {}\n");
  auto r = Ctl({"policy", "check", bad});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr(bad + ":4:1: error: unknown key 'serverity'"));
  auto j = Ctl({"policy", "check", bad, "-o", "json"});
  EXPECT_EQ(ParseObject(j.out)["ok"], json::value(false));
}

// ---------------------------------------------------------------------------
// export + custody-verify + the independent Python verifier

TEST_F(ClientTest, ExportedBundlePassesCustodyVerify) {
  ASSERT_GE(bundle_size_, 15u);
  EXPECT_TRUE(fs::exists(CheckpointFile(bundle_, bundle_size_)));
  json::object log = ParseObject(ReadFileOrDie(bundle_ + "/log.json"));
  EXPECT_EQ(log["format"], json::value("custody-bundle-1"));
  EXPECT_EQ(log["verifier_key"], json::value(key_));
  EXPECT_EQ(log["size"].as_int64(), static_cast<int64_t>(bundle_size_));
  auto r = Verify({bundle_});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("OK: " + std::to_string(bundle_size_) + " entries"));
  // The bundle's entries are byte for byte the server's.
  auto entries = daemon_->Client().Get("/v1/entries?start=0&end=" + std::to_string(bundle_size_));
  EXPECT_EQ(ReadFileOrDie(bundle_ + "/entries.ndjson"), entries.body);

  // Small pages give the same bundle (the walk spans requests).
  const std::string paged = work_->File("paged");
  auto p = Ctl({"export", "--out", paged, "--page-size", "4", "-o", "json"});
  ASSERT_EQ(p.exit_code, 0) << p.Describe();
  EXPECT_EQ(ParseObject(p.out)["verified"], json::value(true));
  EXPECT_EQ(Verify({paged}).exit_code, 0);
  const std::string all = ReadFileOrDie(paged + "/entries.ndjson");
  EXPECT_EQ(all.substr(0, entries.body.size()), entries.body);
}

TEST_F(ClientTest, ExportRefusesAnExistingDirectory) {
  auto r = Ctl({"export", "--out", bundle_});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("not an empty directory"));
}

TEST_F(ClientTest, ExportToEndsAtTheNewestCheckpointAtOrBelowIt) {
  // --to beyond the latest signed size ends at the latest; --to at an
  // earlier signed size (if the log has one) ends there.
  // (Other tests append to the shared daemon: read its latest signed size.)
  auto latest = daemon_->Client().Get("/v1/checkpoint");
  ASSERT_EQ(latest.status, 200) << latest.body;
  const uint64_t size = std::stoull(Lines(latest.body).at(1));
  std::vector<std::pair<uint64_t, uint64_t>> cases = {{size + 5, size}};
  auto earlier = daemon_->Client().Get("/v1/checkpoint?max_size=" + std::to_string(size - 1));
  if (earlier.status == 200) {
    const uint64_t before = std::stoull(Lines(earlier.body).at(1));
    cases.push_back({before, before});
  } else {
    EXPECT_EQ(earlier.status, 404) << earlier.body;
  }
  for (const auto& [asked, want] : cases) {
    const std::string dir = work_->File("to-" + std::to_string(asked));
    auto to = Ctl({"export", "--out", dir, "--to", std::to_string(asked)});
    ASSERT_EQ(to.exit_code, 0) << to.Describe();
    EXPECT_EQ(Lines(ReadFileOrDie(dir + "/entries.ndjson")).size(), want) << "--to " << asked;
    auto v = Verify({dir});
    EXPECT_EQ(v.exit_code, 0) << v.Describe();
    EXPECT_THAT(v.out, HasSubstr("OK: " + std::to_string(want) + " entries"));
  }
  auto none = Ctl({"export", "--out", work_->File("to-0"), "--to", "0"});
  EXPECT_EQ(none.exit_code, 2) << none.Describe();
}

// The incremental audit: last time's bundle ended at S; this one starts
// there, and last time's checkpoint proves it extends what was audited.
TEST_F(ClientTest, ExportFromContinuesAnEarlierAudit) {
  ASSERT_GE(SendOne(EventJson("incremental-1", "user:inc-1")), 0);
  ASSERT_GE(SendOne(EventJson("incremental-2", "user:inc-2")), 0);
  const uint64_t from = bundle_size_;
  const std::string trusted = CheckpointFile(bundle_, bundle_size_);
  const std::string dir = work_->File("from");
  auto r = Ctl({"export", "--out", dir, "--from", std::to_string(from), "--trusted", trusted});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("seq " + std::to_string(from) + ".."));
  EXPECT_THAT(r.out, HasSubstr("as their compact range"));
  const auto lines = Lines(ReadFileOrDie(dir + "/entries.ndjson"));
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(ParseObject(lines[0])["seq"].as_int64(), static_cast<int64_t>(from));
  json::object log = ParseObject(ReadFileOrDie(dir + "/log.json"));
  EXPECT_EQ(log["first_seq"].as_int64(), static_cast<int64_t>(from));
  EXPECT_EQ(log["prefix"].as_array().size(), static_cast<size_t>(std::popcount(from)));
  // The daemon recorded its policy at seq 0: it comes along, with a proof.
  ASSERT_GE(log["prior_policies"].as_array().size(), 1u);
  EXPECT_EQ(log["prior_policies"].as_array()[0].as_object().at("seq").as_int64(), 0);

  const std::string seqs = "(seq " + std::to_string(from) + "..";
  auto v = Verify({"--trusted-checkpoint", trusted, dir});
  EXPECT_EQ(v.exit_code, 0) << v.Describe();
  EXPECT_THAT(v.out, AllOf(HasSubstr("OK: " + std::to_string(lines.size()) + " entries " + seqs),
                           HasSubstr("before the bundle")));
  auto py = VerifyPy({"--json", "--trusted-checkpoint", trusted, dir});
  ASSERT_EQ(py.exit_code, 0) << py.Describe();
  auto cv = Verify({"-o", "json", dir});
  ASSERT_EQ(cv.exit_code, 0) << cv.Describe();
  json::object p = ParseObject(py.out), c = ParseObject(cv.out);
  EXPECT_EQ(p["root"], c["root"]);
  EXPECT_EQ(p["entries"], c["entries"]);
  EXPECT_EQ(p["first_seq"], c["first_seq"]);

  // A forged prefix hash: no signed root matches any more.
  {
    const std::string forged = work_->File("from-forged-prefix");
    fs::copy(dir, forged, fs::copy_options::recursive);
    json::object o = log;
    std::string h(o["prefix"].as_array()[0].as_string());
    h[0] = h[0] == 'A' ? 'B' : 'A';
    o["prefix"].as_array()[0] = h;
    WriteFileOrDie(forged + "/log.json", json::serialize(o) + "\n");
    auto bad = Verify({forged});
    EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
    EXPECT_THAT(bad.out, HasSubstr("does not match the checkpoint"));
    auto badpy = VerifyPy({forged});
    EXPECT_EQ(badpy.exit_code, 1) << badpy.Describe();
    EXPECT_THAT(badpy.out, HasSubstr("does not match the checkpoint"));
    // export --trusted put last time's checkpoint in the bundle: it fails
    // first, at the bundle's first seq, blaming the prefix.
    auto t = Verify({"--trusted-checkpoint", trusted, forged});
    EXPECT_EQ(t.exit_code, 1) << t.Describe();
    EXPECT_THAT(t.out, AllOf(HasSubstr("checkpoint " + CheckpointName(from)),
                             HasSubstr("root of log.json's prefix")));
  }
  // A policy entry that is not the log's: its proof fails, named by seq.
  {
    const std::string forged = work_->File("from-forged-policy");
    fs::copy(dir, forged, fs::copy_options::recursive);
    std::string policies = ReadFileOrDie(forged + "/prior-policies.ndjson");
    const size_t at = policies.find("\"received_at\":\"");
    ASSERT_NE(at, std::string::npos);
    char& digit = policies[at + 16];  // the year's first digit
    digit = digit == '2' ? '3' : '2';
    WriteFileOrDie(forged + "/prior-policies.ndjson", policies);
    auto bad = Verify({forged});
    EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
    EXPECT_THAT(bad.out, AllOf(HasSubstr("seq 0:"), HasSubstr("inclusion proof")));
    auto badpy = VerifyPy({forged});
    EXPECT_EQ(badpy.exit_code, 1) << badpy.Describe();
    EXPECT_THAT(badpy.out, AllOf(HasSubstr("seq 0:"), HasSubstr("inclusion proof")));
  }
  // A trusted checkpoint before the bundle cannot be checked: usage, not a verdict.
  const std::string first_cp = work_->File("first-checkpoint.txt");
  auto early = daemon_->Client().Get("/v1/checkpoint?max_size=" + std::to_string(from - 1));
  if (early.status == 200) {
    WriteFileOrDie(first_cp, early.body);
    auto older = Verify({"--trusted-checkpoint", first_cp, dir});
    EXPECT_EQ(older.exit_code, 2) << older.Describe();
    EXPECT_THAT(older.err, HasSubstr("--from"));
    auto refused = Ctl({"export", "--out", work_->File("from-refused"), "--from",
                        std::to_string(from), "--trusted", first_cp});
    EXPECT_EQ(refused.exit_code, 2) << refused.Describe();
  }
  auto beyond = Ctl({"export", "--out", work_->File("from-beyond"), "--from", "999999999"});
  EXPECT_EQ(beyond.exit_code, 2) << beyond.Describe();
  EXPECT_THAT(beyond.err, HasSubstr("nothing to export"));
}

// custody-verify as an auditor runs it: a key file, a copy of the data dir,
// a JSON report, and exit 2 (not 1) for what is not a verdict on the log.
TEST_F(ClientTest, CustodyVerifyKeyFileDataDirCopyAndJsonReport) {
  const std::string key_file = work_->File("log.pub");
  WriteFileOrDie(key_file, key_ + "\n");
  auto r = RunProgram({kVerify, "--key-file", key_file, bundle_}, Env());
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("OK: " + std::to_string(bundle_size_) + " entries"));

  // A consistent copy of the live ledger (mdb_copy, from lmdb-utils), verified
  // read-only: not a byte of it changes and no lock file appears.
  const std::string copy = work_->File("ledger-copy");
  fs::create_directories(copy);
  auto copied = RunProgram({"/usr/bin/mdb_copy", daemon_->data_dir() + "/ledger", copy}, Env());
  ASSERT_EQ(copied.exit_code, 0) << copied.Describe();
  const std::string before = ReadFileOrDie(copy + "/data.mdb");
  const auto mtime = fs::last_write_time(copy + "/data.mdb");
  r = RunProgram({kVerify, "--key-file", key_file, "-o", "json", "--data-dir", copy}, Env());
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  auto report = ParseObject(r.out);
  EXPECT_TRUE(report["valid"].as_bool()) << r.out;
  EXPECT_GE(report["entries"].to_number<uint64_t>(), bundle_size_);
  EXPECT_FALSE(std::string(report["first_time"].as_string()).empty());
  EXPECT_FALSE(std::string(report["last_time"].as_string()).empty());
  EXPECT_EQ(ReadFileOrDie(copy + "/data.mdb"), before);
  EXPECT_EQ(fs::last_write_time(copy + "/data.mdb"), mtime);
  EXPECT_FALSE(fs::exists(copy + "/lock.mdb"));

  // A failure in JSON: valid false, the seq and the reason.
  const std::string dir = CopyBundle("json-fail");
  auto lines = Lines(ReadFileOrDie(dir + "/entries.ndjson"));
  std::swap(lines[3], lines[4]);
  WriteLines(dir + "/entries.ndjson", lines);
  r = RunProgram({kVerify, "--key-file", key_file, "-o", "json", dir}, Env());
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  report = ParseObject(r.out);
  EXPECT_FALSE(report["valid"].as_bool());
  EXPECT_EQ(report["failure"].as_object().at("seq").to_number<uint64_t>(), 3u) << r.out;
  EXPECT_FALSE(std::string(report["failure"].as_object().at("reason").as_string()).empty());
}

TEST_F(ClientTest, CustodyVerifyUsageAndIoErrorsExit2) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{kVerify, bundle_}, "exactly one of --key or --key-file"},
      {{kVerify, "--key", key_}, "exactly one of BUNDLE_DIR or --data-dir"},
      {{kVerify, "--key", key_, "--data-dir", bundle_, bundle_}, "exactly one of BUNDLE_DIR"},
      {{kVerify, "--key-file", work_->File("no-such.pub"), bundle_}, "cannot read key file"},
      {{kVerify, "--key", "not-a-key", bundle_}, "bad verifier key"},
      {{kVerify, "--key", key_, work_->File("no-such-bundle")}, "not a directory"},
      {{kVerify, "--key", key_, "--trusted-checkpoint", work_->File("nope.txt"), bundle_},
       "cannot read trusted checkpoint"},
      {{kVerify, "--key", key_, "--output", "yaml", bundle_}, "yaml"},
  };
  for (const Case& c : cases) {
    auto r = RunProgram(c.args, Env());
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_THAT(r.err, HasSubstr(c.says)) << r.Describe();
  }
  auto help = RunProgram({kVerify, "--help"}, Env());
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("Examples:"));
  EXPECT_THAT(help.out, HasSubstr("Exit status: 0 valid, 1 invalid"));
}

// What custody-verify tells an auditor: reasons, not internal status codes;
// the signer's key id next to the expected one; no made-up values in JSON.
TEST_F(ClientTest, CustodyVerifyMessagesNameReasonsAndKeys) {
  const std::string missing_key = work_->File("nope.pub");
  auto r = RunProgram({kVerify, "--key-file", missing_key, bundle_}, Env());
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err,
              HasSubstr("cannot read key file " + missing_key + ": No such file or directory"));
  r = Verify({work_->File("no-such-bundle")});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("not a directory"));
  for (const char* code : {"not_found:", "invalid_argument:", "io_error:"}) {
    EXPECT_THAT(r.err, Not(HasSubstr(code))) << r.Describe();
  }

  // custodyd's data_dir itself (its LMDB env is in ledger/), as well as the
  // ledger directory; neither: what was looked for.
  const std::string data_dir = work_->File("data-dir-copy");
  fs::create_directories(data_dir + "/ledger");
  auto copied = RunProgram(
      {"/usr/bin/mdb_copy", daemon_->data_dir() + "/ledger", data_dir + "/ledger"}, Env());
  ASSERT_EQ(copied.exit_code, 0) << copied.Describe();
  for (const std::string& d : {data_dir, data_dir + "/ledger"}) {
    r = Verify({"--data-dir", d});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("OK: "));
  }
  const std::string empty = work_->File("empty-data-dir");
  fs::create_directories(empty);
  r = Verify({"--data-dir", empty});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("looked for " + empty + "/data.mdb and " + empty +
                               "/ledger/data.mdb"));
  EXPECT_THAT(r.err, Not(HasSubstr("not_found:")));

  // The wrong key: the key id that signed and the one expected.
  auto other = ledger::SigningKey::Generate("custody.test/log");
  ASSERT_TRUE(other.ok());
  const std::string theirs = other->verifier().ToString();
  r = RunProgram({kVerify, "--key", theirs, bundle_}, Env());
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  // name+keyid: up to the second '+' (the base64 key after it may hold '+' too).
  auto name_and_id = [](const std::string& k) { return k.substr(0, k.find('+', k.find('+') + 1)); };
  EXPECT_THAT(r.out, HasSubstr("signed by " + name_and_id(key_) + "; expected " +
                               name_and_id(theirs)));

  // A failure in JSON: only what was established.
  r = RunProgram({kVerify, "--key", theirs, "-o", "json", bundle_}, Env());
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  json::object report = ParseObject(r.out);
  EXPECT_FALSE(report["valid"].as_bool());
  EXPECT_TRUE(report.contains("failure"));
  for (const char* member : {"root", "entries", "first_time", "last_time", "checkpoints"}) {
    EXPECT_FALSE(report.contains(member)) << member << ": " << r.out;
  }
}

// Colour only on a terminal (a pty from util-linux's script(1)), never in a
// pipe, never with NO_COLOR or --no-color.
TEST_F(ClientTest, ColourOnlyOnATerminal) {
  auto on_tty = [&](const std::string& extra_env, const std::string& flags) {
    const std::string cmd = extra_env + " '" + kCtl + "' prove 3 --key '" + key_ + "'" + flags;
    return RunProgram({"/usr/bin/script", "-qec", cmd, "/dev/null"}, Env({"TERM=xterm"}));
  };
  auto tty = on_tty("", "");
  ASSERT_EQ(tty.exit_code, 0) << tty.Describe();
  EXPECT_THAT(tty.out, HasSubstr("VERIFIED"));
  EXPECT_THAT(tty.out, HasSubstr("\x1b[")) << "a terminal gets colour";
  for (const auto& r : {on_tty("NO_COLOR=1", ""), on_tty("", " --no-color"),
                        on_tty("TERM=dumb", ""), Ctl({"prove", "3", "--key", key_})}) {
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("VERIFIED"));
    EXPECT_THAT(r.out + r.err, Not(HasSubstr("\x1b"))) << r.Describe();
  }
}

TEST_F(ClientTest, TamperFlippedByteInAnEntryNamesItsSeq) {
  // Inside a string (still valid JSON), on a structural byte, and in the
  // last entry (caught by the checkpoint's root instead of the next prev).
  struct Case {
    size_t line;
    std::string find;
  };
  const size_t last = bundle_size_ - 1;
  for (const Case& c : {Case{5, "\"pub-05\""}, Case{7, "\"kind\""}, Case{last, "\"producer\""}}) {
    const std::string dir = CopyBundle("flip-" + std::to_string(c.line) + c.find.substr(1, 3));
    auto lines = Lines(ReadFileOrDie(dir + "/entries.ndjson"));
    const size_t pos = lines[c.line].find(c.find);
    ASSERT_NE(pos, std::string::npos) << lines[c.line];
    const size_t at = c.find == "\"pub-05\"" ? pos + 6 : pos;  // the digit, or the quote
    lines[c.line][at] = static_cast<char>(lines[c.line][at] ^ 0x01);
    WriteLines(dir + "/entries.ndjson", lines);
    auto r = Verify({dir});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_THAT(r.out, HasSubstr("FAIL: seq " + std::to_string(c.line) + ":")) << c.find;
    auto py = VerifyPy({dir});
    EXPECT_EQ(py.exit_code, 1) << py.Describe();
    EXPECT_THAT(py.out, HasSubstr("seq " + std::to_string(c.line))) << py.out;
  }
}

TEST_F(ClientTest, TamperRemovedLineNamesTheGap) {
  const std::string dir = CopyBundle("removed");
  auto lines = Lines(ReadFileOrDie(dir + "/entries.ndjson"));
  lines.erase(lines.begin() + 6);
  WriteLines(dir + "/entries.ndjson", lines);
  auto r = Verify({dir});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("FAIL: seq 6:"), HasSubstr("holds seq 7, expected 6")));
  auto py = VerifyPy({dir});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, HasSubstr("FAIL: seq 6: line 7 holds seq 7, expected 6"));

  // The last line removed: the checkpoint covers more than the log holds.
  const std::string cut = CopyBundle("truncated");
  lines = Lines(ReadFileOrDie(cut + "/entries.ndjson"));
  lines.pop_back();
  WriteLines(cut + "/entries.ndjson", lines);
  r = Verify({cut});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("checkpoint " + CheckpointName(bundle_size_)),
                           HasSubstr("truncated")));
  py = VerifyPy({cut});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, AllOf(HasSubstr("checkpoint " + CheckpointName(bundle_size_)),
                            HasSubstr("truncated")));
}

TEST_F(ClientTest, TamperSwappedLinesNameTheFirst) {
  const std::string dir = CopyBundle("swapped");
  auto lines = Lines(ReadFileOrDie(dir + "/entries.ndjson"));
  std::swap(lines[8], lines[9]);
  WriteLines(dir + "/entries.ndjson", lines);
  auto r = Verify({dir});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("FAIL: seq 8:"), HasSubstr("holds seq 9, expected 8")));
  auto py = VerifyPy({dir});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, HasSubstr("FAIL: seq 8:"));
}

TEST_F(ClientTest, TamperCheckpointSignatureNamesTheCheckpoint) {
  const std::string dir = CopyBundle("badsig");
  const std::string file = CheckpointFile(dir, bundle_size_);
  std::string note = ReadFileOrDie(file);
  // A character in the middle of the base64 signature.
  const size_t sig = note.rfind(' ') + 20;
  note[sig] = note[sig] == 'A' ? 'B' : 'A';
  WriteFileOrDie(file, note);
  auto r = Verify({dir});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("checkpoint " + CheckpointName(bundle_size_)),
                           HasSubstr("signature or format invalid")));
  auto py = VerifyPy({dir});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, HasSubstr("checkpoint " + CheckpointName(bundle_size_)));
}

TEST_F(ClientTest, TamperCheckpointSizeNamesTheCheckpoint) {
  const std::string dir = CopyBundle("badsize");
  const std::string file = CheckpointFile(dir, bundle_size_);
  std::string note = ReadFileOrDie(file);
  const std::string size_line = "\n" + std::to_string(bundle_size_) + "\n";
  const size_t at = note.find(size_line);
  ASSERT_NE(at, std::string::npos);
  note.replace(at, size_line.size(), "\n" + std::to_string(bundle_size_ - 1) + "\n");
  WriteFileOrDie(file, note);
  auto r = Verify({dir});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("checkpoint " + CheckpointName(bundle_size_)));
  auto py = VerifyPy({dir});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, HasSubstr("checkpoint " + CheckpointName(bundle_size_)));
}

TEST_F(ClientTest, TamperForkedCheckpointsWithTheSameKeyAreDetected) {
  // A second custodyd with the first one's signing key and other events: a
  // fork that every signature check alone would accept.
  auto fork = StartDaemon(daemon_->data_dir() + "/ledger/signing.key");
  ASSERT_TRUE(fork->running());
  std::string events;
  for (int i = 0; i < 3; ++i) events += EventJson("fork-" + std::to_string(i), "user:fork") + "\n";
  auto sent = RunProgram({kCtl, "--server", "http://127.0.0.1:" + std::to_string(fork->port()),
                          "send", "--token", kProducerToken},
                         Env(), events);
  ASSERT_EQ(sent.exit_code, 0) << sent.Describe();
  auto fork_cp = fork->Client().Get("/v1/checkpoint");
  ASSERT_EQ(fork_cp.status, 200);
  auto fork_log = fork->Client().Get("/v1/log");
  ASSERT_EQ(std::string(ParseObject(fork_log.body)["verifier_key"].as_string()), key_);
  const uint64_t fork_size = static_cast<uint64_t>(ParseObject(fork_log.body)["size"].as_int64());
  ASSERT_LT(fork_size, bundle_size_);
  const std::string fork_note_file = work_->File("fork-checkpoint.txt");
  WriteFileOrDie(fork_note_file, fork_cp.body);

  // (1) The fork's checkpoint slipped into the bundle: its root is not the
  // bundle's root at that size.
  const std::string dir = CopyBundle("forked");
  WriteFileOrDie(CheckpointFile(dir, fork_size), fork_cp.body);
  auto r = Verify({dir});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("checkpoint " + CheckpointName(fork_size)),
                           HasSubstr("does not match")));
  auto py = VerifyPy({dir});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, HasSubstr("checkpoint " + CheckpointName(fork_size)));

  // (2) An older trusted checkpoint (from the fork) the bundle does not extend.
  auto t = Verify({"--trusted-checkpoint", fork_note_file, bundle_});
  EXPECT_EQ(t.exit_code, 1) << t.Describe();
  EXPECT_THAT(t.out, AllOf(HasSubstr("checkpoint trusted"), HasSubstr("not consistent")));
  auto tpy = VerifyPy({"--trusted-checkpoint", fork_note_file, bundle_});
  EXPECT_EQ(tpy.exit_code, 1);
  EXPECT_THAT(tpy.out, HasSubstr("checkpoint trusted"));

  // custodyctl refuses the same fork online: checkpoint via a consistency
  // proof, export while walking the entries.
  auto online = Ctl({"checkpoint", "--no-save", "--trusted", fork_note_file});
  EXPECT_EQ(online.exit_code, 1) << online.Describe();
  EXPECT_THAT(online.err, HasSubstr("FORK"));
  auto exported = Ctl({"export", "--out", work_->File("fork-export"), "--trusted", fork_note_file});
  EXPECT_EQ(exported.exit_code, 1) << exported.Describe();
  EXPECT_THAT(exported.err, HasSubstr("fork"));
}

TEST_F(ClientTest, TamperRollbackBelowATrustedCheckpointIsDetected) {
  ASSERT_GE(SendOne(EventJson("after-export", "user:later")), 0);
  auto cp = daemon_->Client().Get("/v1/checkpoint");
  const std::string newer = work_->File("newer-checkpoint.txt");
  WriteFileOrDie(newer, cp.body);
  auto r = Verify({"--trusted-checkpoint", newer, bundle_});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.out, AllOf(HasSubstr("checkpoint trusted"), HasSubstr("rolled back")));
  auto py = VerifyPy({"--trusted-checkpoint", newer, bundle_});
  EXPECT_EQ(py.exit_code, 1);
  EXPECT_THAT(py.out, HasSubstr("rolled back"));
  // And an honest trusted checkpoint from before the export passes.
  const std::string older = work_->File("older-checkpoint.txt");
  WriteFileOrDie(older, ReadFileOrDie(CheckpointFile(bundle_, bundle_size_)));
  EXPECT_EQ(Verify({"--trusted-checkpoint", older, bundle_}).exit_code, 0);
}

// Both verifiers, on a copy of the bundle changed by the test: the same exit
// status and the same FAIL line.
void ExpectBothFail(const ProgramResult& cv, const ProgramResult& py, const std::string& says) {
  EXPECT_EQ(cv.exit_code, 1) << cv.Describe();
  EXPECT_THAT(cv.out, HasSubstr(says)) << cv.Describe();
  EXPECT_EQ(py.exit_code, 1) << py.Describe();
  EXPECT_THAT(py.out, HasSubstr(says)) << py.Describe();
}

TEST_F(ClientTest, TamperEntriesBeyondTheNewestCheckpointFailInBothVerifiers) {
  // Real entries of the log appended after the bundle's only checkpoint
  // (every check of the chain holds), log.json's size made to match: no
  // signature vouches for them.
  ASSERT_GE(SendOne(EventJson("beyond-checkpoint", "user:beyond")), 0);
  const std::string n = std::to_string(bundle_size_);
  auto more = daemon_->Client().Get("/v1/entries?start=" + n + "&end=" +
                                    std::to_string(bundle_size_ + 1));
  ASSERT_EQ(more.status, 200) << more.body;
  const std::string dir = CopyBundle("beyond-checkpoint");
  WriteFileOrDie(dir + "/entries.ndjson", ReadFileOrDie(dir + "/entries.ndjson") + more.body);
  std::string log = ReadFileOrDie(dir + "/log.json");
  const std::string size_member = "\"size\":" + n;
  ASSERT_NE(log.find(size_member), std::string::npos) << log;
  log.replace(log.find(size_member), size_member.size(),
              "\"size\":" + std::to_string(bundle_size_ + 1));
  WriteFileOrDie(dir + "/log.json", log);
  ExpectBothFail(Verify({dir}), VerifyPy({dir}),
                 "FAIL: seq " + n + ": entries " + n + ".." + n +
                     " are not covered by any signed checkpoint (the newest covers " + n + ")");

  // log.json's size alone changed: both say so.
  const std::string sized = CopyBundle("log-size");
  log = ReadFileOrDie(sized + "/log.json");
  log.replace(log.find(size_member), size_member.size(),
              "\"size\":" + std::to_string(bundle_size_ + 5));
  WriteFileOrDie(sized + "/log.json", log);
  ExpectBothFail(Verify({sized}), VerifyPy({sized}),
                 "FAIL: seq " + n + ": log.json says the log has " +
                     std::to_string(bundle_size_ + 5) + " entries but the bundle holds " + n);
}

TEST_F(ClientTest, TamperNoCheckpointsFailsInBothVerifiers) {
  const std::string dir = CopyBundle("no-checkpoints");
  for (const auto& f : fs::directory_iterator(dir + "/checkpoints")) fs::remove(f.path());
  ExpectBothFail(Verify({dir}), VerifyPy({dir}), "FAIL: no signed checkpoint covers the log");
  fs::remove(dir + "/checkpoints");
  ExpectBothFail(Verify({dir}), VerifyPy({dir}), "FAIL: no signed checkpoint covers the log");
}

// docs/verify_bundle.py applies the note rules of custody's parser
// (ledger/src/checkpoint.cc): what one rejects, the other does.
TEST_F(ClientTest, PythonVerifierParsesSignedNotesAsCustodyDoes) {
  auto key = ledger::SigningKey::Load(daemon_->data_dir() + "/ledger/signing.key");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  const std::string note = ReadFileOrDie(CheckpointFile(bundle_, bundle_size_));
  const std::string sig_line = note.substr(note.rfind("\n\n") + 2);
  std::string altered_sig = sig_line;
  altered_sig[altered_sig.size() - 10] = altered_sig[altered_sig.size() - 10] == 'A' ? 'B' : 'A';
  // A signature by the log's key over any text, bypassing SignNote's checks.
  auto sign = [&](const std::string& text) {
    const ledger::Signature sig = key->Sign(text);
    const uint32_t id = key->verifier().key_id;
    std::vector<uint8_t> raw = {static_cast<uint8_t>(id >> 24), static_cast<uint8_t>(id >> 16),
                                static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
    raw.insert(raw.end(), sig.begin(), sig.end());
    return text + "\n\xE2\x80\x94 " + key->name() + " " + schema::Base64Encode(raw) + "\n";
  };
  const std::string text = note.substr(0, note.rfind("\n\n") + 1);
  std::string many = note;
  for (int i = 0; i < 100; ++i) many += sig_line;
  struct Case {
    std::string name, note, says;  // says empty: both accept
  };
  const std::vector<Case> cases = {
      {"101-signatures", many, "more than 100 signatures"},
      {"control-in-text", sign(text + "ext\x01" "ension\n"), "control character 0x01"},
      {"control-in-other-signer",
       note + "\xE2\x80\x94 other\x01 " + sig_line.substr(sig_line.rfind(' ') + 1),
       "control character 0x01"},
      {"repeat-bad-after-good", note + altered_sig, ""},
      {"repeat-good-after-bad", text + "\n" + altered_sig + sig_line, "does not verify"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = CopyBundle("note-" + c.name);
    WriteFileOrDie(CheckpointFile(dir, bundle_size_), c.note);
    auto cv = Verify({dir});
    auto py = VerifyPy({dir});
    if (c.says.empty()) {
      EXPECT_EQ(cv.exit_code, 0) << cv.Describe();
      EXPECT_EQ(py.exit_code, 0) << py.Describe();
    } else {
      ExpectBothFail(cv, py, "checkpoint " + CheckpointName(bundle_size_));
      EXPECT_THAT(cv.out, HasSubstr(c.says));
      EXPECT_THAT(py.out, HasSubstr(c.says));
    }
  }
}

TEST_F(ClientTest, PythonVerifierAgreesWithCustodyVerify) {
  auto py = VerifyPy({"--json", bundle_});
  ASSERT_EQ(py.exit_code, 0) << py.Describe();
  auto cv = Verify({"-o", "json", bundle_});
  ASSERT_EQ(cv.exit_code, 0) << cv.Describe();
  json::object p = ParseObject(py.out), c = ParseObject(cv.out);
  EXPECT_EQ(p["root"], c["root"]);
  EXPECT_EQ(p["entries"], c["entries"]);
  EXPECT_EQ(p["policies"], c["policies"]);
  EXPECT_EQ(p["alerts"], c["alerts"]);
  // A key the log never used: every checkpoint fails.
  auto other = ledger::SigningKey::Generate("custody.test/log");
  ASSERT_TRUE(other.ok());
  auto wrong =
      RunProgram({kPython, kVerifyPy, "--key", other->verifier().ToString(), bundle_}, Env());
  EXPECT_EQ(wrong.exit_code, 1) << wrong.Describe();
  EXPECT_EQ(RunProgram({kPython, kVerifyPy, bundle_}, Env()).exit_code, 2);
}

}  // namespace
}  // namespace custody::testing
