// Tests for BatchNorm1d / BatchNorm2d: gradient checks in train mode (through the batch
// statistics) and eval mode against double references, running-statistics updates (exact one
// step, convergence to the data's mean and unbiased variance), eval using them, accumulation,
// names, and every Create rejection.
#include "layers/batch_norm.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "layers/reference.h"
#include "layers/testdata/batch_norm_golden.h"
#include "tensor/status_macros.h"
#include "tensor/test_util.h"

namespace simdnet {
namespace {

using test::ExpectInvalid;

std::vector<double> ToDouble(const Tensor& t) {
  return std::vector<double>(t.data(), t.data() + t.size());
}

std::unique_ptr<BatchNorm2d> Make2d(const Shape& in, bool affine = true) {
  BatchNormOptions o;
  o.affine = affine;
  auto layer = BatchNorm2d::Create(o, in);
  SIMDNET_CHECK(layer.ok());
  return std::move(layer).value();
}

std::unique_ptr<BatchNorm1d> Make1d(int64_t f, bool affine = true) {
  BatchNormOptions o;
  o.affine = affine;
  auto layer = BatchNorm1d::Create(o, Shape({f}));
  SIMDNET_CHECK(layer.ok());
  return std::move(layer).value();
}

// Randomizes the affine parameters so that the check does not pass by weight = 1, bias = 0.
void RandomizeAffine(BatchNorm& bn, uint64_t seed) {
  Rng rng(seed);
  rng.FillUniform(bn.weight().value.data(), bn.weight().value.size(), 0.5f, 1.5f);
  rng.FillUniform(bn.bias().value.data(), bn.bias().value.size(), -0.5f, 0.5f);
}

// Train-mode check. Bound: inputs U(-1, 1) give per-channel std ~0.58, so 1/std amplifies the
// float rounding of the statistics by < 2; forward 1e-4 abs + 1e-4 rel, gradients 1e-3 abs +
// 1e-3 rel (a missing mean or variance term in dx is O(0.1)).
GradCheckOptions TrainCheck(int64_t c, int64_t s, bool affine, double eps = 1e-5) {
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>& p) {
    const int64_t n = static_cast<int64_t>(x.size()) / (c * s);
    const std::vector<double> none;
    return reference::BatchNormTrain(x, affine ? p[0] : none, affine ? p[1] : none, n, c, s,
                                     eps);
  };
  g.forward_abs_tol = 1e-4;
  g.forward_rel_tol = 1e-4;
  g.grad_abs_tol = 1e-3;
  g.grad_rel_tol = 1e-3;
  return g;
}

TEST(BatchNormTest, BatchNorm2dTrainGradients) {
  auto bn = Make2d(Shape({3, 5, 7}));
  RandomizeAffine(*bn, 3);
  EXPECT_TRUE(CheckLayerGradients(*bn, 3, TrainCheck(3, 35, true)));
}

TEST(BatchNormTest, BatchNorm2dTrainGradientsWithoutAffine) {
  auto bn = Make2d(Shape({4, 3, 2}), /*affine=*/false);
  EXPECT_TRUE(bn->Params().empty());
  EXPECT_TRUE(CheckLayerGradients(*bn, 2, TrainCheck(4, 6, false)));
}

TEST(BatchNormTest, BatchNorm1dTrainGradients) {
  auto bn = Make1d(7);
  RandomizeAffine(*bn, 4);
  EXPECT_TRUE(CheckLayerGradients(*bn, 5, TrainCheck(7, 1, true)));
  auto wide = Make1d(37);  // more channels than any vector width: full vectors and a tail
  RandomizeAffine(*wide, 5);
  EXPECT_TRUE(CheckLayerGradients(*wide, 4, TrainCheck(37, 1, true)));
}

TEST(BatchNormTest, EvalModeGradientsUseRunningStatistics) {
  for (int64_t s : {1, 35}) {
    std::unique_ptr<BatchNorm> bn;
    if (s == 1) {
      bn = Make1d(3);
    } else {
      bn = Make2d(Shape({3, 5, 7}));
    }
    RandomizeAffine(*bn, 6);
    Rng rng(7);
    rng.FillUniform(bn->running_mean().data(), 3, -0.5f, 0.5f);
    rng.FillUniform(bn->running_var().data(), 3, 0.5f, 2.0f);
    bn->SetMode(Mode::kEval);
    BatchNorm* raw = bn.get();
    GradCheckOptions g;
    g.reference = [raw, s](const std::vector<double>& x,
                           const std::vector<std::vector<double>>& p) {
      const int64_t n = static_cast<int64_t>(x.size()) / (3 * s);
      return reference::BatchNormEval(x, p[0], p[1], ToDouble(raw->running_mean()),
                                      ToDouble(raw->running_var()), n, 3, s, 1e-5);
    };
    const std::vector<double> mean_before = ToDouble(bn->running_mean());
    EXPECT_TRUE(CheckLayerGradients(*bn, 3, g)) << "s=" << s;
    EXPECT_EQ(ToDouble(bn->running_mean()), mean_before) << "eval must not update statistics";
  }
}

TEST(BatchNormTest, RunningStatisticsOneStepMatchPyTorchFormula) {
  BatchNormOptions o;
  o.momentum = 0.3f;
  auto bn_or = BatchNorm2d::Create(o, Shape({2, 3, 3}));
  ASSERT_TRUE(bn_or.ok());
  auto& bn = **bn_or;
  Tensor x(Shape({4, 2, 3, 3})), y;
  Rng rng(8);
  rng.FillNormal(x.data(), x.size(), 2.0f, 3.0f);
  bn.Forward(x, &y);
  for (int64_t ch = 0; ch < 2; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < 4; ++i) {
      for (int64_t j = 0; j < 9; ++j) sum += x[(i * 2 + ch) * 9 + j];
    }
    const double mean = sum / 36;
    for (int64_t i = 0; i < 4; ++i) {
      for (int64_t j = 0; j < 9; ++j) {
        const double d = x[(i * 2 + ch) * 9 + j] - mean;
        sq += d * d;
      }
    }
    EXPECT_NEAR(bn.running_mean()[ch], 0.3 * mean, 1e-5);
    EXPECT_NEAR(bn.running_var()[ch], 0.7 + 0.3 * sq / 35, 1e-4);  // unbiased: / (m - 1)
  }
}

