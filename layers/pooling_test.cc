// Pool2d, MaxUnpool2d and GlobalAvgPool2d tests: gradient checks against double references (max
// with well-separated inputs, average with and without counting padding; ceil mode, dilation,
// asymmetric and SAME pads, divisor_override), PyTorch golden values, shapes, and rejections.
#include "layers/pooling.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "layers/testdata/pool2d_golden.h"
#include "tensor/rng.h"
#include "tensor/tensor_pool.h"

namespace simdnet {
namespace {

// Returns the double reference of Pool2d on x (n, c, h, w) with resolved options `o` (strides
// and the four pads set) and output size (oh, ow): PyTorch's semantics, with asymmetric pads
// as F.pad followed by pooling without padding (ONNX).
std::vector<double> RefPool(const std::vector<double>& x, const Pool2dOptions& o, int64_t n,
                            int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  const int64_t end_h = h + *o.pad_bottom, end_w = w + *o.pad_right;
  std::vector<double> y(static_cast<size_t>(n * c * oh * ow));
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t oy = 0; oy < oh; ++oy) {
      for (int64_t ox = 0; ox < ow; ++ox) {
        double best = -std::numeric_limits<double>::infinity(), sum = 0.0;
        int64_t inside = 0, padded = 0;
        for (int64_t ky = 0; ky < o.kernel_h; ++ky) {
          for (int64_t kx = 0; kx < o.kernel_w; ++kx) {
            const int64_t iy = oy * o.stride_h - o.pad_h + ky * o.dilation_h;
            const int64_t ix = ox * o.stride_w - o.pad_w + kx * o.dilation_w;
            if (iy < end_h && ix < end_w) ++padded;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const double v = x[static_cast<size_t>((p * h + iy) * w + ix)];
            best = std::max(best, v);
            sum += v;
            ++inside;
          }
        }
        const double count = o.divisor_override > 0 ? static_cast<double>(o.divisor_override)
                             : o.count_include_pad  ? static_cast<double>(padded)
                                                    : static_cast<double>(inside);
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
  const int64_t oh = (*layer)->OutputShape().dim(1), ow = (*layer)->OutputShape().dim(2);
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    return RefPool(x, resolved, n, c, h, w, oh, ow);
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

Pool2dOptions Ceil(Pool2dOptions o) {
  o.ceil_mode = true;
  return o;
}

Pool2dOptions Dilated(Pool2dOptions o, int64_t dh, int64_t dw) {
  o.dilation_h = dh;
  o.dilation_w = dw;
  return o;
}

// Pads (top, left, bottom, right).
Pool2dOptions Pads(Pool2dOptions o, int64_t t, int64_t l, int64_t b, int64_t r) {
  o.pad_h = t;
  o.pad_w = l;
  o.pad_bottom = b;
  o.pad_right = r;
  return o;
}

Pool2dOptions Same(Pool2dOptions o, PoolAutoPad mode) {
  o.auto_pad = mode;
  return o;
}

Pool2dOptions Divisor(Pool2dOptions o, int64_t d) {
  o.divisor_override = d;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Pool2dGradTest,
    ::testing::Values(PoolCase{"Max2x2", Opts(PoolKind::kMax, 2, 0, 0)},
                      PoolCase{"Max3Stride2Pad1", Opts(PoolKind::kMax, 3, 2, 1)},
                      PoolCase{"MaxStrideLtKernel", Opts(PoolKind::kMax, 3, 1, 0)},
                      PoolCase{"Avg2x2", Opts(PoolKind::kAvg, 2, 0, 0)},
                      PoolCase{"Avg3Pad1IncludePad", Opts(PoolKind::kAvg, 3, 2, 1, true)},
                      PoolCase{"Avg3Pad1ExcludePad", Opts(PoolKind::kAvg, 3, 2, 1, false)},
                      // General (scalar) path: h = 7, w = 5.
                      PoolCase{"MaxCeilDropsLastWindow", Ceil(Opts(PoolKind::kMax, 2, 2, 1))},
                      PoolCase{"MaxCeil3Stride2", Ceil(Opts(PoolKind::kMax, 3, 2, 0))},
                      PoolCase{"MaxDilated", Dilated(Opts(PoolKind::kMax, 3, 1, 1), 2, 2)},
                      PoolCase{"MaxDilatedCeilRect",
                               Ceil(Dilated(Opts(PoolKind::kMax, 2, 2, 1), 3, 2))},
                      PoolCase{"MaxAsymPads", Pads(Opts(PoolKind::kMax, 3, 2, 0), 1, 0, 0, 1)},
                      PoolCase{"MaxAsymPadsCeil",
                               Ceil(Pads(Opts(PoolKind::kMax, 3, 2, 0), 0, 1, 1, 0))},
                      PoolCase{"MaxSameUpperEvenKernel",
                               Same(Opts(PoolKind::kMax, 2, 2, 0), PoolAutoPad::kSameUpper)},
                      PoolCase{"MaxSameLowerDilated",
                               Same(Dilated(Opts(PoolKind::kMax, 3, 2, 0), 2, 1),
                                    PoolAutoPad::kSameLower)},
                      PoolCase{"AvgCeilIncludePad", Ceil(Opts(PoolKind::kAvg, 3, 2, 1, true))},
                      PoolCase{"AvgCeilExcludePad", Ceil(Opts(PoolKind::kAvg, 3, 2, 1, false))},
                      PoolCase{"AvgCeilDropsLastWindow", Ceil(Opts(PoolKind::kAvg, 2, 2, 1))},
                      PoolCase{"AvgAsymPadsIncludePad",
                               Ceil(Pads(Opts(PoolKind::kAvg, 3, 2, 0, true), 1, 0, 0, 1))},
                      PoolCase{"AvgAsymPadsExcludePad",
                               Ceil(Pads(Opts(PoolKind::kAvg, 3, 2, 0, false), 1, 0, 0, 1))},
                      PoolCase{"AvgDivisorOverride",
                               Divisor(Ceil(Opts(PoolKind::kAvg, 3, 2, 1, false)), 4)},
                      PoolCase{"AvgSameLowerEvenKernel",
                               Same(Opts(PoolKind::kAvg, 4, 3, 0, true), PoolAutoPad::kSameLower)},
                      PoolCase{"AvgSameUpperExcludePad",
                               Same(Opts(PoolKind::kAvg, 2, 2, 0, false),
                                    PoolAutoPad::kSameUpper)}),
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

// Counts the elements of `got` farther than abs_tol + rel_tol * |want| from `want`, printing
// the worst one and the first few mismatches.
::testing::AssertionResult AllNear(const char* what, const float* got, const float* want,
                                   int64_t size, double abs_tol, double rel_tol) {
  int64_t bad = 0;
  double worst = 0.0;
  std::string first;
  for (int64_t i = 0; i < size; ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    worst = std::max(worst, err);
    if (err > abs_tol + rel_tol * std::fabs(want[i])) {
      if (bad++ < 3) first += " [" + std::to_string(i) + "] " + std::to_string(got[i]) + " vs " +
                              std::to_string(want[i]);
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << size
                                       << " mismatches, max abs error " << worst << ":" << first;
}

class Pool2dGoldenTest : public ::testing::TestWithParam<pool2d_golden::Case> {};

// Forward outputs, argmax indices and input gradients against PyTorch 1.13 (double precision,
// tools/golden/make_pool2d_golden.py). Max pooling selects exactly (1e-6 abs covers the
// summed dy of argmax positions shared by several windows); an average rounds once per
// summand in float: 1e-6 abs + 1e-5 rel.
TEST_P(Pool2dGoldenTest, MatchesPyTorch) {
  const pool2d_golden::Case& k = GetParam();
  using pool2d_golden::kC;
  using pool2d_golden::kN;
  Pool2dOptions o;
  o.kind = k.max ? PoolKind::kMax : PoolKind::kAvg;
  o.kernel_h = k.kernel_h;
  o.kernel_w = k.kernel_w;
  o.stride_h = k.stride_h;
  o.stride_w = k.stride_w;
  o.dilation_h = k.dilation_h;
  o.dilation_w = k.dilation_w;
  o.ceil_mode = k.ceil_mode;
  o.count_include_pad = k.count_include_pad;
  o.divisor_override = k.divisor_override;
  if (std::strcmp(k.auto_pad, "same_upper") == 0) {
    o.auto_pad = PoolAutoPad::kSameUpper;
  } else if (std::strcmp(k.auto_pad, "same_lower") == 0) {
    o.auto_pad = PoolAutoPad::kSameLower;
  } else {
    o = Pads(o, k.pad_top, k.pad_left, k.pad_bottom, k.pad_right);
  }
  auto layer = Pool2d::Create(o, Shape({kC, k.h, k.w}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  ASSERT_EQ((*layer)->OutputShape(), Shape({kC, k.out_h, k.out_w}));
  const Pool2dOptions& r = (*layer)->options();
  EXPECT_EQ(r.pad_h, k.pad_top);
  EXPECT_EQ(r.pad_w, k.pad_left);
  EXPECT_EQ(*r.pad_bottom, k.pad_bottom);
  EXPECT_EQ(*r.pad_right, k.pad_right);

  const int64_t in_size = kN * kC * k.h * k.w, out_size = kN * kC * k.out_h * k.out_w;
  auto x = Tensor::FromVector(Shape({kN, kC, k.h, k.w}),
                              absl::MakeConstSpan(k.x, static_cast<size_t>(in_size)));
  auto dy = Tensor::FromVector(Shape({kN, kC, k.out_h, k.out_w}),
                               absl::MakeConstSpan(k.dy, static_cast<size_t>(out_size)));
  ASSERT_TRUE(x.ok() && dy.ok());
  Tensor y, dx;
  (*layer)->Forward(*x, &y);
  EXPECT_TRUE(AllNear("y", y.data(), k.y, out_size, 1e-6, 1e-5));
  if (k.max) {
    ASSERT_EQ((*layer)->indices().size(), static_cast<size_t>(out_size));
    EXPECT_TRUE(std::equal(k.indices, k.indices + out_size, (*layer)->indices().begin()));
  } else {
    EXPECT_TRUE((*layer)->indices().empty());
  }
  (*layer)->Backward(*dy, &dx);
  EXPECT_TRUE(AllNear("dx", dx.data(), k.dx, in_size, 1e-6, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(PyTorch, Pool2dGoldenTest, ::testing::ValuesIn(pool2d_golden::kCases),
                         [](const ::testing::TestParamInfo<pool2d_golden::Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(Pool2dTest, CeilModeDropsWindowStartingInTheEndPadding) {
  // in 5, k2, s2, p1: ceil((5 + 2 - 2) / 2) + 1 = 4 windows, the 4th would start at 6 - 1 = 5,
  // in the bottom padding: 3 (PyTorch's rule). Without padding the 3rd window (start 4) stays.
  auto dropped = Pool2d::Create(Ceil(Opts(PoolKind::kMax, 2, 2, 1)), Shape({1, 5, 5}));
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ((*dropped)->OutputShape(), Shape({1, 3, 3}));
  auto kept = Pool2d::Create(Ceil(Opts(PoolKind::kMax, 2, 2, 0)), Shape({1, 5, 5}));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)->OutputShape(), Shape({1, 3, 3}));
  EXPECT_EQ((*kept)->Describe(), "MaxPool2d(k=2, s=2, ceil_mode=true)");
  auto floor = Pool2d::Create(Opts(PoolKind::kMax, 2, 2, 0), Shape({1, 5, 5}));
  ASSERT_TRUE(floor.ok());
  EXPECT_EQ((*floor)->OutputShape(), Shape({1, 2, 2}));
}

TEST(Pool2dTest, SamePaddingKeepsCeilOfInputOverStride) {
  // k2 s1 on 6x5: total pad 1 per axis; SAME_UPPER puts it at the end, SAME_LOWER at the start.
  auto upper = Pool2d::Create(Same(Opts(PoolKind::kMax, 2, 1, 0), PoolAutoPad::kSameUpper),
                              Shape({2, 6, 5}));
  ASSERT_TRUE(upper.ok()) << upper.status();
  EXPECT_EQ((*upper)->OutputShape(), Shape({2, 6, 5}));
  EXPECT_EQ((*upper)->Describe(), "MaxPool2d(k=2, s=1, pad=0,0,1,1)");
  auto lower = Pool2d::Create(Same(Opts(PoolKind::kAvg, 2, 1, 0), PoolAutoPad::kSameLower),
                              Shape({2, 6, 5}));
  ASSERT_TRUE(lower.ok()) << lower.status();
  EXPECT_EQ((*lower)->Describe(), "AvgPool2d(k=2, s=1, pad=1,1,0,0)");
  // k3 d2 s2 on 7: out 4, total (4 - 1) * 2 + 5 - 7 = 4 > the explicit limit of kernel / 2.
  auto dilated = Pool2d::Create(
      Same(Dilated(Opts(PoolKind::kMax, 3, 2, 0), 2, 2), PoolAutoPad::kSameUpper),
      Shape({1, 7, 8}));
  ASSERT_TRUE(dilated.ok()) << dilated.status();
  EXPECT_EQ((*dilated)->OutputShape(), Shape({1, 4, 4}));
  EXPECT_EQ((*dilated)->Describe(), "MaxPool2d(k=3, s=2, pad=2,1,2,2, d=2)");
  EXPECT_EQ((*dilated)->options().auto_pad, PoolAutoPad::kNotSet);
}

TEST(Pool2dTest, GeneralPathMatchesSimdPathOnPlainOptions) {
  // The same pooling through the SIMD kernels (symmetric pads) and through the scalar kernels
  // (a bottom pad of 0 instead of 1 makes the options asymmetric, but floor mode never lets a
  // window reach the bottom padding here: 8 + 1 + 0 - 3 and 8 + 2 - 3 both give 4 rows).
  Pool2dOptions simd = Opts(PoolKind::kMax, 3, 2, 1);
  Pool2dOptions general = Pads(simd, 1, 1, 0, 1);
  auto a = Pool2d::Create(simd, Shape({3, 8, 9}));
  auto b = Pool2d::Create(general, Shape({3, 8, 9}));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ((*a)->OutputShape(), (*b)->OutputShape());
  Tensor x(Shape({2, 3, 8, 9})), ya, yb, dxa, dxb;
  Rng rng(7);
  FillDistinct(rng, &x);
  (*a)->Forward(x, &ya);
  (*b)->Forward(x, &yb);
  EXPECT_TRUE(AllNear("y", yb.data(), ya.data(), ya.size(), 0.0, 0.0));
  EXPECT_EQ((*a)->indices(), (*b)->indices());
  (*a)->Backward(ya, &dxa);  // any upstream gradient will do
  (*b)->Backward(ya, &dxb);
  EXPECT_TRUE(AllNear("dx", dxb.data(), dxa.data(), dxa.size(), 0.0, 0.0));
}

// Inside an InferenceScope (no Backward follows) a max pooling computes the same output without
// its indices, which keep the last training Forward's, unless a MaxUnpool2d is paired with it.
TEST(Pool2dTest, InferenceForwardSkipsIndicesUnlessUnpoolPaired) {
  for (const int64_t kernel : {2, 3}) {  // the 2x2 stride-2 row kernel and the general rows
    SCOPED_TRACE(kernel);
    Pool2dOptions o;
    o.kernel_h = o.kernel_w = kernel;
    o.stride_h = o.stride_w = 2;
    const Shape in({3, 7, 9});
    auto pool = Pool2d::Create(o, in);
    auto paired = Pool2d::Create(o, in);
    ASSERT_TRUE(pool.ok() && paired.ok());
    auto unpool = MaxUnpool2d::Create(paired->get(), (*paired)->OutputShape());
    ASSERT_TRUE(unpool.ok());
    Tensor a(in.WithBatch(2)), b(in.WithBatch(2)), y_train, y_infer, y_paired;
    Rng rng(3);
    rng.FillUniform(a.data(), a.size(), -1.0f, 1.0f);
    rng.FillUniform(b.data(), b.size(), -1.0f, 1.0f);
    (*pool)->Forward(a, &y_train);
    (*paired)->Forward(a, &y_train);
    const std::vector<int32_t> train_indices = (*pool)->indices();
    Tensor y_ref;
    (*pool)->Forward(b, &y_ref);
    const std::vector<int32_t> b_indices = (*pool)->indices();
    ASSERT_NE(train_indices, b_indices);
    (*pool)->Forward(a, &y_train);
    TensorPool tensors;
    {
      InferenceScope scope(&tensors);
      (*pool)->Forward(b, &y_infer);
      (*paired)->Forward(b, &y_paired);
    }
    ASSERT_EQ(y_infer.size(), y_ref.size());
    EXPECT_EQ(std::memcmp(y_infer.data(), y_ref.data(), sizeof(float) * y_ref.size()), 0);
    EXPECT_EQ((*pool)->indices(), train_indices);
    EXPECT_EQ((*paired)->indices(), b_indices);
  }
}

TEST(Pool2dTest, OptionRejectionsNameTheOption) {
  struct Case {
    Pool2dOptions options;
    const char* fragment;
  };
  for (const Case& c : {
           Case{Dilated(Opts(PoolKind::kAvg, 3, 1, 0), 2, 1), "dilation (2, 1)"},
           Case{Divisor(Opts(PoolKind::kMax, 2, 2, 0), 3), "divisor_override = 3"},
           Case{Divisor(Opts(PoolKind::kAvg, 2, 2, 0), -1), "divisor_override = -1"},
           Case{Dilated(Opts(PoolKind::kMax, 2, 2, 0), 0, 1), "dilation_h = 0"},
           Case{Pads(Opts(PoolKind::kMax, 3, 2, 0), 0, 0, 2, 0), "pad_bottom = 2"},
           Case{Pads(Opts(PoolKind::kMax, 3, 2, 0), 0, 0, 0, -1), "pad_right = -1"},
           Case{Pads(Opts(PoolKind::kMax, 3, 2, 0), 2, 0, 0, 0), "pad_h = 2 must be at most half"},
           Case{Same(Opts(PoolKind::kMax, 3, 2, 1), PoolAutoPad::kSameUpper), "auto_pad"},
           Case{Same(Pads(Opts(PoolKind::kAvg, 3, 2, 0), 0, 0, 1, 0), PoolAutoPad::kSameLower),
                "pad_bottom = 1"},
           Case{Dilated(Opts(PoolKind::kMax, 3, 1, 0), 2, 1), "with dilation (2, 1)"},
       }) {
    auto layer = Pool2d::Create(c.options, Shape({1, 4, 6}));
    ASSERT_FALSE(layer.ok()) << c.fragment;
    EXPECT_NE(layer.status().message().find(c.fragment), std::string::npos) << layer.status();
  }
}

class MaxUnpool2dGoldenTest : public ::testing::TestWithParam<pool2d_golden::UnpoolCase> {};

// F.max_unpool2d after F.max_pool2d: unpooling only moves values (exact), its gradient gathers.
TEST_P(MaxUnpool2dGoldenTest, MatchesPyTorch) {
  const pool2d_golden::UnpoolCase& k = GetParam();
  using pool2d_golden::kC;
  using pool2d_golden::kN;
  Pool2dOptions o = Opts(PoolKind::kMax, k.kernel, k.stride, k.pad);
  o.ceil_mode = k.ceil_mode;
  auto pool = Pool2d::Create(o, Shape({kC, k.h, k.w}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  ASSERT_EQ((*pool)->OutputShape(), Shape({kC, k.out_h, k.out_w}));
  auto unpool = MaxUnpool2d::Create(pool->get(), (*pool)->OutputShape());
  ASSERT_TRUE(unpool.ok()) << unpool.status();
  EXPECT_EQ((*unpool)->OutputShape(), Shape({kC, k.h, k.w}));
  const int64_t in_size = kN * kC * k.h * k.w, out_size = kN * kC * k.out_h * k.out_w;
  auto x = Tensor::FromVector(Shape({kN, kC, k.h, k.w}),
                              absl::MakeConstSpan(k.x, static_cast<size_t>(in_size)));
  auto u = Tensor::FromVector(Shape({kN, kC, k.out_h, k.out_w}),
                              absl::MakeConstSpan(k.u, static_cast<size_t>(out_size)));
  auto dy = Tensor::FromVector(Shape({kN, kC, k.h, k.w}),
                               absl::MakeConstSpan(k.dy, static_cast<size_t>(in_size)));
  ASSERT_TRUE(x.ok() && u.ok() && dy.ok());
  Tensor pooled, y, du;
  (*pool)->Forward(*x, &pooled);
  (*unpool)->Forward(*u, &y);
  EXPECT_TRUE(AllNear("y", y.data(), k.y, in_size, 0.0, 0.0));
  (*unpool)->Backward(*dy, &du);
  EXPECT_TRUE(AllNear("du", du.data(), k.du, out_size, 0.0, 0.0));
}

INSTANTIATE_TEST_SUITE_P(PyTorch, MaxUnpool2dGoldenTest,
                         ::testing::ValuesIn(pool2d_golden::kUnpoolCases),
                         [](const ::testing::TestParamInfo<pool2d_golden::UnpoolCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(MaxUnpool2dTest, GradientsMatchDoubleReferenceWithAsymmetricPads) {
  const int64_t n = 2, c = 3, h = 7, w = 6;
  auto pool = Pool2d::Create(Ceil(Pads(Opts(PoolKind::kMax, 2, 2, 0), 1, 0, 0, 1)),
                             Shape({c, h, w}));
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto unpool = MaxUnpool2d::Create(pool->get(), (*pool)->OutputShape());
  ASSERT_TRUE(unpool.ok()) << unpool.status();
  EXPECT_EQ((*unpool)->Describe(), "MaxUnpool2d(of MaxPool2d(k=2, s=2, pad=1,0,0,1, ceil_mode=true))");
  Tensor x(Shape({n, c, h, w})), pooled;
  Rng rng(3);
  FillDistinct(rng, &x);
  (*pool)->Forward(x, &pooled);
  const std::vector<int32_t> indices = (*pool)->indices();
  const int64_t plane_in = (*pool)->OutputShape().SizeOf(1, 3);
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& u, const std::vector<std::vector<double>>&) {
    std::vector<double> y(static_cast<size_t>(n * c * h * w), 0.0);
    for (size_t i = 0; i < u.size(); ++i) {
      const size_t plane = i / static_cast<size_t>(plane_in);
      y[plane * static_cast<size_t>(h * w) + static_cast<size_t>(indices[i])] = u[i];
    }
    return y;
  };
  g.forward_abs_tol = g.forward_rel_tol = g.grad_rel_tol = 0.0;
  g.grad_abs_tol = 1e-6;  // the numeric gradient of a linear map, exact up to ~1e-10
  EXPECT_TRUE(CheckLayerGradients(**unpool, n, g));
}

TEST(MaxUnpool2dTest, RejectionsNameThePairing) {
  auto avg = Pool2d::Create(Opts(PoolKind::kAvg, 2, 2, 0), Shape({1, 4, 4}));
  auto max = Pool2d::Create(Opts(PoolKind::kMax, 2, 2, 0), Shape({1, 4, 4}));
  ASSERT_TRUE(avg.ok() && max.ok());
  auto none = MaxUnpool2d::Create(nullptr, Shape({1, 2, 2}));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("paired max pooling"), std::string::npos);
  auto of_avg = MaxUnpool2d::Create(avg->get(), Shape({1, 2, 2}));
  ASSERT_FALSE(of_avg.ok());
  EXPECT_NE(of_avg.status().message().find("AvgPool2d"), std::string::npos);
  auto shape = MaxUnpool2d::Create(max->get(), Shape({1, 4, 4}));
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.status().message().find("(1, 4, 4) differs from the output shape (1, 2, 2)"),
            std::string::npos)
      << shape.status();
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
