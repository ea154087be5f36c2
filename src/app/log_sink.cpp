#include "app/log_sink.hpp"

#include <chrono>

namespace spamsink::app {

namespace {
constexpr std::size_t kFlushBytes = 16 * 1024;

void hex(const std::array<std::uint8_t, 32>& d, char (&out)[65]) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
  out[64] = 0;
}
}  // namespace

void LogSink::message(const core::MessageRecord& m) noexcept {
  if (m.accepted) {
    bump(messages_, 1);
    bump(recipients_, m.recipient_count);
    bump(bytes_, m.size_bytes);
    if (m.relay_attempt) bump(relay_attempts_, 1);
    if (m.relay_test) bump(relay_tests_, 1);
    if (m.forwarded) bump(forwarded_, 1);
  } else {
    bump(refused_messages_, 1);
  }
  if (!logger_.enabled(core::Level::kDebug)) return;
  core::LogLine l(logger_.format(), buf_);
  logger_.stamp(l, core::Level::kDebug);
  l.str("event", "message").num("session", m.session_id).peer("from", m.mail_from, m.mail_from_truncated)
      .peer("rcpt", m.recipients, m.recipients_truncated);
  l.num("rcpts", m.recipient_count).num("size", m.size_bytes).boolean("accepted", m.accepted);
  if (m.relay_attempt)
    l.boolean("relay_attempt", true).boolean("relay_test", m.relay_test).boolean("forwarded", m.forwarded);
  if (m.has_digest) {
    char h[65];
    hex(m.sha256, h);
    l.str("sha256", h);
  }
  l.finish();
  if (buf_.size() >= kFlushBytes) tick();
}

void LogSink::session_closed(const core::SessionRecord& s) noexcept {
  bump(sessions_, 1);
  if (s.reason == core::EndReason::kTooManyConns) bump(refused_connections_, 1);
  if (s.early_talker) bump(early_talkers_, 1);
  if (s.trap_hit) bump(trap_hits_, 1);
  if (!logger_.enabled(core::Level::kInfo)) return;
  char ip[64];
  const std::size_t iplen = s.ip.format(ip);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(s.end - s.start).count();
  core::LogLine l(logger_.format(), buf_);
  logger_.stamp(l, core::Level::kInfo);
  l.str("event", "session_close").num("session", s.session_id).str("listener", s.listener);
  l.str("mode", core::to_string(s.mode)).str("ip", std::string_view(ip, iplen)).num("port", std::uint64_t{s.port});
  l.peer("helo", s.helo, s.helo_truncated).peer("from", s.mail_from, s.mail_from_truncated).num("rcpts", s.recipients).num("messages", s.messages);
  l.num("bytes", s.message_bytes).num("bytes_in", s.bytes_in).num("bytes_out", s.bytes_out);
  l.num("errors", s.errors).num("duration_ms", static_cast<std::int64_t>(ms)).str("end", core::to_string(s.reason));
  if (!s.phase.empty()) l.str("phase", s.phase);
  if (s.early_talker) l.boolean("early_talker", true).peer("early_bytes", s.early_bytes);
  if (s.relay_attempts != 0 || !s.relay_domains.empty())
    l.num("relay_attempts", s.relay_attempts).num("relay_tests", s.relay_tests).num("forwarded", s.forwarded)
        .peer("relay_domains", s.relay_domains, s.relay_domains_truncated);
  if (s.trap_hit) l.boolean("trap_hit", true).peer("trap_rcpt", s.trap_rcpt);
  if (s.tls) l.boolean("tls", true);
  l.finish();
  if (buf_.size() >= kFlushBytes) tick();
}

void LogSink::tick() noexcept {
  if (buf_.empty()) return;
  logger_.write(core::Level::kInfo, buf_);
  buf_.clear();
}

Totals LogSink::totals() const {
  Totals t;
  t.sessions = sessions_.load(std::memory_order_relaxed);
  t.messages = messages_.load(std::memory_order_relaxed);
  t.recipients = recipients_.load(std::memory_order_relaxed);
  t.bytes = bytes_.load(std::memory_order_relaxed);
  t.refused_messages = refused_messages_.load(std::memory_order_relaxed);
  t.refused_connections = refused_connections_.load(std::memory_order_relaxed);
  t.early_talkers = early_talkers_.load(std::memory_order_relaxed);
  t.relay_attempts = relay_attempts_.load(std::memory_order_relaxed);
  t.relay_tests = relay_tests_.load(std::memory_order_relaxed);
  t.forwarded = forwarded_.load(std::memory_order_relaxed);
  t.trap_hits = trap_hits_.load(std::memory_order_relaxed);
  return t;
}

}  // namespace spamsink::app
