#include "http/blocklist.hpp"

#include <charconv>

#include "http/json.hpp"

namespace spamsink::http {

namespace {

std::string entry_text(const core::IpAddress& ip, std::uint8_t bits) {
  std::string s = ip.to_string();
  if (bits < 128) {
    s += '/';
    s += std::to_string(ip.is_v4() ? bits - 96 : bits);
  }
  return s;
}

void append_double(double v, std::string& out) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace

bool overlaps(const core::Cidr& a, const core::Cidr& b) { return a.contains(b.net) || b.contains(a.net); }

BlocklistWriter::BlocklistWriter(BlocklistFormat format, std::uint8_t v6_prefix,
                                 const std::vector<core::Cidr>& never_list, std::chrono::sys_seconds generated)
    : format_(format), v6_prefix_(v6_prefix), never_(never_list), generated_(generated) {}

const char* BlocklistWriter::content_type(BlocklistFormat f) {
  switch (f) {
    case BlocklistFormat::kCsv: return "text/csv; charset=utf-8";
    case BlocklistFormat::kJson: return "application/json";
    default: return "text/plain; charset=utf-8";
  }
}

void BlocklistWriter::begin(std::string& out) {
  const std::string when = format_time(generated_);
  switch (format_) {
    case BlocklistFormat::kTxt: break;
    case BlocklistFormat::kCsv: out += "entry,hosts,first_seen,last_seen,sessions,messages,tarpit_seconds\n"; break;
    case BlocklistFormat::kNft:
      out += "#!/usr/sbin/nft -f\n# spamsink blocklist, generated " + when + "\n";
      out += "add table inet spamsink\n";
      out += "add set inet spamsink blocklist_v4 { type ipv4_addr; flags interval; }\n";
      out += "add set inet spamsink blocklist_v6 { type ipv6_addr; flags interval; }\n";
      out += "flush set inet spamsink blocklist_v4\n";
      out += "flush set inet spamsink blocklist_v6\n";
      break;
    case BlocklistFormat::kRbldnsd:
      out += "# spamsink blocklist (rbldnsd ip4set), generated " + when + "\n:127.0.0.2:Listed by spamsink\n";
      break;
    case BlocklistFormat::kRbldnsd6:
      out += "# spamsink blocklist (rbldnsd ip6trie), generated " + when + "\n:127.0.0.2:Listed by spamsink\n";
      break;
    case BlocklistFormat::kJson:
      out += "{\"generated\":\"" + when + "\",\"entries\":[";
      break;
  }
}

BlocklistWriter::Entry BlocklistWriter::single(const store::HostRow& h) {
  Entry e;
  e.ip = h.ip;
  e.bits = 128;
  e.hosts = 1;
  e.first_seen = h.first_seen;
  e.last_seen = h.last_seen;
  e.sessions = h.sessions;
  e.messages = h.messages;
  e.tarpit_seconds = h.tarpit_seconds;
  return e;
}

void BlocklistWriter::add(const store::HostRow& h, std::string& out) {
  if (core::any_contains(never_, h.ip)) return;
  if (h.ip.is_v4() || v6_prefix_ >= 128) {
    emit(single(h), out);
    return;
  }
  const core::Cidr block = core::Cidr::make(h.ip, v6_prefix_);
  if (have_group_ && group_.ip == block.net) {
    group_.hosts += 1;
    group_.first_seen = std::min(group_.first_seen, h.first_seen);
    group_.last_seen = std::max(group_.last_seen, h.last_seen);
    group_.sessions += h.sessions;
    group_.messages += h.messages;
    group_.tarpit_seconds += h.tarpit_seconds;
    return;
  }
  if (have_group_) {
    emit(group_, out);
    have_group_ = false;
  }
  for (const auto& n : never_)
    // An IPv4 block (inside ::ffff:0:0/96) never stops an IPv6 group: an
    // ip6 set entry does not match IPv4 traffic.
    if (!n.net.is_v4() && overlaps(n, block)) {
      emit(single(h), out);  // the prefix would cover a never-listed address
      return;
    }
  group_ = single(h);
  group_.ip = block.net;
  group_.bits = v6_prefix_;
  have_group_ = true;
}

void BlocklistWriter::emit(const Entry& e, std::string& out) {
  const bool v4 = e.ip.is_v4();
  switch (format_) {
    case BlocklistFormat::kTxt:
      out += entry_text(e.ip, e.bits);
      out += '\n';
      break;
    case BlocklistFormat::kCsv:
      out += entry_text(e.ip, e.bits);
      out += ',' + std::to_string(e.hosts) + ',' + format_time(e.first_seen) + ',' + format_time(e.last_seen) + ',' +
             std::to_string(e.sessions) + ',' + std::to_string(e.messages) + ',';
      append_double(e.tarpit_seconds, out);
      out += '\n';
      break;
    case BlocklistFormat::kNft: {
      auto& chunk = v4 ? nft_v4_ : nft_v6_;
      chunk.push_back(entry_text(e.ip, e.bits));
      if (chunk.size() >= kNftChunk) flush_nft(v4, out);
      break;
    }
    case BlocklistFormat::kRbldnsd:
      if (!v4) return;
      out += entry_text(e.ip, e.bits);
      out += '\n';
      break;
    case BlocklistFormat::kRbldnsd6:
      if (v4) return;
      out += entry_text(e.ip, e.bits);
      out += '\n';
      break;
    case BlocklistFormat::kJson: {
      if (entries_ > 0) out += ',';
      JsonWriter w(out);
      w.begin_object().str("entry", entry_text(e.ip, e.bits)).num("hosts", e.hosts);
      w.time("first_seen", e.first_seen).time("last_seen", e.last_seen);
      w.num("sessions", e.sessions).num("messages", e.messages).num("tarpit_seconds", e.tarpit_seconds);
      w.end_object();
      break;
    }
  }
  ++entries_;
}

void BlocklistWriter::flush_nft(bool v4, std::string& out) {
  auto& chunk = v4 ? nft_v4_ : nft_v6_;
  if (chunk.empty()) return;
  out += v4 ? "add element inet spamsink blocklist_v4 { " : "add element inet spamsink blocklist_v6 { ";
  for (std::size_t i = 0; i < chunk.size(); ++i) {
    if (i) out += ", ";
    out += chunk[i];
  }
  out += " }\n";
  chunk.clear();
}

void BlocklistWriter::finish(std::string& out) {
  if (have_group_) {
    emit(group_, out);
    have_group_ = false;
  }
  switch (format_) {
    case BlocklistFormat::kNft:
      flush_nft(true, out);
      flush_nft(false, out);
      break;
    case BlocklistFormat::kJson: out += "]}\n"; break;
    default: break;
  }
}

}  // namespace spamsink::http
