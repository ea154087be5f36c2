#include "net/conn_limits.hpp"

namespace spamsink::net {

ConnLimits::Result ConnLimits::acquire(const core::IpAddress& ip, bool per_ip) {
  const std::uint32_t max_total = max_total_.load(std::memory_order_relaxed);
  const std::uint32_t max_ip = per_ip ? max_per_ip_.load(std::memory_order_relaxed) : 0;
  if (total_.fetch_add(1, std::memory_order_relaxed) >= max_total && max_total != 0) {
    total_.fetch_sub(1, std::memory_order_relaxed);
    return Result::kTotalFull;
  }
  std::lock_guard lock(mu_);
  std::uint32_t& n = per_ip_[ip];
  if (max_ip != 0 && n >= max_ip) {
    if (n == 0) per_ip_.erase(ip);
    total_.fetch_sub(1, std::memory_order_relaxed);
    return Result::kPerIpFull;
  }
  ++n;
  return Result::kOk;
}

bool ConnLimits::release(const core::IpAddress& ip) {
  {
    std::lock_guard lock(mu_);
    auto it = per_ip_.find(ip);
    if (it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  }
  const std::uint32_t max_total = max_total_.load(std::memory_order_relaxed);
  const std::uint32_t before = total_.fetch_sub(1, std::memory_order_relaxed);
  return max_total != 0 && before >= max_total;
}

}  // namespace spamsink::net
