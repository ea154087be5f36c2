// tests/transcripts/transcript_runner: golden SMTP dialogues.
//
// Purpose: pin the protocol behaviour of session::Session, reply by reply,
// against dialogues recorded from a real Postfix 3.7 (see the comments in
// each .in file). Usage:
//   transcript_runner [--update] FILE.in...
// Each FILE.in is replayed and the result compared with FILE.ref next to
// it; a mismatch prints a unified diff and exits 1. --update (re)writes
// the .ref files instead; read them against the recording before
// committing. ctest runs each file as transcript.<name>.
// The session sees: hostname mx.example.test, the default core::Limits
// unless the file sets some, a ManualClock, a client 192.0.2.1:40000, a
// fake body digest, and an EventSink that turns records into markers.
//
// The .in format, one directive per line:
//   # text            a comment; blank lines are ignored too
//   @persona NAME     the embedded persona to answer as (default postfix);
//                     first in the file. Its own line_length_limit and
//                     error_limit are each session's defaults; a greeting
//                     date is 2026-11-25 04:01:15 UTC (kUnixTime)
//   @limit k=v ...    a core::Limits field, at the start of the file or
//                     right after @connect (each session starts from the
//                     defaults):
//                     line_length_bytes, body_line_bytes, message_size_bytes,
//                     recipients_per_message, errors_per_session,
//                     junk_commands_per_session (sizes as in the config:
//                     2048, 10K...), command_time, session_lifetime
//                     (durations: 300s, 5m...)
//   C: bytes          client bytes: one read (one on_bytes() call), as one
//                     write() of the client
//   C+ bytes          more bytes for the read of the line above (a
//                     pipelined group written across several lines)
//   @repeat N C: ...  the C: or C+ line N times
//   @advance 301s     the clock moves; on_deadline() runs if it is due
//                     (the driver's timer), as src/net does
//   @eof / @reset     the client closes / resets the connection
//   @shutdown         the server stops (on_shutdown)
//   @connect          this session ends (finish) and a new one starts
// Escapes in client bytes: \r \n \t \0 \\ \xNN, and \{N*text} for N
// copies of text (no escapes inside). Nothing is added: a line end must
// be written (\r\n). The text starts after "C: " (one space).
//
// The .ref: the server output, one reply line per line (CRLF removed,
// other bytes outside printable ASCII as \xNN), "queued as <id>" (and
// Exim's "OK id=<id>") shown as "queued as QUEUEID" (how ids are made is not pinned; that they differ
// is: an id seen before in the file shows as QUEUEID-REPEATED), and
// markers:
//   [connect]            a session starts (the first, and each @connect)
//   [message ...]        a MessageRecord, as the EventSink got it; body is
//                        what the digest was fed (first 120 bytes)
//   [closed reason=...]  the session turned closing()
//   [not sent: N bytes]  client bytes after the close (the driver drops them)
//   [clock +D]           an @advance
//   [session ...]        the SessionRecord from finish()
// Invariants checked on every file: the output is whole CRLF lines, and
// replaying every read one byte at a time gives the same .ref (read
// boundaries must never change behaviour).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/event_sink.hpp"
#include "core/limits.hpp"
#include "core/units.hpp"
#include "session/session.hpp"
#include "smtp/persona.hpp"
#include "smtp/replies.hpp"

namespace {

using namespace spamsink;

constexpr std::string_view kHostname = "mx.example.test";
constexpr std::size_t kBodyShown = 120;  // body bytes shown in a [message] marker
constexpr std::int64_t kUnixTime = 1795579275;  // the wall clock a session starts at

struct Event {
  enum class Kind { kRead, kAdvance, kEof, kReset, kShutdown, kConnect } kind;
  std::string bytes;     // kRead
  core::Duration by{};   // kAdvance
  std::string by_text;   // kAdvance, as written
  core::Limits limits;   // kConnect: the new session's limits
};

struct Script {
  std::string persona = "postfix";
  core::Limits limits;
  std::vector<Event> events;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw std::runtime_error(where + ": " + what);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string unescape(std::string_view s, const std::string& where) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) fail(where, "a lone backslash at the end");
    switch (s[i]) {
      case 'r': out.push_back('\r'); break;
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case '0': out.push_back('\0'); break;
      case '\\': out.push_back('\\'); break;
      case 'x': {
        const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) fail(where, "\\x needs two hex digits");
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        break;
      }
      case '{': {
        const std::size_t close = s.find('}', i);
        const std::size_t star = s.find('*', i);
        if (close == std::string_view::npos || star == std::string_view::npos || star > close)
          fail(where, "repeat escape must be \\{N*text}");
        const std::string count(s.substr(i + 1, star - i - 1));
        std::size_t n = 0;
        try {
          n = std::stoul(count);
        } catch (...) {
          fail(where, "bad repeat count '" + count + "'");
        }
        const std::string_view text = s.substr(star + 1, close - star - 1);
        for (std::size_t k = 0; k < n; ++k) out.append(text);
        i = close;
        break;
      }
      default: fail(where, std::string("unknown escape \\") + s[i]);
    }
  }
  return out;
}

