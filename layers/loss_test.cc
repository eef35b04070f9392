// Tests for the losses: gradient checks against double references (with label smoothing, class
// weights, ignore_index and every reduction), PyTorch golden values (layers/testdata),
// numerical stability on huge logits, known values (CS231n SVM example), top-k counting, and
// every rejection.
#include "layers/loss.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "layers/reference.h"
#include "layers/testdata/loss_golden.h"
#include "tensor/rng.h"
#include "tensor/test_util.h"

namespace simdnet {
namespace {

using test::ExpectInvalid;

Tensor MakeTensor(const Shape& shape, const std::vector<float>& values) {
  auto t = Tensor::FromVector(shape, values);
  EXPECT_TRUE(t.ok());
  return *t;
}

// Loss checks: the loss is O(1) and its gradient O(1/N); float log-softmax / exp are within a
// few ulp, so the bound is 1e-5 abs + 1e-4 rel for the value and 1e-5 abs + 1e-3 rel for the
// gradient (a wrong target term is O(1/(N K)) = 0.05 here).
GradCheckOptions LossCheck() {
  GradCheckOptions g;
  g.input_low = -3.0f;
  g.input_high = 3.0f;
  g.forward_abs_tol = 1e-5;
  g.forward_rel_tol = 1e-4;
  g.grad_abs_tol = 1e-5;
  g.grad_rel_tol = 1e-3;
  return g;
}

TEST(SoftmaxCrossEntropyTest, GradientsMatchDoubleReference) {
  const std::vector<int64_t> labels = {2, 0, 4};
  for (float smoothing : {0.0f, 0.1f, 1.0f}) {
    SoftmaxCrossEntropyOptions o;
    o.label_smoothing = smoothing;
    LossUnderTest loss = [&](const Tensor& x, Tensor* g) {
      return SoftmaxCrossEntropy(x, labels, g, o);
    };
    ReferenceLoss ref = [&](const std::vector<double>& x) {
      return reference::SoftmaxCrossEntropy(x, labels, 3, 5, smoothing);
    };
    EXPECT_TRUE(CheckLossGradients(loss, Shape({3, 5}), ref, LossCheck()))
        << "label_smoothing " << smoothing;
  }
}

TEST(SoftmaxCrossEntropyTest, UniformLogitsGiveLogK) {
  Tensor logits(Shape({2, 10}));
  logits.SetAll(3.0f);
  auto loss = SoftmaxCrossEntropy(logits, {1, 7}, nullptr);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, std::log(10.0), 1e-6);
}

TEST(SoftmaxCrossEntropyTest, HugeLogitsStayFinite) {
  const Tensor logits = MakeTensor(Shape({2, 3}), {1000.f, 0.f, -1000.f, 1000.f, 0.f, -1000.f});
  Tensor grad;
  auto loss = SoftmaxCrossEntropy(logits, {0, 1}, &grad);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, (0.0 + 1000.0) / 2, 1e-3);
  for (int64_t i = 0; i < grad.size(); ++i) EXPECT_TRUE(std::isfinite(grad[i])) << i;
  EXPECT_NEAR(grad[0], 0.0f, 1e-6);      // row 0: softmax = onehot(0) = target
  EXPECT_NEAR(grad[3], 0.5f, 1e-6);      // row 1: softmax puts 1 on class 0
  EXPECT_NEAR(grad[4], -0.5f, 1e-6);     // ... and the target is class 1
}

TEST(SoftmaxCrossEntropyTest, NullGradientGivesSameValue) {
  Tensor logits(Shape({4, 6})), grad;
  Rng rng(3);
  rng.FillNormal(logits.data(), logits.size(), 0.0f, 2.0f);
  const std::vector<int64_t> labels = {5, 0, 3, 3};
  auto a = SoftmaxCrossEntropy(logits, labels, nullptr);
  auto b = SoftmaxCrossEntropy(logits, labels, &grad);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  // Each gradient row sums to 0 (softmax and target both sum to 1).
  for (int64_t i = 0; i < 4; ++i) {
    double s = 0;
    for (int64_t j = 0; j < 6; ++j) s += grad[i * 6 + j];
    EXPECT_NEAR(s, 0.0, 1e-7);
  }
}

