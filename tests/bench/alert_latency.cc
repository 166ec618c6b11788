// custody-alert-latency: how long from an event's durable receipt to its
// boundary alert reaching a webhook, under a paced ingest load.
//
//   custody-alert-latency --spawn build/release/daemon/custodyd
//       --policy docs/examples/boundaries.toml [--rate 5000] [--seconds 10]
//       [--alert-fraction 0.01] [--connections 16] [--batch 10]
//
// The program runs a webhook receiver on 127.0.0.1 (a Beast server that
// answers 200 at once), spawns custodyd on a temporary data dir with that
// receiver as its [[alert_sink]], and sends `rate` events/s, paced: each of
// `connections` keep-alive connections POSTs NDJSON bodies of `batch` events
// on a fixed schedule (a request that is late goes at once). A fraction of
// the events -- a government id shared into a US chat channel -- raise
// exactly one alert, gov-id-in-chat; the others (US staff reading US
// contact data) raise none but are evaluated against every rule.
//
// For every alerting event it records the moment its ingest response
// arrived (the receipt: the event is durable and signed) and the moment the
// webhook received the alert, and prints percentiles of the difference. A
// negative difference means the webhook got the alert before the client
// had read its receipt (both follow the same commit). It also prints the
// ingest throughput achieved and the receipt latency, so one run with and
// one without --policy compare the policy's cost at the same load (without
// a policy there are no alerts). Figures only; no assertions.
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
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
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
  std::string spawn;
  std::string policy;
  double rate = 5000;
  int seconds = 10;
  double alert_fraction = 0.01;
  int connections = 16;
  int batch = 10;
  int drain_seconds = 10;
};

// ~450 bytes, no alert under the example policy (US staff, US system, US subject).
std::string QuietEvent(const std::string& id, uint64_t n) {
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

// Exactly one alert under the example policy: gov-id-in-chat (all US, so
// no residency rule fires).
std::string AlertEvent(const std::string& id, uint64_t n) {
  return R"({"event_id":")" + id +
         R"(","time":"2026-05-04T09:05:00Z","activity":"post",)"
         R"("actor":{"type":"human","id":"emp-us-)" +
         std::to_string(n % 50) +
         R"(","country":"US"},"target":{"system":"lark","type":"chat_channel","id":"us-support",)"
         R"("country":"US","audience_size":12},"data":{"categories":["gov_id.passport"],)"
         R"("record_count":1},"subjects":{"count":1,"jurisdictions":{"US":1},"ids":["user:)" +
         std::to_string(n % 100000) + R"("]}})";
}

// event_id -> time, first sighting wins.
class Times {
 public:
  void Put(const std::string& id, SteadyClock::time_point t) {
    std::lock_guard lock(mu_);
    map_.emplace(id, t);
  }
  std::unordered_map<std::string, SteadyClock::time_point> Snapshot() const {
    std::lock_guard lock(mu_);
    return map_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, SteadyClock::time_point> map_;
};

std::string EventIdOf(const std::string& alert_json) {
  const std::string key = "\"event_id\":\"";
  const size_t at = alert_json.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return alert_json.substr(start, alert_json.find('"', start) - start);
}

// --- the webhook receiver ----------------------------------------------------

asio::awaitable<void> ServeHook(tcp::socket socket, Times* received, std::atomic<uint64_t>* posts) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  try {
    for (;;) {
      http::request<http::string_body> req;
      co_await http::async_read(stream, buffer, req, asio::use_awaitable);
      const auto now = SteadyClock::now();
      posts->fetch_add(1, std::memory_order_relaxed);
      received->Put(EventIdOf(req.body()), now);
      http::response<http::empty_body> res{http::status::ok, 11};
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      co_await http::async_write(stream, res, asio::use_awaitable);
      if (!req.keep_alive()) break;
    }
  } catch (const std::exception&) {
    // The sink closes its connection after each delivery.
  }
}

asio::awaitable<void> AcceptHooks(tcp::acceptor* acceptor, Times* received,
                                  std::atomic<uint64_t>* posts) {
  for (;;) {
    tcp::socket s = co_await acceptor->async_accept(asio::use_awaitable);
    s.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor->get_executor(), ServeHook(std::move(s), received, posts),
                   asio::detached);
  }
}

// --- the load ------------------------------------------------------------------

struct ConnStats {
  std::vector<uint32_t> ack_us;  // per request, send to receipt
  uint64_t events = 0;
  uint64_t errors = 0;
  uint64_t late = 0;  // requests sent after their scheduled time
  double max_lag_ms = 0;
};

