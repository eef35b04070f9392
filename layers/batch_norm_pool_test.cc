// BatchNorm2d + ReLU / ReLU6 + 2x2 stride-2 max pooling fused by Sequential in training
// (BatchNorm::ForwardActivationMaxPool2x2 / BackwardActivationMaxPool2x2): bit-identical to the
// three layers run on their own (output, pooling indices, dx, parameter gradients, running
// statistics) in the middle of a container, as its tail and nested; train and eval mode; the
// fallbacks when hooks are installed after a fused Forward or Backward starts inside the three;
// which poolings fuse; and gradient checks against a double-precision reference.
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/batch_norm_fusion_test_util.h"
#include "layers/gradient_check.h"
#include "layers/pooling.h"
#include "layers/reference.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

Shape Pooled(const Shape& s) { return Shape({s.dim(0), s.dim(1) / 2, s.dim(2) / 2}); }

std::unique_ptr<Layer> MakeBn(const Shape& shape) {
  auto bn = BatchNorm2d::Create(BatchNormOptions(), shape);
  SIMDNET_CHECK(bn.ok());
  return std::move(bn).value();
}

std::unique_ptr<Layer> MakePool(const Shape& shape, int64_t kernel = 2, int64_t stride = 2) {
  Pool2dOptions o;
  o.kernel_h = o.kernel_w = kernel;
  o.stride_h = o.stride_w = stride;
  auto pool = Pool2d::Create(o, shape);
  SIMDNET_CHECK(pool.ok());
  return std::move(pool).value();
}

// Where the fused triple sits.
enum class Place {
  kMiddle,  // [BatchNorm, act, pool, BatchNorm]
  kTail,    // [BatchNorm, act, pool]
  kNested,  // [[BatchNorm, act, pool], BatchNorm]
};

// Returns the container and, in *inner, the one holding the triple at children 0..2. Affine
// parameters are drawn from `seed`: U(-0.5, 1.5), for ReLU6 the first BatchNorm's U(1.5, 4), so
// that its outputs cross both 0 and 6.
std::unique_ptr<Sequential> MakeNet(const Shape& shape, Place place, ActivationKind kind,
                                    uint64_t seed, Sequential** inner) {
  auto triple = Sequential::Create(shape);
  SIMDNET_CHECK(triple.ok());
  SIMDNET_CHECK((*triple)->Add(MakeBn(shape)).ok());
  ActivationOptions act;
  act.kind = kind;
  SIMDNET_CHECK((*triple)->Add(Activation::Create(act, shape)).ok());
  SIMDNET_CHECK((*triple)->Add(MakePool(shape)).ok());
  std::unique_ptr<Sequential> seq = std::move(triple).value();
  *inner = seq.get();
  if (place == Place::kMiddle) {
    SIMDNET_CHECK(seq->Add(MakeBn(Pooled(shape))).ok());
  } else if (place == Place::kNested) {
    auto outer = Sequential::Create(shape);
    SIMDNET_CHECK(outer.ok());
    SIMDNET_CHECK((*outer)->Add(std::move(seq)).ok());
    SIMDNET_CHECK((*outer)->Add(MakeBn(Pooled(shape))).ok());
    seq = std::move(outer).value();
  }
  DrawBatchNormAffine(*seq, kind, seed);
  return seq;
}

void ExpectSameGradsAndBuffers(Sequential& a, Sequential& b, const char* what) {
  std::vector<NamedParameter> p1 = a.Params(), p2 = b.Params();
  ASSERT_EQ(p1.size(), p2.size());
  for (size_t i = 0; i < p1.size(); ++i) {
    SCOPED_TRACE(p1[i].name);
    ExpectBitIdentical(p1[i].param->grad, p2[i].param->grad, what);
  }
  std::vector<NamedBuffer> b1 = a.Buffers(), b2 = b.Buffers();
  for (size_t i = 0; i < b1.size(); ++i) ExpectBitIdentical(*b1[i].value, *b2[i].value, what);
}

const Pool2d& PoolOf(Sequential& inner) { return static_cast<const Pool2d&>(inner.layer(2)); }

