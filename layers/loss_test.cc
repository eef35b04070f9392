// Tests for the losses: gradient checks against double references (with label smoothing),
// numerical stability on huge logits, known values (CS231n SVM example), top-k counting, and
// every rejection.
#include "layers/loss.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "layers/reference.h"
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
