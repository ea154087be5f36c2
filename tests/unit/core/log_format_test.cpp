// Tests for core/log_format: LogLine in key=value and JSON, and the escaping
// of peer text: quotes, backslashes, control bytes and bytes >= 0x80 never
// reach the output raw; peer fields stop at kPeerTextMax input bytes with
// "..."; every JSON line is checked by a strict JSON parser (below), and the
// escaping is checked to be reversible, so nothing is lost but the excess.
#include "core/log_format.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace spamsink::core {
namespace {

// ---- A strict parser for the flat JSON objects LogLine writes ----------
// Values: strings (decoded to bytes: \u00NN gives byte NN; anything above
// U+00FF is rejected since LogLine never writes it), integers, booleans.
using JsonValue = std::variant<std::string, std::int64_t, std::uint64_t, bool>;

class FlatJson {
 public:
  explicit FlatJson(std::string_view text) : s_(text) {}

  // nullopt (with error()) unless `text` is exactly one object and "\n".
  std::optional<std::map<std::string, JsonValue>> parse() {
    std::map<std::string, JsonValue> out;
    if (!eat('{')) return fail("expected {");
    if (peek() != '}') {
      for (;;) {
        auto key = string();
        if (!key) return std::nullopt;
        if (!eat(':')) return fail("expected :");
        auto v = value();
        if (!v) return std::nullopt;
        if (!out.emplace(*key, *v).second) return fail("duplicate key " + *key);
        if (eat(',')) continue;
        break;
      }
    }
    if (!eat('}')) return fail("expected }");
    if (!eat('\n')) return fail("expected newline");
    if (pos_ != s_.size()) return fail("trailing bytes");
    return out;
  }
  const std::string& error() const { return error_; }

