// Tests for Tensor storage, views, reshapes and copies.
#include "tensor/tensor.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(TensorTest, ZeroFilledAndAligned) {
  Tensor t(Shape({3, 5, 7}));
  EXPECT_EQ(t.size(), 105);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % kTensorAlignment, 0u);
  for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i], 0.0f);
}

TEST(TensorTest, DefaultIsEmpty) {
  Tensor t;
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.rank(), 1);
}

TEST(TensorTest, CreateRejectsBadDims) {
  std::vector<int64_t> dims = {4, -2};
  auto t = Tensor::Create(dims);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("negative"), std::string::npos);
}

TEST(TensorTest, FromVectorChecksCount) {
  auto ok = Tensor::FromVector(Shape({2, 2}), {1, 2, 3, 4});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->at({1, 0}), 3.0f);
  auto bad = Tensor::FromVector(Shape({2, 2}), {1, 2, 3});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("(2, 2)"), std::string::npos);
}

TEST(TensorTest, ReshapeIsAViewSharingStorage) {
  Tensor t(Shape({2, 6}));
  auto r = t.Reshape(Shape({3, 4}));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->SharesStorageWith(t));
  (*r)[5] = 7.0f;
  EXPECT_EQ(t[5], 7.0f);
}

TEST(TensorTest, ReshapeMismatchNamesBothShapes) {
  Tensor t(Shape({2, 6}));
  auto r = t.Reshape(Shape({5}));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("(2, 6)"), std::string::npos);
  EXPECT_NE(r.status().message().find("(5)"), std::string::npos);
}

TEST(TensorTest, SliceAndIndexAreViews) {
  Tensor t(Shape({4, 2, 3}));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
  Tensor s = t.Slice(1, 3);
  EXPECT_EQ(s.shape(), Shape({2, 2, 3}));
  EXPECT_EQ(s[0], 6.0f);
  Tensor row = t(3);
  EXPECT_EQ(row.shape(), Shape({2, 3}));
  EXPECT_EQ(row[0], 18.0f);
  row[1] = -1.0f;
  EXPECT_EQ(t[19], -1.0f);
}

TEST(TensorTest, CloneIsDeep) {
  Tensor t(Shape({3}));
  t[0] = 1.0f;
  Tensor c = t.Clone();
  EXPECT_FALSE(c.SharesStorageWith(t));
  c[0] = 2.0f;
  EXPECT_EQ(t[0], 1.0f);
}

TEST(TensorTest, CopyFromChecksShape) {
  Tensor a(Shape({2, 3}));
  Tensor b(Shape({3, 2}));
  b.SetAll(4.0f);
  auto st = a.CopyFrom(b);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "Tensor::CopyFrom: shape mismatch: (2, 3) vs (3, 2)");
  Tensor c(Shape({2, 3}));
  c.SetAll(5.0f);
  ASSERT_TRUE(a.CopyFrom(c).ok());
  EXPECT_EQ(a[5], 5.0f);
}

TEST(TensorTest, EnsureShapeKeepsMatchingStorageAndReallocatesOtherwise) {
  Tensor t(Shape({2, 3}));
  const float* before = t.data();
  t[0] = 4.0f;
  t.EnsureShape(Shape({2, 3}));
  EXPECT_EQ(t.data(), before);
  EXPECT_EQ(t[0], 4.0f);
  t.EnsureShape(Shape({3, 2}));
  EXPECT_EQ(t.shape(), Shape({3, 2}));
  EXPECT_EQ(t[0], 0.0f);
}

TEST(TensorTest, RankFiveWorks) {
  Tensor t(Shape({1, 2, 3, 4, 5}));
  t.at({0, 1, 2, 3, 4}) = 9.0f;
  EXPECT_EQ(t[t.size() - 1], 9.0f);
}

}  // namespace
}  // namespace simdnet
