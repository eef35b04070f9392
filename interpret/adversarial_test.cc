// Tests for interpret/adversarial on a small model trained in the test on separable synthetic
// images: the targeted attack reaches its target inside the epsilon ball and [0, 1], FGSM at
// epsilon 0 changes nothing, accuracy falls with epsilon, and bad options are rejected naming
// the flag.
#include "interpret/adversarial.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "interpret/source.h"
#include "layers/loss.h"
#include "layers/model.h"
#include "layers/model_spec.h"
#include "optim/make_optimizer.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

constexpr int64_t kClasses = 3;
constexpr int64_t kSide = 4;

// 90 images 1x4x4: background in [0.2, 0.4], and row `label` of the image bright ([0.7, 0.9]).
InMemoryDataset MakeData() {
  InMemoryDataset d;
  d.num = 90;
  d.channels = 1;
  d.height = d.width = kSide;
  d.classes = {"row0", "row1", "row2"};
  Rng rng(3);
  for (int64_t i = 0; i < d.num; ++i) {
    const int32_t label = static_cast<int32_t>(i % kClasses);
    d.labels.push_back(label);
    for (int64_t y = 0; y < kSide; ++y) {
      for (int64_t x = 0; x < kSide; ++x) {
        const float v = y == label ? 0.7f + 0.2f * rng.Uniform() : 0.2f + 0.2f * rng.Uniform();
        d.pixels.push_back(static_cast<uint8_t>(std::lround(v * 255.0f)));
      }
    }
  }
  return d;
}

// Trains "flatten; linear 16; relu; linear 3" on the data to 100% training accuracy.
std::unique_ptr<Model> TrainModel(const InMemoryDataset& data) {
  auto model = ModelFromSpec("input 1x4x4\nflatten\nlinear 16; relu\nlinear classes\n",
                             std::nullopt, kClasses, 5);
  EXPECT_TRUE(model.ok()) << model.status();
  auto opt = MakeOptimizer("sgd:lr=0.2,momentum=0.9");
  EXPECT_TRUE(opt.ok()) << opt.status();
  const Tensor x = data.ToTensor();
  const std::vector<int64_t> labels(data.labels.begin(), data.labels.end());
  for (int step = 0; step < 300; ++step) {
    (*model)->ZeroGrad();
    auto loss = (*model)->ForwardBackward(x, [&](const Tensor& z, Tensor* dz) {
      return SoftmaxCrossEntropy(z, labels, dz);
    });
    EXPECT_TRUE(loss.ok());
    EXPECT_TRUE((*opt)->Step((*model)->Params(), (*opt)->base_lr()).ok());
  }
  (*model)->SetMode(Mode::kEval);
  Tensor logits;
  EXPECT_TRUE((*model)->Forward(x, &logits).ok());
  const std::vector<int64_t> predicted = ArgMaxRows(logits);
  for (size_t i = 0; i < labels.size(); ++i) EXPECT_EQ(predicted[i], labels[i]) << i;
  return std::move(model).value();
}

class AdversarialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = MakeData();
    model_ = TrainModel(data_);
    auto pm = PixelModel::Create(model_.get(), Normalization{});
    ASSERT_TRUE(pm.ok());
    pm_ = std::make_unique<PixelModel>(*pm);
  }
  InMemoryDataset data_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<PixelModel> pm_;
};

TEST_F(AdversarialTest, TargetedAttackReachesTheTargetInsideTheBall) {
  std::vector<int64_t> indices;
  std::vector<int64_t> targets;
  for (int64_t i = 0; i < 6; ++i) {
    indices.push_back(i);
    targets.push_back((i % kClasses + 1) % kClasses);  // never the true class
  }
  auto pixels = GatherPixels(data_, indices);
  ASSERT_TRUE(pixels.ok());
  IterativeAttackOptions o;
  o.epsilon = 0.5f;
  o.alpha = 0.02f;
  o.max_steps = 200;
  Tensor adv;
  auto results = TargetedAttack(*pm_, *pixels, targets, o, &adv);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(adv.shape(), pixels->shape());
  Tensor logits;
  ASSERT_TRUE(pm_->Forward(adv, &logits).ok());
  const std::vector<int64_t> predicted = ArgMaxRows(logits);
  for (size_t s = 0; s < results->size(); ++s) {
    const TargetedAttackResult& r = (*results)[s];
    EXPECT_TRUE(r.success) << "image " << s;
    EXPECT_EQ(predicted[s], targets[s]);
    EXPECT_EQ(r.class_after, targets[s]);
    EXPECT_EQ(r.class_before, indices[s] % kClasses);
    EXPECT_GE(r.steps, 1);
    EXPECT_LT(r.steps, o.max_steps);
    EXPECT_GT(r.p_target_after, r.p_target_before);
    EXPECT_LT(r.p_original_after, r.p_original_before);
    float linf = 0.0f;
    double l2 = 0.0;
    for (int64_t k = 0; k < 16; ++k) {
      const float v = adv[static_cast<int64_t>(s) * 16 + k];
      const float d = v - (*pixels)[static_cast<int64_t>(s) * 16 + k];
      EXPECT_GE(v, 0.0f);
      EXPECT_LE(v, 1.0f);
      linf = std::max(linf, std::fabs(d));
      l2 += static_cast<double>(d) * d;
    }
    EXPECT_LE(linf, o.epsilon + 1e-6f);
    EXPECT_FLOAT_EQ(r.linf, linf);
    EXPECT_NEAR(r.l2, std::sqrt(l2), 1e-5);
  }
}