asio::awaitable<void> RunConnection(const Options& o, uint16_t port, const std::string& token,
                                    int conn, SteadyClock::time_point start,
                                    SteadyClock::time_point deadline, Times* acked,
                                    ConnStats* stats) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port),
                                asio::use_awaitable);
  stream.socket().set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  asio::steady_timer timer(executor);
  const double request_interval_s = o.batch / o.rate;  // across all connections
  const uint64_t alert_period =
      o.alert_fraction > 0 ? std::max<uint64_t>(1, static_cast<uint64_t>(1 / o.alert_fraction)) : 0;
  std::vector<std::string> alert_ids;
  for (uint64_t j = 0;; ++j) {
    const uint64_t slot = j * o.connections + conn;  // global request number
    const auto due = start + std::chrono::duration_cast<SteadyClock::duration>(
                                 std::chrono::duration<double>(slot * request_interval_s));
    if (due >= deadline) break;
    const auto now = SteadyClock::now();
    if (due > now) {
      timer.expires_at(due);
      co_await timer.async_wait(asio::use_awaitable);
    } else {
      const double lag = std::chrono::duration<double, std::milli>(now - due).count();
      if (lag > 1) ++stats->late;
      stats->max_lag_ms = std::max(stats->max_lag_ms, lag);
    }
    std::string body;
    body.reserve(o.batch * 470);
    alert_ids.clear();
    for (int i = 0; i < o.batch; ++i) {
      const uint64_t n = slot * o.batch + i;  // global event number
      const std::string id = "al-" + std::to_string(n);
      if (alert_period != 0 && n % alert_period == alert_period / 2) {
        body += AlertEvent(id, n);
        alert_ids.push_back(id);
      } else {
        body += QuietEvent(id, n);
      }
      body += '\n';
    }
    http::request<http::string_body> req{http::verb::post, "/v1/events", 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + token);
    req.set(http::field::content_type, "application/x-ndjson");
    req.body() = std::move(body);
    req.prepare_payload();
    const auto sent = SteadyClock::now();
    co_await http::async_write(stream, req, asio::use_awaitable);
    http::response<http::string_body> res;
    co_await http::async_read(stream, buffer, res, asio::use_awaitable);
    const auto got = SteadyClock::now();
    if (res.result() != http::status::ok) {
      if (stats->errors++ == 0) {
        std::fprintf(stderr, "alert-latency: HTTP %d: %.300s\n", res.result_int(),
                     res.body().c_str());
      }
      continue;
    }
    stats->events += o.batch;
    stats->ack_us.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(got - sent).count()));
    for (const auto& id : alert_ids) acked->Put(id, got);
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
}