TEST(BatchNormPoolTest, FusedIsBitIdenticalToSeparateLayers) {
  struct Case {
    Shape shape;
    int64_t n;
  };
  // Channels 1, 3, 17; planes 2x2, 3x3, 5x7 (odd: the last row and column are dropped), 28x28.
  const Case cases[] = {{Shape({1, 2, 2}), 1},   {Shape({3, 3, 3}), 4}, {Shape({17, 5, 7}), 3},
                        {Shape({3, 28, 28}), 2}, {Shape({1, 7, 5}), 5}, {Shape({17, 28, 28}), 1}};
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kRelu6}) {
    for (Place place : {Place::kMiddle, Place::kTail, Place::kNested}) {
      for (const Case& cs : cases) {
        Sequential *fused_inner, *plain_inner, *half_inner;
        auto fused = MakeNet(cs.shape, place, kind, 7, &fused_inner);
        auto plain = MakeNet(cs.shape, place, kind, 7, &plain_inner);
        // Both fusions off (a hook on the activation), and BatchNorm + activation fused with the
        // pooling on its own (a hook on the pooling).
        plain_inner->layer(1).set_forward_hook([](const Tensor&) {});
        auto half = MakeNet(cs.shape, place, kind, 7, &half_inner);
        half_inner->layer(2).set_forward_hook([](const Tensor&) {});
        const Shape out = place == Place::kNested ? Pooled(cs.shape) : fused->OutputShape();
        Tensor x(cs.shape.WithBatch(cs.n)), dy(out.WithBatch(cs.n));
        Rng rng(static_cast<uint64_t>(cs.n * 100 + cs.shape.size()));
        rng.FillUniform(x.data(), x.size(), -2.0f, 3.0f);
        rng.FillUniform(dy.data(), dy.size(), -1.0f, 1.0f);
        bool first = true;
        for (Mode mode : {Mode::kTrain, Mode::kEval, Mode::kTrain}) {
          SCOPED_TRACE(testing::Message()
                       << ActivationKindName(kind) << " place " << static_cast<int>(place) << " "
                       << cs.shape.ToString() << " n=" << cs.n
                       << (mode == Mode::kTrain ? " train" : " eval"));
          for (Sequential* s : {fused.get(), plain.get(), half.get()}) s->SetMode(mode);
          Tensor y1, y2, y3, dx1, dx2, dx3;
          fused->Forward(x, &y1);
          plain->Forward(x, &y2);
          half->Forward(x, &y3);
          // In train mode the fused triple wrote neither the BatchNorm's nor the activation's
          // output; in eval mode BatchNorm + activation fuse and the pooling runs on its own
          // (then the activation's output stays, stale, in the last train-mode pass).
          EXPECT_EQ(fused_inner->activation(0).size(), 0);
          if (first || mode == Mode::kEval) {
            EXPECT_EQ(fused_inner->activation(1).size(), mode == Mode::kTrain ? 0 : x.size());
          }
          first = false;
          EXPECT_EQ(plain_inner->activation(1).size(), x.size());
          ExpectBitIdentical(y1, y2, "y");
          ExpectBitIdentical(y1, y3, "y (half)");
          EXPECT_EQ(PoolOf(*fused_inner).indices(), PoolOf(*plain_inner).indices());
          for (Sequential* s : {fused.get(), plain.get(), half.get()}) s->ZeroGrad();
          fused->Backward(dy, &dx1);
          plain->Backward(dy, &dx2);
          half->Backward(dy, &dx3);
          ExpectBitIdentical(dx1, dx2, "dx");
          ExpectBitIdentical(dx1, dx3, "dx (half)");
          ExpectSameGradsAndBuffers(*fused, *plain, "grads");
          ExpectSameGradsAndBuffers(*fused, *half, "grads (half)");
          // Parameter gradients only.
          fused->ZeroGrad();
          plain->ZeroGrad();
          fused->BackwardParamsOnly(dy, &dx1);
          plain->BackwardParamsOnly(dy, &dx2);
          ExpectSameGradsAndBuffers(*fused, *plain, "params-only grads");
        }
      }
    }
  }
}

TEST(BatchNormPoolTest, OnlyTwoByTwoStrideTwoMaxPoolingFuses) {
  const Shape shape({3, 6, 6});
  for (const auto& [kernel, stride] : {std::pair<int64_t, int64_t>{2, 1}, {3, 2}, {3, 3}}) {
    auto seq = Sequential::Create(shape);
    ASSERT_TRUE(seq.ok());
    ASSERT_TRUE((*seq)->Add(MakeBn(shape)).ok());
    ASSERT_TRUE((*seq)->Add(Activation::Create(ActivationOptions(), shape)).ok());
    ASSERT_TRUE((*seq)->Add(MakePool(shape, kernel, stride)).ok());
    Tensor x(shape.WithBatch(2)), y;
    Rng rng(3);
    rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
    (*seq)->Forward(x, &y);
    // BatchNorm + ReLU fused, the pooling on its own: the ReLU's output was written.
    EXPECT_EQ((*seq)->activation(1).size(), x.size()) << kernel << " " << stride;
  }
}

