// WebhookReceiver: a tiny HTTP/1.1 server on 127.0.0.1 for alert delivery
// tests. It can be down (not listening), slow (delays each answer) or up,
// and keeps every delivered body and Idempotency-Key. Thread-safe.
#ifndef CUSTODY_TESTING_WEBHOOK_RECEIVER_H_
#define CUSTODY_TESTING_WEBHOOK_RECEIVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace custody::testing {

class WebhookReceiver {
 public:
  // Picks a free port; starts down.
  WebhookReceiver();
  ~WebhookReceiver();

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/alerts"; }

  void Up();    // listen and answer 200
  void Down();  // stop listening (connections are refused)
  void SetDelay(std::chrono::milliseconds delay) { delay_ms_ = static_cast<int>(delay.count()); }

  struct Delivery {
    std::string idempotency_key;
    std::string body;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Delivery> deliveries() const;

 private:
  void Serve(int listen_fd);
  uint16_t port_ = 0;
  std::atomic<int> delay_ms_{0};
  std::atomic<int> listen_fd_{-1};
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Delivery> deliveries_;
};

}  // namespace custody::testing

#endif  // CUSTODY_TESTING_WEBHOOK_RECEIVER_H_
