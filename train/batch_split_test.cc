// Tests for BatchSplit: the split step's loss and gradients equal the unsplit model's (up to
// float rounding), with dropout keyed per sample, class weights and BatchNorm (whole-batch
// statistics exchanged between the replicas); results do not depend on
// which thread runs which slice; rejections name the layer, the label or the option.
#include "train/batch_split.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/loss.h"
#include "layers/model_spec.h"
#include "optim/make_optimizer.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"
#include "train/metrics.h"

namespace simdnet {
namespace {

// Every kind of layer a split model may hold, on odd shapes.
constexpr char kSpec[] = R"(input 2x9x7
conv 5 k3 p1; relu; maxpool k2
flatten; dropout 0.3; linear 6; relu; linear classes
)";
constexpr int64_t kClasses = 4;

std::unique_ptr<Model> MakeModel(const char* spec = kSpec) {
  auto model = ModelFromSpec(spec, std::nullopt, kClasses, /*seed=*/3);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->SetMode(Mode::kTrain);
  return std::move(model).value();
}

Tensor RandomInput(const Model& model, int64_t n, uint64_t seed) {
  Tensor x(model.InputShape().WithBatch(n));
  Rng rng(seed);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.Uniform() * 2.0f - 1.0f;
  return x;
}

std::vector<int64_t> Labels(int64_t n) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back((i * 7 + 1) % kClasses);
  return labels;
}

std::vector<int64_t> Ids(int64_t n) {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(100 + 3 * i);
  return ids;
}

void KeyDropouts(Model& model, const std::vector<int64_t>& ids) {
  model.ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (auto* d = dynamic_cast<Dropout*>(&layer)) d->SetSampleKeys(2, ids);
  });
}

// Largest |a - b| over the model's gradients relative to the largest |b|.
double GradientDifference(Model& a, Model& b) {
  const std::vector<NamedParameter> pa = a.Params(), pb = b.Params();
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < pa.size(); ++i) {
    for (int64_t j = 0; j < pa[i].param->grad.size(); ++j) {
      diff = std::max(diff,
                      std::fabs(static_cast<double>(pa[i].param->grad[j]) - pb[i].param->grad[j]));
      scale = std::max(scale, std::fabs(static_cast<double>(pb[i].param->grad[j])));
    }
  }
  EXPECT_GT(scale, 0.0);
  return diff / scale;
}

// The unsplit reference step: plain's dropout keyed by the rows' ids, then its ForwardBackward
// with the mean cross-entropy (logits into *logits if non-null).
absl::StatusOr<float> PlainStep(Model& plain, const Tensor& x, const std::vector<int64_t>& labels,
                                Tensor* logits = nullptr) {
  KeyDropouts(plain, Ids(x.dim(0)));
  return plain.ForwardBackward(
      x, [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, labels, dz); }, logits);
}

SliceLoss CrossEntropy(SoftmaxCrossEntropyOptions o = {}) {
  o.reduction = LossReduction::kSum;
  return [o](const Tensor& z, absl::Span<const int64_t> labels, Tensor* dz) {
    return SoftmaxCrossEntropy(z, labels, dz, o);
  };
}

TEST(BatchSplitTest, StepsMatchTheUnsplitModel) {
  for (size_t slices : {2, 3}) {
    for (int64_t n : {7, 8}) {
      SCOPED_TRACE(testing::Message() << "slices " << slices << " batch " << n);
      std::unique_ptr<Model> plain = MakeModel(), split_model = MakeModel();
      auto split = BatchSplit::Create(split_model.get(), slices);
      ASSERT_TRUE(split.ok()) << split.status();
      EXPECT_EQ((*split)->slices(), slices);
      auto opt_plain = MakeOptimizer("sgd:lr=0.1,momentum=0.9");
      auto opt_split = MakeOptimizer("sgd:lr=0.1,momentum=0.9");
      ASSERT_TRUE(opt_plain.ok() && opt_split.ok());
      const std::vector<int64_t> labels = Labels(n), ids = Ids(n);
      // Two steps: the second runs on weights the optimizer changed through the shared storage.
      for (int step = 0; step < 2; ++step) {
        const Tensor x = RandomInput(*plain, n, 10 + step);
        plain->ZeroGrad();
        Tensor logits;
        auto want = PlainStep(*plain, x, labels, &logits);
        ASSERT_TRUE(want.ok()) << want.status();
        auto want_correct = CountTopKCorrect(logits, labels, 1);
        ASSERT_TRUE(want_correct.ok());

        split_model->ZeroGrad();
        (*split)->SetSampleKeys(2, ids);
        int64_t correct = -1;
        auto got = (*split)->ForwardBackward(x, labels, CrossEntropy(), static_cast<double>(n),
                                             &correct, DefaultThreadPool());
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_NEAR(*got, *want, 1e-5 * std::max(1.0f, std::fabs(*want)));
        EXPECT_EQ(correct, *want_correct);
        EXPECT_LT(GradientDifference(*split_model, *plain), 1e-5);
        ASSERT_TRUE((*opt_plain)->Step(plain->Params(), 0.1).ok());
        ASSERT_TRUE((*opt_split)->Step(split_model->Params(), 0.1).ok());
      }
    }
  }
}

