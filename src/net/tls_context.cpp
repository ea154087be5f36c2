#include "net/tls_context.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace spamsink::net {

namespace {

// The most recent OpenSSL error as text (its reason), or `fallback`.
std::string ssl_error(const char* fallback) {
  unsigned long e = 0, last = 0;
  while ((e = ERR_get_error()) != 0) last = e;
  if (last == 0) return fallback;
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// A readable regular file no larger than kMaxPemBytes, or the problem.
std::string check_file(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::string("cannot read: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (static_cast<std::uint64_t>(st.st_size) > kMaxPemBytes) return "larger than 1 MiB";
  if (::access(path.c_str(), R_OK) != 0) return std::string("cannot read: ") + std::strerror(errno);
  return {};
}

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

X509* read_cert(const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return nullptr;
  return PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
}

std::string cn_of(X509* x) {
  char buf[256] = {};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Writes `data` to `path` through a temporary file and a rename, so a
// crash never leaves half a key; `mode` from the start (no window where
// the key is readable by others).
template <typename Write>
std::string write_atomically(const std::string& path, mode_t mode, Write write) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  std::unique_ptr<FILE, FileCloser> f(::fdopen(fd, "wb"));
  if (!f) {
    ::close(fd);
    return "cannot open " + tmp;
  }
  if (!write(f.get()) || std::fflush(f.get()) != 0 || ::fsync(fd) != 0) {
    f.reset();
    ::unlink(tmp.c_str());
    return "cannot write " + tmp + ": " + ssl_error("write failed");
  }
  f.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return "cannot rename to " + path + ": " + std::strerror(errno);
  return {};
}

std::string generate(const std::string& hostname, const SelfSigned& where) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) return "cannot make an EC P-256 key: " + ssl_error("EVP_EC_gen failed");
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  if (!x) return "X509_new failed";
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return "no random bytes for the serial";
  serial[0] &= 0x7f;  // a positive serial
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(BN_bin2bn(serial, sizeof serial, nullptr), BN_free);
  bool ok = bn && X509_set_version(x.get(), 2) == 1 && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())) &&
            X509_gmtime_adj(X509_getm_notBefore(x.get()), 0) &&
            X509_gmtime_adj(X509_getm_notAfter(x.get()), 60L * 60 * 24 * kSelfSignedDays) &&
            X509_set_pubkey(x.get(), key.get()) == 1;
  X509_NAME* name = X509_get_subject_name(x.get());
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1, 0) == 1 &&
       X509_set_issuer_name(x.get(), name) == 1;
  if (ok) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
    const std::string san = "DNS:" + hostname;
    for (const auto& [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                                     {NID_basic_constraints, "critical,CA:FALSE"}}) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
      ok = ok && ext != nullptr && X509_add_ext(x.get(), ext, -1) == 1;
      if (ext) X509_EXTENSION_free(ext);
    }
  }
  ok = ok && X509_sign(x.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) return "cannot build the certificate: " + ssl_error("X509 failed");
  if (auto err = write_atomically(where.key_path, 0600, [&](FILE* f) {
        return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
      });
      !err.empty())
    return err;
  return write_atomically(where.cert_path, 0644, [&](FILE* f) { return PEM_write_X509(f, x.get()) == 1; });
}

}  // namespace

TlsContextPtr make_tls_context(const std::string& cert_path, const std::string& key_path, std::string& error) {
  ERR_clear_error();
  if (auto e = check_file(cert_path); !e.empty()) {
    error = "tls_cert: " + cert_path + ": " + e;
    return nullptr;
  }
  if (auto e = check_file(key_path); !e.empty()) {
    error = "tls_key: " + key_path + ": " + e;
    return nullptr;
  }
  TlsContextPtr ctx(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!ctx) {
    error = "tls: cannot create an SSL context: " + ssl_error("SSL_CTX_new failed");
    return nullptr;
  }
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_sess_set_cache_size(c, kSessionCacheSize);
  // No TLS 1.3 session tickets: a bot never resumes, and each ticket costs
  // an encryption and a write per session.
  SSL_CTX_set_num_tickets(c, 0);
  if (SSL_CTX_use_certificate_chain_file(c, cert_path.c_str()) != 1) {
    error = "tls_cert: " + cert_path + ": not a usable PEM certificate (" + ssl_error("no certificate") + ")";
    return nullptr;
  }
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(nullptr, EVP_PKEY_free);
  {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(key_path.c_str(), "rb"));
    if (f) key.reset(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  }
  if (!key) {
    error = "tls_key: " + key_path + ": not a usable PEM private key (" + ssl_error("no key") + ")";
    return nullptr;
  }
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
    error = "tls_key: " + key_path + ": does not match the certificate in " + cert_path;
    ERR_clear_error();
    return nullptr;
  }
  return ctx;
}

std::string ensure_self_signed(const std::string& dir, const std::string& hostname, SelfSigned& out) {
  out.cert_path = dir + "/cert.pem";
  out.key_path = dir + "/key.pem";
  out.created = false;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "cannot create " + dir + ": " + ec.message();
  ::chmod(dir.c_str(), 0700);
  // Reused when both parse, match and name this host; a hostname change
  // makes a new one.
  if (std::filesystem::exists(out.cert_path, ec) && std::filesystem::exists(out.key_path, ec)) {
    std::unique_ptr<X509, decltype(&X509_free)> x(read_cert(out.cert_path), X509_free);
    std::string err;
    if (x && cn_of(x.get()) == hostname && make_tls_context(out.cert_path, out.key_path, err)) return {};
    ERR_clear_error();
  }
  if (auto err = generate(hostname, out); !err.empty()) return "tls: self-signed certificate in " + dir + ": " + err;
  out.created = true;
  return {};
}

std::string certificate_cn(const std::string& cert_path) {
  std::unique_ptr<X509, decltype(&X509_free)> x(read_cert(cert_path), X509_free);
  ERR_clear_error();
  return x ? cn_of(x.get()) : std::string();
}

}  // namespace spamsink::net