// Golden values from PyTorch 1.13.1 (Debian python3-torch):
//   logits = (3 * sin(1.3 i + 0.2)).float().reshape(4, 5); labels = [1, 0, 4, 2]
//   F.cross_entropy(logits, labels, label_smoothing=0.1) and its gradient;
//   F.multi_margin_loss(logits, labels, margin=1), which averages over classes too, so the
//   CS231n SVM loss is K = 5 times it.
Tensor GoldenLogits() {
  Tensor logits(Shape({4, 5}));
  for (int64_t i = 0; i < 20; ++i) logits[i] = static_cast<float>(3.0 * std::sin(1.3 * i + 0.2));
  return logits;
}

TEST(SoftmaxCrossEntropyTest, MatchesPyTorchWithLabelSmoothing) {
  SoftmaxCrossEntropyOptions o;
  o.label_smoothing = 0.1f;
  Tensor grad;
  auto loss = SoftmaxCrossEntropy(GoldenLogits(), {1, 0, 4, 2}, &grad, o);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, 2.72402525, 1e-6);
  const std::vector<double> expected = {
      0.0133942282, -0.0279502366, 0.0226878449, -0.00412959978, -0.00400226191,
      -0.195617884, 0.193554014,   0.00982551463, -0.00435939338, -0.00340228365,
      0.0578131676, 0.170673877,   0.00307056541, -0.00444470206, -0.227112904,
      0.099572964,  0.129980683,   -0.225592658, -0.00445264811, 0.000491645304};
  EXPECT_TRUE(test::AllNear(grad.data(), expected.data(), 20, 1e-7, 1e-5));
}

TEST(MulticlassSvmTest, MatchesPyTorchMultiMarginTimesK) {
  Tensor grad;
  auto loss = MulticlassSvm(GoldenLogits(), {1, 0, 4, 2}, &grad);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, 5 * 1.19685221, 1e-5);
  const std::vector<double> per_class = {0, 0, 0, 0, 0, -0.1, 0.05, 0.05, 0, 0,
                                         0.05, 0.05, 0.05, 0, -0.15, 0.05, 0.05, -0.15, 0, 0.05};
  for (int64_t i = 0; i < 20; ++i) EXPECT_NEAR(grad[i], 5 * per_class[i], 1e-6) << i;
}

TEST(SoftmaxCrossEntropyTest, RejectsBadInputs) {
  Tensor logits(Shape({3, 4}));
  Tensor grad;
  ExpectInvalid(SoftmaxCrossEntropy(Tensor(Shape({12})), {1}, &grad).status(),
                {"SoftmaxCrossEntropy", "logits shape", "(12)"});
  ExpectInvalid(SoftmaxCrossEntropy(Tensor(Shape({3, 0})), {0, 0, 0}, &grad).status(),
                {"SoftmaxCrossEntropy", "(3, 0)"});
  ExpectInvalid(SoftmaxCrossEntropy(logits, {0, 1}, &grad).status(),
                {"SoftmaxCrossEntropy", "labels has 2 entries", "(3, 4)"});
  ExpectInvalid(SoftmaxCrossEntropy(logits, {0, 1, 4}, &grad).status(),
                {"SoftmaxCrossEntropy", "labels[2] = 4", "[0, 4)"});
  ExpectInvalid(SoftmaxCrossEntropy(logits, {-1, 1, 2}, &grad).status(),
                {"labels[0] = -1"});
  for (float eps : {-0.1f, 1.5f, NAN}) {
    SoftmaxCrossEntropyOptions o;
    o.label_smoothing = eps;
    ExpectInvalid(SoftmaxCrossEntropy(logits, {0, 1, 2}, &grad, o).status(),
                  {"SoftmaxCrossEntropy", "label_smoothing"});
  }
}