TEST(BatchSplitTest, ClassWeightsWeightTheSlicesByTheirShare) {
  SoftmaxCrossEntropyOptions o;
  o.class_weights = {0.0f, 2.0f, 0.5f, 1.0f};
  o.label_smoothing = 0.1f;
  std::unique_ptr<Model> plain = MakeModel(), split_model = MakeModel();
  auto split = BatchSplit::Create(split_model.get(), 2);
  ASSERT_TRUE(split.ok()) << split.status();
  // The first slice holds only class 0, of weight 0: it runs forward only.
  const std::vector<int64_t> labels = {0, 0, 0, 1, 2, 3, 1};
  const Tensor x = RandomInput(*plain, 7, 4);
  plain->ZeroGrad();
  KeyDropouts(*plain, Ids(7));
  auto want = plain->ForwardBackward(
      x, [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, labels, dz, o); });
  ASSERT_TRUE(want.ok()) << want.status();
  split_model->ZeroGrad();
  (*split)->SetSampleKeys(2, Ids(7));
  double divisor = 0.0;
  for (int64_t label : labels) divisor += o.class_weights[static_cast<size_t>(label)];
  auto got =
      (*split)->ForwardBackward(x, labels, CrossEntropy(o), divisor, nullptr, DefaultThreadPool());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NEAR(*got, *want, 1e-5 * std::max(1.0f, std::fabs(*want)));
  EXPECT_LT(GradientDifference(*split_model, *plain), 1e-5);
}

TEST(BatchSplitTest, AZeroDivisorGivesNanAndNoGradientAsAMeanLoss) {
  std::unique_ptr<Model> model = MakeModel();
  auto split = BatchSplit::Create(model.get(), 2);
  ASSERT_TRUE(split.ok()) << split.status();
  model->ZeroGrad();
  int64_t correct = -1;
  auto loss = (*split)->ForwardBackward(RandomInput(*model, 5, 9), Labels(5), CrossEntropy(), 0.0,
                                        &correct, DefaultThreadPool());
  ASSERT_TRUE(loss.ok()) << loss.status();
  EXPECT_TRUE(std::isnan(*loss));
  EXPECT_GE(correct, 0);
  for (const NamedParameter& p : model->Params()) {
    for (int64_t i = 0; i < p.param->grad.size(); ++i) ASSERT_EQ(p.param->grad[i], 0.0f);
  }
}

TEST(BatchSplitTest, ResultsDoNotDependOnTheThreadsRunningTheSlices) {
  std::vector<std::vector<float>> grads;
  std::vector<float> losses;
  for (size_t threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::unique_ptr<Model> model = MakeModel();
    auto split = BatchSplit::Create(model.get(), 3);
    ASSERT_TRUE(split.ok()) << split.status();
    model->ZeroGrad();
    (*split)->SetSampleKeys(2, Ids(17));
    auto loss = (*split)->ForwardBackward(RandomInput(*model, 17, 5), Labels(17), CrossEntropy(),
                                          17.0, nullptr, pool);
    ASSERT_TRUE(loss.ok()) << loss.status();
    losses.push_back(*loss);
    grads.emplace_back();
    for (const NamedParameter& p : model->Params()) {
      grads.back().insert(grads.back().end(), p.param->grad.data(),
                          p.param->grad.data() + p.param->grad.size());
    }
  }
  for (size_t i = 1; i < grads.size(); ++i) {
    EXPECT_EQ(losses[i], losses[0]);
    ASSERT_EQ(grads[i].size(), grads[0].size());
    EXPECT_EQ(std::memcmp(grads[i].data(), grads[0].data(), grads[0].size() * sizeof(float)), 0)
        << "threads " << i + 1;
  }
}

