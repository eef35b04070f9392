#include "train/class_groups.h"

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

TEST(ClassGroupsTest, ParsesRangesAndSingles) {
  auto g = ParseClassGroups("dog:151-268, food:924-969+100", 1000);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].name, "dog");
  EXPECT_EQ((*g)[0].classes.size(), 118u);
  EXPECT_EQ((*g)[0].classes.front(), 151);
  EXPECT_EQ((*g)[0].classes.back(), 268);
  EXPECT_EQ((*g)[1].classes.size(), 47u);
  EXPECT_EQ((*g)[1].classes.front(), 100);  // sorted
}

TEST(ClassGroupsTest, ReadsAFile) {
  const std::string path = ::testing::TempDir() + "/groups.txt";
  ASSERT_TRUE(WriteFileAtomically(path, "# dogs vs food\ndog: 151-268\n\nfood: 924-969 100\n").ok());
  auto g = ParseClassGroups(path, 1000);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)[1].classes.size(), 47u);
  auto missing = ParseClassGroups(::testing::TempDir() + "/nope.txt", 1000);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.txt"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomically(path, "dog: 1-3\nfood 4\n").ok());
  auto bad = ParseClassGroups(path, 10);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("groups.txt:2"), std::string::npos) << bad.status();
}

TEST(ClassGroupsTest, RejectsBadGroupsNamingThem) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& c : std::vector<Case>{
           {"dog:151-268", "at least 2 groups"},
           {"dog:1-3,cat:3-5", "class 3 is in group 'dog' and in 'cat'"},
           {"dog:1-3,dog:4", "defined twice"},
           {"dog:1-3,cat:x", "'x' is not a class index"},
           {"dog:1-3,cat:5-1000", "not within [0, 999]"},
           {"dog:1-3,cat:7-5", "reversed"},
           {"dog:1-3,:4", "no group name"},
           {"dog:1-3,cat:", "no classes"},
           {"dog:-1,cat:2", "not a class index"},
       }) {
    auto g = ParseClassGroups(c.text, 1000);
    ASSERT_FALSE(g.ok()) << c.text;
    EXPECT_NE(g.status().message().find(c.expect), std::string::npos)
        << c.text << " -> " << g.status();
  }
}

TEST(ClassGroupsTest, ScoresTheGroupedClassifier) {
  // 6 classes: groups a = {0, 1}, b = {4, 5}; classes 2 and 3 belong to neither.
  auto g = ParseClassGroups("a:0-1,b:4+5", 6);
  ASSERT_TRUE(g.ok());
  const std::vector<float> probs = {
      0.3f, 0.3f, 0.1f, 0.0f, 0.2f, 0.1f,  // a 0.6 vs b 0.3 -> a
      0.0f, 0.1f, 0.5f, 0.0f, 0.2f, 0.2f,  // a 0.1 vs b 0.4 -> b (class 2 is ignored)
      0.4f, 0.0f, 0.0f, 0.0f, 0.3f, 0.3f,  // a 0.4 vs b 0.6 -> b
  };
  const std::vector<double> p = GroupProbabilities(absl::MakeConstSpan(probs).subspan(0, 6), *g);
  EXPECT_NEAR(p[0], 0.6, 1e-6);
  EXPECT_NEAR(p[1], 0.3, 1e-6);
  // Data classes named "b" (label 0) and "a" (label 1): the mapping goes by name.
  const std::vector<std::string> names = {"b", "a"};
  const std::vector<int32_t> labels = {1, 0, 1};
  auto r = ScoreClassGroups(probs, 6, labels, names, *g);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->samples, 3);
  EXPECT_EQ(r->correct, 2);
  EXPECT_NEAR(r->accuracy, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(r->confusion[0][0], 1);  // a predicted a
  EXPECT_EQ(r->confusion[0][1], 1);  // a predicted b
  EXPECT_EQ(r->confusion[1][1], 1);
  const std::vector<std::string> wrong = {"b", "cat"};
  auto bad = ScoreClassGroups(probs, 6, labels, wrong, *g);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("data class 'cat' is not a class group"),
            std::string::npos);
}

}  // namespace
}  // namespace simdnet