void set_limit(core::Limits& l, std::string_view key, std::string_view value, const std::string& where) {
  auto size = [&]() -> std::uint64_t {
    auto v = core::parse_size(value);
    if (!v) fail(where, "bad size '" + std::string(value) + "'");
    return *v;
  };
  auto duration = [&]() -> core::Duration {
    auto v = core::parse_duration(value);
    if (!v) fail(where, "bad duration '" + std::string(value) + "'");
    return *v;
  };
  if (key == "line_length_bytes") l.line_length_bytes = size();
  else if (key == "body_line_bytes") l.body_line_bytes = size();
  else if (key == "message_size_bytes") l.message_size_bytes = size();
  else if (key == "recipients_per_message") l.recipients_per_message = static_cast<std::uint32_t>(size());
  else if (key == "errors_per_session") l.errors_per_session = static_cast<std::uint32_t>(size());
  else if (key == "junk_commands_per_session") l.junk_commands_per_session = static_cast<std::uint32_t>(size());
  else if (key == "command_time") l.command_time = duration();
  else if (key == "session_lifetime") l.session_lifetime = duration();
  else fail(where, "unknown limit '" + std::string(key) + "'");
}

Script parse(const std::string& path, const std::string& text) {
  Script sc;
  core::Limits base;  // each session's defaults: the persona's
  std::optional<std::string> pending;  // the read being built
  bool client_seen = false;
  auto flush = [&] {
    if (pending) sc.events.push_back({Event::Kind::kRead, std::move(*pending), {}, {}});
    pending.reset();
  };
  std::istringstream in(text);
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    const std::string where = path + ":" + std::to_string(no);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string_view l = line;
    if (l.empty() || l.front() == '#') continue;
    std::size_t times = 1;
    if (l.starts_with("@repeat ")) {
      l.remove_prefix(8);
      const std::size_t sp = l.find(' ');
      try {
        times = std::stoul(std::string(l.substr(0, sp)));
      } catch (...) {
        fail(where, "@repeat needs a count");
      }
      if (sp == std::string_view::npos) fail(where, "@repeat needs a C: or C+ line");
      l.remove_prefix(sp + 1);
      if (!l.starts_with("C: ") && !l.starts_with("C+ ")) fail(where, "@repeat needs a C: or C+ line");
    }
    if (l.starts_with("C: ") || l.starts_with("C+ ")) {
      const bool more = l[1] == '+';
      if (more && !pending) fail(where, "C+ must follow a C: or C+ line");
      client_seen = true;
      const std::string bytes = unescape(l.substr(3), where);
      for (std::size_t k = 0; k < times; ++k) {
        if (!more) flush();
        if (!pending) pending.emplace();
        pending->append(bytes);
      }
      continue;
    }
    flush();
    if (l.starts_with("@persona ")) {
      if (client_seen || !sc.events.empty() || sc.persona != "postfix")
        fail(where, "@persona must come first, once");
      sc.persona = std::string(l.substr(9));
      if (!smtp::builtin_persona_text(sc.persona)) fail(where, "no embedded persona '" + sc.persona + "'");
      const smtp::Persona& p = smtp::builtin_persona(sc.persona);
      base.line_length_bytes = p.line_length_limit;
      base.errors_per_session = p.error_limit;
      sc.limits = base;
    } else if (l.starts_with("@limit ")) {
      if (client_seen) fail(where, "@limit must come before the session's first client bytes");
      core::Limits& limits = sc.events.empty() || sc.events.back().kind != Event::Kind::kConnect
                                 ? sc.limits
                                 : sc.events.back().limits;
      if (&limits == &sc.limits && !sc.events.empty()) fail(where, "@limit must come first, or right after @connect");
      std::istringstream kv{std::string(l.substr(7))};
      std::string item;
      while (kv >> item) {
        const std::size_t eq = item.find('=');
        if (eq == std::string::npos) fail(where, "@limit needs key=value");
        set_limit(limits, std::string_view(item).substr(0, eq), std::string_view(item).substr(eq + 1), where);
      }
      if (auto err = limits.validate(); !err.empty()) fail(where, err);
    } else if (l.starts_with("@advance ")) {
      auto d = core::parse_duration(l.substr(9));
      if (!d) fail(where, "bad duration");
      sc.events.push_back({Event::Kind::kAdvance, {}, *d, std::string(l.substr(9))});
    } else if (l == "@eof") {
      sc.events.push_back({Event::Kind::kEof, {}, {}, {}});
    } else if (l == "@reset") {
      sc.events.push_back({Event::Kind::kReset, {}, {}, {}});
    } else if (l == "@shutdown") {
      sc.events.push_back({Event::Kind::kShutdown, {}, {}, {}});
    } else if (l == "@connect") {
      sc.events.push_back({Event::Kind::kConnect, {}, {}, {}, base});
      client_seen = false;
    } else {
      fail(where, "unknown directive: " + line);
    }
  }
  flush();
  return sc;
}

