// Tests for session/spamtrap: the three entry forms, case, comments and
// blank lines, and the errors (with line numbers) for every malformed entry.
#include "session/spamtrap.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spamsink::session {
namespace {

SpamtrapList parse_ok(std::string_view text) {
  SpamtrapList l;
  std::string err;
  EXPECT_TRUE(SpamtrapList::parse(text, l, err)) << err;
  return l;
}

std::string parse_err(std::string_view text) {
  SpamtrapList l;
  std::string err;
  EXPECT_FALSE(SpamtrapList::parse(text, l, err)) << text;
  return err;
}

TEST(Spamtrap, ThreeFormsCaseInsensitive) {
  const auto l = parse_ok(
      "# traps\n"
      "trap@Example.com\n"
      "  *@trap.example   # a whole domain\r\n"
      "\n"
      "*@*.sub.example\n");
  EXPECT_EQ(l.size(), 3u);
  EXPECT_TRUE(l.match("trap@example.com"));
  EXPECT_TRUE(l.match("TRAP@EXAMPLE.COM"));
  EXPECT_FALSE(l.match("trap2@example.com"));
  EXPECT_FALSE(l.match("other@example.com"));
  EXPECT_TRUE(l.match("anyone@trap.example"));
  EXPECT_TRUE(l.match("x@Trap.Example"));
  EXPECT_FALSE(l.match("x@a.trap.example"));  // *@domain is not its subdomains
  EXPECT_FALSE(l.match("x@nottrap.example"));
  EXPECT_TRUE(l.match("x@a.sub.example"));
  EXPECT_TRUE(l.match("x@a.b.c.SUB.example"));
  EXPECT_FALSE(l.match("x@sub.example"));     // *@*.d is not d itself
  EXPECT_FALSE(l.match("x@asub.example"));
  EXPECT_FALSE(l.match(""));
  EXPECT_FALSE(l.match("trap"));
  EXPECT_FALSE(l.match("x@"));
  EXPECT_FALSE(l.match(std::string(SpamtrapList::kMaxAddressBytes + 1, 'a')));
}

TEST(Spamtrap, EmptyListMatchesNothing) {
  const auto l = parse_ok("# nothing yet\n\n   \n");
  EXPECT_TRUE(l.empty());
  EXPECT_FALSE(l.match("a@b.example"));
}

TEST(Spamtrap, ErrorsNameTheLine) {
  EXPECT_EQ(parse_err("a@b.example\nnot-an-address\n").substr(0, 7), "line 2:");
  EXPECT_NE(parse_err("a@b@c.example").find("line 1:"), std::string::npos);
  EXPECT_NE(parse_err("@b.example").find("empty local part"), std::string::npos);
  EXPECT_NE(parse_err("a*@b.example").find("'*' only"), std::string::npos);
  EXPECT_NE(parse_err("a@*.b.example").find("subdomain wildcard"), std::string::npos);
  EXPECT_NE(parse_err("*@*.").find("bad domain"), std::string::npos);
  EXPECT_NE(parse_err("*@").find("bad domain"), std::string::npos);
  EXPECT_NE(parse_err("*@a..b").find("bad domain"), std::string::npos);
  EXPECT_NE(parse_err("*@*.*.b").find("bad domain"), std::string::npos);
  EXPECT_NE(parse_err("a b@c.example").find("without spaces"), std::string::npos);
  EXPECT_NE(parse_err("a\x01@c.example").find("control"), std::string::npos);
  EXPECT_NE(parse_err(std::string(SpamtrapList::kMaxLineBytes + 1, 'a')).find("longer than"), std::string::npos);
}

TEST(Spamtrap, AFailedParseLeavesTheOldList) {
  SpamtrapList l = parse_ok("a@b.example\n");
  std::string err;
  EXPECT_FALSE(SpamtrapList::parse("c@d.example\nbroken\n", l, err));
  EXPECT_TRUE(l.match("a@b.example"));
  EXPECT_FALSE(l.match("c@d.example"));
}

}  // namespace
}  // namespace spamsink::session