TEST_F(AdversarialTest, TargetAlreadyPredictedTakesNoStep) {
  auto pixels = GatherPixels(data_, {1});
  ASSERT_TRUE(pixels.ok());
  auto results = TargetedAttack(*pm_, *pixels, {1}, IterativeAttackOptions{});
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[0].success);
  EXPECT_EQ((*results)[0].steps, 0);
  EXPECT_EQ((*results)[0].linf, 0.0f);
}

TEST_F(AdversarialTest, FgsmAtEpsilonZeroLeavesAccuracyUnchanged) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < data_.num; ++i) indices.push_back(i);
  std::vector<int32_t> labels32;
  auto pixels = GatherPixels(data_, indices, &labels32);
  ASSERT_TRUE(pixels.ok());
  const std::vector<int64_t> labels(labels32.begin(), labels32.end());
  auto same = Fgsm(*pm_, *pixels, labels, 0.0f);
  ASSERT_TRUE(same.ok());
  for (int64_t i = 0; i < pixels->size(); ++i) ASSERT_EQ((*same)[i], (*pixels)[i]);
  AttackSweepOptions o;
  o.epsilons = {0.0f, 0.05f, 0.5f};
  o.batch_size = 32;
  auto rows = AccuracyUnderAttack(*pm_, data_, indices, o);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].fgsm_accuracy, 1.0);  // the model fits its training data exactly
  EXPECT_EQ((*rows)[0].iterative_accuracy, 1.0);
  // Larger radii never help, and the largest one hurts (the iterative attack at least as much).
  EXPECT_LE((*rows)[2].fgsm_accuracy, (*rows)[1].fgsm_accuracy);
  EXPECT_LT((*rows)[2].fgsm_accuracy, 1.0);
  EXPECT_LT((*rows)[2].iterative_accuracy, 1.0);
  EXPECT_LE((*rows)[2].iterative_accuracy, (*rows)[2].fgsm_accuracy);
  // FGSM stays in [0, 1] and within epsilon.
  auto moved = Fgsm(*pm_, *pixels, labels, 0.1f);
  ASSERT_TRUE(moved.ok());
  for (int64_t i = 0; i < pixels->size(); ++i) {
    EXPECT_GE((*moved)[i], 0.0f);
    EXPECT_LE((*moved)[i], 1.0f);
    EXPECT_LE(std::fabs((*moved)[i] - (*pixels)[i]), 0.1f + 1e-6f);
  }
}

TEST_F(AdversarialTest, RejectsBadOptionsNamingTheFlag) {
  auto pixels = GatherPixels(data_, {0, 1});
  ASSERT_TRUE(pixels.ok());
  auto message = [](const absl::Status& s) { return std::string(s.message()); };
  auto f = Fgsm(*pm_, *pixels, {0, 1}, -1.0f);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(message(f.status()).find("--epsilon=-1"), std::string::npos) << f.status();

  IterativeAttackOptions o;
  o.epsilon = -0.5f;
  auto t = TargetedAttack(*pm_, *pixels, {1, 2}, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(message(t.status()).find("--epsilon=-0.5"), std::string::npos) << t.status();
  o = {};
  o.alpha = 0.0f;
  t = TargetedAttack(*pm_, *pixels, {1, 2}, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(message(t.status()).find("--alpha=0"), std::string::npos) << t.status();
  o = {};
  o.max_steps = 0;
  t = TargetedAttack(*pm_, *pixels, {1, 2}, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(message(t.status()).find("--max_steps=0"), std::string::npos) << t.status();
  o = {};
  t = TargetedAttack(*pm_, *pixels, {1, 7}, o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(message(t.status()).find("--target=7: must be in [0, 3)"), std::string::npos)
      << t.status();
  EXPECT_FALSE(IterativeUntargetedAttack(*pm_, *pixels, {0, 1}, IterativeAttackOptions{
                                                                     0.1f, -1.0f, 10})
                   .ok());
  AttackSweepOptions s;
  s.epsilons = {0.1f, -0.1f};
  auto sweep = AccuracyUnderAttack(*pm_, data_, {0, 1}, s);
  ASSERT_FALSE(sweep.ok());
  EXPECT_NE(message(sweep.status()).find("--epsilons"), std::string::npos);
  s = {};
  EXPECT_FALSE(AccuracyUnderAttack(*pm_, data_, {}, s).ok());
}

}  // namespace
}  // namespace simdnet
