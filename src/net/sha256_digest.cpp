// OpenSSL 3 marks the SHA256_* functions deprecated in favour of EVP, whose
// context is heap-allocated; the plain struct is what the hot path wants.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "net/sha256_digest.hpp"

namespace spamsink::net {

void Sha256Digest::reset() noexcept { SHA256_Init(&ctx_); }

void Sha256Digest::update(const char* data, std::size_t n) noexcept { SHA256_Update(&ctx_, data, n); }

void Sha256Digest::finish(std::array<std::uint8_t, 32>& out) noexcept {
  SHA256_Final(out.data(), &ctx_);
  SHA256_Init(&ctx_);
}

}  // namespace spamsink::net
