// Activation layer tests: forward values, gradient checks against double references for every
// kind, and Create's rejections.
#include "layers/activation.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace {

double RefActivation(ActivationKind kind, double slope, double x) {
  switch (kind) {
    case ActivationKind::kRelu:
      return x > 0 ? x : 0.0;
    case ActivationKind::kLeakyRelu:
      return x > 0 ? x : slope * x;
    case ActivationKind::kTanh:
      return std::tanh(x);
    case ActivationKind::kSigmoid:
      return 1.0 / (1.0 + std::exp(-x));
    case ActivationKind::kRelu6:
      return x < 0 ? 0.0 : (x > 6 ? 6.0 : x);
  }
  return 0.0;
}

GradCheckOptions OptionsFor(ActivationKind kind, double slope) {
  GradCheckOptions o;
  o.reference = [kind, slope](const std::vector<double>& x,
                              const std::vector<std::vector<double>>&) {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = RefActivation(kind, slope, x[i]);
    return y;
  };
  // Keep inputs away from the ReLU kink at 0 (the finite difference would straddle it).
  o.fill_input = [](Rng& rng, Tensor* x) {
    for (int64_t i = 0; i < x->size(); ++i) {
      const float u = rng.Uniform();
      (*x)[i] = (i % 2 == 0 ? 1.0f : -1.0f) * (0.05f + 2.0f * u);
    }
  };
  // Bounds: float rounding of tanh/sigmoid (few ulp) times |dy| <= 1: 1e-5 abs + 1e-4 rel.
  o.grad_abs_tol = 1e-5;
  o.grad_rel_tol = 1e-4;
  o.forward_abs_tol = 1e-6;
  o.forward_rel_tol = 1e-5;
  return o;
}

class ActivationKindTest : public ::testing::TestWithParam<ActivationKind> {};

