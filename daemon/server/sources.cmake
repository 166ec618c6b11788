# custodyd's HTTP server, configuration and lifecycle (included by
# daemon/CMakeLists.txt). Paths are relative to daemon/.
set(CUSTODY_SERVER_SOURCES
  config/config.cc
  server/auth.cc
  server/http_metrics.cc
  server/problem.cc
  server/router.cc
  server/events_handler.cc
  server/query_handlers.cc
  server/policy_handlers.cc
  server/session.cc
  server/server.cc
  server/no_policy_decider.cc
  server/app.cc
)