TEST(BatchSplitTest, GradientsAccumulateAndFrozenParametersGetNone) {
  std::unique_ptr<Model> plain = MakeModel(), split_model = MakeModel();
  auto split = BatchSplit::Create(split_model.get(), 2);
  ASSERT_TRUE(split.ok()) << split.status();
  // Frozen after Create: the replicas follow the model's flags at every step.
  ASSERT_TRUE(plain->Freeze("0").ok());
  ASSERT_TRUE(split_model->Freeze("0").ok());
  const Tensor x = RandomInput(*plain, 6, 6);
  const std::vector<int64_t> labels = Labels(6);
  plain->ZeroGrad();
  split_model->ZeroGrad();
  for (int pass = 0; pass < 2; ++pass) {  // no ZeroGrad in between: gradients add up
    ASSERT_TRUE(PlainStep(*plain, x, labels).ok());
    (*split)->SetSampleKeys(2, Ids(6));
    ASSERT_TRUE((*split)
                    ->ForwardBackward(x, labels, CrossEntropy(), 6.0, nullptr, DefaultThreadPool())
                    .ok());
  }
  EXPECT_LT(GradientDifference(*split_model, *plain), 1e-5);
  for (const NamedParameter& p : split_model->Params()) {
    if (!p.param->frozen) continue;
    for (int64_t i = 0; i < p.param->grad.size(); ++i) {
      ASSERT_EQ(p.param->grad[i], 0.0f) << p.name;
    }
  }
}

TEST(BatchSplitTest, ZeroGradReplacesEarlierGradients) {
  std::unique_ptr<Model> plain = MakeModel(), split_model = MakeModel();
  auto split = BatchSplit::Create(split_model.get(), 2);
  ASSERT_TRUE(split.ok()) << split.status();
  for (const NamedParameter& p : split_model->Params()) p.param->grad.SetAll(7.0f);
  const Tensor x = RandomInput(*plain, 9, 11);
  const std::vector<int64_t> labels = Labels(9);
  plain->ZeroGrad();
  ASSERT_TRUE(PlainStep(*plain, x, labels).ok());
  (*split)->SetSampleKeys(2, Ids(9));
  ASSERT_TRUE((*split)
                  ->ForwardBackward(x, labels, CrossEntropy(), 9.0, nullptr, DefaultThreadPool(),
                                    /*zero_grad=*/true)
                  .ok());
  EXPECT_LT(GradientDifference(*split_model, *plain), 1e-5);
}

// BatchNorm on every path: fused with ReLU and 2x2 max pooling, fused with ReLU alone, on its
// own, and BatchNorm1d (one value per channel and sample: the pass-based statistics).
constexpr char kBatchNormSpec[] = R"(input 2x9x8
conv 5 k3 p1; bn; relu; maxpool k2
conv 4 k3 p1; bn; relu
conv 3 k3 p1; bn
flatten; dropout 0.3; linear 6; bn; relu; linear classes
)";

// Largest |a - b| over the models' buffers relative to the largest |b|.
double BufferDifference(Model& a, Model& b) {
  const std::vector<NamedBuffer> ba = a.Buffers(), bb = b.Buffers();
  EXPECT_EQ(ba.size(), bb.size());
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < ba.size(); ++i) {
    for (int64_t j = 0; j < ba[i].value->size(); ++j) {
      diff = std::max(diff, std::fabs(static_cast<double>((*ba[i].value)[j]) - (*bb[i].value)[j]));
      scale = std::max(scale, std::fabs(static_cast<double>((*bb[i].value)[j])));
    }
  }
  return diff / scale;
}

