#include "smtp/replies.hpp"

#include <charconv>
#include <vector>

#include "smtp/persona.hpp"

namespace spamsink::smtp {

namespace {

void append_number(std::uint64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_2(unsigned v, std::string& out) {
  out.push_back(static_cast<char>('0' + v / 10 % 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// Appends `text` with {host} and {size} rendered; true if another
// placeholder remains (a dynamic text).
bool render_static(std::string_view text, std::string_view host, std::string_view size, std::string& out) {
  bool dynamic = false;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '{') {
      if (text.substr(i, 6) == "{host}") {
        out.append(host);
        i += 6;
        continue;
      }
      if (text.substr(i, 6) == "{size}") {
        out.append(size);
        i += 6;
        continue;
      }
      dynamic = true;
    }
    out.push_back(text[i++]);
  }
  return dynamic;
}

// "a\nb" -> "a\r\nb\r\n".
std::string crlf_lines(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n')
      out += "\r\n";
    else
      out.push_back(c);
  }
  out += "\r\n";
  return out;
}

}  // namespace

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > ReplyTable::kMaxHostname) return false;
  for (char c : h)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return false;
  return true;
}

void append_printable(std::string_view in, std::size_t max, std::string& out) {
  if (in.size() > max) in = in.substr(0, max);
  for (unsigned char c : in) out.push_back((c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?');
}

void append_rfc5322_date(std::int64_t unix_time, std::string& out) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};  // 1970-01-01: Thu
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (unix_time < 0) unix_time = 0;
  const std::int64_t days = unix_time / 86400;
  const std::int64_t secs = unix_time % 86400;
  // Civil date from days since the epoch (Howard Hinnant's algorithm).
  const std::int64_t z = days + 719468;
  const std::int64_t era = z / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const unsigned day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const unsigned month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  out.append(kDays[days % 7]);
  out.append(", ");
  append_number(day, out);
  out.push_back(' ');
  out.append(kMonths[month - 1]);
  out.push_back(' ');
  append_number(static_cast<std::uint64_t>(year), out);
  out.push_back(' ');
  append_2(static_cast<unsigned>(secs / 3600), out);
  out.push_back(':');
  append_2(static_cast<unsigned>(secs / 60 % 60), out);
  out.push_back(':');
  append_2(static_cast<unsigned>(secs % 60), out);
  out.append(" +0000");
}

ReplyTable ReplyTable::from_persona(const Persona& p, std::string_view hostname, std::uint64_t size_limit,
                                    std::int64_t unix_time, bool tls_available) {
  ReplyTable t;
  t.hostname_ = std::string(hostname);
  t.name_ = p.name;
  t.queue_id_format_ = p.queue_id_format;
  t.behaviour_ = p.behaviour;
  t.unix_time_ = unix_time;
  const std::string size = std::to_string(size_limit);
  for (std::size_t i = 0; i < t.texts_.size(); ++i) {
    const auto id = static_cast<ReplyId>(i);
    if (id == ReplyId::kEhlo || id == ReplyId::kEhloStarttls || id == ReplyId::kEhloAfterTls) continue;
    std::string text;
    render_static(crlf_lines(p.texts[i]), hostname, size, text);
    t.set(id, std::move(text));
  }
  // EHLO: the greeting line, then the keywords, each "250-" but the last.
  auto ehlo_text = [&](const std::vector<std::string>& keywords) {
    std::string ehlo = "250";
    ehlo += keywords.empty() ? " " : "-";
    ehlo += p.ehlo_greeting + "\r\n";
    for (std::size_t i = 0; i < keywords.size(); ++i) {
      ehlo += i + 1 == keywords.size() ? "250 " : "250-";
      ehlo += keywords[i] + "\r\n";
    }
    std::string text;
    render_static(ehlo, hostname, size, text);
    return text;
  };
  t.starttls_ = p.starttls;
  const std::vector<std::string>& offered = p.starttls ? p.ehlo_keywords_tls : p.ehlo_keywords;
  std::vector<std::string> after_tls;  // RFC 3207: STARTTLS is not offered inside TLS
  for (const auto& k : offered)
    if (k != "STARTTLS") after_tls.push_back(k);
  t.set(ReplyId::kEhlo, ehlo_text(tls_available ? offered : p.ehlo_keywords));
  t.set(ReplyId::kEhloStarttls, ehlo_text(offered));
  t.set(ReplyId::kEhloAfterTls, ehlo_text(after_tls));
  return t;
}