// Double reference of the weighted / ignoring / reducing cross-entropy (nll = false) or NLL
// (nll = true: x are log-probabilities), written from PyTorch's documented formulas.
double RefClassLoss(const std::vector<double>& x, const std::vector<int64_t>& labels, int64_t k,
                    bool nll, double eps, const std::vector<float>& weights,
                    std::optional<int64_t> ignore, LossReduction reduction) {
  const int64_t n = static_cast<int64_t>(labels.size());
  double total = 0.0, divisor = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (ignore && labels[i] == *ignore) continue;
    std::vector<double> logp(x.begin() + i * k, x.begin() + (i + 1) * k);
    if (!nll) {
      double mx = -INFINITY, s = 0.0;
      for (double v : logp) mx = std::max(mx, v);
      for (double v : logp) s += std::exp(v - mx);
      for (double& v : logp) v = v - mx - std::log(s);
    }
    auto w = [&](int64_t j) { return weights.empty() ? 1.0 : static_cast<double>(weights[j]); };
    double l = -(1.0 - eps) * w(labels[i]) * logp[labels[i]];
    for (int64_t j = 0; j < k; ++j) l -= eps / static_cast<double>(k) * w(j) * logp[j];
    total += l;
    divisor += w(labels[i]);
  }
  return reduction == LossReduction::kMean ? total / divisor : total;
}

TEST(SoftmaxCrossEntropyTest, WeightsIgnoreIndexAndReductionsMatchDoubleReference) {
  const std::vector<int64_t> labels = {2, -100, 4, 0};
  const std::vector<float> weights = {0.5f, 2.0f, 1.0f, 0.25f, 3.0f};
  for (LossReduction r : {LossReduction::kMean, LossReduction::kSum, LossReduction::kNone}) {
    for (float smoothing : {0.0f, 0.2f}) {
      for (bool weighted : {false, true}) {
        SoftmaxCrossEntropyOptions o;
        o.label_smoothing = smoothing;
        o.ignore_index = -100;
        o.reduction = r;
        if (weighted) o.class_weights = weights;
        LossUnderTest loss = [&](const Tensor& x, Tensor* g) {
          return SoftmaxCrossEntropy(x, labels, g, o);
        };
        ReferenceLoss ref = [&](const std::vector<double>& x) {
          return RefClassLoss(x, labels, 5, false, smoothing, o.class_weights, o.ignore_index, r);
        };
        // The sums are up to N = 4 times the mean: the mean's bounds scaled by 4.
        GradCheckOptions g = LossCheck();
        g.forward_abs_tol = 4e-5;
        g.grad_abs_tol = 4e-5;
        EXPECT_TRUE(CheckLossGradients(loss, Shape({4, 5}), ref, g))
            << "reduction " << static_cast<int>(r) << " smoothing " << smoothing
            << " weighted " << weighted;
      }
    }
  }
}

TEST(NllLossTest, WeightsIgnoreIndexAndReductionsMatchDoubleReference) {
  const std::vector<int64_t> labels = {2, 7, 4, 0, 1};
  for (LossReduction r : {LossReduction::kMean, LossReduction::kSum, LossReduction::kNone}) {
    NllLossOptions o;
    o.ignore_index = 7;
    o.reduction = r;
    o.class_weights = {0.5f, 2.0f, 1.0f, 0.25f, 3.0f};
    LossUnderTest loss = [&](const Tensor& x, Tensor* g) { return NllLoss(x, labels, g, o); };
    ReferenceLoss ref = [&](const std::vector<double>& x) {
      return RefClassLoss(x, labels, 5, true, 0.0, o.class_weights, o.ignore_index, r);
    };
    GradCheckOptions g = LossCheck();
    g.forward_abs_tol = 5e-5;
    g.grad_abs_tol = 5e-5;
    EXPECT_TRUE(CheckLossGradients(loss, Shape({5, 5}), ref, g))
        << "reduction " << static_cast<int>(r);
  }
}

