// The Beast message types the router and sessions exchange. Included only by
// the server's own translation units: Beast is heavy, so no header that the
// rest of the daemon includes pulls it in.
#ifndef CUSTODY_DAEMON_SERVER_HTTP_H_
#define CUSTODY_DAEMON_SERVER_HTTP_H_

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace custody::daemon {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

}  // namespace custody::daemon

#endif  // CUSTODY_DAEMON_SERVER_HTTP_H_
