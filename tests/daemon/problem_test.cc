#include "daemon/server/problem.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace custody::daemon {
namespace {

namespace json = boost::json;

TEST(Problem, JsonHasEveryMember) {
  Problem p;
  p.status = http::status::bad_request;
  p.slug = "invalid-event";
  p.detail = "2 problems";
  p.errors = {{"/actor/country", "", "must be two letters"}, {"", "limit", "too big"}};
  json::value v = json::parse(ProblemJson(p));
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("type").as_string(), "urn:custody:problem:invalid-event");
  EXPECT_EQ(o.at("title").as_string(), "The events are not valid");
  EXPECT_EQ(o.at("status").as_int64(), 400);
  EXPECT_EQ(o.at("detail").as_string(), "2 problems");
  const json::array& errors = o.at("errors").as_array();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].at("pointer").as_string(), "/actor/country");
  EXPECT_EQ(errors[0].at("message").as_string(), "must be two letters");
  EXPECT_EQ(errors[1].at("parameter").as_string(), "limit");
}

TEST(Problem, TitleDefaultsToReasonPhraseAndErrorsToEmpty) {
  json::value v =
      json::parse(ProblemJson({http::status::not_found, "not-found", "", "no such", {}, 0}));
  EXPECT_EQ(v.at("title").as_string(), "Not Found");
  EXPECT_TRUE(v.at("errors").as_array().empty());
}

TEST(Problem, InvalidUtf8InDetailStillGivesValidJson) {
  Problem p;
  p.detail = std::string("bad \xff byte");
  json::value v = json::parse(ProblemJson(p));
  EXPECT_EQ(v.at("detail").as_string(), "bad ? byte");
}

TEST(Problem, ResponseHeaders) {
  Problem p;
  p.status = http::status::service_unavailable;
  p.slug = "queue-full";
  p.retry_after_seconds = 3;
  Response res = MakeProblemResponse(p);
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_EQ(res[http::field::content_type], "application/problem+json");
  EXPECT_EQ(res[http::field::retry_after], "3");
  EXPECT_EQ(res[http::field::cache_control], "no-store");
  EXPECT_EQ(res[http::field::content_length], std::to_string(res.body().size()));

  Response unauth = ProblemResponse(http::status::unauthorized, "unauthenticated", "no token");
  EXPECT_EQ(unauth[http::field::www_authenticate], "Bearer realm=\"custody\"");
}

TEST(Problem, ToHttpMapsEveryCode) {
  using schema::Status;
  EXPECT_EQ(ToHttp(Status::InvalidArgument("x")), http::status::bad_request);
  EXPECT_EQ(ToHttp(Status::Unauthenticated("x")), http::status::unauthorized);
  EXPECT_EQ(ToHttp(Status::PermissionDenied("x")), http::status::forbidden);
  EXPECT_EQ(ToHttp(Status::NotFound("x")), http::status::not_found);
  EXPECT_EQ(ToHttp(Status::AlreadyExists("x")), http::status::conflict);
  EXPECT_EQ(ToHttp(Status::ResourceExhausted("x")), http::status::payload_too_large);
  EXPECT_EQ(ToHttp(Status::Unavailable("x")), http::status::service_unavailable);
  EXPECT_EQ(ToHttp(Status::Corruption("x")), http::status::internal_server_error);
  EXPECT_EQ(ToHttp(Status::IOError("x")), http::status::internal_server_error);
  EXPECT_EQ(ToHttp(Status::Internal("x")), http::status::internal_server_error);
}

TEST(Problem, StatusResponseHidesInternalDetails) {
  Response res = StatusResponse(schema::Status::IOError("/var/lib/custody/ledger/data.mdb: EIO"));
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(res.body().find("data.mdb"), std::string::npos);
  Response bad = StatusResponse(schema::Status::InvalidArgument("limit too big"));
  EXPECT_NE(bad.body().find("limit too big"), std::string::npos);
}

}  // namespace
}  // namespace custody::daemon