void append_escaped(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

// The digest the driver would supply, reduced to what a test can show:
// the bytes it was fed.
class FakeDigest final : public core::BodyDigest {
 public:
  void reset() noexcept override {
    fed_.clear();
    count_ = 0;
  }
  void update(const char* data, std::size_t n) noexcept override {
    count_ += n;
    if (fed_.size() < kBodyShown + 1) fed_.append(data, std::min(n, kBodyShown + 1 - fed_.size()));
  }
  void finish(std::array<std::uint8_t, 32>& out) noexcept override {
    out.fill(0xAB);
    finished_ = fed_;
    finished_count_ = count_;
  }
  const std::string& finished() const { return finished_; }
  std::uint64_t finished_count() const { return finished_count_; }

 private:
  std::string fed_, finished_;
  std::uint64_t count_ = 0, finished_count_ = 0;
};

// Collects the session's records as markers, placed at the output offset
// where they happened.
class MarkerSink final : public core::EventSink {
 public:
  MarkerSink(const FakeDigest& digest, const std::string& out) : digest_(digest), out_(out) {}
  struct Marker {
    std::size_t at;
    std::string text;
  };
  std::vector<Marker> markers;
  int sessions = 0;

  void message(const core::MessageRecord& m) noexcept override {
    std::string t = m.accepted ? "[message accepted" : "[message refused";
    t += " size=" + std::to_string(m.size_bytes) + " rcpts=" + std::to_string(m.recipient_count) + " from=<";
    append_escaped(m.mail_from, t);
    t += "> to=";
    append_escaped(m.recipients, t);
    if (m.has_digest) {
      const std::string& b = digest_.finished();
      t += " body=\"";
      append_escaped(std::string_view(b).substr(0, kBodyShown), t);
      t += b.size() > kBodyShown ? "\"..." : "\"";
      if (digest_.finished_count() != m.size_bytes)
        t += " ERROR:digest-saw-" + std::to_string(digest_.finished_count()) + "-bytes";
    } else if (m.accepted) {
      t += " ERROR:no-digest";
    }
    t += "]";
    markers.push_back({out_.size(), std::move(t)});
  }
  void session_closed(const core::SessionRecord& r) noexcept override {
    ++sessions;
    std::string t = "[session reason=" + std::string(core::to_string(r.reason)) +
                    " messages=" + std::to_string(r.messages) + " recipients=" + std::to_string(r.recipients) +
                    " errors=" + std::to_string(r.errors) + " message_bytes=" + std::to_string(r.message_bytes) +
                    " bytes_in=" + std::to_string(r.bytes_in) + " bytes_out=" + std::to_string(r.bytes_out) +
                    " helo=";
    append_escaped(r.helo, t);
    t += " mail_from=<";
    append_escaped(r.mail_from, t);
    t += ">]";
    markers.push_back({out_.size(), std::move(t)});
  }

 private:
  const FakeDigest& digest_;
  const std::string& out_;
};

// Turns one call's output and markers into .ref lines.
class Renderer {
 public:
  void emit(std::string_view out, std::vector<MarkerSink::Marker>& markers, std::size_t base) {
    std::size_t pos = 0;
    auto flush_markers = [&](std::size_t upto) {
      while (!markers.empty() && markers.front().at - base <= upto) {
        lines_.push_back(markers.front().text);
        markers.erase(markers.begin());
      }
    };
    while (pos < out.size()) {
      std::size_t end = out.find("\r\n", pos);
      std::string line;
      if (end == std::string_view::npos) {
        append_escaped(out.substr(pos), line);
        line += " [ERROR: no CRLF]";
        end = out.size();
        pos = end;
      } else {
        append_escaped(out.substr(pos, end - pos), line);
        pos = end + 2;
      }
      lines_.push_back(normalise(line));
      flush_markers(pos);
    }
    flush_markers(out.size());
  }
  void marker(std::string text) { lines_.push_back(std::move(text)); }
  std::string text() const {
    std::string t;
    for (const auto& l : lines_) t += l + "\n";
    return t;
  }

 private:
  // Postfix's "queued as <hex>"; Exim's "OK id=<base 62 and '-'>".
  std::string normalise(const std::string& line) {
    static constexpr std::string_view kMarks[] = {"queued as ", "OK id="};
    for (std::string_view mark : kMarks) {
      const std::size_t at = line.find(mark);
      if (at == std::string::npos) continue;
      const bool exim = mark == "OK id=";
      std::size_t end = at + mark.size();
      auto id_char = [exim](char c) {
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) return true;
        return exim && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-');
      };
      while (end < line.size() && id_char(line[end])) ++end;
      const std::string id = line.substr(at + mark.size(), end - at - mark.size());
      if (id.empty()) return line;
      const bool repeated = !ids_.insert(id).second;
      return line.substr(0, at + mark.size()) + (repeated ? "QUEUEID-REPEATED" : "QUEUEID") + line.substr(end);
    }
    return line;
  }

  std::vector<std::string> lines_;
  std::set<std::string> ids_;
};

