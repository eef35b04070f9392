// Tests for Linear: gradient check against the double reference (with and without bias, frozen
// weight), gradient accumulation and ZeroGrad, initialization, and Create's rejections.
#include "layers/linear.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/test_util.h"
#include "layers/gradient_check.h"
#include "layers/reference.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

using test::ExpectInvalid;

std::unique_ptr<Linear> MakeLinear(int64_t in, int64_t out, bool bias, uint64_t seed = 1) {
  LinearOptions o;
  o.out_features = out;
  o.bias = bias;
  Rng rng(seed);
  auto layer = Linear::Create(o, Shape({in}), rng);
  SIMDNET_CHECK(layer.ok());
  return std::move(layer).value();
}

GradCheckOptions LinearCheck(int64_t in, int64_t out, bool bias) {
  GradCheckOptions o;
  o.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>& p) {
    const int64_t n = static_cast<int64_t>(x.size()) / in;
    return reference::Linear(x, p[0], bias ? p[1] : std::vector<double>(), n, in, out);
  };
  // Float GEMM over in <= 100 terms of magnitude <= 1: errors stay below 1e-5; the bound
  // below (1e-4 abs + 1e-4 rel forward, 1e-3 gradients) leaves a wide margin yet catches any
  // wrong index or missing term (those are O(0.1)).
  o.forward_abs_tol = 1e-4;
  o.forward_rel_tol = 1e-4;
  o.grad_abs_tol = 1e-3;
  o.grad_rel_tol = 1e-3;
  return o;
}

TEST(LinearTest, GradientsMatchDoubleReference) {
  auto layer = MakeLinear(7, 5, true);
  EXPECT_TRUE(CheckLayerGradients(*layer, 3, LinearCheck(7, 5, true)));
}

TEST(LinearTest, GradientsWithoutBias) {
  auto layer = MakeLinear(13, 3, false);
  EXPECT_EQ(layer->Params().size(), 1u);
  EXPECT_TRUE(CheckLayerGradients(*layer, 5, LinearCheck(13, 3, false)));
}

TEST(LinearTest, BatchOfOneAndLargerShapes) {
  auto one = MakeLinear(1, 1, true);
  EXPECT_TRUE(CheckLayerGradients(*one, 1, LinearCheck(1, 1, true)));
  auto big = MakeLinear(67, 33, true);
  GradCheckOptions o = LinearCheck(67, 33, true);
  o.max_checks_per_tensor = 200;
  EXPECT_TRUE(CheckLayerGradients(*big, 17, o));
}

// Forward multiplies by W transposed (N == 1), transposes x (N < out_features) or W (N >=
// out_features), split over the pool when large: every path against the double reference, with
// and without bias.
TEST(LinearTest, ForwardPathsMatchDoubleReference) {
  const int64_t in = 600, out = 70;
  for (bool bias : {true, false}) {
    auto layer = MakeLinear(in, out, bias);
    if (bias) {
      for (int64_t j = 0; j < out; ++j) layer->bias().value[j] = 0.01f * static_cast<float>(j);
    }
    std::vector<double> w(layer->weight().value.data(),
                          layer->weight().value.data() + in * out);
    std::vector<double> b;
    if (bias) b.assign(layer->bias().value.data(), layer->bias().value.data() + out);
    for (int64_t n : {1, 2, 64, 70, 100}) {
      Tensor x(Shape({n, in})), y;
      Rng rng(static_cast<uint64_t>(n));
      for (int64_t i = 0; i < x.size(); ++i) x[i] = 2.0f * rng.Uniform() - 1.0f;
      layer->Forward(x, &y);
      ASSERT_EQ(y.shape(), Shape({n, out}));
      const std::vector<double> ref =
          reference::Linear(std::vector<double>(x.data(), x.data() + x.size()), w, b, n, in, out);
      for (int64_t i = 0; i < y.size(); ++i) {
        // 600 float products of magnitude <= 0.04: rounding stays far below 1e-4.
        ASSERT_NEAR(y[i], ref[static_cast<size_t>(i)], 1e-4)
            << "n=" << n << " bias=" << bias << " element " << i;
      }
    }
  }
}

TEST(LinearTest, FrozenWeightGetsNoGradientButBiasDoes) {
  auto layer = MakeLinear(4, 6, true);
  layer->weight().frozen = true;
  EXPECT_TRUE(CheckLayerGradients(*layer, 3, LinearCheck(4, 6, true)));
  for (int64_t i = 0; i < layer->weight().grad.size(); ++i) {
    EXPECT_EQ(layer->weight().grad[i], 0.0f);
  }
}

