#include "client/custodyctl/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <map>

#include "client/custodyctl/api.h"
#include "client/custodyctl/context.h"
#include "client/custodyctl/http_client.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace custody::client {
namespace {

using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

FileSettings File(std::optional<std::string> server, std::optional<std::string> token,
                  std::optional<std::string> key = std::nullopt) {
  FileSettings f;
  f.server = std::move(server);
  f.token = std::move(token);
  f.verifier_key = std::move(key);
  return f;
}

TEST(Settings, FlagsBeatEnvironmentBeatFileBeatDefault) {
  const auto env = Env({{"CUSTODY_SERVER", "http://env:1"}, {"CUSTODY_TOKEN", "env-token"}});
  const auto file = File("http://file:2", "file-token", "file-key");

  SettingFlags flags{"http://flag:3", "flag-token", "flag-key", ""};
  Settings s = Resolve(flags, env, file, "client.toml");
  EXPECT_EQ(s.server, "http://flag:3");
  EXPECT_EQ(s.server_source, "--server");
  EXPECT_EQ(s.token, "flag-token");
  EXPECT_EQ(s.token_source, "--token");
  EXPECT_EQ(s.verifier_key, "flag-key");

  s = Resolve({}, env, file, "client.toml");
  EXPECT_EQ(s.server, "http://env:1");
  EXPECT_EQ(s.server_source, "CUSTODY_SERVER");
  EXPECT_EQ(s.token, "env-token");
  EXPECT_EQ(s.token_source, "CUSTODY_TOKEN");
  EXPECT_EQ(s.verifier_key, "file-key");  // no environment variable for the key

  s = Resolve({}, Env({}), file, "client.toml");
  EXPECT_EQ(s.server, "http://file:2");
  EXPECT_EQ(s.server_source, "client.toml");
  EXPECT_EQ(s.token, "file-token");
  EXPECT_EQ(s.token_source, "client.toml");

  s = Resolve({}, Env({}), std::nullopt, "");
  EXPECT_EQ(s.server, "http://127.0.0.1:7411");
  EXPECT_EQ(s.server_source, "default");
  EXPECT_EQ(s.token, "");
  EXPECT_EQ(s.verifier_key, "");
}

TEST(Settings, EachSettingResolvesOnItsOwn) {
  // The server from a flag does not stop the token coming from the file.
  SettingFlags flags;
  flags.server = "http://flag:3";
  Settings s = Resolve(flags, Env({}), File("http://file:2", "file-token"), "f");
  EXPECT_EQ(s.server, "http://flag:3");
  EXPECT_EQ(s.token, "file-token");
}

TEST(Settings, EmptyValuesCountAsUnset) {
  Settings s = Resolve({}, Env({{"CUSTODY_SERVER", ""}, {"CUSTODY_TOKEN", ""}}),
                       File("", "file-token"), "f");
  EXPECT_EQ(s.server, "http://127.0.0.1:7411");
  EXPECT_EQ(s.token, "file-token");
}

TEST(Settings, ConfigFileLocation) {
  SettingFlags flags;
  EXPECT_EQ(FindConfigFile(flags, Env({{"HOME", "/home/a"}})).path,
            "/home/a/.config/custody/client.toml");
  EXPECT_FALSE(FindConfigFile(flags, Env({{"HOME", "/home/a"}})).explicit_path);
  EXPECT_EQ(FindConfigFile(flags, Env({{"HOME", "/home/a"}, {"XDG_CONFIG_HOME", "/x"}})).path,
            "/x/custody/client.toml");
  EXPECT_EQ(FindConfigFile(flags, Env({{"HOME", "/home/a"}, {"CUSTODY_CONFIG", "/c.toml"}})).path,
            "/c.toml");
  flags.config_file = "/flag.toml";
  auto loc = FindConfigFile(flags, Env({{"CUSTODY_CONFIG", "/c.toml"}}));
  EXPECT_EQ(loc.path, "/flag.toml");
  EXPECT_TRUE(loc.explicit_path);
  EXPECT_EQ(FindConfigFile({}, Env({})).path, "");
}

TEST(Settings, ParsesTheConfigFileStrictly) {
  auto f = ParseClientConfig("server = \"http://h:1\"\ntoken = \"t\"\nverifier_key = \"k\"\n", "c");
  ASSERT_OK(f);
  EXPECT_EQ(f->server, "http://h:1");
  EXPECT_EQ(f->token, "t");
  EXPECT_EQ(f->verifier_key, "k");

  auto typo = ParseClientConfig("server = \"http://h:1\"\ntokne = \"t\"\n", "client.toml");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("client.toml:2: tokne: unknown key"));
  auto type = ParseClientConfig("token = 12\n", "client.toml");
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(type.status().message(), HasSubstr("must be a string"));
  auto syntax = ParseClientConfig("token = \n", "client.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_THAT(syntax.status().message(), HasSubstr("client.toml:1:"));
}

TEST(Settings, LoadSettingsReadsHomeConfigAndRequiresExplicitFiles) {
  testing::ScopedTempDir dir;
  const std::string home = dir.path().string();
  std::filesystem::create_directories(home + "/.config/custody");
  testing::WriteFileOrDie(home + "/.config/custody/client.toml",
                          "server = \"http://file:2\"\ntoken = \"file-token\"\n");
  ::chmod((home + "/.config/custody/client.toml").c_str(), 0600);
  auto s = LoadSettings({}, Env({{"HOME", home}}));
  ASSERT_OK(s);
  EXPECT_EQ(s->server, "http://file:2");
  EXPECT_EQ(s->token, "file-token");
  EXPECT_EQ(s->token_source, home + "/.config/custody/client.toml");

  // No default file: defaults, no error.
  auto none = LoadSettings({}, Env({{"HOME", home + "/nowhere"}}));
  ASSERT_OK(none);
  EXPECT_EQ(none->server, "http://127.0.0.1:7411");

  // A file named explicitly must exist.
  SettingFlags flags;
  flags.config_file = home + "/missing.toml";
  auto missing = LoadSettings(flags, Env({{"HOME", home}}));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsInvalidArgument());
  auto missing_env = LoadSettings({}, Env({{"CUSTODY_CONFIG", home + "/missing.toml"}}));
  EXPECT_FALSE(missing_env.ok());
}