std::string replay(const Script& sc, bool bytewise) {
  // The reply table renders SIZE from the limit, so each session has its
  // own; the previous session is gone before they are replaced.
  std::optional<smtp::ReplyTable> replies;
  session::SessionConfig cfg;
  cfg.listener = "transcript";
  core::ManualClock clock;
  Renderer r;
  std::uint64_t next_id = 1;

  std::string out;
  FakeDigest digest;
  MarkerSink sink(digest, out);
  std::optional<session::Session> s;
  bool closed_shown = false;

  // Runs one call of the driver and renders what it produced.
  auto call = [&](auto&& fn) {
    out.clear();
    sink.markers.clear();
    fn();
    s->add_bytes_out(out.size());
    r.emit(out, sink.markers, 0);
    if (s->closing() && !closed_shown) {
      closed_shown = true;
      r.marker("[closed reason=" + std::string(core::to_string(s->end_reason())) + "]");
    }
  };
  auto connect = [&](const core::Limits& limits) {
    s.reset();
    replies.emplace(smtp::ReplyTable::from_persona(smtp::builtin_persona(sc.persona), kHostname,
                                                   limits.message_size_bytes, kUnixTime));
    cfg.replies = &*replies;
    cfg.limits = limits;
    s.emplace(cfg, session::Peer{core::IpAddress::from_v4(0xC0000201), 40000}, next_id++, clock.now(), &sink,
              &digest);
    closed_shown = false;
    r.marker("[connect]");
    call([&] { s->start(out, kUnixTime); });
  };
  auto end = [&] {
    out.clear();
    sink.markers.clear();
    s->finish(clock.now());
    s->finish(clock.now());  // must not emit a second record
    r.emit(out, sink.markers, 0);
  };

  connect(sc.limits);
  for (const Event& e : sc.events) {
    switch (e.kind) {
      case Event::Kind::kRead:
        if (s->closing()) {
          r.marker("[not sent: " + std::to_string(e.bytes.size()) + " bytes]");
          break;
        }
        if (bytewise) {
          for (char c : e.bytes) call([&] { s->on_bytes(std::string_view(&c, 1), clock.now(), out); });
        } else {
          call([&] { s->on_bytes(e.bytes, clock.now(), out); });
        }
        break;
      case Event::Kind::kAdvance:
        clock.advance(e.by);
        r.marker("[clock +" + e.by_text + "]");
        if (!s->closing() && clock.now() >= s->deadline()) call([&] { s->on_deadline(clock.now(), out); });
        break;
      case Event::Kind::kEof:
      case Event::Kind::kReset:
        call([&] { s->on_peer_gone(e.kind == Event::Kind::kReset); });
        break;
      case Event::Kind::kShutdown: call([&] { s->on_shutdown(out); }); break;
      case Event::Kind::kConnect:
        end();
        connect(e.limits);
        break;
    }
  }
  end();
  if (sink.sessions != static_cast<int>(next_id - 1))
    r.marker("[ERROR: " + std::to_string(sink.sessions) + " session records for " + std::to_string(next_id - 1) +
             " sessions]");
  return r.text();
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> v;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) nl = s.size();
    v.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return v;
}

