// core/event_sink: the facts a session reports, and where they go.
//
// Purpose: sessions report what happened; the store, the log and the
// counters receive it through this interface (Haraka's model: the core
// records facts, policies and sinks decide what to keep).
// Invariants: implementations never block and never throw; they are called
// on the session's thread. Record fields are views valid only for the call.
// Limits: peer text in records is already capped by the session (see the
// FixedString sizes in session.hpp); sinks escape it before output.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/address.hpp"
#include "core/clock.hpp"

namespace spamsink::core {

enum class Mode : std::uint8_t { kSink, kTarpit, kRelay };
std::string_view to_string(Mode m);

// Why a session ended. Stable names: they appear in logs and the API.
enum class EndReason : std::uint8_t {
  kQuit,           // client sent QUIT
  kPeerClosed,     // client closed without QUIT
  kReset,          // connection reset or other socket error
  kTimeout,        // a command line did not complete in command_timeout
  kLifetime,       // session_lifetime reached
  kTooManyErrors,  // errors_per_session reached
  kForbidden,      // an HTTP/proxy command (GET, POST, CONNECT)
  kShutdown,       // the server stopped
  kTooManyConns,   // refused at accept: total or per-IP cap
  kProtocolError,  // a stream that cannot be followed (bad BDAT size)
  kEarlyTalker,    // rejected for talking before the greeting
  kShed,           // tarpit above its high-water mark: a quick 421
  kTlsFailed,      // the TLS handshake after STARTTLS failed or timed out
};
inline constexpr std::size_t kEndReasonCount = 13;
std::string_view to_string(EndReason r);

struct MessageRecord {
  std::uint64_t session_id = 0;
  std::string_view mail_from;
  std::string_view recipients;  // comma-joined, capped
  bool mail_from_truncated = false;  // the views above were cut to fit
  bool recipients_truncated = false;
  std::uint32_t recipient_count = 0;
  std::uint64_t size_bytes = 0;  // after dot-unstuffing
  bool accepted = false;         // false: refused at the end (e.g. too big)
  bool has_digest = false;
  std::array<std::uint8_t, 32> sha256{};
  // Relay mode (issue 6): a recipient outside the sender's domain, or a
  // small body carrying our own address; `forwarded`: sent to the smarthost.
  bool relay_attempt = false;
  bool relay_test = false;
  bool forwarded = false;
};

struct SessionRecord {
  std::uint64_t session_id = 0;
  Mode mode = Mode::kSink;
  std::string_view listener;
  IpAddress ip;
  std::uint16_t port = 0;
  TimePoint start{};
  TimePoint end{};
  std::string_view helo;
  std::string_view mail_from;  // last MAIL FROM
  bool helo_truncated = false;  // the views above were cut to fit
  bool mail_from_truncated = false;
  std::uint32_t recipients = 0;  // accepted RCPTs, whole session
  std::uint32_t messages = 0;    // accepted messages
  std::uint32_t errors = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t message_bytes = 0;  // accepted message bytes
  EndReason reason = EndReason::kPeerClosed;
  std::string_view phase;  // tarpit: the SMTP phase it was in when it ended
  bool early_talker = false;    // talked before the greeting was whole
  std::string_view early_bytes;  // the first bytes it sent then (capped)
  bool tls = false;              // STARTTLS completed
  bool trap_hit = false;         // a recipient was on the spamtrap list
  std::string_view trap_rcpt;    // the first such recipient (capped)
  std::uint32_t relay_attempts = 0;  // messages that were relay attempts
  std::uint32_t relay_tests = 0;     // ... of which looked like relay tests
  std::uint32_t forwarded = 0;       // ... of which went to the smarthost client
  std::string_view relay_domains;    // distinct recipient domains, comma-joined, capped
  bool relay_domains_truncated = false;  // a domain was left out for want of room
};

class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void message(const MessageRecord& m) noexcept = 0;
  virtual void session_closed(const SessionRecord& s) noexcept = 0;
  // Called by the driver every few hundred ms and at shutdown, so a sink
  // that batches can flush.
  virtual void tick() noexcept {}
};

// Streaming hash of a message body, supplied by the driver so that the
// pure layers need no crypto library.
class BodyDigest {
 public:
  virtual ~BodyDigest() = default;
  virtual void reset() noexcept = 0;
  virtual void update(const char* data, std::size_t n) noexcept = 0;
  virtual void finish(std::array<std::uint8_t, 32>& out) noexcept = 0;
};

}  // namespace spamsink::core
