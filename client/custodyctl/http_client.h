// HttpClient: custodyctl's only door to the network. A synchronous HTTP/1.1
// client over TCP for "http://host:port" servers (custodyd listens on
// loopback; there is no TLS). Boost.Beast is confined to http_client.cc so
// that no other translation unit pays for compiling it.
//
// One kept-alive connection, reopened once when the server has closed it
// between requests (never resending a request the server may have seen).
// Every request carries "Authorization: Bearer <token>" when a token is set;
// custodyd ignores it on public endpoints.
//
// Errors: transport failures (refused, reset, timed out, name not resolved)
// are Unavailable naming the server. An HTTP error status is NOT an error
// here: callers get the response and decide (api.h turns problem+json
// answers into Statuses).
//
// Thread safety: none; one client per thread.
#ifndef CUSTODY_CLIENT_CUSTODYCTL_HTTP_CLIENT_H_
#define CUSTODY_CLIENT_CUSTODYCTL_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "custody/schema/result.h"

namespace custody::client {

using schema::Result;
using schema::Status;

// A parsed server address: "http://HOST[:PORT][/PREFIX]". HOST is a name, an
// IPv4 address or a bracketed IPv6 address; PORT defaults to 80; PREFIX (no
// trailing '/') is prepended to every request path.
struct ServerUrl {
  std::string host;  // without brackets
  uint16_t port = 80;
  std::string prefix;

  // "http://127.0.0.1:7411" (brackets around IPv6, the prefix appended).
  std::string ToString() const;
};

// InvalidArgument naming what is wrong ("https is not supported", ...).
Result<ServerUrl> ParseServerUrl(std::string_view text);

struct HttpResponse {
  int status = 0;
  std::string content_type;  // the Content-Type header, verbatim
  std::string retry_after;   // the Retry-After header, if any
  std::string body;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  // `timeout` bounds connecting and each whole request/response exchange
  // (streams: each read).
  HttpClient(ServerUrl server, std::string token,
             std::chrono::milliseconds timeout = std::chrono::seconds(60));
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();

  const ServerUrl& server() const;

  // `target` is the path and query ("/v1/log?x=1"), without the prefix.
  Result<HttpResponse> Get(std::string_view target, const HeaderList& headers = {});
  Result<HttpResponse> Post(std::string_view target, std::string_view body,
                            std::string_view content_type, const HeaderList& headers = {});

  // A GET whose body is read incrementally (Server-Sent Events): when the
  // status is 200, `on_data` receives the body in pieces as they arrive
  // until it returns false or the server ends the body, and the returned
  // response has an empty body. Any other status: the whole body is read
  // and returned, `on_data` is not called. `idle_timeout` bounds the wait
  // for each piece (the server sends keep-alive comments). The connection
  // is closed afterwards.
  Result<HttpResponse> GetStream(std::string_view target, const HeaderList& headers,
                                 std::chrono::milliseconds idle_timeout,
                                 const std::function<bool(std::string_view)>& on_data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// RFC 3986 percent-encoding of a query value (unreserved characters stay).
std::string UrlEncode(std::string_view value);

// Builds "?a=1&b=x%20y" from the non-empty pairs ("" if none).
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace custody::client

#endif  // CUSTODY_CLIENT_CUSTODYCTL_HTTP_CLIENT_H_