TEST(BatchSplitTest, BatchNormModelsSplitWithTheWholeBatchStatistics) {
  EXPECT_EQ(BatchSplit::Unsupported(*MakeModel(kBatchNormSpec)), "");
  for (size_t slices : {2, 3}) {
    for (int64_t n : {7, 8}) {
      SCOPED_TRACE(testing::Message() << "slices " << slices << " batch " << n);
      ThreadPool pool(slices);
      std::unique_ptr<Model> plain = MakeModel(kBatchNormSpec);
      std::unique_ptr<Model> split_model = MakeModel(kBatchNormSpec);
      auto split = BatchSplit::Create(split_model.get(), slices);
      ASSERT_TRUE(split.ok()) << split.status();
      auto opt_plain = MakeOptimizer("sgd:lr=0.1,momentum=0.9");
      auto opt_split = MakeOptimizer("sgd:lr=0.1,momentum=0.9");
      ASSERT_TRUE(opt_plain.ok() && opt_split.ok());
      const std::vector<int64_t> labels = Labels(n), ids = Ids(n);
      for (int step = 0; step < 3; ++step) {
        const Tensor x = RandomInput(*plain, n, 20 + step);
        plain->ZeroGrad();
        auto want = PlainStep(*plain, x, labels);
        ASSERT_TRUE(want.ok()) << want.status();
        split_model->ZeroGrad();
        (*split)->SetSampleKeys(2, ids);
        auto got = (*split)->ForwardBackward(x, labels, CrossEntropy(), static_cast<double>(n),
                                             nullptr, pool);
        ASSERT_TRUE(got.ok()) << got.status();
        EXPECT_NEAR(*got, *want, 1e-5 * std::max(1.0f, std::fabs(*want)));
        // The gradients go through the batch statistics: per-slice statistics would be far off.
        EXPECT_LT(GradientDifference(*split_model, *plain), 1e-4);
        // Running statistics updated once per step, from the whole batch.
        EXPECT_LT(BufferDifference(*split_model, *plain), 1e-5);
        ASSERT_TRUE((*opt_plain)->Step(plain->Params(), 0.1).ok());
        ASSERT_TRUE((*opt_split)->Step(split_model->Params(), 0.1).ok());
      }
      // Eval mode after the split steps: the model's own running statistics, on every slice.
      plain->SetMode(Mode::kEval);
      split_model->SetMode(Mode::kEval);
      const Tensor x = RandomInput(*plain, n, 40);
      Tensor want_logits;
      ASSERT_TRUE(plain->Forward(x, &want_logits).ok());
      auto got = (*split)->ForwardBackward(x, labels, CrossEntropy(), 0.0, nullptr, pool);
      ASSERT_TRUE(got.ok()) << got.status();
      Tensor split_logits;
      ASSERT_TRUE(split_model->Forward(x, &split_logits).ok());
      for (int64_t i = 0; i < want_logits.size(); ++i) {
        EXPECT_NEAR(split_logits[i], want_logits[i], 1e-4) << i;
      }
      // Outside the split step the model's BatchNorm layers use their own batch again.
      split_model->SetMode(Mode::kTrain);
      plain->SetMode(Mode::kTrain);
      plain->ZeroGrad();
      split_model->ZeroGrad();
      auto alone = PlainStep(*split_model, x, labels);
      auto reference = PlainStep(*plain, x, labels);
      ASSERT_TRUE(alone.ok() && reference.ok());
      EXPECT_NEAR(*alone, *reference, 1e-4 * std::max(1.0f, std::fabs(*reference)));
    }
  }
}

TEST(BatchSplitTest, AutoSplitsBatchNormModelsOnlyWithACorePerThread) {
  std::unique_ptr<Model> bn = MakeModel(kBatchNormSpec), plain = MakeModel();
  const size_t cores = AvailableCores();
  EXPECT_FALSE(BatchSplit::AutoSplits(*bn, 1));
  EXPECT_EQ(BatchSplit::AutoSplits(*bn, 2), cores >= 2);
  EXPECT_FALSE(BatchSplit::AutoSplits(*bn, cores + 1));
  // Without BatchNorm the replicas never wait for each other.
  EXPECT_TRUE(BatchSplit::AutoSplits(*plain, cores + 1));
}

