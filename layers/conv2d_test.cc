// Tests for Conv2d: gradient checks against the double reference on odd shapes (stride,
// padding, dilation, groups, depthwise, 1x1, no bias, frozen weight, asymmetric and SAME pads),
// PyTorch golden values, gradient accumulation, initialization and every Create rejection.
#include "layers/conv2d.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "layers/reference.h"
#include "layers/testdata/conv2d_padding_golden.h"
#include "tensor/status_macros.h"
#include "tensor/test_util.h"

namespace simdnet {
namespace {

using test::ExpectInvalid;

Conv2dOptions Opts(int64_t out, int64_t kh, int64_t kw) {
  Conv2dOptions o;
  o.out_channels = out;
  o.kernel_h = kh;
  o.kernel_w = kw;
  return o;
}

std::unique_ptr<Conv2d> Make(const Conv2dOptions& o, const Shape& in, uint64_t seed = 1) {
  Rng rng(seed);
  auto layer = Conv2d::Create(o, in, rng);
  SIMDNET_CHECK(layer.ok());
  return std::move(layer).value();
}

GradCheckOptions ConvCheck(const Conv2dOptions& o, const Shape& in) {
  reference::ConvDims d;
  d.c = in.dim(0);
  d.h = in.dim(1);
  d.w = in.dim(2);
  d.out = o.out_channels;
  d.kh = o.kernel_h;
  d.kw = o.kernel_w;
  d.sh = o.stride_h;
  d.sw = o.stride_w;
  d.ph = o.pad_h;
  d.pw = o.pad_w;
  d.dh = o.dilation_h;
  d.dw = o.dilation_w;
  d.groups = o.groups;
  const bool bias = o.bias;
  GradCheckOptions g;
  g.reference = [d, bias](const std::vector<double>& x,
                          const std::vector<std::vector<double>>& p) mutable {
    d.n = static_cast<int64_t>(x.size()) / (d.c * d.h * d.w);
    return reference::Conv2d(x, p[0], bias ? p[1] : std::vector<double>(), d);
  };
  // Each output sums at most C/groups * kh * kw <= 50 products of magnitude <= 1 in float
  // (error ~1e-6); weight gradients sum N * OH * OW <= 105 such products. Bound: forward 1e-4
  // abs + 1e-4 rel, gradients 1e-3 abs + 1e-3 rel. A wrong tap or index gives errors O(0.1).
  g.forward_abs_tol = 1e-4;
  g.forward_rel_tol = 1e-4;
  g.grad_abs_tol = 1e-3;
  g.grad_rel_tol = 1e-3;
  return g;
}

void ExpectGradientsOk(const Conv2dOptions& o, const Shape& in, int64_t batch) {
  auto layer = Make(o, in);
  EXPECT_TRUE(CheckLayerGradients(*layer, batch, ConvCheck(o, in))) << layer->Describe();
}

TEST(Conv2dTest, Kernel3Pad1OddImage) {
  Conv2dOptions o = Opts(4, 3, 3);
  o.pad_h = o.pad_w = 1;
  ExpectGradientsOk(o, Shape({3, 5, 7}), 3);
}

TEST(Conv2dTest, Stride2WithPadding) {
  Conv2dOptions o = Opts(5, 3, 3);
  o.stride_h = o.stride_w = 2;
  o.pad_h = o.pad_w = 1;
  ExpectGradientsOk(o, Shape({3, 5, 7}), 3);
}

TEST(Conv2dTest, GroupsDilationNoBiasAsymmetric) {
  Conv2dOptions o = Opts(6, 3, 2);
  o.groups = 2;
  o.dilation_h = 2;
  o.dilation_w = 1;
  o.stride_h = 2;
  o.stride_w = 1;
  o.pad_h = 2;
  o.pad_w = 1;
  o.bias = false;
  ExpectGradientsOk(o, Shape({4, 7, 5}), 3);
}

TEST(Conv2dTest, Depthwise) {
  Conv2dOptions o = Opts(3, 3, 3);
  o.groups = 3;
  o.pad_h = o.pad_w = 1;
  ExpectGradientsOk(o, Shape({3, 5, 7}), 2);
}

TEST(Conv2dTest, OneByOneAndStrideGreaterThanKernel) {
  ExpectGradientsOk(Opts(5, 1, 1), Shape({3, 5, 7}), 3);
  Conv2dOptions o = Opts(2, 1, 2);
  o.stride_h = 3;
  o.stride_w = 3;
  ExpectGradientsOk(o, Shape({3, 7, 8}), 2);
}

TEST(Conv2dTest, KernelCoversWholePaddedInput) {
  Conv2dOptions o = Opts(2, 5, 5);
  o.pad_h = o.pad_w = 1;
  auto layer = Make(o, Shape({1, 3, 3}));
  EXPECT_EQ(layer->OutputShape(), Shape({2, 1, 1}));
  EXPECT_TRUE(CheckLayerGradients(*layer, 3, ConvCheck(o, Shape({1, 3, 3}))));
}

TEST(Conv2dTest, ManyChannelsSampledCheck) {
  // Enough channels that the kernels pick their GEMM-heavy paths (flipped-weight backward-data,
  // multi-task backward-weights); every tensor is checked at 150 evenly spread elements.
  for (int64_t stride : {1, 2}) {
    Conv2dOptions o = Opts(24, 3, 3);
    o.pad_h = o.pad_w = 1;
    o.stride_h = o.stride_w = stride;
    const Shape in({16, 9, 11});
    auto layer = Make(o, in);
    GradCheckOptions g = ConvCheck(o, in);
    g.max_checks_per_tensor = 150;
    // Sums of up to 144 (forward) or 2 * 99 * 9 (weights) products: same bound, wider margin
    // still catches a wrong tap (O(0.1)).
    EXPECT_TRUE(CheckLayerGradients(*layer, 2, g)) << layer->Describe();
  }
}

TEST(Conv2dTest, RepeatedRunsAreBitIdentical) {
  Conv2dOptions o = Opts(8, 3, 3);
  o.pad_h = o.pad_w = 1;
  const Shape in({6, 10, 9});
  auto a = Make(o, in, 21), b = Make(o, in, 21);
  Tensor x(Shape({4, 6, 10, 9})), dy(Shape({4, 8, 10, 9}));
  Rng rng(22);
  rng.FillUniform(x.data(), x.size(), -1, 1);
  rng.FillUniform(dy.data(), dy.size(), -1, 1);
  Tensor ya, yb, dxa, dxb;
  a->Forward(x, &ya);
  a->Backward(dy, &dxa);
  b->Forward(x, &yb);
  b->Backward(dy, &dxb);
  for (int64_t i = 0; i < ya.size(); ++i) ASSERT_EQ(ya[i], yb[i]) << i;
  for (int64_t i = 0; i < dxa.size(); ++i) ASSERT_EQ(dxa[i], dxb[i]) << i;
  for (int64_t i = 0; i < a->weight().grad.size(); ++i) {
    ASSERT_EQ(a->weight().grad[i], b->weight().grad[i]) << i;
  }
}

// Probes of a tensor t: sum t_i, sum t_i cos(0.1 i), sum |t_i| (in double).
std::vector<double> Probes(const Tensor& t) {
  std::vector<double> p(3, 0.0);
  for (int64_t i = 0; i < t.size(); ++i) {
    p[0] += t[i];
    p[1] += t[i] * std::cos(0.1 * static_cast<double>(i));
    p[2] += std::abs(static_cast<double>(t[i]));
  }
  return p;
}

// Golden probes from PyTorch 1.13.1 (Debian python3-torch):
//   conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=2)
//   weight[i] = 0.5 sin(0.9 i + 0.3); bias[i] = 0.2 sin(1.1 i + 0.5);
//   x[i] = sin(0.37 i + 0.1) of shape (2, 4, 5, 6); dy[i] = cos(0.23 i); (y * dy).sum().backward()
TEST(Conv2dTest, MatchesPyTorchGroupedDilatedStridedConv) {
  Conv2dOptions o = Opts(6, 3, 2);
  o.stride_h = 2;
  o.pad_h = 2;
  o.pad_w = 1;
  o.dilation_h = 2;
  o.groups = 2;
  auto layer = Make(o, Shape({4, 5, 6}));
  ASSERT_EQ(layer->OutputShape(), Shape({6, 3, 7}));
  Tensor& w = layer->weight().value;
  for (int64_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(0.5 * std::sin(0.9 * i + 0.3));
  for (int64_t i = 0; i < 6; ++i) {
    layer->bias().value[i] = static_cast<float>(0.2 * std::sin(1.1 * i + 0.5));
  }
  Tensor x(Shape({2, 4, 5, 6})), dy(Shape({2, 6, 3, 7})), y, dx;
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i + 0.1));
  for (int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(std::cos(0.23 * i));
  layer->Forward(x, &y);
  layer->Backward(dy, &dx);
  // Sums of <= 252 float values: 1e-4 abs + 1e-5 rel.
  EXPECT_TRUE(test::AllNear(Probes(y), std::vector<double>{-3.74804196879, 2.59050180224,
                                                           118.434348781},
                            1e-4, 1e-5));
  EXPECT_TRUE(test::AllNear(Probes(dx), std::vector<double>{-7.16275085043, -2.92571669938,
                                                            106.86737435},
                            1e-4, 1e-5));
  EXPECT_TRUE(test::AllNear(Probes(layer->weight().grad),
                            std::vector<double>{-19.0254193544, 15.0606157639, 192.646787286},
                            1e-4, 1e-5));
  EXPECT_TRUE(test::AllNear(Probes(layer->bias().grad),
                            std::vector<double>{4.69432961941, 4.37957619986, 14.6302009821},
                            1e-4, 1e-5));
}

TEST(Conv2dTest, FrozenWeightTrainableBias) {
  Conv2dOptions o = Opts(4, 3, 3);
  auto layer = Make(o, Shape({2, 5, 6}));
  layer->weight().frozen = true;
  EXPECT_TRUE(CheckLayerGradients(*layer, 2, ConvCheck(o, Shape({2, 5, 6}))));
  for (int64_t i = 0; i < layer->weight().grad.size(); ++i) {
    EXPECT_EQ(layer->weight().grad[i], 0.0f);
  }
}

TEST(Conv2dTest, FrozenBiasTrainableWeight) {
  Conv2dOptions o = Opts(4, 3, 3);
  auto layer = Make(o, Shape({2, 5, 6}));
  layer->bias().frozen = true;
  EXPECT_TRUE(CheckLayerGradients(*layer, 2, ConvCheck(o, Shape({2, 5, 6}))));
}

TEST(Conv2dTest, ParameterGradientsAccumulateUntilZeroGrad) {
  Conv2dOptions o = Opts(3, 3, 3);
  o.pad_h = o.pad_w = 1;
  auto layer = Make(o, Shape({2, 4, 5}));
  Tensor x(Shape({2, 2, 4, 5})), y, dy(Shape({2, 3, 4, 5})), dx;
  Rng rng(9);
  rng.FillUniform(x.data(), x.size(), -1, 1);
  rng.FillUniform(dy.data(), dy.size(), -1, 1);
  layer->Forward(x, &y);
  layer->Backward(dy, &dx);
  const Tensor w1 = layer->weight().grad.Clone(), b1 = layer->bias().grad.Clone();
  const Tensor dx1 = dx.Clone();
  layer->Forward(x, &y);
  layer->Backward(dy, &dx);
  for (int64_t i = 0; i < w1.size(); ++i) {
    EXPECT_NEAR(layer->weight().grad[i], 2 * w1[i], 1e-5f * (1 + std::abs(w1[i])));
  }
  for (int64_t i = 0; i < b1.size(); ++i) {
    EXPECT_NEAR(layer->bias().grad[i], 2 * b1[i], 1e-5f * (1 + std::abs(b1[i])));
  }
  for (int64_t i = 0; i < dx1.size(); ++i) EXPECT_EQ(dx[i], dx1[i]);
  layer->ZeroGrad();
  for (int64_t i = 0; i < w1.size(); ++i) EXPECT_EQ(layer->weight().grad[i], 0.0f);
  for (int64_t i = 0; i < b1.size(); ++i) EXPECT_EQ(layer->bias().grad[i], 0.0f);
}

// Gradient check of a layer with asymmetric pads: the double reference zero-pads x explicitly
// (as F.pad) and convolves with pad 0. Bounds as ConvCheck.
GradCheckOptions PaddedConvCheck(const Conv2d& layer) {
  const Conv2dOptions& o = layer.options();
  const Conv2dPads p = layer.resolved_pads();
  const Shape in = layer.InputShape();
  Conv2dOptions unpadded = o;
  unpadded.pads.reset();
  unpadded.padding = Conv2dPadding::kExplicit;
  const Shape padded_in({in.dim(0), in.dim(1) + p.top + p.bottom, in.dim(2) + p.left + p.right});
  GradCheckOptions g = ConvCheck(unpadded, padded_in);
  const ReferenceForward conv = g.reference;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>& params) {
    const int64_t h = in.dim(1), w = in.dim(2);
    const int64_t hp = padded_in.dim(1), wp = padded_in.dim(2);
    const int64_t planes = static_cast<int64_t>(x.size()) / (h * w);
    std::vector<double> xp(static_cast<size_t>(planes * hp * wp), 0.0);
    for (int64_t pl = 0; pl < planes; ++pl) {
      for (int64_t r = 0; r < h; ++r) {
        for (int64_t q = 0; q < w; ++q) {
          xp[(pl * hp + r + p.top) * wp + q + p.left] = x[(pl * h + r) * w + q];
        }
      }
    }
    return conv(xp, params);
  };
  return g;
}

TEST(Conv2dTest, AsymmetricPadsGradients) {
  for (const Conv2dPads& pads : {Conv2dPads{0, 2, 1, 1}, Conv2dPads{3, 0, 0, 1},
                                 Conv2dPads{1, 1, 2, 2}}) {
    Conv2dOptions o = Opts(4, 3, 2);
    o.stride_w = 2;
    o.dilation_h = 2;
    o.groups = 2;
    o.pads = pads;
    auto layer = Make(o, Shape({2, 5, 7}));
    EXPECT_TRUE(CheckLayerGradients(*layer, 2, PaddedConvCheck(*layer))) << layer->Describe();
  }
}

TEST(Conv2dTest, SamePaddingGradientsAndShapes) {
  for (Conv2dPadding mode : {Conv2dPadding::kSameUpper, Conv2dPadding::kSameLower}) {
    Conv2dOptions o = Opts(3, 4, 3);
    o.stride_h = 2;
    o.stride_w = 3;
    o.padding = mode;
    auto layer = Make(o, Shape({2, 7, 8}));
    // OH = ceil(7 / 2) = 4, total rows (4 - 1) 2 + 4 - 7 = 3; OW = ceil(8 / 3) = 3, total
    // columns (3 - 1) 3 + 3 - 8 = 1: the odd one at the end (upper) or the start (lower).
    EXPECT_EQ(layer->OutputShape(), Shape({3, 4, 3}));
    const Conv2dPads p = layer->resolved_pads();
    const bool upper = mode == Conv2dPadding::kSameUpper;
    EXPECT_EQ(p.top, upper ? 1 : 2);
    EXPECT_EQ(p.bottom, upper ? 2 : 1);
    EXPECT_EQ(p.left, upper ? 0 : 1);
    EXPECT_EQ(p.right, upper ? 1 : 0);
    EXPECT_TRUE(CheckLayerGradients(*layer, 2, PaddedConvCheck(*layer))) << layer->Describe();
  }
}

TEST(Conv2dTest, SymmetricSameOrPadsRunWithoutACopy) {
  Conv2dOptions same = Opts(4, 3, 3);
  same.padding = Conv2dPadding::kSameUpper;
  Conv2dOptions pads = Opts(4, 3, 3);
  pads.pads = Conv2dPads{1, 1, 1, 1};
  Conv2dOptions plain = Opts(4, 3, 3);
  plain.pad_h = plain.pad_w = 1;
  auto a = Make(same, Shape({2, 6, 6})), b = Make(pads, Shape({2, 6, 6})),
       c = Make(plain, Shape({2, 6, 6}));
  EXPECT_EQ(a->OutputShape(), Shape({4, 6, 6}));
  // No padded copy is counted (or made) for symmetric pads.
  EXPECT_EQ(a->ScratchBytes(8), c->ScratchBytes(8));
  EXPECT_EQ(b->ScratchBytes(8), c->ScratchBytes(8));
  Tensor x(Shape({2, 2, 6, 6})), ya, yc;
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.3 * i));
  a->Forward(x, &ya);
  c->Forward(x, &yc);
  for (int64_t i = 0; i < ya.size(); ++i) ASSERT_EQ(ya[i], yc[i]) << i;
  Conv2dOptions asym = Opts(4, 3, 3);
  asym.pads = Conv2dPads{1, 1, 2, 1};
  EXPECT_GT(Make(asym, Shape({2, 6, 6}))->ScratchBytes(8), c->ScratchBytes(8));
}

