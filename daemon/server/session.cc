#include "daemon/server/session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>

#include "daemon/server/problem.h"

namespace custody::daemon {

// ---------------------------------------------------------------------------
// ConnectionRegistry

void ConnectionRegistry::Add(SessionBase* session, std::weak_ptr<SessionBase> weak) {
  bool shut;
  {
    std::lock_guard lock(mu_);
    sessions_.emplace(session, std::move(weak));
    shut = shutting_down_;
  }
  if (shut) session->Shutdown();
}

void ConnectionRegistry::Remove(SessionBase* session) {
  std::lock_guard lock(mu_);
  sessions_.erase(session);
}

size_t ConnectionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

bool ConnectionRegistry::shutting_down() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

void ConnectionRegistry::ShutdownAll() {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
    for (auto& [ptr, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Shutdown();
}

// ---------------------------------------------------------------------------
// HttpSession

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr auto kCloseDrainTime = std::chrono::seconds(2);

std::chrono::milliseconds Ms(uint32_t ms) { return std::chrono::milliseconds(ms); }

}  // namespace

template <class Protocol>
HttpSession<Protocol>::HttpSession(Socket&& socket, Services& services,
                                   ConnectionRegistry& registry)
    : stream_(std::move(socket)), services_(services), registry_(registry) {
  if (services_.http_metrics != nullptr) services_.http_metrics->connections()->Add(1);
}

template <class Protocol>
HttpSession<Protocol>::~HttpSession() {
  registry_.Remove(this);
  if (services_.http_metrics != nullptr) services_.http_metrics->connections()->Add(-1);
}

template <class Protocol>
void HttpSession<Protocol>::Run() {
  registry_.Add(this, this->weak_from_this());
  net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->DoRead(); });
}

template <class Protocol>
void HttpSession<Protocol>::Shutdown() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] {
    self->closing_ = true;
    if (self->streaming_) {
      if (self->timer_) self->timer_->cancel();
      beast::error_code ec;
      self->stream_.socket().close(ec);
    } else if (!self->busy_) {
      // Waiting for (or in the middle of reading) a request: stop now.
      self->stream_.cancel();
    }
    // busy_: the response in preparation is sent with Connection: close.
  });
}

template <class Protocol>
void HttpSession<Protocol>::DoRead() {
  if (closing_) return DoClose();
  if (buffer_.size() > 0) return ReadHeader();  // a pipelined request is already here
  stream_.expires_after(Ms(services_.http.idle_timeout_ms));
  stream_.async_read_some(
      buffer_.prepare(kReadChunk),
      beast::bind_front_handler(&HttpSession::OnIdleRead, this->shared_from_this()));
}

template <class Protocol>
void HttpSession<Protocol>::OnIdleRead(beast::error_code ec, std::size_t n) {
  if (ec) {
    // An idle keep-alive connection timing out or closing is normal.
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  buffer_.commit(n);
  ReadHeader();
}

template <class Protocol>
void HttpSession<Protocol>::ReadHeader() {
  parser_.emplace();
  parser_->header_limit(services_.http.header_limit);
  parser_->body_limit(services_.http.body_limit);
  stream_.expires_after(Ms(services_.http.header_timeout_ms));
  http::async_read_header(
      stream_, buffer_, *parser_,
      beast::bind_front_handler(&HttpSession::OnReadHeader, this->shared_from_this()));
}

template <class Protocol>
void HttpSession<Protocol>::OnReadHeader(beast::error_code ec, std::size_t) {
  if (ec) return OnReadError(ec);
  const auto& header = parser_->get();
  if (beast::iequals(header[http::field::expect], "100-continue") && !parser_->is_done()) {
    // curl and others wait (up to a second) for this before sending a body.
    auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    stream_.expires_after(Ms(services_.http.body_timeout_ms));
    http::async_write(stream_, *cont,
                      [self = this->shared_from_this(), cont](beast::error_code e, std::size_t n) {
                        self->OnContinueWritten(e, n);
                      });
    return;
  }
  ReadBody();
}

template <class Protocol>
void HttpSession<Protocol>::OnContinueWritten(beast::error_code ec, std::size_t) {
  if (ec) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  ReadBody();
}

template <class Protocol>
void HttpSession<Protocol>::ReadBody() {
  if (parser_->is_done()) return OnRead({}, 0);
  stream_.expires_after(Ms(services_.http.body_timeout_ms));
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::OnRead, this->shared_from_this()));
}

