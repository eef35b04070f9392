// Pool2d and GlobalAvgPool2d tests: gradient checks against double references (max with
// well-separated inputs, average with and without counting padding), shapes, and rejections.
#include "layers/pooling.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"

namespace simdnet {
namespace {

// Returns the double reference of Pool2d on x (n, c, h, w).
std::vector<double> RefPool(const std::vector<double>& x, const Pool2dOptions& o, int64_t n,
                            int64_t c, int64_t h, int64_t w) {
  const int64_t oh = (h + 2 * o.pad_h - o.kernel_h) / o.stride_h + 1;
  const int64_t ow = (w + 2 * o.pad_w - o.kernel_w) / o.stride_w + 1;
  std::vector<double> y(static_cast<size_t>(n * c * oh * ow));
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
        int64_t inside = 0;
        for (int64_t ky = 0; ky < o.kernel_h; ++ky) {
          for (int64_t kx = 0; kx < o.kernel_w; ++kx) {
            const int64_t iy = oy * o.stride_h - o.pad_h + ky;
            const int64_t ix = ox * o.stride_w - o.pad_w + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const double v = x[static_cast<size_t>((p * h + iy) * w + ix)];
            best = std::max(best, v);
            sum += v;
            ++inside;
          }
        }
        const double count =
            o.count_include_pad ? static_cast<double>(o.kernel_h * o.kernel_w) : inside;
        y[static_cast<size_t>((p * oh + oy) * ow + ox)] =
            o.kind == PoolKind::kMax ? best : sum / count;
      }
    }
  }
  return y;
}

// Distinct values 0.01 apart in random order, so the finite-difference step never changes
// which element is a window's maximum.
void FillDistinct(Rng& rng, Tensor* x) {
  std::vector<int64_t> order(static_cast<size_t>(x->size()));
  std::iota(order.begin(), order.end(), 0);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.UniformInt(i)]);
  for (int64_t i = 0; i < x->size(); ++i) {
    (*x)[i] = 0.01f * static_cast<float>(order[static_cast<size_t>(i)]) - 1.0f;
  }
}

struct PoolCase {
  const char* name;
  Pool2dOptions options;
};

class Pool2dGradTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(Pool2dGradTest, GradientsMatchDoubleReference) {
  Pool2dOptions o = GetParam().options;
  const int64_t n = 2, c = 3, h = 7, w = 5;
  auto layer = Pool2d::Create(o, Shape({c, h, w}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  const Pool2dOptions resolved = (*layer)->options();
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    return RefPool(x, resolved, n, c, h, w);
  };
  g.fill_input = FillDistinct;
  // Max is exact; an average rounds once per summand: 1e-6 abs, 1e-5 rel.
  g.forward_abs_tol = 1e-6;
  g.forward_rel_tol = 1e-5;
  g.grad_abs_tol = 1e-6;
  g.grad_rel_tol = 1e-5;
  EXPECT_TRUE(CheckLayerGradients(**layer, n, g)) << GetParam().name;
}

Pool2dOptions Opts(PoolKind kind, int64_t k, int64_t s, int64_t p, bool include_pad = true) {
  Pool2dOptions o;
  o.kind = kind;
  o.kernel_h = o.kernel_w = k;
  o.stride_h = o.stride_w = s;
  o.pad_h = o.pad_w = p;
  o.count_include_pad = include_pad;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Pool2dGradTest,
    ::testing::Values(PoolCase{"Max2x2", Opts(PoolKind::kMax, 2, 0, 0)},
                      PoolCase{"Max3Stride2Pad1", Opts(PoolKind::kMax, 3, 2, 1)},
                      PoolCase{"MaxStrideLtKernel", Opts(PoolKind::kMax, 3, 1, 0)},
                      PoolCase{"Avg2x2", Opts(PoolKind::kAvg, 2, 0, 0)},
                      PoolCase{"Avg3Pad1IncludePad", Opts(PoolKind::kAvg, 3, 2, 1, true)},
                      PoolCase{"Avg3Pad1ExcludePad", Opts(PoolKind::kAvg, 3, 2, 1, false)}),
    [](const ::testing::TestParamInfo<PoolCase>& info) { return info.param.name; });

TEST(Pool2dTest, OutputShapeFloorsAndRectangularWindows) {
  Pool2dOptions o;
  o.kernel_h = 2;
  o.kernel_w = 3;
  auto layer = Pool2d::Create(o, Shape({4, 7, 9}));
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ((*layer)->OutputShape(), Shape({4, 3, 3}));
  EXPECT_EQ((*layer)->Describe(), "MaxPool2d(k=2x3, s=2x3)");
  EXPECT_EQ((*layer)->TypeName(), "maxpool2d");
}

TEST(Pool2dTest, RejectionsNameTheField) {
  struct Case {
    Pool2dOptions options;
    Shape shape;
    const char* fragment;
  };
  Pool2dOptions zero_kernel = Opts(PoolKind::kMax, 0, 1, 0);
  Pool2dOptions neg_stride = Opts(PoolKind::kAvg, 2, -1, 0);
  Pool2dOptions neg_pad = Opts(PoolKind::kMax, 2, 2, -1);
  Pool2dOptions big_pad = Opts(PoolKind::kMax, 2, 2, 2);
  Pool2dOptions big_kernel = Opts(PoolKind::kMax, 9, 1, 0);
  for (const Case& c : {Case{zero_kernel, Shape({1, 4, 4}), "kernel_h = 0"},
                        Case{neg_stride, Shape({1, 4, 4}), "stride_h = -1"},
                        Case{neg_pad, Shape({1, 4, 4}), "pad_h = -1"},
                        Case{big_pad, Shape({1, 4, 4}), "half the kernel"},
                        Case{big_kernel, Shape({1, 4, 4}), "larger than the padded input"},
                        Case{Opts(PoolKind::kMax, 2, 2, 0), Shape({4, 4}), "(4, 4)"},
                        Case{Opts(PoolKind::kMax, 2, 2, 0), Shape({1, 0, 4}), "(1, 0, 4)"}}) {
    auto layer = Pool2d::Create(c.options, c.shape);
    ASSERT_FALSE(layer.ok()) << c.fragment;
    EXPECT_NE(layer.status().message().find(c.fragment), std::string::npos) << layer.status();
  }
}

TEST(GlobalAvgPool2dTest, GradientsMatchDoubleReference) {
  const int64_t n = 3, c = 4, h = 5, w = 7;
  auto layer = GlobalAvgPool2d::Create(Shape({c, h, w}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ((*layer)->OutputShape(), Shape({c}));
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    std::vector<double> y(static_cast<size_t>(n * c), 0.0);
    for (int64_t p = 0; p < n * c; ++p) {
      for (int64_t i = 0; i < h * w; ++i) y[static_cast<size_t>(p)] += x[p * h * w + i];
      y[static_cast<size_t>(p)] /= static_cast<double>(h * w);
    }
    return y;
  };
  g.forward_abs_tol = 1e-6;
  g.forward_rel_tol = 1e-5;
  g.grad_abs_tol = 1e-6;
  g.grad_rel_tol = 1e-5;
  EXPECT_TRUE(CheckLayerGradients(**layer, n, g));
}

TEST(GlobalAvgPool2dTest, RejectsNonImageShapes) {
  auto flat = GlobalAvgPool2d::Create(Shape({16}));
  ASSERT_FALSE(flat.ok());
  EXPECT_NE(flat.status().message().find("(16)"), std::string::npos);
  EXPECT_FALSE(GlobalAvgPool2d::Create(Shape({3, 0, 2})).ok());
}

}  // namespace
}  // namespace simdnet
