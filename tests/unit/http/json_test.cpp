#include "http/json.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace spamsink::http {
namespace {

std::string esc(std::string_view s) {
  std::string out;
  escape_json(s, out);
  return out;
}

// Wraps the escaped text in quotes and parses it with a strict parser.
nlohmann::json parse_string(std::string_view raw) {
  std::string doc = "\"" + esc(raw) + "\"";
  return nlohmann::json::parse(doc);  // throws on invalid JSON or invalid UTF-8
}

TEST(Json, ScriptHeloIsNeutralised) {
  const std::string helo = "<script>alert(\"x\")</script>&";
  const std::string e = esc(helo);
  EXPECT_EQ(e.find('<'), std::string::npos);
  EXPECT_EQ(e.find('>'), std::string::npos);
  EXPECT_EQ(e.find('&'), std::string::npos);
  EXPECT_EQ(e, "\\u003cscript\\u003ealert(\\\"x\\\")\\u003c/script\\u003e\\u0026");
  EXPECT_EQ(parse_string(helo).get<std::string>(), helo);
}

TEST(Json, ControlCharactersAreEscaped) {
  EXPECT_EQ(esc(std::string("a\0b\x1f\x7f\n\r\t\\", 9)), "a\\u0000b\\u001f\\u007f\\n\\r\\t\\\\");
}

TEST(Json, ValidUtf8PassesThrough) {
  const std::string s = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";  // é € 😀
  EXPECT_EQ(esc(s), s);
  EXPECT_EQ(parse_string(s).get<std::string>(), s);
}

TEST(Json, InvalidUtf8BecomesLatin1Escapes) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"\xFF", "\\u00ff"},
      {"a\xC3", "a\\u00c3"},                          // truncated 2-byte sequence
      {"\xC0\x80", "\\u00c0\\u0080"},                 // overlong NUL
      {"\xED\xA0\x80", "\\u00ed\\u00a0\\u0080"},      // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"},  // above U+10FFFF
      {"\xE2\x82", "\\u00e2\\u0082"},                 // truncated 3-byte
      {"\x80x", "\\u0080x"},                          // stray continuation
  };
  for (const auto& c : cases) {
    EXPECT_EQ(esc(c.in), c.out) << c.out;
    EXPECT_NO_THROW(parse_string(c.in)) << c.out;
  }
}

TEST(Json, EveryByteStringIsValidJson) {
  // All 2-byte strings, and a deterministic walk over longer ones.
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      ASSERT_NO_THROW(parse_string(s)) << a << " " << b;
    }
  std::uint32_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int k = 0; k < 7; ++k) {
      x = x * 1103515245u + 12345u;
      s += static_cast<char>(x >> 24);
    }
    ASSERT_NO_THROW(parse_string(s));
  }
}

TEST(Json, WriterBuildsNestedDocuments) {
  std::string out;
  JsonWriter w(out);
  w.begin_object().str("a", "x").num("n", std::uint64_t{18446744073709551615u}).num("d", 1.5);
  w.key("arr").begin_array().num(std::uint64_t{1}).begin_object().boolean("t", true).end_object().null().end_array();
  w.time("when", std::chrono::sys_seconds{std::chrono::seconds{1764043500}});
  w.end_object();
  EXPECT_EQ(out,
            R"({"a":"x","n":18446744073709551615,"d":1.5,"arr":[1,{"t":true},null],"when":"2025-11-25T04:05:00Z"})");
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["arr"][1]["t"], true);
}

TEST(Json, NonFiniteNumbersBecomeZero) {
  std::string out;
  JsonWriter w(out);
  w.begin_array().num(std::numeric_limits<double>::infinity()).num(std::nan("")).end_array();
  EXPECT_EQ(out, "[0,0]");
}

TEST(Json, FormatTime) {
  EXPECT_EQ(format_time(std::chrono::sys_seconds{}), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_time(std::chrono::sys_days{std::chrono::year{2024} / 2 / 29} + std::chrono::seconds{86399}),
            "2024-02-29T23:59:59Z");
}

}  // namespace
}  // namespace spamsink::http
