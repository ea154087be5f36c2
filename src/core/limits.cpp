#include "core/limits.hpp"

namespace spamsink::core {

std::string Limits::validate() const {
  if (line_length_bytes < kMinLineLength || line_length_bytes > kMaxLineLength)
    return "line_length_limit: must be between 512 B (RFC 5321) and 1M";
  if (body_line_bytes < 1) return "body_line_limit: must be at least 1 byte";
  if (message_size_bytes < 1) return "message_size_limit: must be at least 1 byte";
  if (recipients_per_message < 1) return "recipient_limit: must be at least 1";
  if (errors_per_session < 1) return "error_limit: must be at least 1";
  if (junk_commands_per_session < 1) return "junk_command_limit: must be at least 1";
  if (command_time < Millis{100}) return "command_timeout: must be at least 100ms";
  if (session_lifetime < Millis{100}) return "session_lifetime: must be at least 100ms";
  return {};
}

}  // namespace spamsink::core