template <class Protocol>
void HttpSession<Protocol>::OnRead(beast::error_code ec, std::size_t) {
  if (ec) return OnReadError(ec);
  Dispatch(parser_->release());
}

template <class Protocol>
void HttpSession<Protocol>::OnReadError(beast::error_code ec) {
  HttpMetrics* metrics = services_.http_metrics;
  auto reject = [&](RejectReason reason) {
    if (metrics != nullptr) metrics->CountReject(reason);
  };
  auto route = [&] {
    return parser_ && parser_->is_header_done()
               ? ClassifyRoute(parser_->get().method(), parser_->get().target())
               : Route::kOther;
  };
  auto fail = [&](http::status status, std::string_view slug, std::string detail) {
    Response res = ProblemResponse(status, slug, std::move(detail));
    if (metrics != nullptr) metrics->CountRequest(route(), res.result_int());
    SendAndClose(std::move(res));
  };

  if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || closing_) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  if (ec == beast::error::timeout) {
    reject(RejectReason::kTimeout);
    // Nothing useful can be written to a peer that stopped mid-request; close.
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  if (ec == http::error::body_limit) {
    reject(RejectReason::kBodyTooLarge);
    return fail(http::status::payload_too_large, "body-too-large",
                "the request body exceeds the limit of " +
                    std::to_string(services_.http.body_limit) +
                    " bytes; send fewer events per request");
  }
  if (ec == http::error::header_limit) {
    reject(RejectReason::kHeaderTooLarge);
    return fail(
        http::status::request_header_fields_too_large, "header-too-large",
        "the request header exceeds " + std::to_string(services_.http.header_limit) + " bytes");
  }
  if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
    reject(RejectReason::kMalformedHttp);
    return fail(http::status::bad_request, "malformed-request",
                "malformed HTTP request: " + ec.message());
  }
  // Connection reset and the like: nobody to answer.
  spdlog::debug("http: read failed: {}", ec.message());
  beast::error_code ignored;
  stream_.socket().close(ignored);
}

template <class Protocol>
void HttpSession<Protocol>::Dispatch(Request&& req) {
  busy_ = true;
  request_version_ = req.version();
  request_keep_alive_ = req.keep_alive();
  auto self = this->shared_from_this();
  Completion done;
  done.respond = [self](Response res) {
    net::dispatch(self->stream_.get_executor(),
                  [self, res = std::move(res)]() mutable { self->Send(std::move(res)); });
  };
  done.dispatch = [self](std::function<void()> work) {
    net::post(self->stream_.get_executor(), std::move(work));
  };
  done.follow = [self](AlertFollow follow) {
    net::dispatch(self->stream_.get_executor(), [self, follow = std::move(follow)]() mutable {
      self->StartFollow(std::move(follow));
    });
  };
  Handle(std::move(req), services_, std::move(done));
}

template <class Protocol>
void HttpSession<Protocol>::Send(Response res) {
  const bool keep_alive = request_keep_alive_ && !closing_ && res.keep_alive();
  res.version(request_version_ == 10 ? 10 : 11);
  res.keep_alive(keep_alive);
  response_.emplace(std::move(res));
  stream_.expires_after(Ms(services_.http.body_timeout_ms));
  http::async_write(
      stream_, *response_,
      beast::bind_front_handler(&HttpSession::OnWrite, this->shared_from_this(), keep_alive));
}

template <class Protocol>
void HttpSession<Protocol>::OnWrite(bool keep_alive, beast::error_code ec, std::size_t) {
  busy_ = false;
  response_.reset();
  if (ec) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  if (!keep_alive || closing_) return DoClose();
  DoRead();
}

template <class Protocol>
void HttpSession<Protocol>::SendAndClose(Response res) {
  closing_ = true;
  busy_ = true;
  Send(std::move(res));
}

template <class Protocol>
void HttpSession<Protocol>::DoClose() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ec;
  stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
  if (ec) {
    stream_.socket().close(ec);
    return;
  }
  // Read (and discard) until the peer closes, briefly: closing with unread
  // input would reset the connection and could destroy the response we just
  // sent (a 413 while the client is still sending its body).
  buffer_.clear();
  stream_.expires_after(kCloseDrainTime);
  stream_.async_read_some(
      buffer_.prepare(kReadChunk),
      beast::bind_front_handler(&HttpSession::OnDrain, this->shared_from_this()));
}

