#include "daemon/server/server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <thread>
#include <vector>

#include "daemon/server/problem.h"
#include "daemon/server/session.h"

namespace custody::daemon {
namespace {

using tcp = net::ip::tcp;
using local = net::local::stream_protocol;

// The canned answer to a connection over max_connections.
const std::string& RefusalBytes() {
  static const std::string bytes = [] {
    std::string body = ProblemJson({http::status::service_unavailable,
                                    "too-many-connections",
                                    "",
                                    "custodyd has reached max_connections; retry later",
                                    {},
                                    1});
    return "HTTP/1.1 503 Service Unavailable\r\n"
           "Content-Type: application/problem+json\r\n"
           "Retry-After: 1\r\n"
           "Connection: close\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  return bytes;
}

template <class Protocol>
class Listener : public std::enable_shared_from_this<Listener<Protocol>> {
 public:
  using Acceptor = typename Protocol::acceptor;
  using Socket = typename Protocol::socket;

  Listener(net::io_context& ioc, Services& services, ConnectionRegistry& registry,
           size_t max_connections)
      : ioc_(ioc),
        acceptor_(net::make_strand(ioc)),
        retry_timer_(acceptor_.get_executor()),
        services_(services),
        registry_(registry),
        max_connections_(max_connections) {}

  Status Bind(const typename Protocol::endpoint& endpoint, std::string_view name) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      if constexpr (std::is_same_v<Protocol, tcp>) {
        acceptor_.set_option(net::socket_base::reuse_address(true), ec);
      }
    }
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return Status::IOError("cannot listen on " + std::string(name) + ": " + ec.message());
    return Status::Ok();
  }

  typename Protocol::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  void Run() {
    net::dispatch(acceptor_.get_executor(),
                  [self = this->shared_from_this()] { self->DoAccept(); });
  }

  void Stop() {
    net::post(acceptor_.get_executor(), [self = this->shared_from_this()] {
      beast::error_code ec;
      self->acceptor_.close(ec);
      self->retry_timer_.cancel();
    });
  }

 private:
  void DoAccept() {
    acceptor_.async_accept(
        net::make_strand(ioc_),
        beast::bind_front_handler(&Listener::OnAccept, this->shared_from_this()));
  }

  void OnAccept(beast::error_code ec, Socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
      // EMFILE and friends: back off instead of spinning on the error.
      spdlog::warn("http: accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([self = this->shared_from_this()](beast::error_code e) {
        if (!e && self->acceptor_.is_open()) self->DoAccept();
      });
      return;
    }
    if (registry_.size() >= max_connections_ || registry_.shutting_down()) {
      Refuse(std::move(socket));
    } else {
      std::make_shared<HttpSession<Protocol>>(std::move(socket), services_, registry_)->Run();
    }
    DoAccept();
  }

  void Refuse(Socket socket) {
    if (services_.http_metrics != nullptr) {
      services_.http_metrics->CountReject(RejectReason::kTooManyConnections);
    }
    beast::error_code ec;
    socket.non_blocking(true, ec);
    socket.write_some(net::buffer(RefusalBytes()), ec);
    socket.shutdown(net::socket_base::shutdown_send, ec);
    socket.close(ec);
  }

  net::io_context& ioc_;
  Acceptor acceptor_;
  net::steady_timer retry_timer_;
  Services& services_;
  ConnectionRegistry& registry_;
  size_t max_connections_;
};

Result<tcp::endpoint> TcpEndpoint(const ListenAddress& listen) {
  if (listen.host == "localhost")
    return tcp::endpoint(net::ip::address_v4::loopback(), listen.port);
  beast::error_code ec;
  auto address = net::ip::make_address(listen.host, ec);
  if (ec) {
    return Status::InvalidArgument("listen: \"" + listen.host +
                                   "\" is not a numeric IP address (or localhost)");
  }
  return tcp::endpoint(address, listen.port);
}

}  // namespace

struct Server::Impl {
  // Destroyed last: sessions deregister from it when the io_context drops
  // their pending handlers.
  ConnectionRegistry registry;
  net::io_context ioc;
  std::shared_ptr<Listener<tcp>> tcp_listener;
  std::shared_ptr<Listener<local>> unix_listener;
  std::vector<std::thread> threads;
  std::string unix_path;
  uint16_t port = 0;
  bool accepting = true;
  bool stopped = false;

  explicit Impl(unsigned threads) : ioc(static_cast<int>(threads)) {}
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Services* services) {
  auto impl = std::make_unique<Impl>(options.io_threads);
  auto endpoint = TcpEndpoint(options.listen);
  if (!endpoint.ok()) return endpoint.status();
  impl->tcp_listener = std::make_shared<Listener<tcp>>(impl->ioc, *services, impl->registry,
                                                       options.max_connections);
  CUSTODY_RETURN_IF_ERROR(impl->tcp_listener->Bind(*endpoint, options.listen.ToString()));
  impl->port = impl->tcp_listener->local_endpoint().port();

  if (!options.unix_socket.empty()) {
    struct stat st;
    if (lstat(options.unix_socket.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return Status::FailedPrecondition("unix_socket " + options.unix_socket +
                                          " exists and is not a socket; remove it or pick "
                                          "another path");
      }
      ::unlink(options.unix_socket.c_str());  // stale socket of an earlier run
    }
    impl->unix_listener = std::make_shared<Listener<local>>(impl->ioc, *services, impl->registry,
                                                            options.max_connections);
    CUSTODY_RETURN_IF_ERROR(
        impl->unix_listener->Bind(local::endpoint(options.unix_socket), options.unix_socket));
    impl->unix_path = options.unix_socket;
    // bind() created the file under the process umask (0077 in the unit);
    // the mode, not the umask, decides who may connect.
    if (::chmod(options.unix_socket.c_str(), options.unix_socket_mode) != 0) {
      return Status::FromErrno(errno, "chmod unix_socket " + options.unix_socket);
    }
  }

  impl->tcp_listener->Run();
  if (impl->unix_listener) impl->unix_listener->Run();
  const unsigned n = std::max(1u, options.io_threads);
  for (unsigned i = 0; i < n; ++i) {
    impl->threads.emplace_back([ioc = &impl->ioc, i] {
      // Named for top -H, perf and gdb ("http-io-0", ...).
      pthread_setname_np(pthread_self(), ("http-io-" + std::to_string(i)).c_str());
      for (;;) {
        try {
          ioc->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http: I/O thread caught an exception: {}", e.what());
        }
      }
    });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }

size_t Server::connections() const { return impl_->registry.size(); }

void Server::StopAccepting() {
  if (!impl_->accepting) return;
  impl_->accepting = false;
  impl_->tcp_listener->Stop();
  if (impl_->unix_listener) impl_->unix_listener->Stop();
}

void Server::ShutdownSessions() { impl_->registry.ShutdownAll(); }

void Server::Stop(std::chrono::milliseconds grace) {
  if (impl_->stopped) return;
  impl_->stopped = true;
  StopAccepting();
  ShutdownSessions();
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (impl_->registry.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (impl_->registry.size() > 0) {
    spdlog::warn("http: closing {} connection(s) still open after the grace period",
                 impl_->registry.size());
  }
  impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  if (!impl_->unix_path.empty()) ::unlink(impl_->unix_path.c_str());
}

}  // namespace custody::daemon
