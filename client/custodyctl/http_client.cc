#include "client/custodyctl/http_client.h"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <optional>

namespace custody::client {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr uint64_t kMaxBody = 4ull << 30;  // an export page is far below this

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string UrlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (IsUnreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (value.empty()) continue;
    out += out.empty() ? '?' : '&';
    out += name;
    out += '=';
    out += UrlEncode(value);
  }
  return out;
}

std::string ServerUrl::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + prefix;
}

Result<ServerUrl> ParseServerUrl(std::string_view text) {
  const std::string shown(text);
  if (text.starts_with("https://")) {
    return Status::InvalidArgument("server " + shown +
                                   ": https is not supported; custodyd serves plain HTTP on "
                                   "loopback (use an SSH tunnel to reach another host)");
  }
  if (!text.starts_with("http://")) {
    return Status::InvalidArgument("server " + shown +
                                   ": expected http://HOST:PORT, e.g. http://127.0.0.1:7411");
  }
  text.remove_prefix(7);
  const size_t slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : text.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("server " + shown + ": no query or fragment allowed");
  }
  ServerUrl url;
  url.prefix = std::string(path);
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("server " + shown + ": unterminated [IPv6] address");
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Status::InvalidArgument("server " + shown + ": expected :PORT after ]");
      }
      port_text = rest.substr(1);
      if (port_text.empty()) return Status::InvalidArgument("server " + shown + ": empty port");
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return Status::InvalidArgument("server " + shown + ": empty port");
    }
    if (url.host.find(':') != std::string::npos) {
      return Status::InvalidArgument("server " + shown +
                                     ": write IPv6 addresses in brackets, http://[::1]:7411");
    }
  }
  if (url.host.empty()) return Status::InvalidArgument("server " + shown + ": no host");
  if (url.host.find('@') != std::string::npos) {
    return Status::InvalidArgument("server " + shown +
                                   ": credentials in the URL are not supported; use --token");
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return Status::InvalidArgument("server " + shown + ": port must be 1..65535");
    }
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

struct HttpClient::Impl {
  ServerUrl server;
  std::string token;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  Status TransportError(const beast::error_code& ec, std::string_view during) const {
    std::string why = ec.message();
    if (ec == beast::error::timeout)
      why = "timed out after " + std::to_string(timeout.count()) + " ms";
    return Status::Unavailable("cannot " + std::string(during) + " " + server.ToString() + ": " +
                               why);
  }

  Status Connect() {
    Close();
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    auto endpoints = resolver.resolve(server.host, std::to_string(server.port), ec);
    if (ec) return TransportError(ec, "resolve");
    stream.emplace(ioc);
    stream->expires_after(timeout);
    stream->connect(endpoints, ec);
    if (ec) {
      stream.reset();
      return TransportError(ec, "connect to");
    }
    stream->socket().set_option(tcp::no_delay(true), ec);
    return Status::Ok();
  }

  void Close() {
    if (stream) {
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
    }
    stream.reset();
    buffer.clear();
  }

  http::request<http::string_body> MakeRequest(http::verb verb, std::string_view target,
                                               const HeaderList& headers) const {
    http::request<http::string_body> req{verb, server.prefix + std::string(target), 11};
    req.set(http::field::host, server.host);
    req.set(http::field::user_agent, "custodyctl");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.keep_alive(true);
    return req;
  }

  static HttpResponse FromBeast(http::response<http::string_body>&& res) {
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.retry_after = std::string(res[http::field::retry_after]);
    out.body = std::move(res.body());
    return out;
  }

  Result<HttpResponse> Exchange(http::request<http::string_body>& req) {
    req.prepare_payload();
    beast::error_code ec;
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = stream.has_value();
      if (!reused) CUSTODY_RETURN_IF_ERROR(Connect());
      stream->expires_after(timeout);
      http::write(*stream, req, ec);
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      if (!ec) http::read(*stream, buffer, parser, ec);
      if (!ec) {
        auto res = parser.release();
        if (!res.keep_alive()) Close();
        return FromBeast(std::move(res));
      }
      Close();
      // A kept-alive connection the server closed in the meantime fails
      // before any byte of a response; retrying once on a new one is safe.
      const bool stale = ec == http::error::end_of_stream || ec == net::error::connection_reset ||
                         ec == net::error::broken_pipe || ec == net::error::eof;
      if (!reused || !stale) break;
    }
    return TransportError(ec, "talk to");
  }
};

HttpClient::HttpClient(ServerUrl server, std::string token, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->server = std::move(server);
  impl_->token = std::move(token);
  impl_->timeout = timeout;
}
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() {
  if (impl_) impl_->Close();
}

const ServerUrl& HttpClient::server() const { return impl_->server; }

Result<HttpResponse> HttpClient::Get(std::string_view target, const HeaderList& headers) {
  auto req = impl_->MakeRequest(http::verb::get, target, headers);
  return impl_->Exchange(req);
}

Result<HttpResponse> HttpClient::Post(std::string_view target, std::string_view body,
                                      std::string_view content_type, const HeaderList& headers) {
  auto req = impl_->MakeRequest(http::verb::post, target, headers);
  req.set(http::field::content_type, content_type);
  req.body() = std::string(body);
  return impl_->Exchange(req);
}

Result<HttpResponse> HttpClient::GetStream(std::string_view target, const HeaderList& headers,
                                           std::chrono::milliseconds idle_timeout,
                                           const std::function<bool(std::string_view)>& on_data) {
  Impl& im = *impl_;
  auto req = im.MakeRequest(http::verb::get, target, headers);
  req.keep_alive(false);
  req.prepare_payload();
  CUSTODY_RETURN_IF_ERROR(im.Connect());
  beast::error_code ec;
  im.stream->expires_after(im.timeout);
  http::write(*im.stream, req, ec);
  if (ec) {
    im.Close();
    return im.TransportError(ec, "talk to");
  }
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // a stream has no end
  http::read_header(*im.stream, im.buffer, parser, ec);
  if (ec) {
    im.Close();
    return im.TransportError(ec, "talk to");
  }
  HttpResponse out;
  out.status = static_cast<int>(parser.get().result_int());
  out.content_type = std::string(parser.get()[http::field::content_type]);
  out.retry_after = std::string(parser.get()[http::field::retry_after]);
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    im.stream->expires_after(out.status == 200 ? idle_timeout : im.timeout);
    http::read_some(*im.stream, im.buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    const size_t n = sizeof chunk - parser.get().body().size;
    if (n > 0) {
      std::string_view piece(chunk, n);
      if (out.status != 200) {
        if (out.body.size() < (1u << 20)) out.body.append(piece);
      } else if (!on_data(piece)) {
        break;
      }
    }
    if (ec == http::error::end_of_stream || ec == net::error::eof) break;
    if (ec) {
      im.Close();
      return im.TransportError(ec, "read the stream from");
    }
  }
  im.Close();
  return out;
}

}  // namespace custody::client
