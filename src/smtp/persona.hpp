// smtp/persona: a real MTA's face, as data.
//
// Purpose: parse and validate a persona (a TOML text: greeting, EHLO
// keywords and order, every reply text with its enhanced code, the queue-id
// format, and the few behaviours where MTAs differ: what an over-long line
// does, how the error limit ends a session, a limit on unknown commands).
// The personas in personas/*.toml are embedded at build time
// (builtin_persona); a file given with --persona-file is read by the app
// layer and parsed here the same way. ReplyTable::from_persona renders one.
// Invariants: a Persona that parse_persona() returns has every reply (after
// "=key" aliases are resolved), each a well-formed reply (3-digit codes, '-'
// on every line but the last, no CR/LF inside a line), only known
// placeholders, and a queue-id format of 1..64 pattern characters.
// Limits: a text is at most kMaxText bytes; at most kMaxKeywords EHLO
// keywords; the whole persona text at most kMaxPersonaBytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/replies.hpp"

namespace spamsink::smtp {

struct Persona {
  static constexpr std::size_t kMaxText = 1024;
  static constexpr std::size_t kMaxKeywords = 32;
  static constexpr std::size_t kMaxPersonaBytes = 64 * 1024;
  static constexpr std::size_t kMaxQueueIdFormat = 64;

  std::string name;
  std::string description;
  std::string source;  // where the texts come from
  // Reply templates by ReplyId, one line per '\n', no CRLF.
  std::array<std::string, static_cast<std::size_t>(ReplyId::kCount)> texts;
  std::string ehlo_greeting;                // first line of the EHLO reply, after "250-"
  std::vector<std::string> ehlo_keywords;   // without TLS (what is sent today)
  std::vector<std::string> ehlo_keywords_tls;  // when TLS is available (STARTTLS included)
  bool starttls = false;                    // offers STARTTLS when TLS is configured
  std::string queue_id_format;              // H h D b and literals; see docs/personas.md
  PersonaBehaviour behaviour;
  std::size_t line_length_limit = 2048;     // the MTA's own; used unless configured
  std::uint32_t error_limit = 20;           // the MTA's own; used unless configured
};

// The reply keys of a persona file, by ReplyId ("greeting", "mail_ok"...).
std::string_view reply_key(ReplyId id);

struct PersonaResult {
  std::optional<Persona> persona;
  std::string error;  // "<origin>: <key>: <what>" when persona is empty
};

// Parses a persona text; `origin` names it in errors (a file path, or
// "builtin persona NAME").
PersonaResult parse_persona(std::string_view text, std::string_view origin);

// The embedded personas (personas/*.toml), by name; nullopt if unknown.
std::optional<std::string_view> builtin_persona_text(std::string_view name);
// Their names, sorted.
std::vector<std::string> builtin_persona_names();
// An embedded persona, parsed (the build checks they parse; see the unit
// test); aborts if one does not, which is a build defect.
const Persona& builtin_persona(std::string_view name);

}  // namespace spamsink::smtp