// Against tools/golden/make_conv2d_padding_golden.py (F.pad then F.conv2d; PyTorch's own
// padding="same" for the stride-1 SAME case). Sums of <= 36 float products: 1e-5 abs + 1e-5
// rel for y and dx, 1e-4 abs + 1e-5 rel for the weight / bias gradients (sums over N OH OW).
TEST(Conv2dTest, AsymmetricAndSamePaddingMatchPyTorch) {
  namespace g = conv2d_padding_golden;
  for (const g::Case& c : g::Cases()) {
    SCOPED_TRACE(c.name);
    Conv2dOptions o = Opts(g::kOut, c.kh, c.kw);
    o.stride_h = c.sh;
    o.stride_w = c.sw;
    o.dilation_h = c.dh;
    o.dilation_w = c.dw;
    const std::string mode = c.mode;
    if (mode == "explicit") {
      o.pads = Conv2dPads{c.pads[0], c.pads[1], c.pads[2], c.pads[3]};
    } else {
      o.padding = mode == "same" ? Conv2dPadding::kSameUpper : Conv2dPadding::kSameLower;
    }
    auto layer = Make(o, Shape({g::kC, g::kH, g::kW}));
    ASSERT_EQ(layer->OutputShape(), Shape({g::kOut, c.oh, c.ow}));
    const Conv2dPads p = layer->resolved_pads();
    EXPECT_EQ(std::vector<int64_t>({p.top, p.left, p.bottom, p.right}),
              std::vector<int64_t>(c.pads, c.pads + 4));
    Tensor& w = layer->weight().value;
    for (int64_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(0.5 * std::sin(0.9 * i + 0.3));
    for (int64_t i = 0; i < g::kOut; ++i) {
      layer->bias().value[i] = static_cast<float>(0.2 * std::sin(1.1 * i + 0.5));
    }
    Tensor x(Shape({g::kN, g::kC, g::kH, g::kW})), dy(Shape({g::kN, g::kOut, c.oh, c.ow})), y, dx;
    for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.37 * i + 0.1));
    for (int64_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(std::cos(0.23 * i));
    layer->Forward(x, &y);
    layer->Backward(dy, &dx);
    ASSERT_EQ(static_cast<size_t>(y.size()), c.y.size());
    EXPECT_TRUE(test::AllNear(y.data(), c.y.data(), c.y.size(), 1e-5, 1e-5));
    EXPECT_TRUE(test::AllNear(dx.data(), c.dx.data(), c.dx.size(), 1e-5, 1e-5));
    EXPECT_TRUE(test::AllNear(layer->weight().grad.data(), c.dweight.data(), c.dweight.size(),
                              1e-4, 1e-5));
    EXPECT_TRUE(test::AllNear(layer->bias().grad.data(), c.dbias.data(), c.dbias.size(), 1e-4,
                              1e-5));
  }
}

