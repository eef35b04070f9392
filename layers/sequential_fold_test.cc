// Conv2d + BatchNorm (+ ReLU / ReLU6) folded into one convolution in inference passes
// (Sequential inside an InferenceScope): outputs equal the layers run on their own up to float
// rounding, the folded weights are cached until a parameter or buffer may have changed
// (training forward, optimizer step, writable accessors, checkpoint-style loads through
// Params() / Buffers()), and nothing is folded in train mode or with hooks or timers.
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/layer.h"
#include "layers/residual.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"
#include "tensor/tensor.h"
#include "tensor/tensor_pool.h"
#include "tensor/test_util.h"

namespace simdnet {
namespace {

// Tolerance of folded against unfolded outputs: conv(x, w * s) + (b * s + t) against
// (conv(x, w) + b) * s + t rounds each product and the sums differently; with O(1) values and
// sums of at most 16 * 9 products the difference stays within a few float ulps of the
// magnitudes involved.
constexpr double kAbsTol = 2e-5;
constexpr double kRelTol = 2e-5;

void Check(const absl::Status& s) { SIMDNET_CHECK(s.ok()); }

std::unique_ptr<Conv2d> MakeConv(const Shape& in, int64_t out, int64_t k, int64_t stride,
                                 bool bias, Rng& rng, int64_t groups = 1) {
  Conv2dOptions o;
  o.out_channels = out;
  o.kernel_h = o.kernel_w = k;
  o.stride_h = o.stride_w = stride;
  o.pad_h = o.pad_w = k / 2;
  o.bias = bias;
  o.groups = groups;
  auto conv = Conv2d::Create(o, in, rng);
  SIMDNET_CHECK(conv.ok());
  return std::move(conv).value();
}

std::unique_ptr<BatchNorm2d> MakeBn(const Shape& in) {
  auto bn = BatchNorm2d::Create(BatchNormOptions(), in);
  SIMDNET_CHECK(bn.ok());
  return std::move(bn).value();
}

std::unique_ptr<Activation> MakeAct(const Shape& in, ActivationKind kind) {
  ActivationOptions o;
  o.kind = kind;
  auto act = Activation::Create(o, in);
  SIMDNET_CHECK(act.ok());
  return std::move(act).value();
}

// Gives every BatchNorm in `layer` random affine parameters and running statistics (variance
// in [0.2, 2]), so that folding changes the weights noticeably.
void RandomizeBatchNorms(Layer& layer, Rng& rng) {
  for (NamedLayer child : layer.Children()) RandomizeBatchNorms(*child.layer, rng);
  if (auto* bn = dynamic_cast<BatchNorm*>(&layer)) {
    const int64_t c = bn->num_channels();
    rng.FillUniform(bn->weight().value.data(), c, 0.5f, 1.5f);
    rng.FillUniform(bn->bias().value.data(), c, -0.5f, 0.5f);
    rng.FillUniform(bn->running_mean().data(), c, -0.3f, 0.3f);
    rng.FillUniform(bn->running_var().data(), c, 0.2f, 2.0f);
  }
}

// A vgg-small-like body: conv-BN-ReLU, conv(no bias)-BN-ReLU6, conv-ReLU (no BN), depthwise
// conv-BN-ReLU6, conv-BN as the last children (the fold writes the container's output).
std::unique_ptr<Sequential> MakeVggLike(Rng& rng) {
  const Shape in({3, 11, 9});
  auto seq = Sequential::Create(in);
  SIMDNET_CHECK(seq.ok());
  Sequential& s = **seq;
  Check(s.Add(MakeConv(in, 8, 3, 1, true, rng)));
  const Shape a = s.OutputShape();
  Check(s.Add(MakeBn(a)));
  Check(s.Add(MakeAct(a, ActivationKind::kRelu)));
  Check(s.Add(MakeConv(a, 16, 3, 2, false, rng)));
  const Shape b = s.OutputShape();
  Check(s.Add(MakeBn(b)));
  Check(s.Add(MakeAct(b, ActivationKind::kRelu6)));
  Check(s.Add(MakeConv(b, 16, 1, 1, true, rng)));
  Check(s.Add(MakeAct(b, ActivationKind::kRelu)));
  Check(s.Add(MakeConv(b, 16, 3, 1, true, rng, /*groups=*/16)));
  Check(s.Add(MakeBn(b)));
  Check(s.Add(MakeAct(b, ActivationKind::kRelu6)));
  Check(s.Add(MakeConv(b, 5, 3, 1, true, rng)));
  Check(s.Add(MakeBn(s.OutputShape())));
  RandomizeBatchNorms(s, rng);
  return std::move(seq).value();
}

// A ResNet basic block with a projection shortcut: main conv-BN-ReLU-conv-BN, shortcut conv-BN.
std::unique_ptr<Residual> MakeBlock(Rng& rng) {
  const Shape in({6, 8, 8});
  auto main = Sequential::Create(in);
  SIMDNET_CHECK(main.ok());
  Check((*main)->Add(MakeConv(in, 12, 3, 2, false, rng)));
  const Shape a = (*main)->OutputShape();
  Check((*main)->Add(MakeBn(a)));
  Check((*main)->Add(MakeAct(a, ActivationKind::kRelu)));
  Check((*main)->Add(MakeConv(a, 12, 3, 1, false, rng)));
  Check((*main)->Add(MakeBn(a)));
  auto shortcut = Sequential::Create(in);
  SIMDNET_CHECK(shortcut.ok());
  Check((*shortcut)->Add(MakeConv(in, 12, 1, 2, false, rng)));
  Check((*shortcut)->Add(MakeBn(a)));
  auto block = Residual::Create(std::move(main).value(), std::move(shortcut).value());
  SIMDNET_CHECK(block.ok());
  RandomizeBatchNorms(**block, rng);
  return std::move(block).value();
}

Tensor RandomInput(const Shape& per_sample, int64_t n, uint64_t seed) {
  std::vector<int64_t> dims = {n};
  for (int i = 0; i < per_sample.rank(); ++i) dims.push_back(per_sample.dim(i));
  Tensor x{Shape(absl::MakeConstSpan(dims))};
  Rng rng(seed);
  rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
  return x;
}

// Runs layer.Forward inside an InferenceScope (as Model::Predict does).
Tensor Predict(Layer& layer, const Tensor& x) {
  TensorPool pool;
  InferenceScope scope(&pool);
  Tensor y;
  layer.Forward(x, &y);
  return y;
}

Tensor PlainForward(Layer& layer, const Tensor& x) {
  Tensor y;
  layer.Forward(x, &y);
  return y;
}

::testing::AssertionResult FoldedMatches(Layer& layer, const Tensor& x) {
  const Tensor expected = PlainForward(layer, x);
  const Tensor actual = Predict(layer, x);
  if (actual.shape() != expected.shape()) return ::testing::AssertionFailure() << "shape";
  return test::AllNear(actual.data(), expected.data(), static_cast<size_t>(actual.size()),
                       kAbsTol, kRelTol);
}

TEST(SequentialFoldTest, VggLikeEvalPredictMatchesUnfoldedForward) {
  Rng rng(1);
  auto seq = MakeVggLike(rng);
  seq->SetMode(Mode::kEval);
  for (int64_t n : {1, 3, 8}) {
    SCOPED_TRACE(n);
    EXPECT_TRUE(FoldedMatches(*seq, RandomInput(seq->InputShape(), n, 10 + n)));
  }
  // Four Conv2d + BatchNorm folds, computed once (the cache serves the later batches).
  EXPECT_EQ(seq->folded_weight_computations(), 4);
}

TEST(SequentialFoldTest, ResidualBlockEvalPredictMatchesUnfoldedForward) {
  Rng rng(2);
  auto block = MakeBlock(rng);
  block->SetMode(Mode::kEval);
  const Tensor x = RandomInput(block->InputShape(), 5, 3);
  EXPECT_TRUE(FoldedMatches(*block, x));
  EXPECT_EQ(block->main().folded_weight_computations(), 2);
  EXPECT_EQ(block->shortcut()->folded_weight_computations(), 1);
}

TEST(SequentialFoldTest, CacheInvalidatedWhenParametersOrBuffersChange) {
  Rng rng(4);
  auto seq = MakeVggLike(rng);
  seq->SetMode(Mode::kEval);
  const Tensor x = RandomInput(seq->InputShape(), 4, 5);
  EXPECT_TRUE(FoldedMatches(*seq, x));
  EXPECT_EQ(seq->folded_weight_computations(), 4);
  Predict(*seq, x);
  EXPECT_EQ(seq->folded_weight_computations(), 4);  // cached

  // A conv weight set through the layer's accessor.
  auto& conv = static_cast<Conv2d&>(seq->layer(0));
  conv.weight().value[0] += 0.5f;
  EXPECT_TRUE(FoldedMatches(*seq, x));
  EXPECT_EQ(seq->folded_weight_computations(), 8);

  // Running statistics written through Buffers() (as a checkpoint load does).
  for (NamedBuffer& b : seq->Buffers()) b.value->data()[0] += 0.25f;
  EXPECT_TRUE(FoldedMatches(*seq, x));
  EXPECT_EQ(seq->folded_weight_computations(), 12);

  // Parameters written through pointers kept from before (an optimizer): the writer calls
  // NoteParametersChanged after writing.
  std::vector<NamedParameter> params = seq->Params();
  Predict(*seq, x);
  const int64_t before = seq->folded_weight_computations();
  for (NamedParameter& p : params) p.param->value.data()[0] -= 0.125f;
  NoteParametersChanged();
  EXPECT_TRUE(FoldedMatches(*seq, x));
  EXPECT_EQ(seq->folded_weight_computations(), before + 4);

  // A training forward moves the running statistics.
  seq->SetMode(Mode::kTrain);
  PlainForward(*seq, x);
  seq->SetMode(Mode::kEval);
  const int64_t after_train = seq->folded_weight_computations();
  EXPECT_TRUE(FoldedMatches(*seq, x));
  EXPECT_EQ(seq->folded_weight_computations(), after_train + 4);
}

// In train mode the BatchNorms normalize with the batch's statistics: nothing folds, and the
// inference pass equals the plain forward bit for bit.
TEST(SequentialFoldTest, TrainModeDoesNotFold) {
  Rng rng(5);
  auto seq = MakeVggLike(rng);
  const Tensor x = RandomInput(seq->InputShape(), 3, 6);
  const Tensor y = Predict(*seq, x);
  EXPECT_EQ(seq->folded_weight_computations(), 0);
  const Tensor plain = PlainForward(*seq, x);
  for (int64_t k = 0; k < plain.size(); ++k) ASSERT_EQ(y[k], plain[k]) << k;
}

// A hook on the BatchNorm (interpretation) or an installed LayerTimer (--profile) must see every
// layer: nothing folds, and the hook is called.
TEST(SequentialFoldTest, HooksAndTimersDisableFolding) {
  Rng rng(6);
  auto seq = MakeVggLike(rng);
  seq->SetMode(Mode::kEval);
  const Tensor x = RandomInput(seq->InputShape(), 2, 7);
  int calls = 0;
  seq->layer(1).set_forward_hook([&](const Tensor&) { ++calls; });
  const Tensor hooked = Predict(*seq, x);
  EXPECT_EQ(calls, 1);
  // The other three folds still run (they have no hooks); the hooked pair does not.
  EXPECT_EQ(seq->folded_weight_computations(), 3);
  seq->layer(1).set_forward_hook(nullptr);

  class CountingTimer final : public LayerTimer {
   public:
    void Record(const Layer&, bool, int64_t, double) override { ++records; }
    int records = 0;
  } timer;
  SetLayerTimer(&timer);
  const Tensor timed = Predict(*seq, x);
  SetLayerTimer(nullptr);
  EXPECT_EQ(timer.records, static_cast<int>(seq->size()));
  EXPECT_EQ(seq->folded_weight_computations(), 3);
  // Unfolded inference is the plain forward, bit for bit.
  const Tensor plain = PlainForward(*seq, x);
  for (int64_t k = 0; k < plain.size(); ++k) ASSERT_EQ(timed[k], plain[k]) << k;
}

// Conv2d + ReLU without a BatchNorm (LeNet-5) runs the kRelu epilogue, with the conv's own
// weights: equal to the conv then the ReLU layer.
TEST(SequentialFoldTest, ConvReluWithoutBatchNorm) {
  Rng rng(7);
  const Shape in({1, 12, 12});
  auto seq = Sequential::Create(in);
  ASSERT_TRUE(seq.ok());
  Check((*seq)->Add(MakeConv(in, 6, 5, 1, true, rng)));
  Check((*seq)->Add(MakeAct((*seq)->OutputShape(), ActivationKind::kRelu)));
  Check((*seq)->Add(MakeConv((*seq)->OutputShape(), 4, 3, 1, true, rng)));
  const Tensor x = RandomInput(in, 3, 8);
  const Tensor folded = Predict(**seq, x);
  const Tensor plain = PlainForward(**seq, x);
  EXPECT_EQ((*seq)->folded_weight_computations(), 0);  // no BatchNorm: nothing to cache
  for (int64_t k = 0; k < plain.size(); ++k) ASSERT_EQ(folded[k], plain[k]) << k;
}

}  // namespace
}  // namespace simdnet
