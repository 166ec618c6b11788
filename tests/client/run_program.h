// Runs the built programs (custodyctl, custody-verify, python3) as child
// processes for the client tests: a controlled environment, stdin bytes in,
// stdout/stderr and the exit status out; or a long-running child (tail -f,
// alerts -f) read until some text appears.
#ifndef CUSTODY_TESTS_CLIENT_RUN_PROGRAM_H_
#define CUSTODY_TESTS_CLIENT_RUN_PROGRAM_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace custody::testing {

struct ProgramResult {
  int exit_code = -1;  // 128 + signal when killed by one
  std::string out, err;
  // For failure messages: "exit 1\nstdout:\n...\nstderr:\n...".
  std::string Describe() const;
};

// Runs argv[0] (a path) with exactly `env` ("NAME=value") as its
// environment, writes `input` to its stdin and closes it, and waits (up to
// `timeout`, then SIGKILL) for it to exit.
ProgramResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// A child whose stdout is read while it runs.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env);
  ~ChildProcess();  // SIGKILLs a running child
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Reads stdout until it contains `needle` (true) or `timeout` passes or
  // the child closes stdout (false). Everything read is in out().
  bool WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout);
  const std::string& out() const { return out_; }
  // Sends SIGTERM, waits, returns the exit code (128 + signal if killed).
  int Stop();

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string out_;
};

}  // namespace custody::testing

#endif  // CUSTODY_TESTS_CLIENT_RUN_PROGRAM_H_