[[noreturn]] void Usage() {
  std::fprintf(
      stderr,
      "usage: custody-alert-latency --spawn CUSTODYD [--policy FILE] [--rate EVENTS_PER_S]\n"
      "         [--seconds N] [--alert-fraction F] [--connections N] [--batch N]\n"
      "         [--drain-seconds N]\n");
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
    if (a == "--spawn") {
      o.spawn = next();
    } else if (a == "--policy") {
      o.policy = std::filesystem::absolute(next()).string();
    } else if (a == "--rate") {
      o.rate = std::stod(next());
    } else if (a == "--seconds") {
      o.seconds = std::stoi(next());
    } else if (a == "--alert-fraction") {
      o.alert_fraction = std::stod(next());
    } else if (a == "--connections") {
      o.connections = std::stoi(next());
    } else if (a == "--batch") {
      o.batch = std::stoi(next());
    } else if (a == "--drain-seconds") {
      o.drain_seconds = std::stoi(next());
    } else {
      Usage();
    }
  }
  if (o.spawn.empty() || o.rate <= 0 || o.batch < 1 || o.connections < 1) Usage();

  // The receiver runs on its own thread so that it never waits for the load.
  Times received;
  std::atomic<uint64_t> posts{0};
  asio::io_context hook_io(1);
  tcp::acceptor acceptor(hook_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t hook_port = acceptor.local_endpoint().port();
  asio::co_spawn(hook_io, AcceptHooks(&acceptor, &received, &posts), asio::detached);
  std::thread hook_thread([&] { hook_io.run(); });

  const std::string token = "alert-latency-producer-token";
  const SpawnedDaemon child = SpawnCustodyd(
      o.spawn, "custody-alert-latency", token, o.policy,
      "[[alert_sink]]\nname = \"bench-hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:" +
          std::to_string(hook_port) +
          "/alerts\"\ntimeout_ms = 2000\ninitial_backoff_ms = 10\nmax_backoff_ms = 1000\n");
  const uint16_t port = child.port;
  std::printf(
      "custody-alert-latency: %.0f events/s paced for %d s, %d connections x %d events/request, "
      "alert fraction %.4f, %s\n",
      o.rate, o.seconds, o.connections, o.batch, o.alert_fraction,
      o.policy.empty() ? "no policy" : ("policy " + o.policy).c_str());

  Times acked;
  std::vector<ConnStats> stats(o.connections);
  {
    asio::io_context io(1);
    const auto start = SteadyClock::now() + std::chrono::milliseconds(100);
    const auto deadline = start + std::chrono::seconds(o.seconds);
    for (int c = 0; c < o.connections; ++c) {
      asio::co_spawn(io, RunConnection(o, port, token, c, start, deadline, &acked, &stats[c]),
                     [](std::exception_ptr e) {
                       if (!e) return;
                       try {
                         std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                         std::fprintf(stderr, "alert-latency: connection failed: %s\n", ex.what());
                       }
                     });
    }
    io.run();
    const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
    ConnStats total;
    for (auto& s : stats) {
      total.events += s.events;
      total.errors += s.errors;
      total.late += s.late;
      total.max_lag_ms = std::max(total.max_lag_ms, s.max_lag_ms);
      total.ack_us.insert(total.ack_us.end(), s.ack_us.begin(), s.ack_us.end());
    }
    const size_t requests = total.ack_us.size();
    std::printf(
        "ingest: %9.0f events/s achieved (%llu events, %zu requests, %llu errors); receipt "
        "latency p50=%.2f ms p99=%.2f ms max=%.2f ms; %llu requests late, max lag %.1f ms\n",
        total.events / secs, static_cast<unsigned long long>(total.events), requests,
        static_cast<unsigned long long>(total.errors), Percentile(total.ack_us, 0.50) / 1000,
        Percentile(total.ack_us, 0.99) / 1000,
        total.ack_us.empty() ? 0.0
                             : *std::max_element(total.ack_us.begin(), total.ack_us.end()) / 1000.0,
        static_cast<unsigned long long>(total.late), total.max_lag_ms);
  }

  // Wait for the stragglers, then pair receipts with deliveries.
  const size_t want = acked.size();
  const auto drain_deadline = SteadyClock::now() + std::chrono::seconds(o.drain_seconds);
  while (!o.policy.empty() && SteadyClock::now() < drain_deadline) {
    auto got = received.Snapshot();
    size_t matched = 0;
    for (const auto& [id, t] : acked.Snapshot()) matched += got.count(id);
    if (matched == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto got = received.Snapshot();
  std::vector<double> latency_ms;
  size_t missing = 0, negative = 0;
  for (const auto& [id, t] : acked.Snapshot()) {
    auto it = got.find(id);
    if (it == got.end()) {
      ++missing;
      continue;
    }
    const double ms = std::chrono::duration<double, std::milli>(it->second - t).count();
    if (ms < 0) ++negative;
    latency_ms.push_back(ms);
  }
  if (o.policy.empty()) {
    std::printf("alerts: none without a policy (%llu webhook POSTs)\n",
                static_cast<unsigned long long>(posts.load()));
  } else if (latency_ms.empty()) {
    std::printf("alerts: none delivered (%zu expected, %llu webhook POSTs)\n", want,
                static_cast<unsigned long long>(posts.load()));
  } else {
    std::vector<double> sorted = latency_ms;
    std::sort(sorted.begin(), sorted.end());
    auto pct = [&](double p) {
      return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
    };
    std::printf(
        "alerts: receipt -> webhook p50=%.2f ms p90=%.2f ms p99=%.2f ms max=%.2f ms min=%.2f ms "
        "(%zu alerts, %zu missing, %zu before the receipt was read, %llu webhook POSTs)\n",
        pct(0.50), pct(0.90), pct(0.99), sorted.back(), sorted.front(), latency_ms.size(), missing,
        negative, static_cast<unsigned long long>(posts.load()));
  }
  std::fflush(stdout);

  StopCustodyd(child);  // reports the daemon's memory first
  hook_io.stop();
  hook_thread.join();
  return 0;
}
