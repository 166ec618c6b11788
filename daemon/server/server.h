// Server: the listeners and I/O threads of custodyd's HTTP API.
//
// Start() binds the TCP listener (and the Unix socket, when configured) and
// runs `io_threads` threads over one io_context. Each accepted connection
// gets an HttpSession on its own strand; beyond `max_connections` open
// connections a new one is answered 503 (problem+json) and closed.
//
// Shutdown, in order (App does this): StopAccepting(); ShutdownSessions()
// (idle connections close, in-flight requests get their response with
// Connection: close); drain the ingest queue (so every accepted request is
// answered); Stop(grace) waits for the connections to finish, then stops the
// io_context and joins the threads.
//
// Thread safety: all methods from the owning thread; Services must outlive
// the Server.
#ifndef CUSTODY_DAEMON_SERVER_SERVER_H_
#define CUSTODY_DAEMON_SERVER_SERVER_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "daemon/config/config.h"
#include "daemon/server/services.h"

namespace custody::daemon {

struct ServerOptions {
  ListenAddress listen;
  std::string unix_socket;  // empty: none
  // Permission bits of the socket file (who may connect): producers in the
  // daemon's group, by default. Tokens are still required on it.
  uint32_t unix_socket_mode = 0660;
  unsigned io_threads = 2;
  size_t max_connections = 1024;
};

class Server {
 public:
  // IOError naming the address when a listener cannot be bound.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Services* services);
  ~Server();  // Stop(0) if not stopped
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound TCP port (the real one when the config said port 0).
  uint16_t port() const;
  size_t connections() const;

  void StopAccepting();
  void ShutdownSessions();
  // Waits up to `grace` for open connections to close, then stops the
  // threads. Idempotent.
  void Stop(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_SERVER_H_