TEST(BatchNormTest, RunningAveragesConvergeAndEvalUsesThem) {
  auto bn = Make2d(Shape({3, 4, 4}));
  const float mu[3] = {1.5f, -2.0f, 0.0f};
  const float sigma[3] = {0.5f, 2.0f, 1.0f};
  Rng rng(9);
  Tensor x(Shape({8, 3, 4, 4})), y;
  for (int step = 0; step < 300; ++step) {
    for (int64_t i = 0; i < 8; ++i) {
      for (int64_t ch = 0; ch < 3; ++ch) {
        rng.FillNormal(x.data() + (i * 3 + ch) * 16, 16, mu[ch], sigma[ch]);
      }
    }
    bn->Forward(x, &y);
  }
  for (int64_t ch = 0; ch < 3; ++ch) {
    // EMA over ~10 batches of 128 samples: std error of the mean ~ sigma / 50.
    EXPECT_NEAR(bn->running_mean()[ch], mu[ch], 0.1 * sigma[ch]) << ch;
    EXPECT_NEAR(bn->running_var()[ch], sigma[ch] * sigma[ch], 0.15 * sigma[ch] * sigma[ch])
        << ch;
  }
  // Eval: uses the running statistics, so a single shifted sample is not re-centered to 0.
  bn->SetMode(Mode::kEval);
  Tensor one(Shape({1, 3, 4, 4})), out;
  for (int64_t ch = 0; ch < 3; ++ch) {
    for (int64_t j = 0; j < 16; ++j) one[ch * 16 + j] = mu[ch] + sigma[ch];  // +1 sigma
  }
  bn->Forward(one, &out);
  const std::vector<double> expected = reference::BatchNormEval(
      ToDouble(one), ToDouble(bn->weight().value), ToDouble(bn->bias().value),
      ToDouble(bn->running_mean()), ToDouble(bn->running_var()), 1, 3, 16, 1e-5);
  for (int64_t k = 0; k < out.size(); ++k) {
    EXPECT_NEAR(out[k], expected[k], 1e-5);
    EXPECT_NEAR(out[k], 1.0, 0.2);  // about +1 standard deviation
  }
  // Train mode on the same single sample normalizes with its own (zero) variance instead.
  bn->SetMode(Mode::kTrain);
  bn->Forward(one, &out);
  for (int64_t k = 0; k < out.size(); ++k) EXPECT_NEAR(out[k], 0.0, 1e-3);
}

