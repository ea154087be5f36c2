// core/logger: the logging interface the layers write through.
//
// Purpose: layers below app emit key=value / JSON lines without knowing
// where they go (stderr, syslog, a test buffer). app/ implements it.
// Invariants: write() is thread-safe and never throws; a line is written
// whole. enabled() is cheap, so callers skip formatting when it is false.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "core/log_format.hpp"

namespace spamsink::core {

enum class Level : std::uint8_t { kDebug, kInfo, kWarn, kError };
std::string_view to_string(Level l);

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(Level l) const = 0;
  virtual LogFormat format() const = 0;
  // Adds the leading fields (ts, level) to a new line.
  virtual void stamp(LogLine& line, Level l) const = 0;
  // Writes one or more finished lines.
  virtual void write(Level l, std::string_view lines) noexcept = 0;
};

// Builds one line: log(logger, Level::kInfo, [&](LogLine& l){ l.str(...); });
template <class Fill>
void log(Logger& logger, Level level, Fill&& fill) {
  if (!logger.enabled(level)) return;
  std::string buf;
  LogLine line(logger.format(), buf);
  logger.stamp(line, level);
  std::forward<Fill>(fill)(line);
  line.finish();
  logger.write(level, buf);
}

// A logger that drops everything: for tests and tools.
class NullLogger final : public Logger {
 public:
  bool enabled(Level) const override { return false; }
  LogFormat format() const override { return LogFormat::kKeyValue; }
  void stamp(LogLine&, Level) const override {}
  void write(Level, std::string_view) noexcept override {}
};

}  // namespace spamsink::core
