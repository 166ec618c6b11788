// custody-loadgen: drives custodyd over loopback and prints events/s and ack
// latency percentiles. Every acknowledged event is durable (custodyd answers
// only after fsync), so these are durable-ingest figures.
//
//   custody-loadgen --spawn build/release/daemon/custodyd [--seconds 10]
//   custody-loadgen --server 127.0.0.1:7411 --token TOKEN [--mode single|batch|both]
//
// Modes:
//   single  N keep-alive connections (default 32), each POSTs one event and
//           waits for its receipt, in a loop;
//   batch   M connections (default 2), each POSTs application/x-ndjson bodies
//           of B events (default 1000);
//   healthz N connections GET /healthz in a loop: the HTTP transport's
//           ceiling on this machine (no body, no ledger), to compare with single.
// With --spawn the program creates a temporary data dir and config, starts
// custodyd on 127.0.0.1:0, runs the loads, and stops it with SIGTERM.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "spawn_custodyd.h"

namespace {

using custody::bench::Percentile;
using custody::bench::SpawnCustodyd;
using custody::bench::SpawnedDaemon;
using custody::bench::StopCustodyd;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string token;
  std::string mode = "both";
  int seconds = 10;
  int connections = 32;
  int batch_connections = 2;
  int batch_size = 1000;
  int threads = 1;
  std::string spawn;
  std::string policy;
  int io_threads = 0;  // custodyd's http.io_threads with --spawn; 0 = its default
};

std::string Event(const std::string& id, uint64_t n) {
  // ~450 bytes: a realistic access event with two categories and a subject id.
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:00:00Z","activity":"read",)"
         R"("actor":{"type":"service","id":"crm-sync-)" +
         std::to_string(n % 50) +
         R"(","country":"US"},"target":{"system":"us-crm","type":"database","id":"users",)"
         R"("country":"US"},"data":{"categories":["contact.email","identity.name"],)"
         R"("record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1},"ids":["user:)" +
         std::to_string(n % 100000) +
         R"("]},"origin":{"system":"us-crm","country":"US"},"context":{"purpose":"support"}})";
}

// Latency samples (microseconds) and counters from one connection.
struct Stats {
  std::vector<uint32_t> latency_us;
  uint64_t events = 0;
  uint64_t requests = 0;
  uint64_t errors = 0;
  uint64_t rejected_503 = 0;
};

enum class Load { kSingle, kBatch, kHealthz };

const char* LoadName(Load load) {
  switch (load) {
    case Load::kSingle: return "single";
    case Load::kBatch: return "batch";
    case Load::kHealthz: return "healthz";
  }
  return "?";
}

