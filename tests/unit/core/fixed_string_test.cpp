// Tests for core/fixed_string: assign() keeps at most N bytes and says when
// it cut; append_item() joins with a separator while room remains and marks
// truncation; clear() resets both. The storage never grows: capacity() is N.
#include "core/fixed_string.hpp"

#include <gtest/gtest.h>

#include <string>

namespace spamsink::core {
namespace {

TEST(FixedString, StartsEmpty) {
  FixedString<8> s;
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.view(), "");
  EXPECT_FALSE(s.truncated());
  EXPECT_EQ(FixedString<8>::capacity(), 8u);
}

TEST(FixedString, AssignWithinCapacity) {
  FixedString<8> s;
  s.assign("abc");
  EXPECT_EQ(s.view(), "abc");
  EXPECT_FALSE(s.truncated());
  s.assign("12345678");  // exactly N
  EXPECT_EQ(s.view(), "12345678");
  EXPECT_FALSE(s.truncated());
  s.assign("");
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.truncated());
}

TEST(FixedString, AssignTruncatesToTheFirstNBytes) {
  FixedString<8> s;
  s.assign("123456789");  // N + 1
  EXPECT_EQ(s.view(), "12345678");
  EXPECT_TRUE(s.truncated());
  s.assign(std::string(10000, 'x'));
  EXPECT_EQ(s.view(), std::string(8, 'x'));
  EXPECT_TRUE(s.truncated());
  // A later value that fits clears the flag.
  s.assign("ok");
  EXPECT_EQ(s.view(), "ok");
  EXPECT_FALSE(s.truncated());
}

TEST(FixedString, KeepsBinaryBytes) {
  FixedString<8> s;
  const std::string v("a\0b\xff", 4);
  s.assign(v);
  EXPECT_EQ(s.view(), v);
}

TEST(FixedString, AppendItemJoinsWithSeparator) {
  FixedString<16> s;
  s.append_item("a@b", ',');
  EXPECT_EQ(s.view(), "a@b");  // no leading separator
  s.append_item("c@d", ',');
  EXPECT_EQ(s.view(), "a@b,c@d");
  EXPECT_FALSE(s.truncated());
  s.append_item("12345678", ',');  // exactly fills: 7 + 1 + 8 = 16
  EXPECT_EQ(s.view(), "a@b,c@d,12345678");
  EXPECT_FALSE(s.truncated());
  s.append_item("x", ',');  // no room at all
  EXPECT_EQ(s.view(), "a@b,c@d,12345678");
  EXPECT_TRUE(s.truncated());
}

TEST(FixedString, NoTrailingSeparatorWhenOnlyItFits) {
  FixedString<8> s;
  s.append_item("1234567", ',');  // one byte left: room for ',' but nothing after it
  s.append_item("x", ',');
  EXPECT_EQ(s.view(), "1234567");
  EXPECT_TRUE(s.truncated());
}

TEST(FixedString, AppendItemCutsAnItemThatDoesNotFit) {
  FixedString<10> s;
  s.append_item("abc", ',');
  s.append_item("def", ',');
  s.append_item("ghij", ',');
  EXPECT_EQ(s.view(), "abc,def,gh");
  EXPECT_EQ(s.size(), 10u);
  EXPECT_TRUE(s.truncated());
}

TEST(FixedString, FirstItemLongerThanCapacity) {
  FixedString<4> s;
  s.append_item("abcdef", ';');
  EXPECT_EQ(s.view(), "abcd");
  EXPECT_TRUE(s.truncated());
}

TEST(FixedString, ClearResetsValueAndFlag) {
  FixedString<4> s;
  s.append_item("abcdef", ',');
  ASSERT_TRUE(s.truncated());
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.truncated());
  s.append_item("x", ',');
  EXPECT_EQ(s.view(), "x");
}

}  // namespace
}  // namespace spamsink::core
