// HttpSession: one per accepted connection (Beast's advanced-server shape).
// Private to daemon/server; server.cc creates sessions, nothing else does.
//
// Lifetime: every pending operation's handler holds shared_from_this(), so
// a session lives exactly as long as something may still call it back; the
// last handler's return destroys it and closes the socket.
//
// Concurrency: all of a session's handlers run on its strand (the socket's
// executor). Completions from other threads (the ingest appender) are posted
// to that strand.
//
// Flow control: one request at a time. After a request is read, the session
// reads nothing more until its response is written, so a pipelining client
// is served in order and a slow one cannot queue unbounded responses.
//
// Timeouts (HttpConfig): idle_timeout between requests, header_timeout from
// a request's first byte to its last header, body_timeout for the body and
// for writing the response. Limits: header_limit (431), body_limit (413).
#ifndef CUSTODY_DAEMON_SERVER_SESSION_H_
#define CUSTODY_DAEMON_SERVER_SESSION_H_

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "daemon/server/http.h"
#include "daemon/server/router.h"
#include "daemon/server/services.h"

namespace custody::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;

// What the server needs from a session to shut it down.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Finish and close: an idle connection closes now; one waiting for its
  // response closes after writing it (Connection: close); a stream ends.
  // Callable from any thread.
  virtual void Shutdown() = 0;
};

// The open connections, for the connection cap and for shutdown. Outlives
// every session (the server destroys it after its io_context).
class ConnectionRegistry {
 public:
  void Add(SessionBase* session, std::weak_ptr<SessionBase> weak);
  void Remove(SessionBase* session);
  size_t size() const;
  // Calls Shutdown() on every live session; sessions added later are shut
  // down on Add.
  void ShutdownAll();
  bool shutting_down() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;
  bool shutting_down_ = false;
};

template <class Protocol>
class HttpSession : public SessionBase, public std::enable_shared_from_this<HttpSession<Protocol>> {
 public:
  using Stream = beast::basic_stream<Protocol>;
  using Socket = typename Stream::socket_type;

  HttpSession(Socket&& socket, Services& services, ConnectionRegistry& registry);
  ~HttpSession() override;

  void Run();
  void Shutdown() override;

 private:
  void DoRead();  // waits (idle_timeout) for the next request's first bytes
  void OnIdleRead(beast::error_code ec, std::size_t n);
  void ReadHeader();
  void OnReadHeader(beast::error_code ec, std::size_t n);
  void OnContinueWritten(beast::error_code ec, std::size_t n);
  void ReadBody();
  void OnRead(beast::error_code ec, std::size_t n);
  // Handles a read error: closes quietly or answers 400/408/413/431 and closes.
  void OnReadError(beast::error_code ec);
  void Dispatch(Request&& req);

  void Send(Response res);  // the one outstanding response
  void OnWrite(bool keep_alive, beast::error_code ec, std::size_t n);
  void SendAndClose(Response res);
  void DoClose();  // half-close, drain briefly so the client sees our last response
  void OnDrain(beast::error_code ec, std::size_t n);

  // GET /v1/alerts?follow=1: Server-Sent Events.
  void StartFollow(AlertFollow follow);
  void SchedulePoll();
  void Poll();
  void WriteStream(std::string chunk);
  void OnStreamWrite(beast::error_code ec, std::size_t n);

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Response> response_;
  Services& services_;
  ConnectionRegistry& registry_;

  bool busy_ = false;     // a request is being handled; its response not yet written
  bool closing_ = false;  // close after the current response
  bool closed_ = false;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = true;

  // Follow stream state.
  bool streaming_ = false;
  std::optional<AlertFollow> follow_;
  std::optional<net::steady_timer> timer_;
  std::string stream_buffer_;
  uint64_t seen_size_ = 0;  // ledger size at the last poll
  std::chrono::steady_clock::time_point last_write_{};
};

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_SESSION_H_
