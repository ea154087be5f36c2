// net/relay_forwarder: relay mode's one way out: the smarthost client.
//
// Purpose: the RelayHooks of a worker. The forwarding gate (per-host
// threshold, hourly budget; session/relay.hpp) is shared by all workers
// under one mutex, taken once per relay message start and once per
// refund, never per byte. A granted message is sent by a coroutine on the
// worker's io_context: connect, EHLO, MAIL FROM, one RCPT TO, DATA, the
// dot-stuffed body, QUIT. Every step has kForwardStepTimeout, the whole
// exchange kForwardTotalTimeout; a failure costs one log line.
// Invariants: nothing is sent anywhere but settings.smarthost; at most one
// recipient per forward; a body larger than forward_size is never kept
// (the session drops it as it grows); every forward logs exactly one
// event=relay_forward line with host, from, rcpt, size and result.
// Limits: kForwardStepTimeout, kForwardTotalTimeout; in flight at once:
// bounded by the hourly budget (forward_max).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "session/relay.hpp"
#include "session/session.hpp"

namespace spamsink::net {

inline constexpr core::Duration kForwardStepTimeout = core::Seconds{20};
inline constexpr core::Duration kForwardTotalTimeout = core::Seconds{60};

struct RelaySettings {
  std::uint32_t threshold = 0;      // messages forwarded per new host (0 = none)
  std::string smarthost_host;       // numeric address; empty = no smarthost
  std::uint16_t smarthost_port = 0;
  std::uint32_t forward_max = 10;   // forwards per hour, all hosts
  std::uint64_t forward_size = 1024 * 1024;  // largest body forwarded, bytes
  std::string helo = "localhost";   // our EHLO name towards the smarthost
  // Not config keys: the bounds above, shortened only by tests.
  core::Duration step_timeout = kForwardStepTimeout;
  core::Duration total_timeout = kForwardTotalTimeout;
  bool enabled() const { return threshold != 0 && !smarthost_host.empty() && forward_max != 0; }
};

// One per server, shared by the workers.
class ForwardGateShared {
 public:
  bool begin(const core::IpAddress& ip, core::TimePoint now, const session::ForwardGate::Settings& s) {
    std::lock_guard<std::mutex> lock(mu_);
    return gate_.begin(ip, now, s);
  }
  void refund(core::TimePoint t) {
    std::lock_guard<std::mutex> lock(mu_);
    gate_.refund(t);
  }

 private:
  std::mutex mu_;
  session::ForwardGate gate_;
};

class RelayForwarder final : public session::RelayHooks {
 public:
  RelayForwarder(asio::io_context& ctx, ForwardGateShared& gate, core::Logger& logger)
      : ctx_(ctx), gate_(gate), logger_(logger) {}

  // The settings in force; replaced on reload (same thread as the sessions).
  void set_settings(std::shared_ptr<const RelaySettings> s) { settings_ = std::move(s); }
  // Shutdown: in-flight forwards are abandoned (logged as result=shutdown).
  void stop();
  std::size_t in_flight() const { return active_.size(); }

  bool begin_message(const core::IpAddress& ip, core::TimePoint& token) override;
  std::uint64_t forward_size_limit() const override;
  void forward(const core::IpAddress& ip, core::TimePoint token, std::string_view from, std::string_view rcpt,
               std::vector<char>&& body) override;
  void cancel(core::TimePoint token) override { gate_.refund(token); }

  struct Job;

 private:
  asio::io_context& ctx_;
  ForwardGateShared& gate_;
  core::Logger& logger_;
  std::shared_ptr<const RelaySettings> settings_;
  std::vector<std::shared_ptr<Job>> active_;  // in flight (<= the hourly budget)
  bool stopped_ = false;

  friend void finish_job(RelayForwarder&, const std::shared_ptr<Job>&);
};

// Dot-stuffs `body` into `out` for DATA and adds the final CRLF "." CRLF
// (a CRLF first if the body does not end with one). Exposed for tests.
void stuff_body(const std::vector<char>& body, std::string& out);

}  // namespace spamsink::net
