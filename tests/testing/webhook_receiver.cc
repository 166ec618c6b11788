#include "testing/webhook_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace custody::testing {
namespace {

int Listen(uint16_t port, uint16_t* bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    std::perror("webhook receiver bind");
    std::abort();
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (bound) *bound = ntohs(addr.sin_port);
  return fd;
}

std::string HeaderValue(const std::string& head, const std::string& name) {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const size_t at = lower.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  size_t start = at + 3 + name.size();
  while (start < head.size() && head[start] == ' ') ++start;
  return head.substr(start, head.find("\r\n", start) - start);
}

}  // namespace

WebhookReceiver::WebhookReceiver() {
  int fd = Listen(0, &port_);
  ::close(fd);
}

WebhookReceiver::~WebhookReceiver() { Down(); }

void WebhookReceiver::Up() {
  if (listen_fd_ >= 0) return;
  int fd = Listen(port_, nullptr);
  listen_fd_ = fd;
  thread_ = std::thread([this, fd] { Serve(fd); });
}

void WebhookReceiver::Down() {
  const int fd = listen_fd_.exchange(-1);
  if (fd < 0) return;
  ::shutdown(fd, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  ::close(fd);
}

std::vector<WebhookReceiver::Delivery> WebhookReceiver::deliveries() const {
  std::lock_guard lock(mu_);
  return deliveries_;
}

void WebhookReceiver::Serve(int listen_fd) {
  while (listen_fd_ == listen_fd) {
    pollfd p{listen_fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string data;
    char buf[8192];
    size_t need = std::string::npos;
    std::string head;
    while (true) {
      pollfd cp{c, POLLIN, 0};
      if (::poll(&cp, 1, 2000) <= 0) break;
      ssize_t n = ::read(c, buf, sizeof buf);
      if (n <= 0) break;
      data.append(buf, n);
      const size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos && need == std::string::npos) {
        head = data.substr(0, end);
        need = end + 4 + std::strtoul(HeaderValue(head, "content-length").c_str(), nullptr, 10);
      }
      if (need != std::string::npos && data.size() >= need) break;
    }
    if (need != std::string::npos && data.size() >= need) {
      if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
      {
        std::lock_guard lock(mu_);
        deliveries_.push_back({HeaderValue(head, "idempotency-key"),
                               data.substr(head.size() + 4), std::chrono::steady_clock::now()});
      }
      const std::string ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      (void)!::send(c, ok.data(), ok.size(), MSG_NOSIGNAL);  // custodyd may have given up
    }
    ::close(c);
  }
}

}  // namespace custody::testing
