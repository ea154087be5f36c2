// fuzz/fuzz_http: the HTTP API's parsers and its JSON escaping.
//
// Input: the first byte picks a part, the rest is its text:
//  0: an RFC 3339 time: an accepted one formats and re-parses to itself;
//  1: an IP address: an accepted one prints and re-parses to itself;
//  2: peer text through escape_json: the result is valid UTF-8, holds no
//     raw control character, '<', '>' or '&', no unescaped quote, and an
//     ASCII input decodes back to itself;
//  3: a query string (a=b&c=d) through every route's parser: whatever is
//     accepted is inside its documented range;
//  4: 16-byte addresses through the blocklist writer (txt, v6 prefix from
//     the input) with a never-list made of the first address's /N: no
//     listed line is inside the never-list, every line re-parses.
//  5: an If-None-Match header against an ETag (text before the first
//     newline, quoted): a list that names the tag matches, with W/ and
//     spaces too; a match means the header holds the tag or a "*".
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/blocklist.hpp"
#include "http/etag.hpp"
#include "http/json.hpp"
#include "http/params.hpp"

namespace {

using namespace spamsink;

// RFC 3629 validator, written independently of http/json.cpp's.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void check_escape(std::string_view in) {
  std::string out;
  http::escape_json(in, out);
  FUZZ_CHECK(valid_utf8(out));
  std::string decoded;
  bool ascii = true;
  for (char c : in) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(out[i]);
    FUZZ_CHECK(c >= 0x20 && c != 0x7F && c != '<' && c != '>' && c != '&' && c != '"');
    if (c != '\\') {
      decoded += static_cast<char>(c);
      continue;
    }
    FUZZ_CHECK(i + 1 < out.size());
    const char e = out[++i];
    if (e == 'u') {
      FUZZ_CHECK(i + 4 < out.size());
      int v = 0;
      for (int k = 1; k <= 4; ++k) {
        const int h = hexval(out[i + static_cast<std::size_t>(k)]);
        FUZZ_CHECK(h >= 0);
        v = v * 16 + h;
      }
      FUZZ_CHECK(v < 0x100);
      decoded += static_cast<char>(v);  // a byte (Latin-1 reading for >= 0x80)
      i += 4;
    } else {
      FUZZ_CHECK(e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't');
      decoded += e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e;
    }
  }
  if (ascii) FUZZ_CHECK(decoded == in);
}

void check_params(std::string_view q) {
  http::Params p;
  while (!q.empty()) {
    const auto amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    const auto eq = item.find('=');
    p.emplace(std::string(item.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1)));
  }
  auto h = http::parse_host_query(p);
  if (auto* q1 = std::get_if<store::HostQuery>(&h)) {
    FUZZ_CHECK(q1->limit >= 1 && q1->limit <= store::kMaxPageLimit);
    FUZZ_CHECK(q1->cursor.size() <= http::kMaxCursor);
  } else {
    FUZZ_CHECK(!std::get<http::ParamError>(h).parameter.empty());
  }
  auto s = http::parse_session_query(p);
  if (auto* q2 = std::get_if<store::SessionQuery>(&s)) {
    FUZZ_CHECK(q2->limit >= 1 && q2->limit <= store::kMaxPageLimit);
    FUZZ_CHECK(!q2->listener || (!q2->listener->empty() && q2->listener->size() <= http::kMaxListener));
    FUZZ_CHECK(!(q2->since && q2->until) || *q2->since < *q2->until);
  }
  auto b = http::parse_blocklist_params(p);
  if (auto* q3 = std::get_if<http::BlocklistParams>(&b)) {
    FUZZ_CHECK(q3->v6_prefix >= 8 && q3->v6_prefix <= 128);
    FUZZ_CHECK(q3->query.min_sessions >= 1);
  }
}

void check_blocklist(std::string_view in) {
  if (in.size() < 17) return;
  const std::uint8_t prefix = static_cast<std::uint8_t>(8 + static_cast<unsigned char>(in[0]) % 121);
  in.remove_prefix(1);
  std::vector<store::HostRow> rows;
  for (std::size_t i = 0; i + 16 <= in.size() && rows.size() < 256; i += 16) {
    store::HostRow h;
    std::copy(in.begin() + static_cast<std::ptrdiff_t>(i), in.begin() + static_cast<std::ptrdiff_t>(i + 16),
              h.ip.bytes.begin());
    h.sessions = 1;
    rows.push_back(h);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.ip.bytes < b.ip.bytes; });
  const std::vector<core::Cidr> never = {core::Cidr::make(rows[0].ip, static_cast<std::uint8_t>(prefix + 0))};
  http::BlocklistWriter w(http::BlocklistFormat::kTxt, prefix, never, std::chrono::sys_seconds{});
  std::string out;
  w.begin(out);
  for (const auto& r : rows) w.add(r, out);
  w.finish(out);
  std::size_t start = 0;
  while (start < out.size()) {
    const auto nl = out.find('\n', start);
    FUZZ_CHECK(nl != std::string::npos);
    const std::string line = out.substr(start, nl - start);
    start = nl + 1;
    const auto slash = line.find('/');
    auto ip = http::parse_ip(line.substr(0, slash));
    FUZZ_CHECK(ip.has_value());
    if (slash == std::string::npos) {
      FUZZ_CHECK(!core::any_contains(never, *ip));
    } else {
      FUZZ_CHECK(!ip->is_v4());
      const int bits = std::stoi(line.substr(slash + 1));
      FUZZ_CHECK(bits == prefix);
      const core::Cidr block = core::Cidr::make(*ip, static_cast<std::uint8_t>(bits));
      FUZZ_CHECK(never[0].net.is_v4() || !http::overlaps(never[0], block));
    }
  }
}

}  // namespace

void check_etag(std::string_view in) {
  const auto nl = in.find('\n');
  std::string_view body = in.substr(0, nl);
  const std::string_view header = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  if (body.find_first_of("\",") != std::string_view::npos) return;
  const std::string etag = "\"" + std::string(body) + "\"";
  const bool m = http::etag_matches(header, etag);
  if (m) FUZZ_CHECK(header.find(etag) != std::string_view::npos || header.find('*') != std::string_view::npos);
  FUZZ_CHECK(http::etag_matches(etag, etag));
  FUZZ_CHECK(http::etag_matches(std::string(header) + ", W/" + etag, etag));
  FUZZ_CHECK(http::etag_matches(" \t" + etag + " ,", etag));
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0:
      if (auto t = http::parse_time(rest)) FUZZ_CHECK(http::parse_time(http::format_time(*t)) == t);
      break;
    case 1:
      if (auto ip = http::parse_ip(rest)) FUZZ_CHECK(http::parse_ip(ip->to_string()) == ip);
      break;
    case 2: check_escape(rest); break;
    case 3: check_params(rest); break;
    case 4: check_blocklist(rest); break;
    case 5: check_etag(rest); break;
  }
  return 0;
}
