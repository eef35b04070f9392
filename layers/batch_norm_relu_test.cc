// BatchNorm + ReLU / ReLU6 fused by Sequential (BatchNorm::ForwardActivation /
// BackwardActivation): bit-identical to the two layers run on their own, in train and eval mode,
// for BatchNorm2d and BatchNorm1d; the fallback when hooks are installed after a fused Forward;
// and gradient checks of the fused compositions against a double-precision reference.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/batch_norm_fusion_test_util.h"
#include "layers/gradient_check.h"
#include "layers/reference.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

Shape WithBatch(int64_t n, const Shape& shape) {
  std::vector<int64_t> dims = {n};
  for (int i = 0; i < shape.rank(); ++i) dims.push_back(shape.dim(i));
  return Shape(absl::MakeConstSpan(dims));
}

std::unique_ptr<BatchNorm> MakeBatchNorm(const Shape& shape) {
  if (shape.rank() == 3) {
    auto b2 = BatchNorm2d::Create(BatchNormOptions(), shape);
    SIMDNET_CHECK(b2.ok());
    return std::move(b2).value();
  }
  auto b1 = BatchNorm1d::Create(BatchNormOptions(), shape);
  SIMDNET_CHECK(b1.ok());
  return std::move(b1).value();
}

// [BatchNorm, activation `kind`, BatchNorm] on per-sample `shape`, affine parameters drawn
// from `seed`: U(-0.5, 1.5), except that for ReLU6 the first BatchNorm's weight and bias are
// U(1.5, 4), so that its outputs (about weight * U(-1.7, 1.7) + bias) cross both 0 and 6.
std::unique_ptr<Sequential> MakeBnActBn(const Shape& shape, uint64_t seed,
                                        ActivationKind kind = ActivationKind::kRelu) {
  auto seq = Sequential::Create(shape);
  SIMDNET_CHECK(seq.ok());
  SIMDNET_CHECK((*seq)->Add(MakeBatchNorm(shape)).ok());
  ActivationOptions act;
  act.kind = kind;
  SIMDNET_CHECK((*seq)->Add(Activation::Create(act, shape)).ok());
  SIMDNET_CHECK((*seq)->Add(MakeBatchNorm(shape)).ok());
  DrawBatchNormAffine(**seq, kind, seed);
  return std::move(seq).value();
}

// Runs forward + backward on `fused` (no hooks: fused) and `plain` (a no-op hook on the ReLU:
// unfused) and expects identical bits everywhere.
void ExpectFusedEqualsPlain(Sequential& fused, Sequential& plain, const Tensor& x,
                            const Tensor& dy) {
  Tensor y1, y2, dx1, dx2;
  fused.Forward(x, &y1);
  plain.Forward(x, &y2);
  // The fused pair never wrote the BatchNorm's own output; the plain one did.
  EXPECT_EQ(fused.activation(0).size(), 0);
  EXPECT_EQ(plain.activation(0).size(), x.size());
  ExpectBitIdentical(y1, y2, "y");
  fused.ZeroGrad();
  plain.ZeroGrad();
  fused.Backward(dy, &dx1);
  plain.Backward(dy, &dx2);
  ExpectBitIdentical(dx1, dx2, "dx");
  std::vector<NamedParameter> p1 = fused.Params(), p2 = plain.Params();
  for (size_t i = 0; i < p1.size(); ++i)
    ExpectBitIdentical(p1[i].param->grad, p2[i].param->grad, "grad");
  std::vector<NamedBuffer> b1 = fused.Buffers(), b2 = plain.Buffers();
  for (size_t i = 0; i < b1.size(); ++i) ExpectBitIdentical(*b1[i].value, *b2[i].value, "buffer");
}

