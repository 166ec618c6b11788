// What the HTTP benchmark programs (custody-loadgen, custody-alert-latency)
// share: starting a throw-away custodyd on loopback, stopping it with a
// report of its memory, and percentiles. Benchmark support only: failures
// print a message and exit(2).
#ifndef CUSTODY_TESTS_BENCH_SPAWN_CUSTODYD_H_
#define CUSTODY_TESTS_BENCH_SPAWN_CUSTODYD_H_

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace custody::bench {

// Lower-case hex SHA-256 (the form of a [[token]] sha256).
std::string Sha256Hex(const std::string& s);

struct SpawnedDaemon {
  pid_t pid = 0;
  uint16_t port = 0;
  std::string dir;  // temp dir holding the config and the data dir
};

// Starts `exe` (custodyd) on 127.0.0.1:0 with a fresh data dir under
// $TMPDIR/<name>-XXXXXX, origin "<name>.example/log", a producer token
// `token`, the policy file `policy` (may be empty) and `extra_toml`
// appended to the config (e.g. [[alert_sink]] tables); waits for its port.
SpawnedDaemon SpawnCustodyd(const std::string& exe, const std::string& name,
                            const std::string& token, const std::string& policy,
                            const std::string& extra_toml = "");

// Prints the daemon's VmHWM and VmRSS (and the size of its ledger file),
// stops it with SIGTERM, waits, and removes its temp dir.
void StopCustodyd(const SpawnedDaemon& d);

// The p-quantile (0..1) of `v` (reordered), 0 for an empty vector.
template <class T>
double Percentile(std::vector<T>& v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * v.size()));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

}  // namespace custody::bench

#endif  // CUSTODY_TESTS_BENCH_SPAWN_CUSTODYD_H_