TEST(BatchNormTest, LargeMeanSmallSpreadIsNormalized) {
  // Two-pass variance: a one-pass E[x^2] - E[x]^2 in float would lose every digit here
  // (1e4^2 = 1e8 vs a variance of 0.25).
  auto bn = Make2d(Shape({2, 8, 8}));
  Tensor x(Shape({16, 2, 8, 8})), y;
  Rng rng(13);
  rng.FillNormal(x.data(), x.size(), 1e4f, 0.5f);
  bn->Forward(x, &y);
  for (int64_t ch = 0; ch < 2; ++ch) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < 16; ++i) {
      for (int64_t j = 0; j < 64; ++j) {
        const double v = y[(i * 2 + ch) * 64 + j];
        s += v;
        s2 += v * v;
      }
    }
    const double mean = s / 1024, var = s2 / 1024 - mean * mean;
    // Inputs near 1e4 carry float spacing 1e-3 (0.2% of sigma): that bounds the accuracy.
    EXPECT_NEAR(mean, 0.0, 5e-3) << ch;
    EXPECT_NEAR(var, 1.0, 1e-2) << ch;
  }
}

TEST(BatchNormTest, SingleValuePerChannelKeepsRunningVarFinite) {
  auto bn = Make1d(4);
  Tensor x(Shape({1, 4})), y;
  for (int64_t i = 0; i < 4; ++i) x[i] = static_cast<float>(i);
  bn->Forward(x, &y);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(y[i], 0.0f);  // (x - mean) = 0, bias 0
    EXPECT_EQ(bn->running_var()[i], 1.0f);  // unbiased variance undefined: not updated
    EXPECT_NEAR(bn->running_mean()[i], 0.1f * i, 1e-6);
  }
}

TEST(BatchNormTest, ParameterGradientsAccumulateUntilZeroGrad) {
  auto bn = Make2d(Shape({2, 3, 3}));
  RandomizeAffine(*bn, 10);
  Tensor x(Shape({3, 2, 3, 3})), y, dy(Shape({3, 2, 3, 3})), dx;
  Rng rng(11);
  rng.FillUniform(x.data(), x.size(), -1, 1);
  rng.FillUniform(dy.data(), dy.size(), -1, 1);
  bn->Forward(x, &y);
  bn->Backward(dy, &dx);
  const Tensor w1 = bn->weight().grad.Clone(), b1 = bn->bias().grad.Clone();
  bn->Forward(x, &y);
  bn->Backward(dy, &dx);
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_NEAR(bn->weight().grad[i], 2 * w1[i], 1e-5);
    EXPECT_NEAR(bn->bias().grad[i], 2 * b1[i], 1e-5);
    EXPECT_NE(w1[i], 0.0f);
  }
  bn->ZeroGrad();
  for (int64_t i = 0; i < 2; ++i) {
    EXPECT_EQ(bn->weight().grad[i], 0.0f);
    EXPECT_EQ(bn->bias().grad[i], 0.0f);
  }
}

TEST(BatchNormTest, FrozenAffineStillPassesInputGradient) {
  auto bn = Make2d(Shape({3, 2, 5}));
  RandomizeAffine(*bn, 12);
  bn->weight().frozen = true;
  bn->bias().frozen = true;
  EXPECT_TRUE(CheckLayerGradients(*bn, 3, TrainCheck(3, 10, true)));
}

