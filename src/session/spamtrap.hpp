// session/spamtrap: the spamtrap list and its matcher.
//
// Purpose: a recipient on the list marks its session as a trap hit
// (SessionRecord::trap_hit), a fact for the store and the blocklists.
// File format (one entry a line; '#' starts a comment, blank lines and
// surrounding spaces are ignored; matching is case-insensitive):
//   trap@example.com     that address
//   *@trap.example       any address at trap.example (not its subdomains)
//   *@*.trap.example     any address at a subdomain of trap.example, at
//                        any depth (not trap.example itself)
// Anything else ('*' elsewhere, no '@', spaces inside, an empty part) is an
// error naming the line, so a typo never silently traps nothing.
// Invariants: parse() either returns a whole list or an error; a list is
// immutable once built (shared between worker threads and swapped whole
// on reload). match() allocates nothing.
// Limits: kMaxEntries entries, kMaxLineBytes per line, kMaxFileBytes per
// file (checked by the loader).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace spamsink::session {

class SpamtrapList {
 public:
  static constexpr std::size_t kMaxEntries = 1'000'000;
  static constexpr std::size_t kMaxLineBytes = 512;
  static constexpr std::size_t kMaxFileBytes = 64 * 1024 * 1024;
  // Longest address or domain match() looks up (RFC 5321: 64 + 1 + 255).
  static constexpr std::size_t kMaxAddressBytes = 320;

  // Parses the text of a list; on error returns false and sets `error`
  // to "line N: what is wrong".
  static bool parse(std::string_view text, SpamtrapList& out, std::string& error);

  // True if `address` (local@domain, as given in RCPT TO) is on the list.
  bool match(std::string_view address) const;
  std::size_t size() const { return addresses_.size() + domains_.size() + subdomains_.size(); }
  bool empty() const { return size() == 0; }

 private:
  // Sorted, lower-case; looked up by binary search.
  std::vector<std::string> addresses_;
  std::vector<std::string> domains_;     // *@domain
  std::vector<std::string> subdomains_;  // *@*.domain: stored as "domain"
};

}  // namespace spamsink::session