TEST(Conv2dTest, ShapesNamesInitAndDescribe) {
  Conv2dOptions o = Opts(16, 5, 5);
  o.pad_h = o.pad_w = 2;
  auto a = Make(o, Shape({3, 28, 28}), 4), b = Make(o, Shape({3, 28, 28}), 4);
  EXPECT_EQ(a->OutputShape(), Shape({16, 28, 28}));
  EXPECT_EQ(a->weight().value.shape(), Shape({16, 3, 5, 5}));
  EXPECT_EQ(a->Params()[0].name, "weight");
  EXPECT_EQ(a->Params()[1].name, "bias");
  EXPECT_FALSE(a->bias().weight_decay);
  EXPECT_EQ(a->NumParams(), 16 * 75 + 16);
  EXPECT_EQ(a->Describe(), "Conv2d(3, 16, k=5x5, p=2)");
  Conv2dOptions same = Opts(16, 4, 4);
  same.padding = Conv2dPadding::kSameLower;
  EXPECT_EQ(Make(same, Shape({3, 8, 8}))->Describe(), "Conv2d(3, 16, k=4x4, padding=same_lower)");
  Conv2dOptions pads = Opts(16, 3, 3);
  pads.pads = Conv2dPads{0, 1, 2, 3};
  EXPECT_EQ(Make(pads, Shape({3, 8, 8}))->Describe(), "Conv2d(3, 16, k=3x3, p=(0,1,2,3))");
  const float bound = 1.0f / std::sqrt(75.0f);
  float max_abs = 0.0f;
  for (int64_t i = 0; i < a->weight().value.size(); ++i) {
    EXPECT_EQ(a->weight().value[i], b->weight().value[i]);
    max_abs = std::max(max_abs, std::abs(a->weight().value[i]));
  }
  EXPECT_LE(max_abs, bound);
  EXPECT_GT(max_abs, 0.9f * bound);
}