TEST(BatchNormReluTest, FusedIsBitIdenticalToSeparateLayers) {
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kRelu6}) {
    for (const Shape& shape : {Shape({3, 5, 7}), Shape({8, 16, 16}), Shape({37}), Shape({130})}) {
      for (int64_t n : {1, 4, 33}) {
        auto fused = MakeBnActBn(shape, 7, kind);
        auto plain = MakeBnActBn(shape, 7, kind);
        plain->layer(1).set_forward_hook([](const Tensor&) {});
        Tensor x(WithBatch(n, shape)), dy(WithBatch(n, shape));
        Rng rng(static_cast<uint64_t>(n) * 100 + static_cast<uint64_t>(shape.size()));
        rng.FillUniform(x.data(), x.size(), -2.0f, 3.0f);
        rng.FillUniform(dy.data(), dy.size(), -1.0f, 1.0f);
        for (Mode mode : {Mode::kTrain, Mode::kEval, Mode::kTrain}) {
          SCOPED_TRACE(testing::Message() << ActivationKindName(kind) << " " << shape.ToString()
                                          << " n=" << n
                                          << (mode == Mode::kTrain ? " train" : " eval"));
          fused->SetMode(mode);
          plain->SetMode(mode);
          ExpectFusedEqualsPlain(*fused, *plain, x, dy);
        }
      }
    }
  }
}

// [BatchNorm, activation]: the fused pair is the container's tail, so the activation writes the
// caller's tensor and Backward reads its mask from there. Wrapped in an outer [inner, BatchNorm]
// (as MobileNetV2's Conv-BN-ReLU6 blocks sit inside its inverted residuals) when `nested`.
std::unique_ptr<Sequential> MakeBnActTail(const Shape& shape, uint64_t seed, ActivationKind kind,
                                          bool nested) {
  auto inner = Sequential::Create(shape);
  SIMDNET_CHECK(inner.ok());
  SIMDNET_CHECK((*inner)->Add(MakeBatchNorm(shape)).ok());
  ActivationOptions act;
  act.kind = kind;
  SIMDNET_CHECK((*inner)->Add(Activation::Create(act, shape)).ok());
  std::unique_ptr<Sequential> seq = std::move(inner).value();
  if (nested) {
    auto outer = Sequential::Create(shape);
    SIMDNET_CHECK(outer.ok());
    SIMDNET_CHECK((*outer)->Add(std::move(seq)).ok());
    SIMDNET_CHECK((*outer)->Add(MakeBatchNorm(shape)).ok());
    seq = std::move(outer).value();
  }
  DrawBatchNormAffine(*seq, kind, seed);
  return seq;
}

TEST(BatchNormReluTest, FusedTailIsBitIdenticalToSeparateLayers) {
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kRelu6}) {
    for (bool nested : {false, true}) {
      for (const Shape& shape : {Shape({3, 5, 7}), Shape({37})}) {
        auto fused = MakeBnActTail(shape, 9, kind, nested);
        auto plain = MakeBnActTail(shape, 9, kind, nested);
        Sequential& fused_inner = nested ? static_cast<Sequential&>(fused->layer(0)) : *fused;
        Sequential& plain_inner = nested ? static_cast<Sequential&>(plain->layer(0)) : *plain;
        plain_inner.layer(1).set_forward_hook([](const Tensor&) {});
        Tensor x(WithBatch(5, shape)), dy(WithBatch(5, shape));
        Rng rng(static_cast<uint64_t>(shape.size()));
        rng.FillUniform(x.data(), x.size(), -2.0f, 3.0f);
        rng.FillUniform(dy.data(), dy.size(), -1.0f, 1.0f);
        for (Mode mode : {Mode::kTrain, Mode::kEval, Mode::kTrain}) {
          SCOPED_TRACE(testing::Message() << ActivationKindName(kind) << " " << shape.ToString()
                                          << (nested ? " nested" : "")
                                          << (mode == Mode::kTrain ? " train" : " eval"));
          fused->SetMode(mode);
          plain->SetMode(mode);
          Tensor y1, y2, dx1, dx2;
          fused->Forward(x, &y1);
          plain->Forward(x, &y2);
          // The fused pair did not write the BatchNorm's own output; the plain one did.
          EXPECT_EQ(fused_inner.activation(0).size(), 0);
          EXPECT_EQ(plain_inner.activation(0).size(), x.size());
          ExpectBitIdentical(y1, y2, "y");
          fused->ZeroGrad();
          plain->ZeroGrad();
          fused->Backward(dy, &dx1);
          plain->Backward(dy, &dx2);
          ExpectBitIdentical(dx1, dx2, "dx");
          std::vector<NamedParameter> p1 = fused->Params(), p2 = plain->Params();
          for (size_t i = 0; i < p1.size(); ++i)
            ExpectBitIdentical(p1[i].param->grad, p2[i].param->grad, "grad");
          // Parameter gradients only (no dx): the same gradients.
          fused->ZeroGrad();
          plain->ZeroGrad();
          fused->BackwardParamsOnly(dy, &dx1);
          plain->BackwardParamsOnly(dy, &dx2);
          p1 = fused->Params();
          p2 = plain->Params();
          for (size_t i = 0; i < p1.size(); ++i)
            ExpectBitIdentical(p1[i].param->grad, p2[i].param->grad, "params-only grad");
        }
      }
    }
  }
}

