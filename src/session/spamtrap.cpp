#include "session/spamtrap.hpp"

#include <algorithm>

namespace spamsink::session {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool printable_word(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>' || c == ',') return false;
  }
  return true;
}

// A domain part: labels separated by single dots, no '*', no '@'.
bool valid_domain(std::string_view d) {
  if (d.empty() || d.front() == '.' || d.back() == '.' || d.size() > 255) return false;
  if (d.find("..") != std::string_view::npos) return false;
  return d.find_first_of("*@") == std::string_view::npos && printable_word(d);
}

// "'entry': what" (built with append: GCC 12 warns falsely on operator+).
std::string about(std::string_view entry, std::string_view what) {
  std::string s;
  s.append("'").append(entry).append("': ").append(what);
  return s;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool contains(const std::vector<std::string>& v, std::string_view key) {
  return std::binary_search(v.begin(), v.end(), key, [](std::string_view a, std::string_view b) { return a < b; });
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

bool SpamtrapList::parse(std::string_view text, SpamtrapList& out, std::string& error) {
  SpamtrapList list;
  std::size_t line_no = 0;
  std::size_t entries = 0;
  auto fail = [&](const std::string& what) {
    error = "line " + std::to_string(line_no) + ": " + what;
    return false;
  };
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.size() > kMaxLineBytes) return fail("longer than " + std::to_string(kMaxLineBytes) + " bytes");
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    if (++entries > kMaxEntries) return fail("more than " + std::to_string(kMaxEntries) + " entries");
    if (!printable_word(line)) return fail("an entry is one address without spaces or control bytes");
    const auto at = line.rfind('@');
    if (at == std::string_view::npos || line.find('@') != at)
      return fail(about(line, "expected local@domain, *@domain or *@*.domain"));
    const std::string_view local = line.substr(0, at);
    std::string_view domain = line.substr(at + 1);
    if (local.empty()) return fail(about(line, "empty local part (use *@domain for a whole domain)"));
    if (local.find('*') != std::string_view::npos && local != "*")
      return fail(about(line, "'*' only as the whole local part (*@domain)"));
    bool sub = false;
    if (domain.size() >= 2 && domain.substr(0, 2) == "*.") {
      if (local != "*") return fail(about(line, "a subdomain wildcard needs '*' as local part (*@*.domain)"));
      sub = true;
      domain.remove_prefix(2);
    }
    if (!valid_domain(domain)) return fail(about(line, "bad domain"));
    if (line.size() > kMaxAddressBytes) return fail("longer than " + std::to_string(kMaxAddressBytes) + " bytes");
    if (sub)
      list.subdomains_.push_back(lowered(domain));
    else if (local == "*")
      list.domains_.push_back(lowered(domain));
    else
      list.addresses_.push_back(lowered(line));
  }
  sort_unique(list.addresses_);
  sort_unique(list.domains_);
  sort_unique(list.subdomains_);
  out = std::move(list);
  return true;
}

bool SpamtrapList::match(std::string_view address) const {
  if (address.empty() || address.size() > kMaxAddressBytes || empty()) return false;
  char buf[kMaxAddressBytes];
  for (std::size_t i = 0; i < address.size(); ++i) buf[i] = lower(address[i]);
  const std::string_view a(buf, address.size());
  if (contains(addresses_, a)) return true;
  const auto at = a.rfind('@');
  if (at == std::string_view::npos) return false;
  std::string_view domain = a.substr(at + 1);
  if (domain.empty()) return false;
  if (contains(domains_, domain)) return true;
  // *@*.d: every proper suffix of the domain that starts after a dot.
  if (subdomains_.empty()) return false;
  for (auto dot = domain.find('.'); dot != std::string_view::npos; dot = domain.find('.')) {
    domain.remove_prefix(dot + 1);
    if (contains(subdomains_, domain)) return true;
  }
  return false;
}

}  // namespace spamsink::session