ReplyTable ReplyTable::postfix(std::string_view hostname, std::uint64_t size_limit) {
  return from_persona(builtin_persona("postfix"), hostname, size_limit);
}

void ReplyTable::set(ReplyId id, std::string text) {
  const auto i = static_cast<std::size_t>(id);
  dynamic_[i] = text.find('{') != std::string::npos;
  if (!dynamic_[i]) {
    texts_[i] = std::move(text);
    templates_[i].clear();
    return;
  }
  templates_[i] = std::move(text);
  texts_[i].clear();
  ReplyVars v;
  v.unix_time = unix_time_;
  render(id, v, texts_[i]);
}

void ReplyTable::render(ReplyId id, const ReplyVars& v, std::string& out) const {
  const auto i = static_cast<std::size_t>(id);
  if (!dynamic_[i]) {
    out.append(texts_[i]);
    return;
  }
  const std::string_view t = templates_[i];
  for (std::size_t k = 0; k < t.size();) {
    if (t[k] != '{') {
      const std::size_t next = t.find('{', k);
      const std::size_t end = next == std::string_view::npos ? t.size() : next;
      out.append(t.substr(k, end - k));
      k = end;
      continue;
    }
    const std::size_t close = t.find('}', k);
    const std::string_view name = close == std::string_view::npos ? std::string_view{} : t.substr(k + 1, close - k - 1);
    if (name == "helo") append_printable(v.helo, kMaxEcho, out);
    else if (name == "ip") out.append(v.ip);
    else if (name == "arg") append_printable(v.arg, kMaxEcho, out);
    else if (name == "id") out.append(v.id);
    else if (name == "code") out.append(v.code);
    else if (name == "bytes") append_number(v.bytes, out);
    else if (name == "num") append_number(v.num, out);
    else if (name == "date") append_rfc5322_date(v.unix_time, out);
    else {
      // Not a placeholder (the parser allows only known ones): literal.
      out.push_back('{');
      ++k;
      continue;
    }
    k = close + 1;
  }
}

void ReplyTable::queued(std::string_view queue_id, std::string& out) const {
  ReplyVars v;
  v.id = queue_id;
  render(ReplyId::kQueued, v, out);
}

void ReplyTable::bdat_ok(std::uint64_t bytes, std::string& out) const {
  ReplyVars v;
  v.bytes = bytes;
  render(ReplyId::kBdatOk, v, out);
}

void ReplyTable::bdat_queued(std::uint64_t bytes, std::string_view queue_id, std::string& out) const {
  ReplyVars v;
  v.bytes = bytes;
  v.id = queue_id;
  render(ReplyId::kBdatQueued, v, out);
}

void ReplyTable::bdat_discarded(std::uint64_t bytes, std::string& out) const {
  ReplyVars v;
  v.bytes = bytes;
  render(ReplyId::kBdatDiscarded, v, out);
}

void ReplyTable::vrfy(std::string_view address, std::string& out) const {
  ReplyVars v;
  v.arg = address;
  render(ReplyId::kVrfy, v, out);
}

void ReplyTable::unsupported_option(std::string_view param, std::string& out) const {
  ReplyVars v;
  v.arg = param;
  render(ReplyId::kUnsupportedOption, v, out);
}

void ReplyTable::etrn_refused(std::string_view domain, std::string& out) const {
  ReplyVars v;
  v.arg = domain;
  render(ReplyId::kEtrnRefused, v, out);
}

void ReplyTable::too_many_conns(std::string_view ip, std::string& out) const {
  ReplyVars v;
  v.ip = ip;
  render(ReplyId::kTooManyConns, v, out);
}

}  // namespace spamsink::smtp
