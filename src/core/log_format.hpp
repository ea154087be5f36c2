// core/log_format: one log line, key=value or JSON, with peer text made safe.
//
// Purpose: every log line goes through LogLine so that peer-controlled text
// (HELO, MAIL FROM, early-talk bytes) is escaped and truncated in one place.
// Invariants: output never contains a raw control byte, quote or byte >= 0x80
// from peer text; a peer field is at most kPeerTextMax input bytes.
// Limits: kPeerTextMax bytes of peer text per field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spamsink::core {

enum class LogFormat : std::uint8_t { kKeyValue, kJson };

// Appends `in` escaped: printable ASCII stays, except `"` and `\`, which
// are backslash-escaped; everything else becomes \xNN (\u00NN in JSON, so
// the line stays valid JSON). At most `max` input bytes are used; a
// truncated value ends in "...".
void escape_peer_text(std::string_view in, std::size_t max, std::string& out,
                      LogFormat format = LogFormat::kKeyValue);

class LogLine {
 public:
  static constexpr std::size_t kPeerTextMax = 256;

  LogLine(LogFormat format, std::string& out);
  // Trusted text: our own words (event names, reasons, addresses).
  LogLine& str(std::string_view key, std::string_view value);
  // Untrusted text from the wire: escaped, truncated, always quoted.
  // `cut` says the value was already cut shorter by its owner: it gets the
  // same "..." mark.
  LogLine& peer(std::string_view key, std::string_view value, bool cut = false);
  LogLine& num(std::string_view key, std::uint64_t value);
  LogLine& num(std::string_view key, std::int64_t value);
  LogLine& num(std::string_view key, std::uint32_t value) { return num(key, std::uint64_t{value}); }
  LogLine& num(std::string_view key, int value) { return num(key, std::int64_t{value}); }
  LogLine& boolean(std::string_view key, bool value);
  // Closes the line (adds the JSON brace and the newline).
  void finish();

 private:
  void key(std::string_view k);
  LogFormat format_;
  std::string& out_;
  bool first_ = true;
};

}  // namespace spamsink::core
