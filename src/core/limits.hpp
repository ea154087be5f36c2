// core/limits: every limit the engine enforces, each with its unit.
//
// Purpose: one struct that config fills and the session/net layers obey.
// Invariants: validated by `validate()` before use; a zero where noted
// means "no limit". Names match the config keys (see docs/configuration.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/clock.hpp"

namespace spamsink::core {

struct Limits {
  // Longest command line kept, in bytes, CRLF excluded (Postfix
  // line_length_limit). Longer lines are truncated to this and the rest is
  // discarded up to the line end. RFC 5321 §4.5.3.1.4: at least 512.
  std::size_t line_length_bytes = 2048;
  // Body lines longer than this many bytes are counted as long lines.
  // Body lines are never buffered, so this bounds nothing in memory.
  std::size_t body_line_bytes = 2048;
  // Largest message accepted, in bytes after dot-unstuffing (SIZE).
  std::uint64_t message_size_bytes = 10240000;
  // Recipients accepted per message (Postfix smtpd_recipient_limit).
  std::uint32_t recipients_per_message = 1000;
  // Refused recipients past that limit before each one counts as an error
  // (Postfix smtpd_recipient_overshoot_limit).
  std::uint32_t recipient_overshoot = 1000;
  // Error replies per session before "421 too many errors" (Postfix
  // smtpd_hard_error_limit).
  std::uint32_t errors_per_session = 20;
  // NOOP/RSET/VRFY/ETRN per session before each counts as an error
  // (Postfix smtpd_junk_command_limit).
  std::uint32_t junk_commands_per_session = 100;
  // Time allowed for each whole command line, and for each body line:
  // a deadline from the line's first byte, not a per-read timeout.
  Duration command_time = Seconds{300};
  // Total time a session may last, from accept.
  Duration session_lifetime = Seconds{3600};
  // Concurrent connections, all listeners together; 0 = no limit.
  std::uint32_t max_connections = 10000;
  // Concurrent connections from one IP address; 0 = no limit.
  std::uint32_t max_connections_per_ip = 50;

  static constexpr std::size_t kMinLineLength = 512;
  static constexpr std::size_t kMaxLineLength = 1 << 20;

  // Empty string when valid, else "key: what is allowed".
  std::string validate() const;
};

}  // namespace spamsink::core
