// The webhook sink: HTTP/1.1 POST of the alert JSON, with an
// Idempotency-Key header, over a fresh connection per delivery, with one
// deadline for connect + write + read.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "daemon/alerts/alerts.h"

namespace custody::daemon::alerts {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

class WebhookSink final : public Sink {
 public:
  explicit WebhookSink(const SinkConfig& config) : config_(config) {
    auto url = boost::urls::parse_uri(config.url);
    if (url) {
      host_ = std::string(url->host());
      port_ = url->has_port() ? std::string(url->port()) : "80";
      target_ = std::string(url->encoded_path());
      if (target_.empty()) target_ = "/";
      if (url->has_query()) target_ += "?" + std::string(url->encoded_query());
    }
  }

  Status Deliver(const std::string& alert_json, const std::string& idempotency_key) override {
    if (host_.empty()) return Status::InvalidArgument("bad webhook url " + config_.url);
    // Beast's tcp_stream deadlines apply to asynchronous operations only, so
    // the exchange runs asynchronously on a private io_context.
    asio::io_context io;
    beast::tcp_stream stream(io);
    asio::ip::tcp::resolver resolver(io);
    http::request<http::string_body> req{http::verb::post, target_, 11};
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    req.set("Idempotency-Key", idempotency_key);
    req.body() = alert_json;
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    beast::error_code result;
    std::string stage = "resolve";
    stream.expires_after(std::chrono::milliseconds(config_.timeout_ms));
    resolver.async_resolve(host_, port_, [&](beast::error_code ec, auto endpoints) {
      if (ec) return void(result = ec);
      stage = "connect";
      stream.async_connect(endpoints, [&](beast::error_code ec, auto) {
        if (ec) return void(result = ec);
        stage = "send";
        http::async_write(stream, req, [&](beast::error_code ec, size_t) {
          if (ec) return void(result = ec);
          stage = "response";
          http::async_read(stream, buffer, res, [&](beast::error_code ec, size_t) { result = ec; });
        });
      });
    });
    io.run();
    if (result) {
      return Status::Unavailable(stage + " " + config_.url + ": " + result.message());
    }
    beast::error_code ignored;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    if (res.result_int() < 200 || res.result_int() >= 300) {
      return Status::Unavailable(config_.url + " answered HTTP " + std::to_string(res.result_int()));
    }
    return Status::Ok();
  }

 private:
  SinkConfig config_;
  std::string host_, port_, target_;
};

}  // namespace

std::unique_ptr<Sink> MakeWebhookSink(const SinkConfig& config) {
  return std::make_unique<WebhookSink>(config);
}

}  // namespace custody::daemon::alerts