// Against tools/golden/make_loss_golden.py (F.cross_entropy / F.nll_loss). Float log-softmax
// against PyTorch's float one: 2e-6 abs + 2e-6 rel on values (O(10)), gradients and per-sample
// losses.
TEST(SoftmaxCrossEntropyTest, MatchesPyTorchWithWeightsIgnoreIndexAndReductions) {
  namespace g = loss_golden;
  Tensor logits(Shape({g::kN, g::kK}));
  for (int64_t i = 0; i < logits.size(); ++i) {
    logits[i] = static_cast<float>(3.0 * std::sin(1.3 * static_cast<double>(i) + 0.2));
  }
  // The NLL cases' input: log_softmax(logits) in double, rounded to float.
  Tensor log_probs(logits.shape());
  for (int64_t i = 0; i < g::kN; ++i) {
    double mx = -INFINITY, s = 0.0;
    for (int64_t j = 0; j < g::kK; ++j) mx = std::max<double>(mx, logits[i * g::kK + j]);
    for (int64_t j = 0; j < g::kK; ++j) s += std::exp(logits[i * g::kK + j] - mx);
    for (int64_t j = 0; j < g::kK; ++j) {
      log_probs[i * g::kK + j] = static_cast<float>(logits[i * g::kK + j] - mx - std::log(s));
    }
  }
  for (const g::Case& c : g::kCases) {
    SCOPED_TRACE(c.name);
    SoftmaxCrossEntropyOptions o;
    o.label_smoothing = c.label_smoothing;
    if (c.weighted) o.class_weights.assign(g::kWeights, g::kWeights + g::kK);
    if (c.has_ignore_index) o.ignore_index = c.ignore_index;
    o.reduction = c.reduction == 0   ? LossReduction::kMean
                  : c.reduction == 1 ? LossReduction::kSum
                                     : LossReduction::kNone;
    std::vector<float> per_sample;
    o.per_sample_losses = &per_sample;
    Tensor grad;
    const std::vector<int64_t> labels(c.labels, c.labels + g::kN);
    absl::StatusOr<float> value =
        c.nll ? NllLoss(log_probs, labels, &grad, o) : SoftmaxCrossEntropy(logits, labels, &grad, o);
    ASSERT_TRUE(value.ok()) << value.status();
    EXPECT_NEAR(*value, c.value, 2e-6 + 2e-6 * std::abs(c.value));
    ASSERT_EQ(per_sample.size(), static_cast<size_t>(g::kN));
    EXPECT_TRUE(test::AllNear(per_sample.data(), c.per_sample, g::kN, 2e-6, 2e-6));
    EXPECT_TRUE(test::AllNear(grad.data(), c.grad, g::kN * g::kK, 2e-6, 2e-6));
  }
}

TEST(SoftmaxCrossEntropyTest, AllTargetsIgnoredGiveNanMeanAndZeroGradientAsPyTorch) {
  Tensor logits(Shape({2, 3})), grad;
  logits.SetAll(0.5f);
  SoftmaxCrossEntropyOptions o;
  o.ignore_index = -100;
  auto mean = SoftmaxCrossEntropy(logits, {-100, -100}, &grad, o);
  ASSERT_TRUE(mean.ok());
  EXPECT_TRUE(std::isnan(*mean));
  for (int64_t i = 0; i < grad.size(); ++i) EXPECT_EQ(grad[i], 0.0f) << i;
  o.reduction = LossReduction::kSum;
  auto sum = SoftmaxCrossEntropy(logits, {-100, -100}, &grad, o);
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(*sum, 0.0f);
  NllLossOptions n;
  n.ignore_index = 3;
  auto nll = NllLoss(logits, {3, 3}, &grad, n);
  ASSERT_TRUE(nll.ok());
  EXPECT_TRUE(std::isnan(*nll));
}

TEST(SoftmaxCrossEntropyTest, RejectsBadWeightsAndLabelsNotIgnored) {
  Tensor logits(Shape({3, 4})), grad;
  SoftmaxCrossEntropyOptions o;
  o.class_weights = {1.0f, 2.0f};
  ExpectInvalid(SoftmaxCrossEntropy(logits, {0, 1, 2}, &grad, o).status(),
                {"SoftmaxCrossEntropy", "class_weights has 2 entries", "K = 4"});
  o.class_weights = {1.0f, -2.0f, 1.0f, 1.0f};
  ExpectInvalid(SoftmaxCrossEntropy(logits, {0, 1, 2}, &grad, o).status(),
                {"class_weights[1] = -2"});
  o.class_weights = {1.0f, NAN, 1.0f, 1.0f};
  ExpectInvalid(NllLoss(logits, {0, 1, 2}, &grad, o).status(), {"NllLoss", "class_weights[1]"});
  o.class_weights.clear();
  o.ignore_index = -100;
  ExpectInvalid(SoftmaxCrossEntropy(logits, {0, -1, 2}, &grad, o).status(),
                {"labels[1] = -1", "[0, 4)"});
  ExpectInvalid(NllLoss(logits, {0, 1, 9}, &grad, o).status(), {"NllLoss", "labels[2] = 9"});
}

