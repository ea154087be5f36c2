#include "session/relay.hpp"

namespace spamsink::session {

namespace {
unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_hex(unsigned char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }
constexpr auto kHour = core::Seconds{3600};
}  // namespace

std::string_view domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return {};
  return address.substr(at + 1);
}

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(static_cast<unsigned char>(a[i])) != lower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// ------------------------------------------------------------ DomainList

bool DomainList::contains(std::string_view domain) const {
  std::string_view v = list_.view();
  while (!v.empty()) {
    const auto comma = v.find(',');
    if (iequal(v.substr(0, comma), domain)) return true;
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return false;
}

void DomainList::add(std::string_view domain) {
  // A domain with a comma would read as two; the parser never yields one
  // (an address is one word), but the list must stay unambiguous anyway.
  if (domain.empty() || domain.find(',') != std::string_view::npos || contains(domain)) return;
  // Whole items only: a cut domain would later look distinct from itself.
  const std::size_t need = domain.size() + (list_.empty() ? 0 : 1);
  if (list_.size() + need > kDomainListBytes) {
    truncated_ = true;
    return;
  }
  list_.append_item(domain, ',');
}

// ------------------------------------------------------------- IpMatcher

void IpMatcher::set_needle(std::string_view needle) {
  len_ = needle.size() <= kMaxNeedle ? needle.size() : 0;
  v6_ = needle.find(':') != std::string_view::npos;
  for (std::size_t i = 0; i < len_; ++i) needle_[i] = static_cast<char>(lower(static_cast<unsigned char>(needle[i])));
  // KMP failure function: fail_[i] = length of the longest proper border of
  // needle_[0..i].
  if (len_ != 0) fail_[0] = 0;
  std::size_t k = 0;
  for (std::size_t i = 1; i < len_; ++i) {
    while (k > 0 && needle_[i] != needle_[k]) k = fail_[k - 1];
    if (needle_[i] == needle_[k]) ++k;
    fail_[i] = static_cast<std::uint8_t>(k);
  }
  reset();
}

void IpMatcher::reset() {
  state_ = 0;
  pending_ = false;
  found_ = false;
  left_bits_ = 0;  // before the body: a boundary
}

bool IpMatcher::is_addr_char(unsigned char c) const { return v6_ ? (is_hex(c) || c == ':') : is_digit(c); }

void IpMatcher::step(unsigned char c) {
  c = lower(c);
  const bool addr = is_addr_char(c);
  if (pending_) {
    pending_ = false;
    if (!addr) found_ = true;
  }
  left_bits_ = (left_bits_ << 1) | (addr ? 1u : 0u);
  while (state_ > 0 && static_cast<unsigned char>(needle_[state_]) != c) state_ = fail_[state_ - 1];
  if (static_cast<unsigned char>(needle_[state_]) == c) ++state_;
  if (state_ == len_) {
    // Bit len_ is the byte just before this occurrence (0 before the body).
    if (((left_bits_ >> len_) & 1u) == 0) pending_ = true;
    state_ = fail_[len_ - 1];
  }
}

void IpMatcher::feed(const char* p, std::size_t n) {
  if (len_ == 0 || found_) return;
  for (std::size_t i = 0; i < n && !found_; ++i) step(static_cast<unsigned char>(p[i]));
}

void IpMatcher::finish() {
  if (pending_) found_ = true;
  pending_ = false;
}

bool is_relay_test(bool foreign_recipient, std::uint64_t body_bytes, bool body_has_own_ip) {
  return foreign_recipient || (body_has_own_ip && body_bytes <= kRelayTestBodyBytes);
}

// ----------------------------------------------------------- ForwardGate

void ForwardGate::expire(core::TimePoint now) {
  while (!grants_.empty() && now - grants_.front() >= kHour) grants_.pop_front();
}

std::size_t ForwardGate::used_this_hour(core::TimePoint now) {
  expire(now);
  return grants_.size();
}

bool ForwardGate::begin(const core::IpAddress& host, core::TimePoint now, const Settings& s) {
  if (s.threshold == 0 || s.max_per_hour == 0) return false;  // nothing to remember
  expire(now);
  auto it = hosts_.find(host);
  if (it == hosts_.end()) {
    if (hosts_.size() >= kForwardHostCap) {
      hosts_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(host);
    it = hosts_.emplace(host, Host{0, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Host& h = it->second;
  const std::uint32_t index = h.messages;
  if (h.messages != UINT32_MAX) ++h.messages;
  if (index >= s.threshold) return false;
  if (grants_.size() >= s.max_per_hour) return false;
  grants_.push_back(now);
  return true;
}

void ForwardGate::refund(core::TimePoint granted_at) {
  for (auto it = grants_.rbegin(); it != grants_.rend(); ++it)
    if (*it == granted_at) {
      grants_.erase(std::next(it).base());
      return;
    }
}

}  // namespace spamsink::session
