// net/tls_context: the server's TLS setup for STARTTLS (OpenSSL 3).
//
// Purpose: build the one SSL_CTX that every TLS session shares (built at
// start and on reload, never per connection), from --tls-cert/--tls-key or
// from a self-signed certificate that spamsink makes on first start under
// the state directory and reuses afterwards.
// Invariants: a context is TLS 1.2 or 1.3 only, with the key checked
// against the certificate; renegotiation and compression are off; partial
// writes and moving write buffers are allowed (the driver retries from its
// own copy); idle connections release their read/write buffers. A failure
// returns null and an error naming the file.
// Limits: certificate and key files at most kMaxPemBytes; the server-side
// session cache holds at most kSessionCacheSize sessions; a generated
// certificate is EC P-256, SHA-256, valid kSelfSignedDays days.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX, kept out of this header

namespace spamsink::net {

using TlsContextPtr = std::shared_ptr<ssl_ctx_st>;

inline constexpr std::uint64_t kMaxPemBytes = 1 << 20;
inline constexpr long kSessionCacheSize = 1024;
inline constexpr int kSelfSignedDays = 3650;

// Loads `cert_path` (PEM, the chain after the leaf allowed) and `key_path`
// (PEM). Null with `error` ("tls_cert: PATH: ..." / "tls_key: PATH: ...")
// on failure.
TlsContextPtr make_tls_context(const std::string& cert_path, const std::string& key_path, std::string& error);

struct SelfSigned {
  std::string cert_path;  // <dir>/cert.pem
  std::string key_path;   // <dir>/key.pem, mode 0600
  bool created = false;   // made now (else an earlier one was reused)
};

// Makes sure <dir>/cert.pem and <dir>/key.pem hold a self-signed
// certificate with CN (and DNS subjectAltName) = `hostname`: reused when
// it exists, parses and names that host; made otherwise (the directory is
// created with mode 0700). Returns "" or the error.
std::string ensure_self_signed(const std::string& dir, const std::string& hostname, SelfSigned& out);

// The subject CN of the certificate in `cert_path` ("" if unreadable).
std::string certificate_cn(const std::string& cert_path);

}  // namespace spamsink::net
