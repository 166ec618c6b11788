#include "run_program.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace custody::testing {
namespace {

struct Spawned {
  pid_t pid = -1;
  int in = -1, out = -1, err = -1;
};

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Spawns with pipes for the requested standard streams (others: /dev/null).
Spawned Spawn(std::vector<std::string> argv, std::vector<std::string> env, bool want_in,
              bool want_err) {
  Spawned s;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (want_in && pipe2(in, O_CLOEXEC) != 0) return s;
  if (pipe2(out, O_CLOEXEC) != 0) return s;
  if (want_err && pipe2(err, O_CLOEXEC) != 0) return s;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (want_in) {
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  if (want_err) {
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  auto args = CStrings(argv);
  auto envp = CStrings(env);
  int rc = posix_spawn(&s.pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (want_in) ::close(in[0]);
  ::close(out[1]);
  if (want_err) ::close(err[1]);
  if (rc != 0) {
    s.pid = -1;
    return s;
  }
  s.in = in[1];
  s.out = out[0];
  s.err = err[0];
  return s;
}

int Reap(pid_t pid, bool block) {
  int status = 0;
  pid_t r = waitpid(pid, &status, block ? 0 : WNOHANG);
  if (r != pid) return -2;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string ProgramResult::Describe() const {
  return "exit " + std::to_string(exit_code) + "\nstdout:\n" + out + "\nstderr:\n" + err;
}

ProgramResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         const std::string& input, std::chrono::milliseconds timeout) {
  ProgramResult result;
  Spawned s = Spawn(argv, env, true, true);
  if (s.pid < 0) {
    result.err = "spawn failed: " + std::string(std::strerror(errno));
    return result;
  }
  // stdin is written from the same loop so a child that prints before it
  // reads can never deadlock against us.
  size_t written = 0;
  if (input.empty()) {
    ::close(s.in);
    s.in = -1;
  } else {
    fcntl(s.in, F_SETFL, O_NONBLOCK);
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  while (s.out >= 0 || s.err >= 0) {
    pollfd fds[3];
    int n = 0;
    if (s.out >= 0) fds[n++] = {s.out, POLLIN, 0};
    if (s.err >= 0) fds[n++] = {s.err, POLLIN, 0};
    if (s.in >= 0) fds[n++] = {s.in, POLLOUT, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(s.pid, SIGKILL);
      killed = true;
      break;
    }
    if (::poll(fds, n, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == s.in) {
        ssize_t w = ::write(s.in, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = input.size();
        if (written == input.size()) {
          ::close(s.in);
          s.in = -1;
        }
        continue;
      }
      char buf[65536];
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      std::string& sink = fds[i].fd == s.out ? result.out : result.err;
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else {
        ::close(fds[i].fd);
        (fds[i].fd == s.out ? s.out : s.err) = -1;
      }
    }
  }
  for (int fd : {s.in, s.out, s.err}) {
    if (fd >= 0) ::close(fd);
  }
  result.exit_code = Reap(s.pid, true);
  if (killed) result.err += "\n[killed after the test's timeout]";
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env) {
  Spawned s = Spawn(argv, env, false, false);
  pid_ = s.pid;
  out_fd_ = s.out;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Reap(pid_, true);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
}

bool ChildProcess::WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || out_fd_ < 0) return false;
    pollfd p{out_fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[16384];
    ssize_t r = ::read(out_fd_, buf, sizeof buf);
    if (r <= 0) {
      ::close(out_fd_);
      out_fd_ = -1;
      return out_.find(needle) != std::string::npos;
    }
    out_.append(buf, static_cast<size_t>(r));
  }
  return true;
}

int ChildProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int rc = Reap(pid_, true);
  pid_ = -1;
  return rc;
}

}  // namespace custody::testing
