#include "smtp/replies.hpp"

#include <charconv>

namespace spamsink::smtp {

namespace {

std::string render(std::string_view text, std::string_view host) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text.substr(i, 6) == "{host}") {
      out.append(host);
      i += 6;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

void append_number(std::uint64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
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

// Texts recorded from Debian 12's Postfix 3.7.11 smtpd with stock settings
// (tests/transcripts/postfix-recorded.md has the dialogues).
ReplyTable ReplyTable::postfix(std::string_view hostname, std::uint64_t size_limit) {
  ReplyTable t;
  t.hostname_ = std::string(hostname);
  const std::string size = std::to_string(size_limit);
  auto set = [&](ReplyId id, std::string_view text) { t.set(id, render(text, hostname)); };
  set(ReplyId::kGreeting, "220 {host} ESMTP Postfix (Debian/GNU)\r\n");
  t.set(ReplyId::kEhlo, render("250-{host}\r\n"
                               "250-PIPELINING\r\n"
                               "250-SIZE " + size + "\r\n"
                               "250-VRFY\r\n"
                               "250-ETRN\r\n"
                               "250-ENHANCEDSTATUSCODES\r\n"
                               "250-8BITMIME\r\n"
                               "250-DSN\r\n"
                               "250-SMTPUTF8\r\n"
                               "250 CHUNKING\r\n",
                               hostname));
  set(ReplyId::kHelo, "250 {host}\r\n");
  set(ReplyId::kEhloSyntax, "501 Syntax: EHLO hostname\r\n");
  set(ReplyId::kHeloSyntax, "501 Syntax: HELO hostname\r\n");
  set(ReplyId::kOk, "250 2.0.0 Ok\r\n");
  set(ReplyId::kMailOk, "250 2.1.0 Ok\r\n");
  set(ReplyId::kRcptOk, "250 2.1.5 Ok\r\n");
  set(ReplyId::kDataGo, "354 End data with <CR><LF>.<CR><LF>\r\n");
  set(ReplyId::kQuit, "221 2.0.0 Bye\r\n");
  set(ReplyId::kUnknown, "500 5.5.2 Error: command not recognized\r\n");
  set(ReplyId::kBadSyntax, "500 5.5.2 Error: bad syntax\r\n");
  set(ReplyId::kBadUtf8, "500 5.5.2 Error: bad UTF-8 syntax\r\n");
  set(ReplyId::kNestedMail, "503 5.5.1 Error: nested MAIL command\r\n");
  set(ReplyId::kNeedMail, "503 5.5.1 Error: need MAIL command\r\n");
  set(ReplyId::kNeedRcpt, "503 5.5.1 Error: need RCPT command\r\n");
  set(ReplyId::kNoRecipients, "554 5.5.1 Error: no valid recipients\r\n");
  set(ReplyId::kMailSyntax, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
  set(ReplyId::kRcptSyntax, "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
  set(ReplyId::kBadSender, "501 5.1.7 Bad sender address syntax\r\n");
  set(ReplyId::kBadRecipient, "501 5.1.3 Bad recipient address syntax\r\n");
  set(ReplyId::kBadSizeSyntax, "501 5.5.4 Bad message size syntax\r\n");
  set(ReplyId::kBadRetSyntax, "501 5.5.4 Bad RET parameter syntax\r\n");
  set(ReplyId::kBadEnvidSyntax, "501 5.5.4 Bad ENVID parameter syntax\r\n");
  set(ReplyId::kBadNotifySyntax, "501 5.5.4 Error: Bad NOTIFY parameter syntax\r\n");
  set(ReplyId::kBadOrcptSyntax, "501 5.5.4 Error: Bad ORCPT parameter syntax\r\n");
  set(ReplyId::kSizeTooBig, "552 5.3.4 Message size exceeds fixed limit\r\n");
  set(ReplyId::kSizeOverflow, "552 5.3.4 Message size exceeds file system imposed limit\r\n");
  set(ReplyId::kFileTooBig, "552 5.3.4 Error: message file too big\r\n");
  set(ReplyId::kChunkTooBig, "552 5.3.4 Chunk exceeds message size limit\r\n");
  set(ReplyId::kTooManyRcpts, "452 4.5.3 Error: too many recipients\r\n");
  set(ReplyId::kTooManyErrors, "421 4.7.0 {host} Error: too many errors\r\n");
  set(ReplyId::kTimeout, "421 4.4.2 {host} Error: timeout exceeded\r\n");
  set(ReplyId::kLifetime, "421 4.4.2 {host} Error: timeout exceeded\r\n");
  set(ReplyId::kShutdown, "421 4.3.2 {host} Service shutting down, closing transmission channel\r\n");
  set(ReplyId::kForbidden, "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n");
  set(ReplyId::kVrfySyntax, "501 5.5.4 Syntax: VRFY address [SMTPUTF8]\r\n");
  set(ReplyId::kEtrnSyntax, "500 Syntax: ETRN domain\r\n");
  set(ReplyId::kEtrnInTransaction, "503 Error: MAIL transaction in progress\r\n");
  set(ReplyId::kStarttlsNotOffered, "502 5.5.1 Error: command not implemented\r\n");
  set(ReplyId::kAuthNotEnabled, "503 5.5.1 Error: authentication not enabled\r\n");
  set(ReplyId::kXclientSyntax, "501 5.5.4 Syntax: XCLIENT attribute=value...\r\n");
  set(ReplyId::kXforwardSyntax, "501 5.5.4 Syntax: XFORWARD attribute=value...\r\n");
  set(ReplyId::kNotAuthorized, "550 5.7.0 Error: insufficient authorization\r\n");
  set(ReplyId::kDataArgs, "501 5.5.4 Syntax: DATA\r\n");
  set(ReplyId::kBdatSyntax, "521 5.5.4 Syntax: BDAT count [LAST]\r\n");
  set(ReplyId::kDataAfterBdat, "503 5.5.1 Error: DATA after BDAT\r\n");
  set(ReplyId::kRsetArgs, "501 5.5.4 Syntax: RSET\r\n");
  // Postfix's own texts for a failed queue file write and disable_vrfy_command.
  set(ReplyId::kTempFailData, "451 4.3.0 Error: queue file write error\r\n");
  set(ReplyId::kVrfyDisabled, "502 5.5.1 VRFY command is disabled\r\n");
  // Postfix postscreen's pregreet texts.
  set(ReplyId::kEarlyRejectPerm, "521 5.5.1 Protocol error\r\n");
  set(ReplyId::kEarlyRejectTemp, "421 4.7.0 {host} Error: Protocol error\r\n");
  set(ReplyId::kEarlyDeferPerm, "550 5.5.1 Protocol error\r\n");
  set(ReplyId::kEarlyDeferTemp, "450 4.5.1 Protocol error\r\n");
  set(ReplyId::kTeaser, "220-{host} ESMTP Postfix (Debian/GNU)\r\n");
  set(ReplyId::kShed, "421 4.7.0 {host} Error: too many connections\r\n");
  return t;
}

void ReplyTable::queued(std::string_view queue_id, std::string& out) const {
  out.append("250 2.0.0 Ok: queued as ");
  out.append(queue_id);
  out.append("\r\n");
}

void ReplyTable::bdat_ok(std::uint64_t bytes, std::string& out) const {
  out.append("250 2.0.0 Ok: ");
  append_number(bytes, out);
  out.append(" bytes\r\n");
}

void ReplyTable::bdat_queued(std::uint64_t bytes, std::string_view queue_id, std::string& out) const {
  out.append("250 2.0.0 Ok: ");
  append_number(bytes, out);
  out.append(" bytes queued as ");
  out.append(queue_id);
  out.append("\r\n");
}

void ReplyTable::bdat_discarded(std::uint64_t bytes, std::string& out) const {
  out.append("551 5.0.0 Discarded ");
  append_number(bytes, out);
  out.append(" bytes after earlier error\r\n");
}

void ReplyTable::vrfy(std::string_view address, std::string& out) const {
  out.append("252 2.0.0 ");
  append_printable(address, kMaxEcho, out);
  out.append("\r\n");
}

void ReplyTable::unsupported_option(std::string_view param, std::string& out) const {
  out.append("555 5.5.4 Unsupported option: ");
  append_printable(param, kMaxEcho, out);
  out.append("\r\n");
}

void ReplyTable::etrn_refused(std::string_view domain, std::string& out) const {
  out.append("459 <");
  append_printable(domain, kMaxEcho, out);
  out.append(">: service unavailable\r\n");
}

void ReplyTable::too_many_conns(std::string_view ip, std::string& out) const {
  out.append("421 4.7.0 ");
  out.append(hostname_);
  out.append(" Error: too many connections from ");
  out.append(ip);
  out.append("\r\n");
}

}  // namespace spamsink::smtp