TEST(ServerUrl, ParsesHostsPortsAndPrefixes) {
  auto u = ParseServerUrl("http://127.0.0.1:7411");
  ASSERT_OK(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 7411);
  EXPECT_EQ(u->prefix, "");
  EXPECT_EQ(u->ToString(), "http://127.0.0.1:7411");

  u = ParseServerUrl("http://[::1]:8080/custody/");
  ASSERT_OK(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->prefix, "/custody");
  EXPECT_EQ(u->ToString(), "http://[::1]:8080/custody");

  u = ParseServerUrl("http://localhost");
  ASSERT_OK(u);
  EXPECT_EQ(u->port, 80);

  for (const char* bad :
       {"127.0.0.1:7411", "https://h:1", "http://", "http://h:0", "http://h:x", "http://h:70000",
        "http://::1:80", "http://[::1", "http://u@h:1", "http://h:1/?q", "http://h:"}) {
    EXPECT_FALSE(ParseServerUrl(bad).ok()) << bad;
  }
  EXPECT_THAT(ParseServerUrl("https://h:1").status().message(), HasSubstr("https"));
}

TEST(UrlEncode, KeepsUnreservedAndEscapesTheRest) {
  EXPECT_EQ(UrlEncode("user:1002"), "user%3A1002");
  EXPECT_EQ(UrlEncode("gov_id.*"), "gov_id.%2A");
  EXPECT_EQ(UrlEncode("a b&c=d+é"), "a%20b%26c%3Dd%2B%C3%A9");
  EXPECT_EQ(QueryString({{"a", "1"}, {"b", ""}, {"c", "x y"}}), "?a=1&c=x%20y");
  EXPECT_EQ(QueryString({{"a", ""}}), "");
}

TEST(Problem, MapsStatusesToExitCodesAndListsEveryError) {
  HttpResponse r;
  r.status = 400;
  r.content_type = "application/problem+json";
  r.body =
      R"({"type":"urn:custody:problem:invalid-event","title":"t","status":400,"detail":"2 problems",)"
      R"("errors":[{"pointer":"/0/actor/country","message":"must be a country"},)"
      R"({"parameter":"since","message":"bad time"}]})";
  Problem p = ParseProblem(r);
  EXPECT_EQ(p.slug, "invalid-event");
  ASSERT_EQ(p.errors.size(), 2u);
  Status st = ProblemStatus(p, "POST /v1/events");
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(),
            "POST /v1/events: 400 invalid-event: 2 problems\n"
            "  /0/actor/country: must be a country\n"
            "  parameter since: bad time");
  EXPECT_EQ(ExitCodeFor(st), kExitUsage);

  auto code_for = [](int status, std::string body) {
    HttpResponse x;
    x.status = status;
    x.body = std::move(body);
    return ExitCodeFor(ProblemStatus(ParseProblem(x), "GET /x"));
  };
  EXPECT_EQ(code_for(404, R"({"type":"urn:custody:problem:not-found","detail":"log is empty"})"),
            kExitNotFound);
  EXPECT_EQ(
      code_for(404, R"({"type":"urn:custody:problem:not-found","detail":"no such endpoint: /x"})"),
      kExitServer);
  EXPECT_EQ(code_for(401, R"({"type":"urn:custody:problem:unauthenticated","detail":"no token"})"),
            kExitServer);
  EXPECT_EQ(code_for(503, "busy"), kExitServer);
  EXPECT_EQ(code_for(500, "<html>oops</html>"), kExitServer);
  EXPECT_EQ(ExitCodeFor(Status::Corruption("bad signature")), kExitNotFound);
  EXPECT_EQ(ExitCodeFor(Status::Unavailable("refused")), kExitServer);
  EXPECT_EQ(ExitCodeFor(Status::Ok()), kExitOk);

  HttpResponse plain;
  plain.status = 502;
  plain.body = "Bad Gateway\n";
  EXPECT_EQ(ParseProblem(plain).detail, "Bad Gateway");
}

}  // namespace
}  // namespace custody::client
