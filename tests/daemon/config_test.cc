#include "daemon/config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::daemon {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kHash =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";  // "abc"

TEST(Config, TokenSha256HexIsLowerCaseSha256) {
  EXPECT_EQ(TokenSha256Hex("abc"), kHash);
  EXPECT_EQ(TokenSha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Config, ParsesEveryKey) {
  auto c = ParseConfig(R"(
listen = "0.0.0.0:8080"
unix_socket = "/run/custody/api.sock"
data_dir = "/var/lib/custody"
origin = "example.com/log"
policy = "/etc/custody/boundaries.toml"
log_level = "debug"
[http]
io_threads = 4
max_connections = 10
body_limit = 1_048_576
header_limit = 8192
idle_timeout_ms = 1000
header_timeout_ms = 2000
body_timeout_ms = 3000
max_events_per_request = 50
max_entries_per_request = 60
retry_after_seconds = 2
[ingest]
queue_capacity = 1000
batch_size = 100
[[token]]
name = "chat"
role = "producer"
sha256 = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
[[token]]
name = "investigator"
role = "reader"
sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)",
                       "test.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->listen.host, "0.0.0.0");
  EXPECT_EQ(c->listen.port, 8080);
  EXPECT_EQ(c->unix_socket, "/run/custody/api.sock");
  EXPECT_EQ(c->data_dir, "/var/lib/custody");
  EXPECT_EQ(c->origin, "example.com/log");
  EXPECT_EQ(c->policy, "/etc/custody/boundaries.toml");
  EXPECT_EQ(c->log_level, "debug");
  EXPECT_EQ(c->http.io_threads, 4u);
  EXPECT_EQ(c->http.max_connections, 10u);
  EXPECT_EQ(c->http.body_limit, 1048576u);
  EXPECT_EQ(c->http.header_limit, 8192u);
  EXPECT_EQ(c->http.idle_timeout_ms, 1000u);
  EXPECT_EQ(c->http.header_timeout_ms, 2000u);
  EXPECT_EQ(c->http.body_timeout_ms, 3000u);
  EXPECT_EQ(c->http.max_events_per_request, 50u);
  EXPECT_EQ(c->http.max_entries_per_request, 60u);
  EXPECT_EQ(c->http.retry_after_seconds, 2u);
  EXPECT_EQ(c->ingest.queue_capacity, 1000u);
  EXPECT_EQ(c->ingest.batch_size, 100u);
  ASSERT_EQ(c->tokens.size(), 2u);
  EXPECT_EQ(c->tokens[0].name, "chat");
  EXPECT_EQ(c->tokens[0].role, Role::kProducer);
  EXPECT_EQ(c->tokens[0].sha256[0], 0xba);
  EXPECT_EQ(c->tokens[1].role, Role::kReader);
  EXPECT_OK(Validate(*c));
}

TEST(Config, EmptyFileGivesDefaults) {
  auto c = ParseConfig("", "empty.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->listen.ToString(), "127.0.0.1:7411");
  EXPECT_EQ(c->http.io_threads, 2u);
  EXPECT_TRUE(c->tokens.empty());
  EXPECT_EQ(c->source, "empty.toml");
}

TEST(Config, DefaultConfigTextParsesAndValidates) {
  auto c = ParseConfig(DefaultConfigText(), "default");
  ASSERT_OK(c);
  EXPECT_OK(Validate(*c));
  Config defaults;
  EXPECT_EQ(c->http.body_limit, defaults.http.body_limit);
  EXPECT_EQ(c->ingest.queue_capacity, defaults.ingest.queue_capacity);
  EXPECT_EQ(c->ingest.batch_size, defaults.ingest.batch_size);
  EXPECT_EQ(c->http.idle_timeout_ms, defaults.http.idle_timeout_ms);
}

TEST(Config, SyntaxErrorNamesFileLineAndColumn) {
  auto c = ParseConfig("origin = \"x\"\nlisten = \n", "/etc/custody/custodyd.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsInvalidArgument());
  EXPECT_THAT(c.status().message(), HasSubstr("/etc/custody/custodyd.toml:2:"));
  EXPECT_THAT(c.status().message(), HasSubstr("TOML syntax error"));
}

TEST(Config, UnknownKeyIsAnErrorWithSuggestion) {
  auto c = ParseConfig("origin = \"x\"\n[http]\nio_thread = 4\n", "c.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("c.toml:3:1: http.io_thread: unknown key"));
  EXPECT_THAT(c.status().message(), HasSubstr("did you mean 'io_threads'?"));
}

TEST(Config, UnknownKeyWithoutCloseMatchListsAllowedKeys) {
  auto c = ParseConfig("[ingest]\nwhatever = 1\n", "c.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("ingest.whatever: unknown key; allowed here: "
                                              "queue_capacity, batch_size"));
}

TEST(Config, UnknownTopLevelTableIsAnError) {
  auto c = ParseConfig("[server]\nport = 1\n", "c.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("c.toml:1:2: server: unknown key"));
}

TEST(Config, WrongTypeNamesKeyAndPosition) {
  auto c = ParseConfig("data_dir = 5\n[http]\nbody_limit = \"8MiB\"\n", "c.toml");
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_THAT(m, HasSubstr("c.toml:1:12: data_dir: expected a string, got an integer"));
  EXPECT_THAT(m, HasSubstr("c.toml:3:14: http.body_limit: expected an integer, got a string"));
}

TEST(Config, UnixSocketModeIsOctalPermissionBits) {
  auto c = ParseConfig("unix_socket = \"/run/custody/api.sock\"\n", "c.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->unix_socket_mode, 0660u);  // owner and group (producers) may connect
  c = ParseConfig("unix_socket_mode = \"0600\"\n", "c.toml");
  ASSERT_OK(c);
  EXPECT_EQ(c->unix_socket_mode, 0600u);
  for (const char* bad : {"rw-rw----", "0968", "10777", "660x"}) {
    c = ParseConfig(std::string("\nunix_socket_mode = \"") + bad + "\"\n", "c.toml");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_THAT(c.status().message(),
                HasSubstr("c.toml:2:20: unix_socket_mode: must be octal permission bits"))
        << bad;
  }
}

TEST(Config, OutOfRangeIntegerSaysTheRange) {
  auto c = ParseConfig("[http]\n\nio_threads = 0\n", "c.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("c.toml:3:14: http.io_threads: must be 1..256, got 0"));
}

TEST(Config, ReportsEveryProblemOnePerLine) {
  auto c =
      ParseConfig("log_level = \"loud\"\nlisten = \"nope\"\n[ingest]\nbatch_size = -1\n", "c.toml");
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 2) << m;
  EXPECT_THAT(m, HasSubstr("c.toml:2:10: listen: \"nope\": expected HOST:PORT"));
  EXPECT_THAT(m, HasSubstr("c.toml:1:13: log_level: must be trace, debug"));
  EXPECT_THAT(m, HasSubstr("c.toml:4:14: ingest.batch_size: must be 1.."));
}

TEST(Config, TokenErrorsSayHowToFix) {
  auto c = ParseConfig(R"([[token]]
name = "a"
role = "writer"
sha256 = "not-hex"
[[token]]
role = "reader"
sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
token = "secret"
)",
                       "t.toml");
  ASSERT_FALSE(c.ok());
  const std::string m = c.status().message();
  EXPECT_THAT(
      m, HasSubstr("t.toml:3:8: token[0].role: must be producer, reader or admin, got \"writer\""));
  EXPECT_THAT(m, HasSubstr("t.toml:4:10: token[0].sha256: must be 64 hex digits"));
  EXPECT_THAT(m, HasSubstr("token[1].name: missing"));
  EXPECT_THAT(m, HasSubstr("t.toml:8:1: token[1].token: unknown key"));
  // The message never echoes a secret value.
  EXPECT_THAT(m, Not(HasSubstr("secret")));
}

TEST(Config, TokenMustBeArrayOfTables) {
  auto c = ParseConfig("token = \"abc\"\n", "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("t.toml:1:9: token: expected an array of tables"));
}

TEST(Config, ValidateRequiresDataDirAndOrigin) {
  Config c;
  Status st = Validate(c);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(),
              HasSubstr("data_dir: missing; set data_dir in the config or pass --data-dir"));
  EXPECT_THAT(st.message(), HasSubstr("origin: missing"));
}

// A key that is missing has no line to point at: the message names only the file.
TEST(Config, MissingKeysNameTheFileWithoutALine) {
  auto c = ParseConfig("listen = \"127.0.0.1:7411\"\n", "n.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status st = Validate(*c);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("n.toml: data_dir: missing"));
  EXPECT_THAT(st.message(), HasSubstr("n.toml: origin: missing"));
}

TEST(Config, ValidateRejectsBadOriginAndDuplicateTokens) {
  auto c = ParseConfig(std::string(R"(data_dir = "/d"
origin = "bad origin+x"
[[token]]
name = "a"
role = "producer"
sha256 = ")") + kHash + R"("
[[token]]
name = "a"
role = "reader"
sha256 = ")" + kHash + "\"\n",
                       "v.toml");
  ASSERT_OK(c);
  Status st = Validate(*c);
  ASSERT_FALSE(st.ok());
  // Cross-field errors name the file, line and column too.
  EXPECT_THAT(st.message(),
              HasSubstr("v.toml:2:10: origin: \"bad origin+x\" is not a valid key name"));
  EXPECT_THAT(st.message(),
              HasSubstr("v.toml:8:8: token[1].name: \"a\" is also the name of token[0]"));
  EXPECT_THAT(st.message(), HasSubstr("v.toml:10:10: token[1].sha256: same hash as token[0]"));
}

TEST(Config, ValidateRejectsBatchLargerThanQueue) {
  auto c = ParseConfig(
      "data_dir = \"/d\"\norigin = \"o\"\n[ingest]\nqueue_capacity = 4\nbatch_size = 8\n",
      "q.toml");
  ASSERT_OK(c);
  Status st = Validate(*c);
  EXPECT_THAT(
      st.message(),
      HasSubstr("q.toml:5:14: ingest.batch_size: must not exceed ingest.queue_capacity (4)"));
}

TEST(Config, OverridesReplaceListenAndDataDir) {
  auto c = ParseConfig("data_dir = \"/a\"\norigin = \"o\"\n", "o.toml");
  ASSERT_OK(c);
  ConfigOverrides o;
  o.listen = "127.0.0.1:0";
  o.data_dir = "/b";
  ASSERT_OK(ApplyOverrides(o, &*c));
  EXPECT_EQ(c->listen.port, 0);
  EXPECT_EQ(c->data_dir, "/b");
  o.listen = "bogus";
  Status st = ApplyOverrides(o, &*c);
  EXPECT_THAT(st.message(), HasSubstr("--listen"));
}

TEST(Config, ListenAddressForms) {
  auto v4 = ParseListenAddress("127.0.0.1:7411");
  ASSERT_OK(v4);
  EXPECT_EQ(v4->host, "127.0.0.1");
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  EXPECT_EQ(v6->ToString(), "[::1]:0");
  EXPECT_FALSE(ParseListenAddress("::1:80").ok());
  EXPECT_FALSE(ParseListenAddress("host").ok());
  EXPECT_FALSE(ParseListenAddress(":80").ok());
  EXPECT_FALSE(ParseListenAddress("a:65536").ok());
  EXPECT_FALSE(ParseListenAddress("a:-1").ok());
  EXPECT_FALSE(ParseListenAddress("a:").ok());
}

TEST(Config, LoadConfigMissingFileSaysHowToCreateOne) {
  auto c = LoadConfig("/nonexistent/custodyd.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(c.status().IsNotFound());
  EXPECT_THAT(c.status().message(), HasSubstr("--print-default-config"));
}

// std::ifstream opens a directory and reads nothing, which once gave an empty config.
TEST(Config, LoadConfigOfADirectoryIsAnError) {
  testing::ScopedTempDir dir;
  auto c = LoadConfig(dir.path().string());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("is a directory"));
}

TEST(Config, LoadConfigReadsFileAndNamesItInErrors) {
  testing::ScopedTempDir dir;
  testing::WriteFileOrDie(dir.File("c.toml"), "origin = \"o\"\nbogus = 1\n");
  auto c = LoadConfig(dir.File("c.toml"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr(dir.File("c.toml") + ":2:1: bogus: unknown key"));
}

// A misspelt dedup field once merged every actor's alerts into one window.
TEST(Config, DedupKeyFieldsMustBeAlertFields) {
  auto c = ParseConfig("[alerts]\ndedup_window_seconds = 300\ndedup_key = [\"actr\"]\n", "d.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("d.toml:3:13: alerts.dedup_key: \"actr\" is not an "
                                              "alert field to dedup by; use any of actor"));
  auto good = ParseConfig("[alerts]\ndedup_key = [\"actor\", \"target_system\"]\n", "d.toml");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->alerts.dedup.key, (std::vector<std::string>{"actor", "target_system"}));
}

TEST(Config, TokenNameCustodydIsReserved) {
  auto c = ParseConfig(std::string("data_dir = \"/d\"\norigin = \"o\"\n[[token]]\nname = \"custodyd\"\n"
                                   "role = \"producer\"\nsha256 = \"") +
                           std::string(64, 'a') + "\"\n",
                       "r.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Status st = Validate(*c);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("token[0].name: \"custodyd\" is reserved"));
}

// Checked at parse time (with file:line), not when binding after the data
// dir was created.
TEST(Config, ListenHostMustBeANumericAddress) {
  for (const char* bad : {"256.1.1.1:80", "example.invalid:1"}) {
    auto c = ParseConfig(std::string("listen = \"") + bad + "\"\n", "l.toml");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_THAT(c.status().message(), HasSubstr("l.toml:1:10: listen: \"" + std::string(bad)));
    EXPECT_THAT(c.status().message(), HasSubstr("is not a numeric IP address"));
  }
  for (const char* good : {"127.0.0.1:1", "[::1]:7411", "localhost:7411", "0.0.0.0:0"}) {
    EXPECT_TRUE(ParseListenAddress(good).ok()) << good;
  }
  EXPECT_FALSE(ParseListenAddress("256.0.0.1:1").ok());
}

// systemd starts custodyd in /: "data" in /etc/custody/custodyd.toml must
// mean /etc/custody/data, not /data.
TEST(Config, RelativePathsInTheFileAreRelativeToTheFile) {
  testing::ScopedTempDir dir;
  std::filesystem::create_directories(dir.path() / "etc");
  const std::string file = (dir.path() / "etc" / "c.toml").string();
  testing::WriteFileOrDie(file, "data_dir = \"data\"\norigin = \"o\"\npolicy = \"p/b.toml\"\n"
                                "unix_socket = \"/run/x.sock\"\n[[alert_sink]]\nname = \"f\"\n"
                                "type = \"file\"\npath = \"alerts.ndjson\"\n");
  auto c = LoadConfig(file);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::string etc = std::filesystem::absolute(dir.path() / "etc").string();
  EXPECT_EQ(c->data_dir, etc + "/data");
  EXPECT_EQ(c->policy, etc + "/p/b.toml");
  EXPECT_EQ(c->unix_socket, "/run/x.sock");  // absolute: as written
  ASSERT_EQ(c->alerts.sinks.size(), 1u);
  EXPECT_EQ(c->alerts.sinks[0].path, etc + "/alerts.ndjson");
}

TEST(Config, RoleNamesRoundTrip) {
  for (Role r : {Role::kProducer, Role::kReader, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_EQ(ParseRole("Admin"), std::nullopt);
}

}  // namespace
}  // namespace custody::daemon
