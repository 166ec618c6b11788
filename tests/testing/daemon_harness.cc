#include "testing/daemon_harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "custody/ledger/hash.h"

extern char** environ;

namespace custody::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string Sha256Hex(const std::string& data) { return ledger::HashToHex(ledger::Sha256(data)); }

std::string HttpResult::header(const std::string& name) const {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = headers.find(lower);
  return it == headers.end() ? "" : it->second;
}

// ---------------------------------------------------------------------------
// HttpClient

struct HttpClient::Impl {
  net::io_context ioc;
  uint16_t port = 0;
  std::string unix_path;
  std::chrono::milliseconds timeout{30000};
  std::optional<beast::tcp_stream> tcp;
  std::optional<beast::basic_stream<net::local::stream_protocol>> local;
  beast::flat_buffer buffer;

  bool connected() const { return tcp.has_value() || local.has_value(); }

  beast::error_code Connect() {
    beast::error_code ec;
    buffer.clear();
    if (unix_path.empty()) {
      tcp.emplace(ioc);
      tcp->expires_after(timeout);
      tcp->socket().connect(net::ip::tcp::endpoint(net::ip::address_v4::loopback(), port), ec);
      if (!ec) tcp->socket().set_option(net::ip::tcp::no_delay(true), ec);
      if (ec) tcp.reset();
    } else {
      local.emplace(ioc);
      local->socket().connect(net::local::stream_protocol::endpoint(unix_path), ec);
      if (ec) local.reset();
    }
    return ec;
  }

  void Close() {
    beast::error_code ec;
    if (tcp) tcp->socket().close(ec);
    if (local) local->socket().close(ec);
    tcp.reset();
    local.reset();
  }

  template <class Stream>
  beast::error_code Exchange(Stream& s, http::request<http::string_body>& req,
                             http::response<http::string_body>* res) {
    beast::error_code ec;
    s.expires_after(timeout);
    http::write(s, req, ec);
    if (ec) return ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(1ull << 32);
    http::read(s, buffer, parser, ec);
    if (ec) return ec;
    *res = parser.release();
    return ec;
  }
};

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient HttpClient::Unix(std::string path) {
  HttpClient c(0);
  c.impl_->unix_path = std::move(path);
  return c;
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() {
  if (impl_) impl_->Close();
}

void HttpClient::Close() { impl_->Close(); }

HttpResult HttpClient::Request(const std::string& method, const std::string& target,
                               const std::string& body, const Headers& headers) {
  HttpResult out;
  http::request<http::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(true);
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") req.prepare_payload();

  http::response<http::string_body> res;
  beast::error_code ec;
  // A kept-alive connection the server has since closed fails at once; one
  // reconnect covers that without retrying requests that reached the server.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->connected();
    if (!reused) {
      ec = impl_->Connect();
      if (ec) break;
    }
    ec = impl_->tcp ? impl_->Exchange(*impl_->tcp, req, &res)
                    : impl_->Exchange(*impl_->local, req, &res);
    if (!ec) break;
    impl_->Close();
    if (!reused || (ec != http::error::end_of_stream && ec != net::error::connection_reset &&
                    ec != net::error::broken_pipe)) {
      break;
    }
  }
  if (ec) {
    out.error = ec.message();
    return out;
  }
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& field : res) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    out.headers[name] = std::string(field.value());
  }
  if (!res.keep_alive()) impl_->Close();
  return out;
}

HttpResult HttpClient::Get(const std::string& target, const std::string& token) {
  Headers h;
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  return Request("GET", target, "", h);
}

HttpResult HttpClient::Post(const std::string& target, const std::string& body,
                            const std::string& content_type, const std::string& token) {
  Headers h;
  if (!content_type.empty()) h.emplace_back("Content-Type", content_type);
  if (!token.empty()) h.emplace_back("Authorization", "Bearer " + token);
  return Request("POST", target, body, h);
}

// ---------------------------------------------------------------------------
// RawConnection

RawConnection::RawConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawConnection::connected() const { return fd_ >= 0; }

