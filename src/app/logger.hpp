// app/logger: the process logger, to stderr or syslog.
//
// Purpose: implements core::Logger. Lines start with ts (RFC 3339 UTC, ms)
// and level. stderr output is one write(2) per call, so lines from worker
// threads never interleave; syslog output is one syslog(3) call per line.
// Invariants: format, level and target may change at run time (SIGHUP).
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "core/logger.hpp"

namespace spamsink::app {

class AppLogger final : public core::Logger {
 public:
  AppLogger() = default;
  ~AppLogger() override;
  void configure(core::LogFormat format, core::Level level, const std::string& target);

  bool enabled(core::Level l) const override { return l >= level_.load(std::memory_order_relaxed); }
  core::LogFormat format() const override { return format_.load(std::memory_order_relaxed); }
  void stamp(core::LogLine& line, core::Level l) const override;
  void write(core::Level l, std::string_view lines) noexcept override;

 private:
  std::atomic<core::LogFormat> format_{core::LogFormat::kKeyValue};
  std::atomic<core::Level> level_{core::Level::kInfo};
  std::atomic<bool> syslog_{false};
  std::mutex syslog_mu_;
  bool syslog_open_ = false;
};

}  // namespace spamsink::app