TEST(MulticlassSvmTest, Cs231nExample) {
  // CS231n "Linear classification" notes: scores for cat / car / frog images.
  const Tensor scores =
      MakeTensor(Shape({3, 3}), {3.2f, 5.1f, -1.7f, 1.3f, 4.9f, 2.0f, 2.2f, 2.5f, -3.1f});
  Tensor grad;
  auto loss = MulticlassSvm(scores, {0, 1, 2}, &grad);
  ASSERT_TRUE(loss.ok());
  EXPECT_NEAR(*loss, (2.9 + 0.0 + 12.9) / 3.0, 1e-5);
  const float third = 1.0f / 3.0f;
  const std::vector<float> expected = {-third, third, 0,  0, 0, 0,  third, third, -2 * third};
  for (int64_t i = 0; i < 9; ++i) EXPECT_NEAR(grad[i], expected[i], 1e-7) << i;
}

TEST(MulticlassSvmTest, GradientsMatchDoubleReference) {
  const std::vector<int64_t> labels = {1, 4, 0, 2};
  for (float margin : {1.0f, 0.5f}) {
    MulticlassSvmOptions o;
    o.margin = margin;
    LossUnderTest loss = [&](const Tensor& x, Tensor* g) {
      return MulticlassSvm(x, labels, g, o);
    };
    ReferenceLoss ref = [&](const std::vector<double>& x) {
      return reference::MulticlassSvm(x, labels, 4, 5, margin);
    };
    // The hinge is piecewise linear: with h = 1e-5 a kink is crossed with probability ~1e-5.
    EXPECT_TRUE(CheckLossGradients(loss, Shape({4, 5}), ref, LossCheck())) << margin;
  }
}

TEST(MulticlassSvmTest, RejectsBadInputs) {
  Tensor scores(Shape({2, 3})), grad;
  ExpectInvalid(MulticlassSvm(scores, {0, 3}, &grad).status(),
                {"MulticlassSvm", "labels[1] = 3"});
  MulticlassSvmOptions o;
  o.margin = -1.0f;
  ExpectInvalid(MulticlassSvm(scores, {0, 1}, &grad, o).status(), {"MulticlassSvm", "margin"});
  o.margin = INFINITY;
  ExpectInvalid(MulticlassSvm(scores, {0, 1}, &grad, o).status(), {"margin"});
}

TEST(MeanSquaredErrorTest, GradientsMatchDoubleReference) {
  Tensor target(Shape({3, 7}));
  Rng rng(4);
  rng.FillUniform(target.data(), target.size(), -1.0f, 1.0f);
  const std::vector<double> t(target.data(), target.data() + target.size());
  LossUnderTest loss = [&](const Tensor& x, Tensor* g) { return MeanSquaredError(x, target, g); };
  ReferenceLoss ref = [&](const std::vector<double>& x) {
    return reference::MeanSquaredError(x, t);
  };
  EXPECT_TRUE(CheckLossGradients(loss, Shape({3, 7}), ref, LossCheck()));
}

TEST(MeanSquaredErrorTest, KnownValueAndRejections) {
  const Tensor p = MakeTensor(Shape({2, 2}), {1, 2, 3, 4});
  const Tensor t = MakeTensor(Shape({2, 2}), {1, 0, 3, 8});
  Tensor grad;
  auto loss = MeanSquaredError(p, t, &grad);
  ASSERT_TRUE(loss.ok());
  EXPECT_FLOAT_EQ(*loss, (4.0f + 16.0f) / 4.0f);
  EXPECT_FLOAT_EQ(grad[1], 1.0f);   // 2 * 2 / 4
  EXPECT_FLOAT_EQ(grad[3], -2.0f);  // 2 * -4 / 4
  ExpectInvalid(MeanSquaredError(p, Tensor(Shape({4})), &grad).status(),
                {"MeanSquaredError", "(2, 2)", "(4)"});
  ExpectInvalid(MeanSquaredError(Tensor(Shape({0})), Tensor(Shape({0})), &grad).status(),
                {"MeanSquaredError", "non-empty"});
}

}  // namespace
}  // namespace simdnet
