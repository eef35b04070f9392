// Tests for the comma-separated flag-list parsers.
#include "train/flag_lists.h"

#include <string>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(FlagListsTest, IntListsParseAndRejectNamingTheFlagAndToken) {
  auto list = ParseIntList("0, 5,17", "--indices", 0);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<int64_t>{0, 5, 17}));
  auto bad = ParseIntList("1,x", "--indices", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("--indices=1,x: 'x'"), std::string::npos);
  EXPECT_NE(std::string(bad.status().message()).find("non-negative"), std::string::npos);
  EXPECT_FALSE(ParseIntList("-1", "--indices", 0).ok());
  EXPECT_TRUE(ParseIntList("-1", "--batch_sizes").ok());
  EXPECT_NE(std::string(ParseIntList("0", "--k", 1).status().message()).find(">= 1"),
            std::string::npos);
  EXPECT_EQ(std::string(ParseIntList("", "--indices", 0).status().message()),
            "--indices: empty list");
}

TEST(FlagListsTest, FloatListsParseAndRejectNamingTheFlagAndToken) {
  auto list = ParseFloatList("0,0.01, 2e-1", "--epsilons");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, (std::vector<float>{0.0f, 0.01f, 0.2f}));
  auto bad = ParseFloatList("1,abc", "--class_weights");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("--class_weights=1,abc: 'abc' is not a number"),
            std::string::npos);
  EXPECT_FALSE(ParseFloatList(" , ", "--epsilons").ok());
}

}  // namespace
}  // namespace simdnet