 private:
  std::nullopt_t fail(std::string why) {
    error_ = why + " at " + std::to_string(pos_);
    return std::nullopt;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  std::optional<std::string> string() {
    if (!eat('"')) return fail("expected string");
    std::string out;
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_++]);
      if (c == '"') return out;
      if (c < 0x20 || c >= 0x80) return fail("raw byte in string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      if (pos_ >= s_.size()) return fail("dangling backslash");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (pos_ + 4 > s_.size()) return fail("short \\u");
          int cp = 0;
          for (int i = 0; i < 4; ++i) {
            const int h = hex(s_[pos_++]);
            if (h < 0) return fail("bad \\u digit");
            cp = cp * 16 + h;
          }
          if (cp > 0xff) return fail("\\u above 00ff");
          out.push_back(static_cast<char>(cp));
          break;
        }
        default: return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }
  std::optional<JsonValue> value() {
    if (peek() == '"') {
      auto s = string();
      if (!s) return std::nullopt;
      return JsonValue{*s};
    }
    if (s_.substr(pos_, 4) == "true") {
      pos_ += 4;
      return JsonValue{true};
    }
    if (s_.substr(pos_, 5) == "false") {
      pos_ += 5;
      return JsonValue{false};
    }
    const bool neg = eat('-');
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') v = v * 10 + static_cast<std::uint64_t>(s_[pos_++] - '0');
    if (pos_ == start) return fail("expected value");
    if (s_[start] == '0' && pos_ - start > 1) return fail("leading zero");
    if (neg) return JsonValue{-static_cast<std::int64_t>(v)};
    return JsonValue{v};
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

std::map<std::string, JsonValue> parse_json_line(const std::string& line) {
  FlatJson p(line);
  auto r = p.parse();
  EXPECT_TRUE(r.has_value()) << p.error() << " in: " << line;
  return r.value_or(std::map<std::string, JsonValue>{});
}

// Reverses the key=value escaping (\" \\ \xNN); nullopt on anything else.
std::optional<std::string> unescape_kv(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"') return std::nullopt;  // must have been escaped
    if (c != '\\') {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 1 >= s.size()) return std::nullopt;
    const char e = s[++i];
    if (e == '"' || e == '\\') {
      out.push_back(e);
    } else if (e == 'x' && i + 2 < s.size()) {
      auto h = [](char x) { return x >= 'a' ? x - 'a' + 10 : x - '0'; };
      out.push_back(static_cast<char>(h(s[i + 1]) * 16 + h(s[i + 2])));
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string all_bytes() {
  std::string s;
  for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
  return s;
}

// ---- key=value ----------------------------------------------------------

TEST(LogLineKeyValue, PlainFields) {
  std::string out;
  LogLine l(LogFormat::kKeyValue, out);
  l.str("event", "connect").num("port", 2525).num("n", std::uint64_t{18446744073709551615ull});
  l.num("neg", -5).num("u32", std::uint32_t{7}).boolean("tls", false).boolean("ok", true);
  l.finish();
  EXPECT_EQ(out, "event=connect port=2525 n=18446744073709551615 neg=-5 u32=7 tls=false ok=true\n");
}

TEST(LogLineKeyValue, TrustedTextIsQuotedOnlyWhenNeeded) {
  std::string out;
  LogLine(LogFormat::kKeyValue, out)
      .str("a", "x y")
      .str("b", "")
      .str("c", "k=v")
      .str("d", "q\"uote")
      .str("e", "back\\slash")
      .str("f", "127.0.0.1")
      .finish();
  EXPECT_EQ(out, R"(a="x y" b="" c="k=v" d="q\"uote" e="back\\slash" f=127.0.0.1)" "\n");
}

TEST(LogLineKeyValue, PeerTextIsAlwaysQuotedAndEscaped) {
  std::string out;
  LogLine(LogFormat::kKeyValue, out)
      .peer("helo", "mail.example")
      .peer("from", "a\"b\\c")
      .peer("ctl", std::string_view("\r\n\t\x00\x1b\x7f", 6))
      .peer("hi", "\x80\xc3\xa9\xff")
      .peer("empty", "")
      .finish();
  EXPECT_EQ(out,
            "helo=\"mail.example\" from=\"a\\\"b\\\\c\" ctl=\"\\x0d\\x0a\\x09\\x00\\x1b\\x7f\" "
            "hi=\"\\x80\\xc3\\xa9\\xff\" empty=\"\"\n");
}

TEST(LogLineKeyValue, EveryByteValueIsEscapedReversibly) {
  const std::string in = all_bytes();
  std::string out;
  escape_peer_text(in, in.size(), out, LogFormat::kKeyValue);
  for (unsigned char c : out) ASSERT_TRUE(c >= 0x20 && c < 0x7f) << "raw byte " << int(c);
  EXPECT_EQ(unescape_kv(out), in);
  // Printable ASCII other than the quote and backslash stays as it is.
  std::string p;
  escape_peer_text("Hello, World! <a@b> [1.2.3.4] ~", 100, p);
  EXPECT_EQ(p, "Hello, World! <a@b> [1.2.3.4] ~");
}

TEST(LogLineKeyValue, PeerTextIsTruncatedAtKPeerTextMax) {
  const std::string exact(LogLine::kPeerTextMax, 'a');
  const std::string over(LogLine::kPeerTextMax + 1, 'a');
  std::string o1, o2;
  LogLine(LogFormat::kKeyValue, o1).peer("k", exact).finish();
  LogLine(LogFormat::kKeyValue, o2).peer("k", over).finish();
  EXPECT_EQ(o1, "k=\"" + exact + "\"\n");
  EXPECT_EQ(o2, "k=\"" + exact + "...\"\n");
  // The limit counts input bytes, not escaped output bytes.
  std::string o3;
  LogLine(LogFormat::kKeyValue, o3).peer("k", std::string(1000, '\x01')).finish();
  std::string expect = "k=\"";
  for (std::size_t i = 0; i < LogLine::kPeerTextMax; ++i) expect += "\\x01";
  EXPECT_EQ(o3, expect + "...\"\n");
}

TEST(EscapePeerText, HonoursMaxAndAppends) {
  std::string out = "pre:";
  escape_peer_text("abcdef", 3, out);
  EXPECT_EQ(out, "pre:abc...");
  out.clear();
  escape_peer_text("abc", 3, out);
  EXPECT_EQ(out, "abc");
  out.clear();
  escape_peer_text("abc", 0, out);
  EXPECT_EQ(out, "...");
  out.clear();
  escape_peer_text("", 0, out);
  EXPECT_EQ(out, "");
  // A cut never splits an escape: the 3rd input byte is escaped whole.
  out.clear();
  escape_peer_text("ab\"cd", 3, out);
  EXPECT_EQ(out, "ab\\\"...");
}

// ---- JSON ---------------------------------------------------------------

TEST(LogLineJson, PlainFields) {
  std::string out;
  LogLine(LogFormat::kJson, out)
      .str("event", "connect")
      .num("port", 2525)
      .num("neg", -5)
      .boolean("tls", false)
      .peer("helo", "x y")
      .finish();
  EXPECT_EQ(out, R"({"event":"connect","port":2525,"neg":-5,"tls":false,"helo":"x y"})" "\n");
  auto obj = parse_json_line(out);
  EXPECT_EQ(std::get<std::string>(obj["event"]), "connect");
  EXPECT_EQ(std::get<std::uint64_t>(obj["port"]), 2525u);
  EXPECT_EQ(std::get<std::int64_t>(obj["neg"]), -5);
  EXPECT_EQ(std::get<bool>(obj["tls"]), false);
  EXPECT_EQ(std::get<std::string>(obj["helo"]), "x y");
}

TEST(LogLineJson, EmptyLineIsAnEmptyObject) {
  std::string out;
  LogLine(LogFormat::kJson, out).finish();
  EXPECT_EQ(out, "{}\n");
  parse_json_line(out);
}

TEST(LogLineJson, EscapesUseU00NN) {
  std::string out;
  LogLine(LogFormat::kJson, out)
      .peer("ctl", std::string_view("a\r\n\x00\x7f", 5))
      .peer("q", "a\"b\\c")
      .peer("hi", "\x80\xff")
      .finish();
  EXPECT_EQ(out, R"({"ctl":"a\u000d\u000a\u0000\u007f","q":"a\"b\\c","hi":"\u0080\u00ff"})" "\n");
  EXPECT_EQ(out.find("\\x"), std::string::npos);
}

TEST(LogLineJson, EveryByteValueGivesValidJsonThatDecodesBack) {
  // Peer text made of every byte, in pieces that straddle kPeerTextMax.
  const std::string bytes = all_bytes();
  std::string out;
  LogLine line(LogFormat::kJson, out);
  line.peer("all", bytes.substr(0, 200)).peer("rest", bytes.substr(200)).str("trusted", bytes.substr(0, 64));
  line.num("n", 1).finish();
  auto obj = parse_json_line(out);
  EXPECT_EQ(std::get<std::string>(obj["all"]), bytes.substr(0, 200));
  EXPECT_EQ(std::get<std::string>(obj["rest"]), bytes.substr(200));
  EXPECT_EQ(std::get<std::string>(obj["trusted"]), bytes.substr(0, 64));
  for (unsigned char c : out.substr(0, out.size() - 1)) ASSERT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
}

TEST(LogLineJson, TruncatedPeerTextStaysValid) {
  std::string big;
  for (int i = 0; i < 4; ++i) big += all_bytes();
  std::string out;
  LogLine(LogFormat::kJson, out).peer("big", big).peer("quotes", std::string(300, '"')).finish();
  auto obj = parse_json_line(out);
  EXPECT_EQ(std::get<std::string>(obj["big"]), big.substr(0, LogLine::kPeerTextMax) + "...");
  EXPECT_EQ(std::get<std::string>(obj["quotes"]), std::string(LogLine::kPeerTextMax, '"') + "...");
}

// The JSON parser above must itself reject what is not JSON, or the tests
// that rely on it prove nothing.
TEST(FlatJsonSelfTest, RejectsInvalidJson) {
  for (const char* bad : {"{\"a\":\"x\\x01\"}\n", "{\"a\":\"\x01\"}\n", "{\"a\":\"\xc3\xa9\"}\n", "{\"a\":1}",
                          "{\"a\":1,}\n", "{\"a\":\"x}\n", "{\"a\":\"\\u00g0\"}\n", "{a:1}\n", "{\"a\":01}\n",
                          "{\"a\":1}\n\n", "{\"a\":1,\"a\":2}\n"}) {
    FlatJson p(bad);
    EXPECT_FALSE(p.parse().has_value()) << bad;
  }
  FlatJson ok("{\"a\":\"\\u0041\\\"\",\"b\":true}\n");
  auto r = ok.parse();
  ASSERT_TRUE(r.has_value()) << ok.error();
  EXPECT_EQ(std::get<std::string>((*r)["a"]), "A\"");
}

}  // namespace
}  // namespace spamsink::core

namespace spamsink::core {
namespace {

TEST(LogLineCut, ValueCutByItsOwnerIsMarked) {
  std::string out;
  LogLine l(LogFormat::kKeyValue, out);
  l.peer("helo", "abc", true).peer("from", "x", false);
  l.finish();
  EXPECT_EQ(out, "helo=\"abc...\" from=\"x\"\n");
}

TEST(LogLineCut, NoDoubleMarkWhenAlsoTooLong) {
  std::string out;
  LogLine l(LogFormat::kKeyValue, out);
  l.peer("v", std::string(LogLine::kPeerTextMax + 10, 'a'), true);
  l.finish();
  EXPECT_EQ(out, "v=\"" + std::string(LogLine::kPeerTextMax, 'a') + "...\"\n");
}

}  // namespace
}  // namespace spamsink::core