// The request one connection sends next; `counter` numbers its events.
http::request<http::string_body> NextRequest(const Options& o, int conn, Load load,
                                             const std::string& run_id, uint64_t* counter) {
  if (load == Load::kHealthz) {
    http::request<http::string_body> req{http::verb::get, "/healthz", 11};
    req.set(http::field::host, o.host);
    return req;
  }
  const bool batch = load == Load::kBatch;
  http::request<http::string_body> req{http::verb::post, "/v1/events", 11};
  req.set(http::field::host, o.host);
  req.set(http::field::authorization, "Bearer " + o.token);
  const int per_request = batch ? o.batch_size : 1;
  std::string body;
  body.reserve(per_request * 470);
  for (int i = 0; i < per_request; ++i, ++*counter) {
    body += Event(run_id + "-" + std::to_string(conn) + "-" + std::to_string(*counter),
                  *counter * 131 + conn);
    if (batch) body += '\n';
  }
  req.set(http::field::content_type, batch ? "application/x-ndjson" : "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

asio::awaitable<void> RunConnection(const Options& o, int conn, Load load,
                                    SteadyClock::time_point deadline, std::string run_id,
                                    Stats* stats) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  co_await stream.async_connect(tcp::endpoint(asio::ip::make_address(o.host), o.port),
                                asio::use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  uint64_t counter = 0;
  const int per_request = load == Load::kBatch ? o.batch_size : 1;
  while (SteadyClock::now() < deadline) {
    auto req = NextRequest(o, conn, load, run_id, &counter);
    const auto start = SteadyClock::now();
    co_await http::async_write(stream, req, asio::use_awaitable);
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - start).count();
    ++stats->requests;
    if (res.result() == http::status::ok) {
      stats->events += per_request;
      stats->latency_us.push_back(static_cast<uint32_t>(us));
    } else if (res.result() == http::status::service_unavailable) {
      ++stats->rejected_503;
    } else {
      if (stats->errors++ == 0) {
        std::fprintf(stderr, "loadgen: HTTP %d: %.300s\n", res.result_int(), res.body().c_str());
      }
    }
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

void RunLoad(const Options& o, Load load) {
  const bool batch = load == Load::kBatch;
  const int conns = batch ? o.batch_connections : o.connections;
  asio::io_context io(o.threads);
  std::vector<Stats> stats(conns);
  const std::string run_id =
      std::string(LoadName(load)) +
      std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  const auto start = SteadyClock::now();
  const auto deadline = start + std::chrono::seconds(o.seconds);
  for (int c = 0; c < conns; ++c) {
    asio::co_spawn(io, RunConnection(o, c, load, deadline, run_id, &stats[c]),
                   [](std::exception_ptr e) {
                     if (e) {
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         std::fprintf(stderr, "loadgen: connection failed: %s\n", ex.what());
                       }
                     }
                   });
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < o.threads; ++t) pool.emplace_back([&] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
  Stats total;
  for (auto& s : stats) {
    total.events += s.events;
    total.requests += s.requests;
    total.errors += s.errors;
    total.rejected_503 += s.rejected_503;
    total.latency_us.insert(total.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
  }
  std::printf(
      "%-7s conns=%-3d events/request=%-5d %9.0f events/s  %8.0f requests/s  "
      "ack latency p50=%.2f ms p99=%.2f ms p999=%.2f ms  (%llu events, %llu errors, %llu x 503)\n",
      LoadName(load), conns, batch ? o.batch_size : 1, total.events / secs,
      total.requests / secs, Percentile(total.latency_us, 0.50) / 1000,
      Percentile(total.latency_us, 0.99) / 1000, Percentile(total.latency_us, 0.999) / 1000,
      static_cast<unsigned long long>(total.events), static_cast<unsigned long long>(total.errors),
      static_cast<unsigned long long>(total.rejected_503));
  std::fflush(stdout);
}

void Usage() {
  std::fprintf(stderr,
               "usage: custody-loadgen (--spawn CUSTODYD | --server HOST:PORT --token TOKEN)\n"
               "         [--mode single|batch|both|healthz] [--seconds N] [--connections N]\n"
               "         [--batch-connections N] [--batch-size N] [--threads N] [--policy FILE]\n"
               "         [--io-threads N (with --spawn: custodyd's http.io_threads)]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage();
      return argv[++i];
    };
    if (a == "--server") {
      const std::string s = next();
      const size_t colon = s.rfind(':');
      if (colon == std::string::npos) Usage();
      o.host = s.substr(0, colon);
      o.port = static_cast<uint16_t>(std::stoi(s.substr(colon + 1)));
    } else if (a == "--token") {
      o.token = next();
    } else if (a == "--mode") {
      o.mode = next();
    } else if (a == "--seconds") {
      o.seconds = std::stoi(next());
    } else if (a == "--connections") {
      o.connections = std::stoi(next());
    } else if (a == "--batch-connections") {
      o.batch_connections = std::stoi(next());
    } else if (a == "--batch-size") {
      o.batch_size = std::stoi(next());
    } else if (a == "--threads") {
      o.threads = std::stoi(next());
    } else if (a == "--io-threads") {
      o.io_threads = std::stoi(next());
    } else if (a == "--spawn") {
      o.spawn = next();
    } else if (a == "--policy") {
      o.policy = std::filesystem::absolute(next()).string();
    } else {
      Usage();
    }
  }
  std::optional<SpawnedDaemon> child;
  if (!o.spawn.empty()) {
    o.token = "loadgen-producer-token";
    const std::string extra =
        o.io_threads > 0 ? "[http]\nio_threads = " + std::to_string(o.io_threads) + "\n" : "";
    child = SpawnCustodyd(o.spawn, "custody-loadgen", o.token, o.policy, extra);
    o.port = child->port;
  }
  if (o.port == 0 || o.token.empty()) Usage();
  std::printf("custody-loadgen: %s:%u, %d s per mode%s\n", o.host.c_str(), o.port, o.seconds,
              o.policy.empty() ? "" : (", policy " + o.policy).c_str());
  if (o.mode == "single" || o.mode == "both") RunLoad(o, Load::kSingle);
  if (o.mode == "batch" || o.mode == "both") RunLoad(o, Load::kBatch);
  if (o.mode == "healthz") RunLoad(o, Load::kHealthz);
  if (child) StopCustodyd(*child);  // reports the daemon's memory first
  return 0;
}