// Hooks installed between a fused Forward and Backward (on the pooling, or on the activation):
// the three run on their own (the BatchNorm and activation outputs recomputed), the hook is
// called, and the results are unchanged.
TEST(BatchNormPoolTest, HookInstalledAfterFusedForward) {
  for (int hooked : {1, 2}) {
    SCOPED_TRACE(hooked);
    const Shape shape({4, 6, 5});
    Sequential *fused_inner, *plain_inner;
    auto fused = MakeNet(shape, Place::kMiddle, ActivationKind::kRelu, 3, &fused_inner);
    auto plain = MakeNet(shape, Place::kMiddle, ActivationKind::kRelu, 3, &plain_inner);
    plain->layer(1).set_forward_hook([](const Tensor&) {});
    Tensor x(shape.WithBatch(5)), dy(fused->OutputShape().WithBatch(5)), y1, y2, dx1, dx2;
    Rng rng(11);
    rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
    rng.FillUniform(dy.data(), dy.size(), -1.0f, 1.0f);
    fused->Forward(x, &y1);
    plain->Forward(x, &y2);
    int calls = 0;
    fused->layer(hooked).set_backward_hook([&](const Tensor&, Tensor*) { ++calls; });
    fused->ZeroGrad();
    plain->ZeroGrad();
    fused->Backward(dy, &dx1);
    plain->Backward(dy, &dx2);
    EXPECT_EQ(calls, 1);
    ExpectBitIdentical(dx1, dx2, "dx");
    ExpectBitIdentical(fused->activation(0), plain->activation(0), "recomputed BatchNorm output");
    ExpectBitIdentical(fused->activation(1), plain->activation(1), "recomputed ReLU output");
    ExpectSameGradsAndBuffers(*fused, *plain, "grads");
  }
}

// BackwardBelowChild from inside the fused three (the gradient at the pooling's input, or at
// the activation's input): the missing outputs are recomputed, the result is the plain one's.
TEST(BatchNormPoolTest, BackwardBelowChildInsideFusedLayers) {
  for (size_t index : {size_t{1}, size_t{2}, size_t{3}}) {
    SCOPED_TRACE(index);
    const Shape shape({3, 5, 7});
    Sequential *fused_inner, *plain_inner;
    auto fused = MakeNet(shape, Place::kMiddle, ActivationKind::kRelu6, 5, &fused_inner);
    auto plain = MakeNet(shape, Place::kMiddle, ActivationKind::kRelu6, 5, &plain_inner);
    plain->layer(1).set_forward_hook([](const Tensor&) {});
    const Shape at = index == 3 ? Pooled(shape) : shape;
    Tensor x(shape.WithBatch(3)), grad(at.WithBatch(3)), y1, y2, dx1, dx2;
    Rng rng(13);
    rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
    rng.FillUniform(grad.data(), grad.size(), -1.0f, 1.0f);
    fused->Forward(x, &y1);
    plain->Forward(x, &y2);
    fused->ZeroGrad();
    plain->ZeroGrad();
    fused->BackwardBelowChild(index, grad, &dx1);
    plain->BackwardBelowChild(index, grad, &dx2);
    ExpectBitIdentical(dx1, dx2, "dx");
    ExpectSameGradsAndBuffers(*fused, *plain, "grads");
  }
}

// Double reference of [BatchNorm (train statistics), ReLU or ReLU6, 2x2 stride-2 max pooling].
GradCheckOptions BnActPoolCheck(int64_t c, int64_t h, int64_t w, bool relu6) {
  GradCheckOptions g;
  g.reference = [=](const std::vector<double>& x, const std::vector<std::vector<double>>& p) {
    const int64_t s = h * w;
    const int64_t n = static_cast<int64_t>(x.size()) / (c * s);
    std::vector<double> a = reference::BatchNormTrain(x, p[0], p[1], n, c, s, 1e-5);
    for (double& v : a) v = v > 0.0 ? (relu6 && v > 6.0 ? 6.0 : v) : 0.0;
    const int64_t oh = h / 2, ow = w / 2;
    std::vector<double> y;
    for (int64_t plane = 0; plane < n * c; ++plane) {
      for (int64_t r = 0; r < oh; ++r) {
        for (int64_t q = 0; q < ow; ++q) {
          const double* base = a.data() + plane * s + 2 * r * w + 2 * q;
          y.push_back(std::max(std::max(base[0], base[1]), std::max(base[w], base[w + 1])));
        }
      }
    }
    return y;
  };
  // As batch_norm_test's bounds: statistics over U(-1, 1) inputs amplify float rounding by < 2.
  g.forward_abs_tol = 1e-4;
  g.forward_rel_tol = 1e-4;
  g.grad_abs_tol = 1e-3;
  g.grad_rel_tol = 1e-3;
  return g;
}

TEST(BatchNormPoolTest, FusedGradientsMatchDoubleReference) {
  for (ActivationKind kind : {ActivationKind::kRelu, ActivationKind::kRelu6}) {
    SCOPED_TRACE(ActivationKindName(kind));
    const bool relu6 = kind == ActivationKind::kRelu6;
    Sequential* inner;
    auto seq = MakeNet(Shape({3, 5, 7}), Place::kTail, kind, 5, &inner);
    EXPECT_TRUE(CheckLayerGradients(*seq, 4, BnActPoolCheck(3, 5, 7, relu6)));
    EXPECT_EQ(inner->activation(1).size(), 0);  // it ran fused
  }
}

}  // namespace
}  // namespace simdnet
