// http/json: a small JSON writer for the API's answers.
//
// Purpose: build JSON text by appending to one std::string, no DOM, so a
// page of 1000 rows costs one growing buffer. Peer text (HELO, MAIL FROM,
// recipients) goes through escape(), which always yields valid UTF-8 JSON.
// Invariants: escape() maps every byte sequence to a valid JSON string
// body: valid UTF-8 passes through (except what must or should be
// escaped), each byte that is not part of a valid UTF-8 sequence becomes
// \u00XX (the Latin-1 reading of that byte), '<' '>' '&' become \u003c
// \u003e \u0026 so the text can be embedded in HTML. The writer does not
// check nesting: callers pair begin/end themselves (the tests parse every
// shape the API emits).
// Limits: none beyond the caller's data; numbers are printed exactly
// (integers) or with up to 17 significant digits (doubles; NaN/inf as 0).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace spamsink::http {

// Appends `s` as the body of a JSON string (without the quotes).
void escape_json(std::string_view s, std::string& out);

// "2026-11-25T04:05:00Z"
std::string format_time(std::chrono::sys_seconds t);

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // Object member name; the value follows with one of the value calls.
  JsonWriter& key(std::string_view k);
  JsonWriter& str(std::string_view v);
  JsonWriter& num(std::uint64_t v);
  JsonWriter& num(double v);
  JsonWriter& boolean(bool v);
  JsonWriter& null();
  JsonWriter& time(std::chrono::sys_seconds t);

  // key + value shorthands
  JsonWriter& str(std::string_view k, std::string_view v) { return key(k).str(v); }
  JsonWriter& num(std::string_view k, std::uint64_t v) { return key(k).num(v); }
  JsonWriter& num(std::string_view k, double v) { return key(k).num(v); }
  JsonWriter& boolean(std::string_view k, bool v) { return key(k).boolean(v); }
  JsonWriter& time(std::string_view k, std::chrono::sys_seconds t) { return key(k).time(t); }

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void comma();

  std::string& out_;
  bool need_comma_ = false;
};

}  // namespace spamsink::http