// A unified diff (LCS over lines, 3 lines of context).
std::string unified_diff(const std::string& a_text, const std::string& b_text, const std::string& a_name,
                         const std::string& b_name) {
  const auto a = split_lines(a_text), b = split_lines(b_text);
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::uint32_t>> lcs(n + 1, std::vector<std::uint32_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
  struct Op {
    char tag;
    std::size_t ai, bi;
  };
  std::vector<Op> ops;
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', i++, j++});
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push_back({'-', i++, j});
    } else {
      ops.push_back({'+', i, j++});
    }
  }
  std::string d = "--- " + a_name + "\n+++ " + b_name + "\n";
  constexpr std::size_t kContext = 3;
  for (std::size_t k = 0; k < ops.size();) {
    if (ops[k].tag == ' ') {
      ++k;
      continue;
    }
    // A hunk: from kContext before this change to kContext after the last
    // change that is at most 2*kContext away.
    std::size_t start = k >= kContext ? k - kContext : 0;
    std::size_t stop = k;
    for (std::size_t q = k; q < ops.size(); ++q) {
      if (ops[q].tag != ' ') stop = q;
      else if (q - stop > 2 * kContext) break;
    }
    const std::size_t last = std::min(ops.size(), stop + kContext + 1);
    std::size_t a_count = 0, b_count = 0;
    for (std::size_t q = start; q < last; ++q) {
      if (ops[q].tag != '+') ++a_count;
      if (ops[q].tag != '-') ++b_count;
    }
    d += "@@ -" + std::to_string(ops[start].ai + 1) + "," + std::to_string(a_count) + " +" +
         std::to_string(ops[start].bi + 1) + "," + std::to_string(b_count) + " @@\n";
    for (std::size_t q = start; q < last; ++q) {
      d.push_back(ops[q].tag);
      d += ops[q].tag == '+' ? b[ops[q].bi] : a[ops[q].ai];
      d += "\n";
    }
    k = last;
  }
  return d;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// 0: pass, 1: mismatch, 2: unusable input.
int run_one(const std::string& in_path, bool update) {
  const auto in = read_file(in_path);
  if (!in) {
    std::fprintf(stderr, "%s: cannot read\n", in_path.c_str());
    return 2;
  }
  std::string ref_path = in_path;
  if (ref_path.size() > 3 && ref_path.ends_with(".in")) ref_path.resize(ref_path.size() - 3);
  ref_path += ".ref";

  std::string actual, bytewise;
  try {
    const Script sc = parse(in_path, *in);
    actual = replay(sc, false);
    bytewise = replay(sc, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
  int rc = 0;
  if (bytewise != actual) {
    std::printf("%s: output depends on read boundaries (one byte per read differs):\n%s", in_path.c_str(),
                unified_diff(actual, bytewise, "as written", "one byte per read").c_str());
    rc = 1;
  }
  if (update) {
    std::ofstream f(ref_path, std::ios::binary | std::ios::trunc);
    f << actual;
    if (!f) {
      std::fprintf(stderr, "%s: cannot write\n", ref_path.c_str());
      return 2;
    }
    std::printf("%s: written\n", ref_path.c_str());
    return rc;
  }
  const auto expected = read_file(ref_path);
  if (!expected) {
    std::printf("%s: missing; run with --update and review it\n", ref_path.c_str());
    return 1;
  }
  if (*expected != actual) {
    std::printf("%s: output differs from %s\n%s", in_path.c_str(), ref_path.c_str(),
                unified_diff(*expected, actual, ref_path, "actual").c_str());
    return 1;
  }
  if (rc == 0) std::printf("%s: ok\n", in_path.c_str());
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  bool update = false;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--update")
      update = true;
    else
      files.emplace_back(a);
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s [--update] FILE.in...\n", argv[0]);
    return 2;
  }
  int worst = 0;
  for (const auto& f : files) worst = std::max(worst, run_one(f, update));
  return worst;
}