TEST(LinearTest, ParameterGradientsAccumulateUntilZeroGrad) {
  auto layer = MakeLinear(5, 4, true);
  Tensor x(Shape({3, 5})), y, dy(Shape({3, 4})), dx;
  Rng rng(9);
  rng.FillUniform(x.data(), x.size(), -1, 1);
  rng.FillUniform(dy.data(), dy.size(), -1, 1);
  layer->Forward(x, &y);
  layer->Backward(dy, &dx);
  const Tensor w1 = layer->weight().grad.Clone();
  const Tensor b1 = layer->bias().grad.Clone();
  const Tensor dx1 = dx.Clone();
  layer->Forward(x, &y);
  layer->Backward(dy, &dx);
  for (int64_t i = 0; i < w1.size(); ++i) EXPECT_FLOAT_EQ(layer->weight().grad[i], 2 * w1[i]);
  for (int64_t i = 0; i < b1.size(); ++i) EXPECT_FLOAT_EQ(layer->bias().grad[i], 2 * b1[i]);
  for (int64_t i = 0; i < dx1.size(); ++i) EXPECT_EQ(dx[i], dx1[i]);  // dx is overwritten
  layer->ZeroGrad();
  for (int64_t i = 0; i < w1.size(); ++i) EXPECT_EQ(layer->weight().grad[i], 0.0f);
  for (int64_t i = 0; i < b1.size(); ++i) EXPECT_EQ(layer->bias().grad[i], 0.0f);
}

TEST(LinearTest, ModeDoesNotChangeOutput) {
  auto layer = MakeLinear(6, 2, true);
  Tensor x(Shape({2, 6})), y_train, y_eval;
  Rng rng(2);
  rng.FillUniform(x.data(), x.size(), -1, 1);
  layer->Forward(x, &y_train);
  layer->SetMode(Mode::kEval);
  layer->Forward(x, &y_eval);
  for (int64_t i = 0; i < y_train.size(); ++i) EXPECT_EQ(y_train[i], y_eval[i]);
}

TEST(LinearTest, DefaultInitIsPyTorchUniformAndSeeded) {
  auto a = MakeLinear(100, 50, true, 4), b = MakeLinear(100, 50, true, 4);
  const float bound = 1.0f / std::sqrt(100.0f);
  float max_abs = 0.0f;
  for (int64_t i = 0; i < a->weight().value.size(); ++i) {
    EXPECT_EQ(a->weight().value[i], b->weight().value[i]);
    max_abs = std::max(max_abs, std::abs(a->weight().value[i]));
  }
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9f * bound);
  for (int64_t i = 0; i < a->bias().value.size(); ++i) {
    EXPECT_LE(std::abs(a->bias().value[i]), bound);
  }
  EXPECT_TRUE(a->weight().weight_decay);
  EXPECT_FALSE(a->bias().weight_decay);
  EXPECT_EQ(a->Params()[0].name, "weight");
  EXPECT_EQ(a->Params()[1].name, "bias");
  EXPECT_EQ(a->NumParams(), 100 * 50 + 50);
  EXPECT_EQ(a->Describe(), "Linear(100, 50)");
}

TEST(LinearTest, CreateRejectsBadOptions) {
  Rng rng(1);
  LinearOptions o;
  o.out_features = 0;
  ExpectInvalid(Linear::Create(o, Shape({4}), rng).status(), {"Linear", "out_features", "(4)"});
  o.out_features = 3;
  ExpectInvalid(Linear::Create(o, Shape({2, 4}), rng).status(),
                {"Linear", "input_shape", "(2, 4)"});
  ExpectInvalid(Linear::Create(o, Shape({0}), rng).status(), {"Linear", "in_features", "(0)"});
  o.weight_init.kind = InitKind::kNormal;
  o.weight_init.std = -1.0f;
  ExpectInvalid(Linear::Create(o, Shape({4}), rng).status(), {"Linear", "weight_init", "std"});
  o.weight_init = PyTorchDefaultInit();
  o.bias_init.kind = InitKind::kUniform;
  o.bias_init.low = 1.0f;
  o.bias_init.high = -1.0f;
  ExpectInvalid(Linear::Create(o, Shape({4}), rng).status(), {"Linear", "bias_init", "low"});
}

}  // namespace
}  // namespace simdnet