TEST(BatchSplitTest, BatchNormSlicesRunAtOnceOrNotAtAll) {
  std::unique_ptr<Model> model = MakeModel(kBatchNormSpec);
  auto split = BatchSplit::Create(model.get(), 3);
  ASSERT_TRUE(split.ok()) << split.status();
  // Three replicas that wait for each other cannot share two threads.
  ThreadPool two(2);
  auto result = (*split)->ForwardBackward(RandomInput(*model, 9, 1), Labels(9), CrossEntropy(),
                                          9.0, nullptr, two);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("BatchNorm"), std::string::npos) << result.status();
  // A slice that fails after its forward releases the others waiting in the backward
  // statistics: the step returns its error instead of hanging.
  ThreadPool three(3);
  const std::vector<int64_t> labels = Labels(9);
  const SliceLoss ok_loss = CrossEntropy();
  const SliceLoss failing = [&](const Tensor& z, absl::Span<const int64_t> l,
                                Tensor* dz) -> absl::StatusOr<float> {
    if (l.data() != labels.data()) return absl::InternalError("slice loss failed");
    return ok_loss(z, l, dz);
  };
  result = (*split)->ForwardBackward(RandomInput(*model, 9, 2), labels, failing, 9.0, nullptr,
                                     three);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("slice loss failed"), std::string::npos);
  // And the next step runs normally.
  result = (*split)->ForwardBackward(RandomInput(*model, 9, 3), labels, ok_loss, 9.0, nullptr,
                                     three);
  EXPECT_TRUE(result.ok()) << result.status();
}

TEST(BatchSplitTest, RejectsBadArgumentsBeforeTouchingGradients) {
  std::unique_ptr<Model> model = MakeModel();
  auto one = BatchSplit::Create(model.get(), 1);
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("slices must be >= 2"), std::string::npos);
  auto split = BatchSplit::Create(model.get(), 2);
  ASSERT_TRUE(split.ok()) << split.status();
  model->ZeroGrad();
  const Tensor x = RandomInput(*model, 5, 7);
  std::vector<int64_t> labels = {0, 1, 2, 9, 1};
  auto bad_label =
      (*split)->ForwardBackward(x, labels, CrossEntropy(), 5.0, nullptr, DefaultThreadPool());
  ASSERT_FALSE(bad_label.ok());
  EXPECT_NE(bad_label.status().message().find("label 9 of sample 3"), std::string::npos)
      << bad_label.status();
  auto short_labels =
      (*split)->ForwardBackward(x, {0, 1}, CrossEntropy(), 5.0, nullptr, DefaultThreadPool());
  ASSERT_FALSE(short_labels.ok());
  EXPECT_NE(short_labels.status().message().find("2 labels for a batch of 5"), std::string::npos)
      << short_labels.status();
  Tensor wrong(Shape({5, 1, 9, 7}));
  EXPECT_FALSE((*split)
                   ->ForwardBackward(wrong, {0, 1, 2, 3, 1}, CrossEntropy(), 5.0, nullptr,
                                     DefaultThreadPool())
                   .ok());
  EXPECT_FALSE(
      (*split)
          ->ForwardBackward(x, {0, 1, 2, 3, 1}, CrossEntropy(), -1.0, nullptr, DefaultThreadPool())
          .ok());
  for (const NamedParameter& p : model->Params()) {
    for (int64_t i = 0; i < p.param->grad.size(); ++i) ASSERT_EQ(p.param->grad[i], 0.0f);
  }
}

TEST(BatchSplitTest, ABatchSmallerThanTheSlicesUsesOneSlicePerSample) {
  std::unique_ptr<Model> plain = MakeModel(), split_model = MakeModel();
  auto split = BatchSplit::Create(split_model.get(), 3);
  ASSERT_TRUE(split.ok()) << split.status();
  for (int64_t n : {1, 2}) {
    const Tensor x = RandomInput(*plain, n, 8);
    const std::vector<int64_t> labels = Labels(n);
    plain->ZeroGrad();
    split_model->ZeroGrad();
    auto want = PlainStep(*plain, x, labels);
    (*split)->SetSampleKeys(2, Ids(n));
    auto got = (*split)->ForwardBackward(x, labels, CrossEntropy(), static_cast<double>(n), nullptr,
                                         DefaultThreadPool());
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_NEAR(*got, *want, 1e-5 * std::max(1.0f, std::fabs(*want)));
    EXPECT_LT(GradientDifference(*split_model, *plain), 1e-5);
  }
}

}  // namespace
}  // namespace simdnet
