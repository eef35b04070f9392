// Tests for Shape and its validators.
#include "tensor/shape.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(ShapeTest, ScalarHasOneElement) {
  Shape s;
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.size(), 1);
  EXPECT_EQ(s.ToString(), "()");
}

TEST(ShapeTest, DimsAndSize) {
  Shape s({2, 3, 4});
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s.dim(0), 2);
  EXPECT_EQ(s.dim(-1), 4);
  EXPECT_EQ(s.size(), 24);
  EXPECT_EQ(s.SizeOf(1, 3), 12);
  EXPECT_EQ(s.ToString(), "(2, 3, 4)");
  EXPECT_EQ(s, Shape({2, 3, 4}));
  EXPECT_NE(s, Shape({2, 12}));
}

TEST(ShapeTest, WithBatchPrependsTheBatchDim) {
  EXPECT_EQ(Shape({3, 28, 28}).WithBatch(16), Shape({16, 3, 28, 28}));
  EXPECT_EQ(Shape({}).WithBatch(4), Shape({4}));
  EXPECT_EQ(Shape({1, 2, 3, 4}).WithBatch(0), Shape({0, 1, 2, 3, 4}));
}

TEST(ShapeTest, ZeroDimMeansEmpty) { EXPECT_EQ(Shape({5, 0, 3}).size(), 0); }

TEST(ShapeTest, CreateRejectsNegativeDimNamingIt) {
  std::vector<int64_t> dims = {2, -1};
  auto s = Shape::Create(dims);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("dim 1 is negative"), std::string::npos)
      << s.status();
}

TEST(ShapeTest, CreateRejectsRankAboveFive) {
  std::vector<int64_t> dims = {1, 1, 1, 1, 1, 1};
  auto s = Shape::Create(dims);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("maximum rank is 5"), std::string::npos) << s.status();
}

TEST(ShapeTest, CreateRejectsOverflow) {
  std::vector<int64_t> dims = {std::numeric_limits<int64_t>::max() / 2, 3};
  auto s = Shape::Create(dims);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("overflows"), std::string::npos) << s.status();
}

TEST(ShapeTest, CheckSameShapeNamesBothShapes) {
  auto st = CheckSameShape(Shape({2, 3}), Shape({3, 2}), "add");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "add: shape mismatch: (2, 3) vs (3, 2)");
  EXPECT_TRUE(CheckSameShape(Shape({2}), Shape({2}), "x").ok());
}

TEST(ShapeTest, CheckRank) {
  EXPECT_TRUE(CheckRank(Shape({1, 2, 3, 4}), 4, "conv").ok());
  auto st = CheckRank(Shape({1, 2}), 4, "conv input");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "conv input: expected rank 4 but got shape (1, 2)");
}

}  // namespace
}  // namespace simdnet
