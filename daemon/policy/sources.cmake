# The boundary policy engine (namespace custody::daemon::policy), included by
# daemon/CMakeLists.txt. Paths are relative to daemon/. Needs
# tomlplusplus::tomlplusplus, Boost::json, custody::schema and libsodium
# (crypto_hash_sha256), all of which custody_daemon links.
set(CUSTODY_POLICY_SOURCES
  policy/severity.cc
  policy/policy.cc
  policy/policy_parser.cc
  policy/matcher.cc
  policy/window.cc
  policy/approvals.cc
  policy/engine.cc
  policy/sample.cc
)