// Golden values from PyTorch 1.13.1 (Debian python3-torch), generated by:
//   x = (2 * sin(0.7 i + 0.1)).float().reshape(3, 2, 2, 3); x[i] += (i % 5) * 0.3
//   bn = nn.BatchNorm2d(2); bn.weight = [1.2, 0.7]; bn.bias = [0.1, -0.3]; bn.train()
//   bn(x); y = bn(x)  (two training steps); dy[i] = cos(0.3 i); (y * dy).sum().backward()
//   bn.eval(); y_eval = bn(x)
TEST(BatchNormTest, MatchesPyTorchBatchNorm2d) {
  auto bn = Make2d(Shape({2, 2, 3}));
  bn->weight().value[0] = 1.2f;
  bn->weight().value[1] = 0.7f;
  bn->bias().value[0] = 0.1f;
  bn->bias().value[1] = -0.3f;
  Tensor x(Shape({3, 2, 2, 3})), dy(Shape({3, 2, 2, 3})), y, dx;
  for (int64_t i = 0; i < 36; ++i) {
    x[i] = static_cast<float>(2.0 * std::sin(0.7 * i + 0.1)) + static_cast<float>((i % 5) * 0.3);
    dy[i] = static_cast<float>(std::cos(0.3 * i));
  }
  bn->Forward(x, &y);
  bn->Forward(x, &y);
  bn->Backward(dy, &dx);
  const std::vector<double> running_mean = {0.115506269, 0.105715975};
  const std::vector<double> running_var = {1.33990228, 1.15163434};
  const std::vector<double> y_torch = {
      -0.20186235,  0.933128417,  1.56920576,  1.51153564,   0.891565025,  -1.0038799,
      -1.42198551,  -1.30677342,  -0.707045138, 0.170928329, 0.184271216,  0.635029256,
      1.27491856,   0.645557344,  -0.138821259, -1.71406734, -1.53845406,  -0.699330509,
      0.0277027301, 0.84111923,   0.474703848,  0.409108669, -0.0547671653, -0.622964859,
      -0.836192369, -1.7526176,   -0.900052547, 0.315772504, 1.42735946,   2.01623535,
      0.236725152,  -0.233621165, -0.799962163, -1.12014818, -0.9678002,   -1.144521};
  const std::vector<double> dx_torch = {
      0.661206305,  0.694390655,  0.635374427,  0.481378496,  0.253526062,  -0.0726618618,
      0.230787367,  0.0580503009, -0.189700365, -0.459058225, -0.507944167, -0.598917723,
      -0.655084372, -0.565490663, -0.436994016, -0.322251052, -0.0914519876, 0.172272831,
      0.396841645,  0.337682307,  0.480121583,  0.51487565,   0.583228648,  0.627353489,
      0.334624141,  0.0876568705, -0.0790134743, -0.228057191, -0.367096126, -0.502328992,
      -0.476325929, -0.423551708, -0.303506076, -0.186629117, -0.123869538, 0.0405618288};
  const std::vector<double> y_eval_torch = {
      0.187247247,  1.77859211,  2.6704216,    2.58956385,  1.72031701,  -0.937243402,
      -1.3684777,   -1.22857296, -0.50030899,  0.565834582, 0.582037151, 1.129403,
      2.25780821,   1.37539518,  0.275635749,  -1.93298125, -1.68675768, -0.510241628,
      0.391912401,  1.37966287,  0.934716165,  0.855062425, 0.291767269, -0.39820835,
      -0.702132583, -1.98703158, -0.791669488, 0.913011372, 2.47154236,  3.29719186,
      0.645733178,  0.0745807216, -0.613140225, -1.00194967, -0.816949904, -1.03154612};
  // Both sides compute in float with different summation orders: 2e-5 abs + 1e-5 rel.
  EXPECT_TRUE(test::AllNear(bn->running_mean().data(), running_mean.data(), 2, 2e-5, 1e-5));
  EXPECT_TRUE(test::AllNear(bn->running_var().data(), running_var.data(), 2, 2e-5, 1e-5));
  EXPECT_TRUE(test::AllNear(y.data(), y_torch.data(), 36, 2e-5, 1e-5));
  EXPECT_TRUE(test::AllNear(dx.data(), dx_torch.data(), 36, 2e-5, 1e-5));
  const std::vector<double> dweight = {-1.70411992, 4.80434227}, dbias = {1.47456884, -4.12263107};
  EXPECT_TRUE(test::AllNear(bn->weight().grad.data(), dweight.data(), 2, 2e-5, 1e-5));
  EXPECT_TRUE(test::AllNear(bn->bias().grad.data(), dbias.data(), 2, 2e-5, 1e-5));
  bn->SetMode(Mode::kEval);
  bn->Forward(x, &y);
  EXPECT_TRUE(test::AllNear(y.data(), y_eval_torch.data(), 36, 2e-5, 1e-5));
}

// Three train steps in each running-statistics convention against
// tools/golden/make_batch_norm_golden.py (torch.nn.BatchNorm2d for the PyTorch convention).
// Both sides average float statistics in different orders: 2e-6 abs + 2e-6 rel.
TEST(BatchNormTest, RunningStatisticsConventionsMatchPyTorchOverThreeSteps) {
  namespace g = batch_norm_golden;
  for (const g::Case& c : g::kCases) {
    BatchNormOptions o;
    o.momentum = c.momentum;
    o.momentum_convention = c.onnx_convention ? BatchNormMomentum::kOnnx
                                              : BatchNormMomentum::kPyTorch;
    o.running_var = c.unbiased_var ? BatchNormRunningVar::kUnbiased : BatchNormRunningVar::kBiased;
    auto bn = BatchNorm2d::Create(o, Shape({g::kC, g::kH, g::kW}));
    ASSERT_TRUE(bn.ok()) << bn.status();
    Tensor x(Shape({g::kN, g::kC, g::kH, g::kW})), y;
    for (int step = 0; step < g::kSteps; ++step) {
      for (int64_t i = 0; i < x.size(); ++i) {
        x[i] = static_cast<float>(2.0 * std::sin(0.7 * static_cast<double>(i) + 0.1 + step) +
                                  static_cast<double>(i % 5) * 0.3);
      }
      (*bn)->Forward(x, &y);
    }
    SCOPED_TRACE((*bn)->Describe());
    EXPECT_TRUE(test::AllNear((*bn)->running_mean().data(), c.running_mean, g::kC, 2e-6, 2e-6));
    EXPECT_TRUE(test::AllNear((*bn)->running_var().data(), c.running_var, g::kC, 2e-6, 2e-6));
  }
}