TEST_P(ActivationKindTest, GradientsMatchDoubleReferenceOnOddShape) {
  ActivationOptions options;
  options.kind = GetParam();
  options.negative_slope = 0.1f;
  auto layer = Activation::Create(options, Shape({3, 5, 7}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_TRUE(CheckLayerGradients(**layer, 3, OptionsFor(options.kind, 0.1)));
}

TEST_P(ActivationKindTest, SameResultInTrainAndEval) {
  ActivationOptions options;
  options.kind = GetParam();
  auto layer = Activation::Create(options, Shape({17}));
  ASSERT_TRUE(layer.ok());
  Tensor x(Shape({2, 17}));
  for (int64_t i = 0; i < x.size(); ++i) x[i] = 0.3f * static_cast<float>(i) - 4.0f;
  Tensor y_train, y_eval;
  (*layer)->Forward(x, &y_train);
  (*layer)->SetMode(Mode::kEval);
  (*layer)->Forward(x, &y_eval);
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(y_train[i], y_eval[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ActivationKindTest,
                         ::testing::Values(ActivationKind::kRelu, ActivationKind::kLeakyRelu,
                                           ActivationKind::kTanh, ActivationKind::kSigmoid,
                                           ActivationKind::kRelu6),
                         [](const ::testing::TestParamInfo<ActivationKind>& info) {
                           return std::string(ActivationKindName(info.param));
                         });

TEST(ActivationTest, ReluForwardValuesAndShape) {
  auto layer = Activation::Create({}, Shape({4}));
  ASSERT_TRUE(layer.ok());
  auto x = Tensor::FromVector(Shape({1, 4}), {-1.0f, 0.0f, 2.0f, -0.5f});
  ASSERT_TRUE(x.ok());
  Tensor y;
  (*layer)->Forward(*x, &y);
  ASSERT_EQ(y.shape(), Shape({1, 4}));
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 2.0f);
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_EQ((*layer)->TypeName(), "relu");
  EXPECT_EQ((*layer)->Describe(), "ReLU()");
  EXPECT_TRUE((*layer)->Params().empty());
}

TEST(ActivationTest, Relu6ClampsAtZeroAndSixWithZeroGradientAtTheEdges) {
  ActivationOptions options;
  options.kind = ActivationKind::kRelu6;
  auto layer = Activation::Create(options, Shape({6}));
  ASSERT_TRUE(layer.ok());
  auto x = Tensor::FromVector(Shape({1, 6}), {-1.0f, 0.0f, 2.5f, 6.0f, 7.5f, 5.999f});
  ASSERT_TRUE(x.ok());
  Tensor y;
  (*layer)->Forward(*x, &y);
  const float expected_y[] = {0.0f, 0.0f, 2.5f, 6.0f, 6.0f, 5.999f};
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(y[i], expected_y[i]) << i;
  Tensor dy(Shape({1, 6})), dx;
  dy.SetAll(2.0f);
  (*layer)->Backward(dy, &dx);
  // torch.nn.functional.relu6 (hardtanh) passes the gradient only strictly inside (0, 6).
  const float expected_dx[] = {0.0f, 0.0f, 2.0f, 0.0f, 0.0f, 2.0f};
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(dx[i], expected_dx[i]) << i;
  EXPECT_EQ((*layer)->TypeName(), "relu6");
  EXPECT_EQ((*layer)->Describe(), "ReLU6()");
}

TEST(ActivationTest, Relu6GradientsMatchDoubleReferenceAcrossBothEdges) {
  ActivationOptions options;
  options.kind = ActivationKind::kRelu6;
  auto layer = Activation::Create(options, Shape({5, 7, 3}));
  ASSERT_TRUE(layer.ok());
  GradCheckOptions o = OptionsFor(ActivationKind::kRelu6, 0.0);
  // Inputs in [-3, 9], at least 0.05 away from the kinks at 0 and 6.
  o.fill_input = [](Rng& rng, Tensor* x) {
    const float centers[] = {-1.5f, 3.0f, 7.5f};
    for (int64_t i = 0; i < x->size(); ++i) {
      (*x)[i] = centers[i % 3] + 2.9f * (rng.Uniform() - 0.5f);
    }
  };
  EXPECT_TRUE(CheckLayerGradients(**layer, 2, o));
}

TEST(ActivationTest, BackwardOverwritesDx) {
  ActivationOptions options;
  options.kind = ActivationKind::kTanh;
  auto layer = Activation::Create(options, Shape({3}));
  ASSERT_TRUE(layer.ok());
  Tensor x(Shape({1, 3})), y, dy(Shape({1, 3}));
  dy.SetAll(1.0f);
  (*layer)->Forward(x, &y);  // x = 0: tanh'(0) = 1
  Tensor dx(Shape({1, 3}));
  dx.SetAll(100.0f);
  (*layer)->Backward(dy, &dx);
  for (int64_t i = 0; i < 3; ++i) EXPECT_FLOAT_EQ(dx[i], 1.0f);
}

TEST(ActivationTest, RejectsEmptyOrScalarShape) {
  auto scalar = Activation::Create({}, Shape());
  ASSERT_FALSE(scalar.ok());
  EXPECT_NE(scalar.status().message().find("input_shape ()"), std::string::npos)
      << scalar.status();
  auto empty = Activation::Create({}, Shape({3, 0}));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("(3, 0)"), std::string::npos) << empty.status();
}

TEST(ActivationTest, RejectsNonFiniteSlope) {
  ActivationOptions options;
  options.kind = ActivationKind::kLeakyRelu;
  options.negative_slope = std::numeric_limits<float>::quiet_NaN();
  auto layer = Activation::Create(options, Shape({3}));
  ASSERT_FALSE(layer.ok());
  EXPECT_NE(layer.status().message().find("negative_slope"), std::string::npos);
}

TEST(ActivationTest, ParsesKindNames) {
  EXPECT_EQ(*ParseActivationKind("ReLU"), ActivationKind::kRelu);
  EXPECT_EQ(*ParseActivationKind("lrelu"), ActivationKind::kLeakyRelu);
  EXPECT_EQ(*ParseActivationKind("leaky_relu"), ActivationKind::kLeakyRelu);
  EXPECT_EQ(*ParseActivationKind("tanh"), ActivationKind::kTanh);
  EXPECT_EQ(*ParseActivationKind("sigmoid"), ActivationKind::kSigmoid);
  EXPECT_EQ(*ParseActivationKind("ReLU6"), ActivationKind::kRelu6);
  auto bad = ParseActivationKind("gelu");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'gelu'"), std::string::npos);
}

}  // namespace
}  // namespace simdnet
