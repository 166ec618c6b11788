// systemd/custodyd.service must pass `systemd-analyze verify` and rate "OK"
// (exposure <= 2.0) in `systemd-analyze security --offline=yes`. verify
// insists that ExecStart= exists, so the checks run on a copy of the unit
// whose ExecStart= is the custodyd just built.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "testing/temp_dir.h"

namespace custody::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct ShellRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

ShellRun Shell(const std::string& command) {
  ShellRun r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class SystemdUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shell("command -v systemd-analyze").exit_code != 0) {
      GTEST_SKIP() << "systemd-analyze is not installed";
    }
    std::string unit = ReadFileOrDie(CUSTODY_SYSTEMD_UNIT_IN);
    const std::string placeholder = "@CUSTODYD_PATH@";
    size_t at = unit.find(placeholder);
    ASSERT_NE(at, std::string::npos);
    unit.replace(at, placeholder.size(), CUSTODY_CUSTODYD_PATH);
    unit_path_ = dir_.File("custodyd.service");
    WriteFileOrDie(unit_path_, unit);
  }

  ScopedTempDir dir_;
  std::string unit_path_;
};

TEST_F(SystemdUnitTest, VerifyAcceptsTheUnit) {
  ShellRun r = Shell("systemd-analyze verify --man=no '" + unit_path_ + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("custodyd.service:"))) << r.output;  // no warnings
}

TEST_F(SystemdUnitTest, SecurityExposureIsAtMostTwo) {
  ShellRun r = Shell("systemd-analyze security --offline=yes --no-pager '" + unit_path_ + "'");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      r.output, m, std::regex(R"(Overall exposure level for custodyd\.service: ([0-9.]+) (\w+))")))
      << r.output;
  EXPECT_LE(std::stod(m[1].str()), 2.0) << r.output;
  EXPECT_EQ(m[2].str(), "OK") << r.output;
}

TEST_F(SystemdUnitTest, TheConfiguredUnitStartsTheInstalledBinary) {
  const std::string built = ReadFileOrDie(CUSTODY_SYSTEMD_UNIT);
  EXPECT_THAT(built, Not(HasSubstr("@CUSTODYD_PATH@")));
  EXPECT_THAT(built, HasSubstr("/custodyd --config /etc/custody/custodyd.toml"));
  EXPECT_THAT(built, HasSubstr("Type=notify"));
  EXPECT_THAT(built, HasSubstr("WatchdogSec="));
}

}  // namespace
}  // namespace custody::testing