TEST(BatchNormTest, BiasedRunningVarUpdatesWithOneValuePerChannel) {
  BatchNormOptions o;
  o.running_var = BatchNormRunningVar::kBiased;
  o.momentum = 0.25f;
  auto bn = BatchNorm1d::Create(o, Shape({2}));
  ASSERT_TRUE(bn.ok());
  Tensor x(Shape({1, 2})), y;
  x[0] = 3.0f;
  x[1] = -1.0f;
  (*bn)->Forward(x, &y);
  // Batch variance 0: running_var = 0.75 * 1 + 0.25 * 0.
  EXPECT_FLOAT_EQ((*bn)->running_var()[0], 0.75f);
  EXPECT_FLOAT_EQ((*bn)->running_mean()[1], -0.25f);
}

TEST(BatchNormTest, NamesBuffersAndDescribe) {
  auto bn = Make2d(Shape({16, 8, 8}));
  ASSERT_EQ(bn->Params().size(), 2u);
  EXPECT_EQ(bn->Params()[0].name, "weight");
  EXPECT_EQ(bn->Params()[1].name, "bias");
  EXPECT_FALSE(bn->weight().weight_decay);
  EXPECT_FALSE(bn->bias().weight_decay);
  ASSERT_EQ(bn->Buffers().size(), 2u);
  EXPECT_EQ(bn->Buffers()[0].name, "running_mean");
  EXPECT_EQ(bn->Buffers()[1].name, "running_var");
  EXPECT_EQ(bn->running_var()[5], 1.0f);
  EXPECT_EQ(bn->weight().value[5], 1.0f);
  EXPECT_EQ(bn->Describe(), "BatchNorm2d(16)");
  EXPECT_EQ(bn->TypeName(), "batch_norm2d");
  BatchNormOptions o;
  o.affine = false;
  o.momentum = 0.5f;
  auto b1 = BatchNorm1d::Create(o, Shape({10}));
  ASSERT_TRUE(b1.ok());
  EXPECT_EQ((*b1)->Describe(), "BatchNorm1d(10, momentum=0.5, affine=false)");
  o.momentum = 0.9f;
  o.momentum_convention = BatchNormMomentum::kOnnx;
  o.running_var = BatchNormRunningVar::kBiased;
  auto b2 = BatchNorm1d::Create(o, Shape({10}));
  ASSERT_TRUE(b2.ok());
  EXPECT_EQ((*b2)->Describe(),
            "BatchNorm1d(10, momentum=0.9, momentum_convention=onnx, var=biased, affine=false)");
}

TEST(BatchNormTest, CreateRejectsBadShapesAndOptions) {
  const BatchNormOptions ok;
  ExpectInvalid(BatchNorm1d::Create(ok, Shape({3, 4})).status(),
                {"BatchNorm1d", "input_shape", "(3, 4)"});
  ExpectInvalid(BatchNorm1d::Create(ok, Shape({0})).status(), {"BatchNorm1d", "(0)"});
  ExpectInvalid(BatchNorm2d::Create(ok, Shape({3})).status(),
                {"BatchNorm2d", "input_shape", "(3)"});
  ExpectInvalid(BatchNorm2d::Create(ok, Shape({3, 0, 2})).status(),
                {"BatchNorm2d", "(3, 0, 2)"});
  for (float eps : {0.0f, -1e-5f, NAN, INFINITY}) {
    BatchNormOptions o;
    o.eps = eps;
    ExpectInvalid(BatchNorm2d::Create(o, Shape({3, 2, 2})).status(),
                  {"BatchNorm2d", "eps", "(3, 2, 2)"});
  }
  for (float momentum : {-0.1f, 1.5f, NAN}) {
    BatchNormOptions o;
    o.momentum = momentum;
    ExpectInvalid(BatchNorm1d::Create(o, Shape({3})).status(), {"BatchNorm1d", "momentum"});
  }
}

}  // namespace
}  // namespace simdnet