TEST(Conv2dTest, CreateRejectsEachBadField) {
  Rng rng(1);
  const Shape in({4, 6, 6});
  auto reject = [&](const Conv2dOptions& o, const Shape& shape,
                    const std::vector<std::string>& needles) {
    ExpectInvalid(Conv2d::Create(o, shape, rng).status(), needles);
  };
  reject(Opts(4, 3, 3), Shape({6, 6}), {"Conv2d", "input_shape", "(6, 6)"});
  reject(Opts(4, 3, 3), Shape({4, 0, 6}), {"Conv2d", "input_shape", "(4, 0, 6)"});
  reject(Opts(0, 3, 3), in, {"Conv2d", "out_channels", "(4, 6, 6)"});
  reject(Opts(4, 0, 3), in, {"Conv2d", "kernel_h"});
  reject(Opts(4, 3, -1), in, {"Conv2d", "kernel_w"});
  Conv2dOptions o = Opts(4, 3, 3);
  o.stride_w = 0;
  reject(o, in, {"Conv2d", "stride_w"});
  o = Opts(4, 3, 3);
  o.pad_h = -1;
  reject(o, in, {"Conv2d", "pad_h"});
  o = Opts(4, 3, 3);
  o.dilation_h = 0;
  reject(o, in, {"Conv2d", "dilation_h"});
  o = Opts(4, 3, 3);
  o.groups = 0;
  reject(o, in, {"Conv2d", "groups"});
  o = Opts(4, 3, 3);
  o.groups = 3;
  reject(o, in, {"Conv2d", "groups 3 must divide in_channels 4"});
  o = Opts(6, 3, 3);
  o.groups = 4;
  reject(o, in, {"Conv2d", "groups 4 must divide out_channels 6"});
  reject(Opts(4, 7, 3), in, {"Conv2d", "kernel_h", "exceeds padded input height 6"});
  o = Opts(4, 3, 3);
  o.dilation_w = 3;  // dilated width 7 > 6
  reject(o, in, {"Conv2d", "kernel_w", "exceeds padded input width 6"});
  o = Opts(4, 3, 3);
  o.kernel_h = int64_t{1} << 40;
  reject(o, in, {"Conv2d", "exceeds 2^30"});
  o = Opts(4, 3, 3);
  o.weight_init.kind = InitKind::kNormal;
  o.weight_init.std = -2.0f;
  reject(o, in, {"Conv2d", "weight_init", "std"});
  o = Opts(4, 3, 3);
  o.pads = Conv2dPads{1, 0, 1, 0};
  o.pad_h = 1;
  reject(o, in, {"Conv2d", "pads replaces pad_h and pad_w"});
  o = Opts(4, 3, 3);
  o.pads = Conv2dPads{1, -1, 0, 0};
  reject(o, in, {"Conv2d", "pads (top, left, bottom, right) must be >= 0"});
  o = Opts(4, 3, 3);
  o.padding = Conv2dPadding::kSameLower;
  o.pad_w = 1;
  reject(o, in, {"Conv2d", "padding same_lower", "pad_h, pad_w and pads must not be set"});
  o = Opts(4, 3, 3);
  o.padding = Conv2dPadding::kSameUpper;
  o.pads = Conv2dPads{};
  reject(o, in, {"Conv2d", "padding same", "pads"});
  o = Opts(4, 8, 3);
  o.pads = Conv2dPads{0, 0, 1, 0};
  reject(o, in, {"Conv2d", "kernel_h", "exceeds padded input height 7"});
  o = Opts(4, 3, 3);
  o.bias_init.kind = InitKind::kConstant;
  o.bias_init.value = INFINITY;
  reject(o, in, {"Conv2d", "bias_init", "value"});
}

}  // namespace
}  // namespace simdnet
