// net/conn_limits: the connection caps shared by all worker threads.
//
// Purpose: total and per-IP connection counts. Touched only at accept and
// at close (DESIGN.md §4), never per command.
// Invariants: every successful acquire() is matched by one release().
// Limits: total <= max_total (0 = none); per IP <= max_per_ip (0 = none).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "core/address.hpp"

namespace spamsink::net {

class ConnLimits {
 public:
  enum class Result : std::uint8_t { kOk, kTotalFull, kPerIpFull };

  void set(std::uint32_t max_total, std::uint32_t max_per_ip) {
    max_total_.store(max_total, std::memory_order_relaxed);
    max_per_ip_.store(max_per_ip, std::memory_order_relaxed);
  }
  // True when a new connection would exceed the total cap.
  bool full() const {
    std::uint32_t max = max_total_.load(std::memory_order_relaxed);
    return max != 0 && total_.load(std::memory_order_relaxed) >= max;
  }
  // `per_ip` false: only the total counts (the tarpit has no per-IP cap).
  Result acquire(const core::IpAddress& ip, bool per_ip = true);
  // Returns true when the total was at its cap before (acceptors may wait).
  bool release(const core::IpAddress& ip);
  std::uint32_t total() const { return total_.load(std::memory_order_relaxed); }
  std::uint32_t max_total() const { return max_total_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> total_{0};
  std::atomic<std::uint32_t> max_total_{0};
  std::atomic<std::uint32_t> max_per_ip_{0};
  std::mutex mu_;
  std::unordered_map<core::IpAddress, std::uint32_t, core::IpAddressHash> per_ip_;
};

}  // namespace spamsink::net