bool RawConnection::Write(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool RawConnection::ReadSome(std::string* out, std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r <= 0) return r == 0;  // timeout: still open
  char buf[16384];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  out->append(buf, static_cast<size_t>(n));
  return true;
}

bool RawConnection::ReadUntil(const std::string& needle, std::string* out,
                              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out->find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!ReadSome(out, left)) return out->find(needle) != std::string::npos;
  }
  return true;
}

bool RawConnection::ReadToClose(std::string* out, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r == 0) return false;
    if (r < 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

// ---------------------------------------------------------------------------
// DaemonHarness

std::vector<TokenSpec> DaemonOptions::DefaultTokens() {
  return {{"producer-1", "producer", kProducerToken},
          {"reader-1", "reader", kReaderToken},
          {"admin-1", "admin", kAdminToken}};
}

std::string DaemonHarness::CustodydPath() { return CUSTODY_CUSTODYD_PATH; }

DaemonHarness::DaemonHarness(DaemonOptions options) : options_(std::move(options)) {
  WriteConfig();
}

DaemonHarness::~DaemonHarness() {
  if (pid_ > 0) Kill();
}

std::string DaemonHarness::unix_socket_path() const {
  return options_.unix_socket.empty() ? "" : dir_.File(options_.unix_socket);
}

void DaemonHarness::WriteConfig() {
  std::ostringstream c;
  c << "data_dir = \"" << data_dir() << "\"\n";
  c << "origin = \"" << options_.origin << "\"\n";
  c << "log_level = \"debug\"\n";
  if (!options_.unix_socket.empty()) c << "unix_socket = \"" << unix_socket_path() << "\"\n";
  c << options_.top_level << "\n";
  c << "[http]\n";
  for (const auto& line : options_.http) c << line << "\n";
  c << "[ingest]\n";
  for (const auto& line : options_.ingest) c << line << "\n";
  for (const auto& t : options_.tokens) {
    c << "[[token]]\nname = \"" << t.name << "\"\nrole = \"" << t.role << "\"\nsha256 = \""
      << Sha256Hex(t.token) << "\"\n";
  }
  c << options_.tables << "\n";
  WriteFileOrDie(config_path(), c.str());
}

std::string DaemonHarness::Log() const {
  std::ifstream in(dir_.File("custodyd.log"));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool DaemonHarness::Start(std::chrono::milliseconds timeout) {
  if (pid_ > 0) {
    last_error_ = "already running";
    return false;
  }
  const std::string port_file = dir_.File("port");
  std::filesystem::remove(port_file);

  std::vector<std::string> args = {CustodydPath(), "--config",    config_path(), "--listen",
                                   "127.0.0.1:0",  "--port-file", port_file};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  args.insert(args.begin(), options_.command_prefix.begin(), options_.command_prefix.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v(*e);
    if (v.starts_with("NOTIFY_SOCKET=") || v.starts_with("WATCHDOG_")) continue;
    env_strings.emplace_back(v);
  }
  env_strings.insert(env_strings.end(), options_.extra_env.begin(), options_.extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, dir_.File("custodyd.log").c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  int rc = posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    pid_ = -1;
    last_error_ = std::string("posix_spawn: ") + std::strerror(rc);
    return false;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  port_ = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      last_error_ =
          "custodyd exited during startup (status " + std::to_string(status) + "); log:\n" + Log();
      return false;
    }
    if (port_ == 0) {
      std::ifstream in(port_file);
      unsigned p = 0;
      if (in >> p && p > 0) port_ = static_cast<uint16_t>(p);
    }
    if (port_ != 0) {
      HttpClient client(port_, std::chrono::seconds(2));
      if (client.Get("/readyz").status == 200) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  last_error_ = "custodyd did not become ready in time; log:\n" + Log();
  Kill();
  return false;
}

bool DaemonHarness::Signal(int sig) { return pid_ > 0 && ::kill(pid_, sig) == 0; }

int DaemonHarness::Stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Kill();
  return -1;
}

void DaemonHarness::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace custody::testing
