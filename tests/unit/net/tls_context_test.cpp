// Tests for net/tls_context: the self-signed certificate (made once with
// CN = hostname and a 0600 key, reused while it names the host, made again
// for another host), and make_tls_context's errors, each naming the file
// (missing, not PEM, a key that does not match the certificate).
#include "net/tls_context.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace spamsink::net {
namespace {

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/spamsink-tlsctx-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static std::string read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  std::string dir_;
};

TEST_F(TlsContextTest, SelfSignedIsMadeOnceAndNamesTheHost) {
  SelfSigned a;
  ASSERT_EQ(ensure_self_signed(dir_ + "/tls", "mx.example.test", a), "");
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.cert_path, dir_ + "/tls/cert.pem");
  EXPECT_EQ(certificate_cn(a.cert_path), "mx.example.test");
  struct stat st;
  ASSERT_EQ(::stat(a.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/tls").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string err;
  EXPECT_NE(make_tls_context(a.cert_path, a.key_path, err), nullptr) << err;

  const std::string first = read(a.cert_path);
  SelfSigned b;
  ASSERT_EQ(ensure_self_signed(dir_ + "/tls", "mx.example.test", b), "");
  EXPECT_FALSE(b.created);
  EXPECT_EQ(read(b.cert_path), first);

  SelfSigned c;
  ASSERT_EQ(ensure_self_signed(dir_ + "/tls", "other.example.test", c), "");
  EXPECT_TRUE(c.created);
  EXPECT_EQ(certificate_cn(c.cert_path), "other.example.test");
}

TEST_F(TlsContextTest, ABrokenSelfSignedCertificateIsMadeAgain) {
  SelfSigned a;
  ASSERT_EQ(ensure_self_signed(dir_, "mx.example.test", a), "");
  std::ofstream(a.cert_path, std::ios::trunc) << "garbage\n";
  SelfSigned b;
  ASSERT_EQ(ensure_self_signed(dir_, "mx.example.test", b), "");
  EXPECT_TRUE(b.created);
  EXPECT_EQ(certificate_cn(b.cert_path), "mx.example.test");
}

TEST_F(TlsContextTest, ErrorsNameTheFile) {
  SelfSigned a, other;
  ASSERT_EQ(ensure_self_signed(dir_ + "/a", "a.example.test", a), "");
  ASSERT_EQ(ensure_self_signed(dir_ + "/b", "b.example.test", other), "");
  const std::string junk = dir_ + "/junk.pem";
  std::ofstream(junk) << "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n";
  std::string err;
  EXPECT_EQ(make_tls_context(dir_ + "/missing.pem", a.key_path, err), nullptr);
  EXPECT_EQ(err.rfind("tls_cert: " + dir_ + "/missing.pem: cannot read", 0), 0u) << err;
  EXPECT_EQ(make_tls_context(junk, a.key_path, err), nullptr);
  EXPECT_EQ(err.rfind("tls_cert: " + junk + ": not a usable PEM certificate", 0), 0u) << err;
  EXPECT_EQ(make_tls_context(a.cert_path, junk, err), nullptr);
  EXPECT_EQ(err.rfind("tls_key: " + junk + ": not a usable PEM private key", 0), 0u) << err;
  EXPECT_EQ(make_tls_context(a.cert_path, other.key_path, err), nullptr);
  EXPECT_EQ(err.rfind("tls_key: " + other.key_path + ": does not match the certificate in " + a.cert_path, 0), 0u)
      << err;
  EXPECT_EQ(make_tls_context(dir_, a.key_path, err), nullptr);
  EXPECT_NE(err.find("not a regular file"), std::string::npos) << err;
}

}  // namespace
}  // namespace spamsink::net
