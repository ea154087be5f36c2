// Tests for net/relay_forwarder's pure helper: the body as it goes out
// after DATA (dot-stuffed, CRLF-terminated, then ".").
#include "net/relay_forwarder.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spamsink::net {
namespace {

std::string stuffed(std::string_view body) {
  std::string out;
  stuff_body(std::vector<char>(body.begin(), body.end()), out);
  return out;
}

TEST(StuffBody, DotsAndTheEnd) {
  EXPECT_EQ(stuffed("a\r\n.b\r\n..c\r\n"), "a\r\n..b\r\n...c\r\n.\r\n");
  EXPECT_EQ(stuffed(".first\r\n"), "..first\r\n.\r\n");
  EXPECT_EQ(stuffed("no end"), "no end\r\n.\r\n");
  EXPECT_EQ(stuffed("lf only\n.x"), "lf only\n..x\r\n.\r\n");
  EXPECT_EQ(stuffed(""), ".\r\n");
  EXPECT_EQ(stuffed("mid.dot\r\n"), "mid.dot\r\n.\r\n");
}

}  // namespace
}  // namespace spamsink::net
