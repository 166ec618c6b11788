// App in-process: the same wiring as custodyd, without a child process.
#include "daemon/server/app.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "custody/ledger/checkpoint.h"
#include "custody/schema/json_canon.h"
#include "daemon/server/services.h"
#include "testing/daemon_harness.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::daemon {
namespace {

using ::testing::HasSubstr;

class AppTest : public ::testing::Test {
 protected:
  AppOptions Options(const std::string& origin = "app.test/log") {
    AppOptions o;
    o.config.data_dir = dir_.File("data");
    o.config.origin = origin;
    o.config.listen.port = 0;
    o.config.http.io_threads = 1;
    TokenConfig t;
    t.name = "producer";
    t.role = Role::kProducer;
    const ledger::Hash h = ledger::Sha256(std::string_view("secret"));
    std::copy(h.begin(), h.end(), t.sha256.begin());
    o.config.tokens.push_back(t);
    o.port_file = dir_.File("port");
    return o;
  }

  testing::ScopedTempDir dir_;
};

TEST_F(AppTest, StartsServesAndShutsDown) {
  ASSERT_OK_AND_ASSIGN(auto app, App::Start(Options()));
  EXPECT_GT(app->port(), 0);
  EXPECT_EQ(testing::ReadFileOrDie(dir_.File("port")), std::to_string(app->port()) + "\n");
  struct stat st;
  ASSERT_EQ(::stat(dir_.File("data").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(app->services().ready.load());

  testing::HttpClient c(app->port());
  testing::HttpResult r = c.Post(
      "/v1/events",
      R"({"event_id":"a-1","time":"2026-05-04T09:00:00Z","activity":"read","actor":{"type":"service","id":"svc","country":"US"},"target":{"system":"db","type":"database","country":"US"},"data":{"categories":["contact.email"],"record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1}}})",
      "application/json", "secret");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_OK_AND_ASSIGN(auto v, schema::ParseJson(r.body));
  ASSERT_OK(ledger::OpenCheckpoint(v.at("checkpoint").as_string(), app->verifier_key()));

  app->Shutdown();
  EXPECT_FALSE(app->services().ready.load());
  app->Shutdown();  // idempotent
}

TEST_F(AppTest, RefusesToReopenALedgerUnderAnotherOrigin) {
  { ASSERT_OK(App::Start(Options("one.test/log"))); }
  auto second = App::Start(Options("two.test/log"));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().ToString(), HasSubstr("one.test/log"));
}

TEST_F(AppTest, InvalidConfigIsRefusedBeforeTouchingTheDisk) {
  AppOptions o = Options();
  o.config.origin = "";
  auto app = App::Start(std::move(o));
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(app.status().message(), HasSubstr("origin: missing"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("data")));
}

TEST_F(AppTest, AMissingPolicyFileIsAStartupError) {
  AppOptions o = Options();
  o.config.policy = dir_.File("nope.toml");
  auto app = App::Start(std::move(o));
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(app.status().ToString(), HasSubstr("nope.toml"));
}

TEST_F(AppTest, ABusyPortIsAClearError) {
  ASSERT_OK_AND_ASSIGN(auto first, App::Start(Options()));
  AppOptions o = Options();
  o.config.data_dir = dir_.File("data2");
  o.config.listen.port = first->port();
  auto second = App::Start(std::move(o));
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(),
              HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(first->port())));
}

}  // namespace
}  // namespace custody::daemon
