#include "core/log_format.hpp"

#include <charconv>

namespace spamsink::core {

void escape_peer_text(std::string_view in, std::size_t max, std::string& out, LogFormat format) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool truncated = in.size() > max;
  if (truncated) in = in.substr(0, max);
  for (unsigned char c : in) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else {
      out.append(format == LogFormat::kJson ? "\\u00" : "\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (truncated) out.append("...");
}

namespace {

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x21 ||
        static_cast<unsigned char>(c) > 0x7e)
      return true;
  return false;
}

}  // namespace

LogLine::LogLine(LogFormat format, std::string& out) : format_(format), out_(out) {
  if (format_ == LogFormat::kJson) out_.push_back('{');
}

void LogLine::key(std::string_view k) {
  if (!first_) out_.push_back(format_ == LogFormat::kJson ? ',' : ' ');
  first_ = false;
  if (format_ == LogFormat::kJson) {
    out_.push_back('"');
    out_.append(k);
    out_.append("\":");
  } else {
    out_.append(k);
    out_.push_back('=');
  }
}

LogLine& LogLine::str(std::string_view k, std::string_view v) {
  key(k);
  if (format_ == LogFormat::kJson || needs_quotes(v)) {
    out_.push_back('"');
    escape_peer_text(v, v.size(), out_, format_);
    out_.push_back('"');
  } else {
    out_.append(v);
  }
  return *this;
}

LogLine& LogLine::peer(std::string_view k, std::string_view v, bool cut) {
  key(k);
  out_.push_back('"');
  escape_peer_text(v, kPeerTextMax, out_, format_);
  if (cut && v.size() <= kPeerTextMax) out_.append("...");
  out_.push_back('"');
  return *this;
}

LogLine& LogLine::num(std::string_view k, std::uint64_t v) {
  key(k);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

LogLine& LogLine::num(std::string_view k, std::int64_t v) {
  key(k);
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

LogLine& LogLine::boolean(std::string_view k, bool v) {
  key(k);
  out_.append(v ? "true" : "false");
  return *this;
}

void LogLine::finish() {
  if (format_ == LogFormat::kJson) out_.push_back('}');
  out_.push_back('\n');
}

}  // namespace spamsink::core
