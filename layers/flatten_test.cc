// Flatten layer tests: shapes, element order, gradient check and rejections.
#include "layers/flatten.h"

#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"

namespace simdnet {
namespace {

TEST(FlattenTest, KeepsRowMajorOrder) {
  auto layer = Flatten::Create(Shape({2, 3, 5}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ((*layer)->OutputShape(), Shape({30}));
  Tensor x(Shape({3, 2, 3, 5}));
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  Tensor y;
  (*layer)->Forward(x, &y);
  ASSERT_EQ(y.shape(), Shape({3, 30}));
  for (int64_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], static_cast<float>(i));
  EXPECT_FALSE(y.SharesStorageWith(x));
  Tensor dx;
  (*layer)->Backward(y, &dx);
  ASSERT_EQ(dx.shape(), x.shape());
  for (int64_t i = 0; i < dx.size(); ++i) EXPECT_EQ(dx[i], x[i]);
}

TEST(FlattenTest, GradientsMatchIdentityReference) {
  auto layer = Flatten::Create(Shape({3, 5, 7}));
  ASSERT_TRUE(layer.ok());
  GradCheckOptions o;
  o.reference = [](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    return x;
  };
  // A copy is exact: only the double finite difference's own error remains.
  o.grad_abs_tol = 1e-6;
  o.grad_rel_tol = 1e-6;
  EXPECT_TRUE(CheckLayerGradients(**layer, 2, o));
}

TEST(FlattenTest, RejectsScalarAndEmptyShapes) {
  auto scalar = Flatten::Create(Shape());
  ASSERT_FALSE(scalar.ok());
  EXPECT_NE(scalar.status().message().find("Flatten"), std::string::npos);
  auto empty = Flatten::Create(Shape({4, 0}));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("(4, 0)"), std::string::npos);
}

}  // namespace
}  // namespace simdnet
