// AdaptiveAvgPool2d tests: PyTorch's window rule on shrinking, growing and identity sizes,
// gradient checks against a double reference, and Create's rejections.
#include "layers/adaptive_pool.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace {

// Double reference with the window rule written independently: start = floor(i * in / out),
// end = ceil((i + 1) * in / out), computed in double.
std::vector<double> RefAdaptive(const std::vector<double>& x, int64_t planes, int64_t in_h,
                                int64_t in_w, int64_t out_h, int64_t out_w) {
  std::vector<double> y(static_cast<size_t>(planes * out_h * out_w));
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t i = 0; i < out_h; ++i) {
      const int64_t h0 = static_cast<int64_t>(std::floor(double(i) * in_h / out_h));
      const int64_t h1 = static_cast<int64_t>(std::ceil(double(i + 1) * in_h / out_h));
      for (int64_t j = 0; j < out_w; ++j) {
        const int64_t w0 = static_cast<int64_t>(std::floor(double(j) * in_w / out_w));
        const int64_t w1 = static_cast<int64_t>(std::ceil(double(j + 1) * in_w / out_w));
        double sum = 0;
        for (int64_t h = h0; h < h1; ++h) {
          for (int64_t w = w0; w < w1; ++w) sum += x[(p * in_h + h) * in_w + w];
        }
        y[(p * out_h + i) * out_w + j] = sum / double((h1 - h0) * (w1 - w0));
      }
    }
  }
  return y;
}

struct Case {
  int64_t c, in_h, in_w, out_h, out_w;
};

class AdaptivePoolCaseTest : public ::testing::TestWithParam<Case> {};

TEST_P(AdaptivePoolCaseTest, GradientsMatchDoubleReference) {
  const Case k = GetParam();
  AdaptiveAvgPool2dOptions o;
  o.out_h = k.out_h;
  o.out_w = k.out_w;
  auto layer = AdaptiveAvgPool2d::Create(o, Shape({k.c, k.in_h, k.in_w}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ((*layer)->OutputShape(), Shape({k.c, k.out_h, k.out_w}));
  const int64_t batch = 2;
  GradCheckOptions g;
  g.reference = [k, batch](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    return RefAdaptive(x, batch * k.c, k.in_h, k.in_w, k.out_h, k.out_w);
  };
  // Bounds: a window sum of <= 7 * 7 floats in [-1, 1] rounds to ~1e-6; the pooling is linear.
  g.forward_abs_tol = 1e-6;
  g.forward_rel_tol = 1e-5;
  g.grad_abs_tol = 1e-6;
  g.grad_rel_tol = 1e-5;
  EXPECT_TRUE(CheckLayerGradients(**layer, batch, g));
  (*layer)->SetMode(Mode::kEval);
  EXPECT_TRUE(CheckLayerGradients(**layer, batch, g));
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, AdaptivePoolCaseTest,
    ::testing::Values(Case{3, 7, 7, 7, 7},    // identity (VGG at 224)
                      Case{2, 13, 13, 6, 6},  // overlapping, uneven windows (AlexNet at 256+)
                      Case{3, 5, 7, 1, 1},    // global average (ResNet)
                      Case{2, 2, 3, 7, 7},    // growing: cells repeated (VGG at 64x64)
                      Case{1, 9, 4, 4, 3}),   // rectangular
    [](const ::testing::TestParamInfo<Case>& info) {
      const Case& k = info.param;
      return "in" + std::to_string(k.in_h) + "x" + std::to_string(k.in_w) + "_out" +
             std::to_string(k.out_h) + "x" + std::to_string(k.out_w);
    });

TEST(AdaptivePoolTest, WindowsFollowPyTorchStartEndRule) {
  // torch.nn.functional.adaptive_avg_pool2d(torch.arange(5.).view(1, 1, 1, 5), (1, 3)) gives
  // windows [0, 2), [1, 4), [3, 5): 0.5, 2.0, 3.5.
  AdaptiveAvgPool2dOptions o;
  o.out_h = 1;
  o.out_w = 3;
  auto layer = AdaptiveAvgPool2d::Create(o, Shape({1, 1, 5}));
  ASSERT_TRUE(layer.ok());
  auto x = Tensor::FromVector(Shape({1, 1, 1, 5}), {0, 1, 2, 3, 4});
  ASSERT_TRUE(x.ok());
  Tensor y;
  (*layer)->Forward(*x, &y);
  ASSERT_EQ(y.shape(), Shape({1, 1, 1, 3}));
  EXPECT_FLOAT_EQ(y[0], 0.5f);
  EXPECT_FLOAT_EQ(y[1], 2.0f);
  EXPECT_FLOAT_EQ(y[2], 3.5f);
  EXPECT_EQ((*layer)->Describe(), "AdaptiveAvgPool2d(output_size=(1, 3))");
}

TEST(AdaptivePoolTest, RejectsBadShapesAndSizes) {
  auto flat = AdaptiveAvgPool2d::Create({}, Shape({16}));
  ASSERT_FALSE(flat.ok());
  EXPECT_NE(flat.status().message().find("(16)"), std::string::npos) << flat.status();
  AdaptiveAvgPool2dOptions o;
  o.out_h = 0;
  auto zero = AdaptiveAvgPool2d::Create(o, Shape({3, 4, 4}));
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("output size 0x1"), std::string::npos)
      << zero.status();
}

}  // namespace
}  // namespace simdnet
