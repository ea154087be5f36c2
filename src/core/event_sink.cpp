#include "core/event_sink.hpp"
#include "core/logger.hpp"

namespace spamsink::core {

std::string_view to_string(Mode m) {
  switch (m) {
    case Mode::kSink: return "sink";
    case Mode::kTarpit: return "tarpit";
    case Mode::kRelay: return "relay";
  }
  return "unknown";
}

std::string_view to_string(EndReason r) {
  switch (r) {
    case EndReason::kQuit: return "quit";
    case EndReason::kPeerClosed: return "peer_closed";
    case EndReason::kReset: return "reset";
    case EndReason::kTimeout: return "timeout";
    case EndReason::kLifetime: return "lifetime";
    case EndReason::kTooManyErrors: return "too_many_errors";
    case EndReason::kForbidden: return "forbidden_command";
    case EndReason::kShutdown: return "shutdown";
    case EndReason::kTooManyConns: return "too_many_connections";
    case EndReason::kProtocolError: return "protocol_error";
    case EndReason::kEarlyTalker: return "early_talker";
    case EndReason::kShed: return "shed";
    case EndReason::kTlsFailed: return "tls_failed";
  }
  return "unknown";
}

std::string_view to_string(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
  }
  return "unknown";
}

}  // namespace spamsink::core