// The ReLU6 test data reaches both clamps (so the fused mask's upper edge is exercised).
TEST(BatchNormReluTest, Relu6TestDataCrossesBothClamps) {
  const Shape shape({8, 16, 16});
  auto seq = MakeBnActBn(shape, 7, ActivationKind::kRelu6);
  seq->layer(1).set_forward_hook([](const Tensor&) {});  // keep activation(0)
  Tensor x(WithBatch(4, shape)), y;
  Rng rng(4 * 100 + static_cast<uint64_t>(shape.size()));
  rng.FillUniform(x.data(), x.size(), -2.0f, 3.0f);
  seq->Forward(x, &y);
  const Tensor& bn = seq->activation(0);
  int64_t below = 0, above = 0;
  for (int64_t k = 0; k < bn.size(); ++k) {
    below += bn[k] < 0.0f;
    above += bn[k] > 6.0f;
  }
  EXPECT_GT(below, bn.size() / 20);
  EXPECT_GT(above, bn.size() / 20);
}

// A backward hook installed between a fused Forward and Backward: the pair runs on its own
// (the BatchNorm output recomputed), the hook is called, and the results are unchanged.
TEST(BatchNormReluTest, HookInstalledAfterFusedForward) {
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kRelu6}) {
    SCOPED_TRACE(ActivationKindName(kind));
    const Shape shape({4, 6, 6});
    auto fused = MakeBnActBn(shape, 3, kind);
    auto plain = MakeBnActBn(shape, 3, kind);
    plain->layer(1).set_forward_hook([](const Tensor&) {});
    Tensor x(WithBatch(5, shape)), dy(WithBatch(5, shape)), y1, y2, dx1, dx2;
    Rng rng(11);
    rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
    rng.FillUniform(dy.data(), dy.size(), -1.0f, 1.0f);
    fused->Forward(x, &y1);
    plain->Forward(x, &y2);
    int calls = 0;
    fused->layer(1).set_backward_hook([&](const Tensor&, Tensor*) { ++calls; });
    fused->ZeroGrad();
    plain->ZeroGrad();
    fused->Backward(dy, &dx1);
    plain->Backward(dy, &dx2);
    EXPECT_EQ(calls, 1);
    ExpectBitIdentical(dx1, dx2, "dx");
    ExpectBitIdentical(fused->activation(0), plain->activation(0), "recomputed BatchNorm output");
    std::vector<NamedParameter> p1 = fused->Params(), p2 = plain->Params();
    for (size_t i = 0; i < p1.size(); ++i)
      ExpectBitIdentical(p1[i].param->grad, p2[i].param->grad, "grad");
  }
}

