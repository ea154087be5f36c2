// net/sha256_digest: core::BodyDigest over OpenSSL's SHA-256.
//
// Purpose: the body hash kept for every message (never the body). Uses the
// low-level SHA256 API, whose context is a plain struct: no allocation per
// connection or message, and OpenSSL picks SHA-NI/AVX2 code at run time.
#pragma once

#include <openssl/sha.h>

#include "core/event_sink.hpp"

namespace spamsink::net {

class Sha256Digest final : public core::BodyDigest {
 public:
  Sha256Digest() { reset(); }
  void reset() noexcept override;
  void update(const char* data, std::size_t n) noexcept override;
  void finish(std::array<std::uint8_t, 32>& out) noexcept override;

 private:
  SHA256_CTX ctx_;
};

}  // namespace spamsink::net
