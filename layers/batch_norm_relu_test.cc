// BatchNorm + ReLU fused by Sequential (BatchNorm::ForwardRelu / BackwardRelu): bit-identical
// to the two layers run on their own, in train and eval mode, for BatchNorm2d and BatchNorm1d;
// the fallback when hooks are installed after a fused Forward; and a gradient check of the fused
// composition against a double-precision reference.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
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

// [BatchNorm, ReLU, BatchNorm] on per-sample `shape`, affine parameters drawn from `seed`.
std::unique_ptr<Sequential> MakeBnReluBn(const Shape& shape, uint64_t seed) {
  auto seq = Sequential::Create(shape);
  SIMDNET_CHECK(seq.ok());
  SIMDNET_CHECK((*seq)->Add(MakeBatchNorm(shape)).ok());
  SIMDNET_CHECK((*seq)->Add(Activation::Create(ActivationOptions(), shape)).ok());
  SIMDNET_CHECK((*seq)->Add(MakeBatchNorm(shape)).ok());
  Rng rng(seed);
  for (NamedParameter& p : (*seq)->Params()) {
    rng.FillUniform(p.param->value.data(), p.param->value.size(), -0.5f, 1.5f);
  }
  return std::move(seq).value();
}

void ExpectBitIdentical(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<size_t>(a.size())), 0)
      << what;
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
  for (const Shape& shape : {Shape({3, 5, 7}), Shape({8, 16, 16}), Shape({37}), Shape({130})}) {
    for (int64_t n : {1, 4, 33}) {
      auto fused = MakeBnReluBn(shape, 7);
      auto plain = MakeBnReluBn(shape, 7);
      plain->layer(1).set_forward_hook([](const Tensor&) {});
      Tensor x(WithBatch(n, shape)), dy(WithBatch(n, shape));
      Rng rng(static_cast<uint64_t>(n) * 100 + static_cast<uint64_t>(shape.size()));
      rng.FillUniform(x.data(), x.size(), -2.0f, 3.0f);
      rng.FillUniform(dy.data(), dy.size(), -1.0f, 1.0f);
      for (Mode mode : {Mode::kTrain, Mode::kEval, Mode::kTrain}) {
        SCOPED_TRACE(testing::Message() << shape.ToString() << " n=" << n
                                        << (mode == Mode::kTrain ? " train" : " eval"));
        fused->SetMode(mode);
        plain->SetMode(mode);
        ExpectFusedEqualsPlain(*fused, *plain, x, dy);
      }
    }
  }
}

// A backward hook installed between a fused Forward and Backward: the pair runs on its own
// (the BatchNorm output recomputed), the hook is called, and the results are unchanged.
TEST(BatchNormReluTest, HookInstalledAfterFusedForward) {
  const Shape shape({4, 6, 6});
  auto fused = MakeBnReluBn(shape, 3);
  auto plain = MakeBnReluBn(shape, 3);
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

// Double reference of [BatchNorm, ReLU, BatchNorm] (train-mode statistics, or running ones).
GradCheckOptions BnReluBnCheck(int64_t c, int64_t s, bool train) {
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>& p) {
    const int64_t n = static_cast<int64_t>(x.size()) / (c * s);
    const std::vector<double> zeros(static_cast<size_t>(c), 0.0), ones(static_cast<size_t>(c), 1.0);
    std::vector<double> h =
        train ? reference::BatchNormTrain(x, p[0], p[1], n, c, s, 1e-5)
              : reference::BatchNormEval(x, p[0], p[1], zeros, ones, n, c, s, 1e-5);
    for (double& v : h) v = v > 0.0 ? v : 0.0;
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
  auto seq2d = MakeBnReluBn(Shape({3, 5, 5}), 5);
  EXPECT_TRUE(CheckLayerGradients(*seq2d, 4, BnReluBnCheck(3, 25, true)));
  auto seq1d = MakeBnReluBn(Shape({9}), 6);
  EXPECT_TRUE(CheckLayerGradients(*seq1d, 7, BnReluBnCheck(9, 1, true)));
  // Eval: fresh running statistics (mean 0, var 1).
  auto eval = MakeBnReluBn(Shape({3, 4, 4}), 8);
  eval->SetMode(Mode::kEval);
  EXPECT_TRUE(CheckLayerGradients(*eval, 3, BnReluBnCheck(3, 16, false)));
}

}  // namespace
}  // namespace simdnet