template <class Protocol>
void HttpSession<Protocol>::OnDrain(beast::error_code ec, std::size_t) {
  if (ec) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  buffer_.clear();
  stream_.async_read_some(
      buffer_.prepare(kReadChunk),
      beast::bind_front_handler(&HttpSession::OnDrain, this->shared_from_this()));
}

// ---------------------------------------------------------------------------
// Server-Sent Events

template <class Protocol>
void HttpSession<Protocol>::StartFollow(AlertFollow follow) {
  if (closing_) {
    return Send(ProblemResponse(http::status::service_unavailable, "shutting-down",
                                "custodyd is shutting down"));
  }
  streaming_ = true;
  follow_ = std::move(follow);
  follow_->query.cursor.reset();
  follow_->query.limit = 1000;
  seen_size_ = 0;  // forces a first query
  timer_.emplace(stream_.get_executor());
  if (services_.http_metrics != nullptr) {
    services_.http_metrics->CountRequest(Route::kAlerts, 200);
  }
  // A close-delimited body: no Content-Length, no chunking, Connection: close.
  WriteStream(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/event-stream\r\n"
      "Cache-Control: no-store\r\n"
      "X-Accel-Buffering: no\r\n"
      "Connection: close\r\n"
      "\r\n"
      "retry: 1000\n\n");
}

template <class Protocol>
void HttpSession<Protocol>::SchedulePoll() {
  if (closing_) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  timer_->expires_after(services_.alert_poll_interval);
  timer_->async_wait([self = this->shared_from_this()](beast::error_code ec) {
    if (ec || self->closing_) {
      beast::error_code ignored;
      self->stream_.socket().close(ignored);
      return;
    }
    self->Poll();
  });
}

template <class Protocol>
void HttpSession<Protocol>::Poll() {
  std::string chunk;
  const uint64_t size = services_.ledger->size();
  if (size != seen_size_) {
    seen_size_ = size;
    AlertQuery q = follow_->query;
    q.from_seq = follow_->from_seq;
    std::vector<std::string> alerts;  // newest first across pages
    for (;;) {
      auto page = QueryAlerts(*services_.ledger, *services_.tables, q);
      if (!page.ok()) {
        spdlog::warn("alert stream: query failed: {}", page.status().ToString());
        seen_size_ = 0;  // retry next tick
        break;
      }
      for (auto& a : page->alerts) alerts.push_back(std::move(a));
      if (!page->next_cursor) break;
      q.cursor = std::move(page->next_cursor);
    }
    // Oldest first; the id goes on the last alert of each entry (router.h).
    std::vector<uint64_t> seqs;
    seqs.reserve(alerts.size());
    for (auto it = alerts.rbegin(); it != alerts.rend(); ++it) {
      uint64_t seq = follow_->from_seq;
      boost::system::error_code jec;
      boost::json::value v = boost::json::parse(*it, jec);
      if (!jec && v.is_object()) {
        if (const auto* s = v.as_object().if_contains("seq"); s && s->is_int64()) {
          seq = static_cast<uint64_t>(s->as_int64());
        }
      }
      seqs.push_back(seq);
    }
    size_t i = 0;
    for (auto it = alerts.rbegin(); it != alerts.rend(); ++it, ++i) {
      const bool last_of_entry = i + 1 == seqs.size() || seqs[i + 1] != seqs[i];
      if (last_of_entry) chunk += "id: " + std::to_string(seqs[i]) + "\n";
      chunk += "event: alert\ndata: ";
      chunk += *it;
      chunk += "\n\n";
      follow_->from_seq = std::max(follow_->from_seq, seqs[i] + 1);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  if (chunk.empty() && now - last_write_ >= services_.stream_heartbeat) {
    chunk = ": keep-alive\n\n";
  }
  if (chunk.empty()) return SchedulePoll();
  WriteStream(std::move(chunk));
}

template <class Protocol>
void HttpSession<Protocol>::WriteStream(std::string chunk) {
  stream_buffer_ = std::move(chunk);
  last_write_ = std::chrono::steady_clock::now();
  stream_.expires_after(Ms(services_.http.body_timeout_ms));
  net::async_write(
      stream_, net::buffer(stream_buffer_),
      beast::bind_front_handler(&HttpSession::OnStreamWrite, this->shared_from_this()));
}

template <class Protocol>
void HttpSession<Protocol>::OnStreamWrite(beast::error_code ec, std::size_t) {
  if (ec) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    return;
  }
  stream_.expires_never();
  SchedulePoll();
}

template class HttpSession<net::ip::tcp>;
template class HttpSession<net::local::stream_protocol>;

}  // namespace custody::daemon
