#include "app/logger.hpp"

#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

namespace spamsink::app {

AppLogger::~AppLogger() {
  if (syslog_open_) closelog();
}

void AppLogger::configure(core::LogFormat format, core::Level level, const std::string& target) {
  format_.store(format, std::memory_order_relaxed);
  level_.store(level, std::memory_order_relaxed);
  const bool want_syslog = target == "syslog";
  std::lock_guard lock(syslog_mu_);
  if (want_syslog && !syslog_open_) {
    openlog("spamsink", LOG_PID | LOG_NDELAY, LOG_MAIL);
    syslog_open_ = true;
  }
  syslog_.store(want_syslog, std::memory_order_relaxed);
}

void AppLogger::stamp(core::LogLine& line, core::Level l) const {
  // Cache the formatted second per thread: one gmtime per second, not per line.
  thread_local time_t cached_sec = -1;
  thread_local char cached[64];
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const time_t sec = static_cast<time_t>(ms / 1000);
  if (sec != cached_sec) {
    struct tm tm;
    gmtime_r(&sec, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached_sec = sec;
  }
  char ts[80];
  std::snprintf(ts, sizeof ts, "%s.%03dZ", cached, static_cast<int>(ms % 1000));
  line.str("ts", ts).str("level", core::to_string(l));
}

void AppLogger::write(core::Level l, std::string_view lines) noexcept {
  if (syslog_.load(std::memory_order_relaxed)) {
    static constexpr int kPrio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
    while (!lines.empty()) {
      auto nl = lines.find('\n');
      std::string_view one = lines.substr(0, nl);
      syslog(kPrio[static_cast<int>(l)], "%.*s", static_cast<int>(one.size()), one.data());
      if (nl == std::string_view::npos) break;
      lines.remove_prefix(nl + 1);
    }
    return;
  }
  while (!lines.empty()) {
    ssize_t n = ::write(STDERR_FILENO, lines.data(), lines.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    lines.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace spamsink::app