// Double reference of [BatchNorm, ReLU or ReLU6, BatchNorm] (train-mode statistics, or running
// ones).
GradCheckOptions BnActBnCheck(int64_t c, int64_t s, bool train, bool relu6 = false) {
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>& p) {
    const int64_t n = static_cast<int64_t>(x.size()) / (c * s);
    const std::vector<double> zeros(static_cast<size_t>(c), 0.0), ones(static_cast<size_t>(c), 1.0);
    std::vector<double> h =
        train ? reference::BatchNormTrain(x, p[0], p[1], n, c, s, 1e-5)
              : reference::BatchNormEval(x, p[0], p[1], zeros, ones, n, c, s, 1e-5);
    for (double& v : h) v = v > 0.0 ? (relu6 && v > 6.0 ? 6.0 : v) : 0.0;
    return train ? reference::BatchNormTrain(h, p[2], p[3], n, c, s, 1e-5)
                 : reference::BatchNormEval(h, p[2], p[3], zeros, ones, n, c, s, 1e-5);
  };
  // As batch_norm_test's bounds: statistics over U(-1, 1) inputs amplify float rounding by < 2.
  g.forward_abs_tol = 1e-4;
  g.forward_rel_tol = 1e-4;
  g.grad_abs_tol = 1e-3;
  g.grad_rel_tol = 1e-3;
  return g;
}

TEST(BatchNormReluTest, FusedGradientsMatchDoubleReference) {
  auto seq2d = MakeBnActBn(Shape({3, 5, 5}), 5);
  EXPECT_TRUE(CheckLayerGradients(*seq2d, 4, BnActBnCheck(3, 25, true)));
  auto seq1d = MakeBnActBn(Shape({9}), 6);
  EXPECT_TRUE(CheckLayerGradients(*seq1d, 7, BnActBnCheck(9, 1, true)));
  // Eval: fresh running statistics (mean 0, var 1).
  auto eval = MakeBnActBn(Shape({3, 4, 4}), 8);
  eval->SetMode(Mode::kEval);
  EXPECT_TRUE(CheckLayerGradients(*eval, 3, BnActBnCheck(3, 16, false)));
}

TEST(BatchNormReluTest, FusedRelu6GradientsMatchDoubleReference) {
  auto seq2d = MakeBnActBn(Shape({3, 5, 5}), 5, ActivationKind::kRelu6);
  EXPECT_TRUE(CheckLayerGradients(*seq2d, 4, BnActBnCheck(3, 25, true, true)));
  auto seq1d = MakeBnActBn(Shape({9}), 6, ActivationKind::kRelu6);
  EXPECT_TRUE(CheckLayerGradients(*seq1d, 7, BnActBnCheck(9, 1, true, true)));
  // Eval: running statistics mean 0, var 1, so the inputs are scaled to cross 6 (x * weight +
  // bias with x in (-2, 2)).
  auto eval = MakeBnActBn(Shape({3, 4, 4}), 8, ActivationKind::kRelu6);
  eval->SetMode(Mode::kEval);
  GradCheckOptions check = BnActBnCheck(3, 16, false, true);
  check.input_low = -2.0f;
  check.input_high = 2.0f;
  EXPECT_TRUE(CheckLayerGradients(*eval, 3, check));
}

TEST(BatchNormReluTest, FusedTailGradientsMatchDoubleReference) {
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kRelu6}) {
    SCOPED_TRACE(ActivationKindName(kind));
    const bool relu6 = kind == ActivationKind::kRelu6;
    auto seq = MakeBnActTail(Shape({3, 5, 5}), 5, kind, /*nested=*/true);
    EXPECT_TRUE(CheckLayerGradients(*seq, 4, BnActBnCheck(3, 25, true, relu6)));
  }
}

}  // namespace
}  // namespace simdnet
