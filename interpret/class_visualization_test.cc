// Tests for class visualization: the score rises on a small trained model, the image stays in
// [0, 1], runs are deterministic, option errors name the flag; blur and jitter helpers.
#include "interpret/class_visualization.h"

#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/loss.h"
#include "layers/model_spec.h"
#include "optim/make_optimizer.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

constexpr int64_t kSide = 10;

// Draws a synthetic 1 x 10 x 10 image of class k: 0 a horizontal bar, 1 a vertical bar, 2 a
// bright square, at a random place, with noise.
void DrawSample(int64_t k, Rng& rng, float* out) {
  for (int64_t i = 0; i < kSide * kSide; ++i) out[i] = 0.1f * rng.Uniform();
  const int64_t a = 2 + static_cast<int64_t>(rng.UniformInt(6));
  for (int64_t t = 1; t < kSide - 1; ++t) {
    if (k == 0) out[a * kSide + t] = 1.0f;
    if (k == 1) out[t * kSide + a] = 1.0f;
  }
  if (k == 2) {
    for (int64_t y = a - 1; y <= a; ++y) {
      for (int64_t x = a - 1; x <= a; ++x) out[y * kSide + x] = 1.0f;
    }
  }
}

// A small CNN trained for a few hundred SGD steps on DrawSample (shared by the tests).
Model& TrainedModel() {
  static Model* model = [] {
    auto m = ModelFromSpec(
        "input 1x10x10; conv 6 k3 p1; relu; maxpool k2; conv 8 k3 p1; relu; flatten; "
        "linear classes",
        std::nullopt, 3, 11);
    EXPECT_TRUE(m.ok()) << m.status();
    auto opt = MakeOptimizer("sgd:lr=0.05,momentum=0.9");
    EXPECT_TRUE(opt.ok()) << opt.status();
    Rng rng(5);
    Tensor x(Shape({32, 1, kSide, kSide}));
    std::vector<int64_t> labels(32);
    for (int step = 0; step < 300; ++step) {
      for (int64_t s = 0; s < 32; ++s) {
        labels[static_cast<size_t>(s)] = s % 3;
        DrawSample(s % 3, rng, x.data() + s * kSide * kSide);
      }
      (*m)->ZeroGrad();
      auto loss = (*m)->ForwardBackward(x, [&](const Tensor& z, Tensor* dz) {
        return SoftmaxCrossEntropy(z, labels, dz);
      });
      EXPECT_TRUE(loss.ok());
      EXPECT_TRUE((*opt)->Step((*m)->Params(), 0.05).ok());
    }
    (*m)->SetMode(Mode::kEval);
    return m->release();
  }();
  return *model;
}

PixelModel Pixels() {
  auto pm = PixelModel::Create(&TrainedModel(), Normalization{});
  EXPECT_TRUE(pm.ok());
  return *pm;
}

ClassVisualizationOptions SmallOptions() {
  ClassVisualizationOptions o;
  o.steps = 60;
  o.snapshot_every = 20;
  return o;
}

TEST(ClassVisualizationTest, ScoreRisesForEveryClassAndImageStaysInRange) {
  PixelModel pm = Pixels();
  auto result = VisualizeClasses(pm, {0, 1, 2}, SmallOptions());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->size(), 3u);
  for (const ClassVisualization& v : *result) {
    ASSERT_EQ(v.scores.size(), 60u);
    const float first = std::accumulate(v.scores.begin(), v.scores.begin() + 10, 0.0f) / 10;
    const float last = std::accumulate(v.scores.end() - 10, v.scores.end(), 0.0f) / 10;
    EXPECT_GT(last, first) << "class " << v.class_index;
    EXPECT_GT(v.final_score, v.initial_score) << "class " << v.class_index;
    for (int64_t i = 0; i < v.image.size(); ++i) {
      ASSERT_GE(v.image[i], 0.0f);
      ASSERT_LE(v.image[i], 1.0f);
    }
    EXPECT_EQ(v.snapshot_steps, (std::vector<int64_t>{0, 20, 40, 60}));
  }
}

TEST(ClassVisualizationTest, DeterministicForASeedAndIndependentOfOtherClasses) {
  PixelModel pm = Pixels();
  auto a = VisualizeClasses(pm, {0, 2}, SmallOptions());
  auto b = VisualizeClasses(pm, {2}, SmallOptions());
  ASSERT_TRUE(a.ok() && b.ok());
  for (int64_t i = 0; i < (*a)[1].image.size(); ++i) {
    ASSERT_EQ((*a)[1].image[i], (*b)[0].image[i]);
  }
  ClassVisualizationOptions other = SmallOptions();
  other.seed = 2;
  auto c = VisualizeClasses(pm, {2}, other);
  ASSERT_TRUE(c.ok());
  double diff = 0.0;
  for (int64_t i = 0; i < (*c)[0].image.size(); ++i) {
    diff += std::fabs((*c)[0].image[i] - (*b)[0].image[i]);
  }
  EXPECT_GT(diff, 0.0);
}

TEST(ClassVisualizationTest, BadOptionsNameTheFlag) {
  PixelModel pm = Pixels();
  auto message = [&](const std::vector<int64_t>& classes, const ClassVisualizationOptions& o) {
    return std::string(VisualizeClasses(pm, classes, o).status().message());
  };
  EXPECT_NE(message({3}, SmallOptions()).find("--class=3: must be in [0, 3)"),
            std::string::npos);
  ClassVisualizationOptions o = SmallOptions();
  o.steps = 0;
  EXPECT_NE(message({0}, o).find("--steps=0"), std::string::npos);
  o = SmallOptions();
  o.learning_rate = 0.0f;
  EXPECT_NE(message({0}, o).find("--lr=0"), std::string::npos);
  o = SmallOptions();
  o.decay = 1.0f;
  EXPECT_NE(message({0}, o).find("--decay=1"), std::string::npos);
  o = SmallOptions();
  o.contribution_percentile = 100.0f;
  EXPECT_NE(message({0}, o).find("--clip_percentile=100"), std::string::npos);
  o = SmallOptions();
  o.center = 1.5f;
  EXPECT_NE(message({0}, o).find("--center=1.5"), std::string::npos);
}

TEST(ClassVisualizationTest, BlackCenterStartsFromBlackAndStillRaisesTheScore) {
  PixelModel pm = Pixels();
  ClassVisualizationOptions o = SmallOptions();
  o.center = 0.0f;
  o.init_std = 0.0f;
  auto result = VisualizeClasses(pm, {1}, o);
  ASSERT_TRUE(result.ok()) << result.status();
  const ClassVisualization& v = (*result)[0];
  for (int64_t i = 0; i < v.snapshots[0].size(); ++i) ASSERT_EQ(v.snapshots[0][i], 0.0f);
  EXPECT_GT(v.final_score, v.initial_score);
}

TEST(ClassVisualizationTest, BlurOfConstantIsConstant) {
  Tensor x(Shape({2, 3, 7, 9}));
  x.SetAll(0.3f);
  GaussianBlurPlanes(&x, 1.3f);
  for (int64_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], 0.3f, 1e-6f);
}

TEST(ClassVisualizationTest, JitterRoundTripRestoresImage) {
  Tensor x(Shape({2, 2, 5, 6}));
  Rng rng(3);
  for (int64_t i = 0; i < x.size(); ++i) x[i] = rng.Uniform();
  const Tensor original = x.Clone();
  RollPlanes(&x, {2, -3}, {-1, 7});
  double moved = 0.0;
  for (int64_t i = 0; i < x.size(); ++i) moved += std::fabs(x[i] - original[i]);
  EXPECT_GT(moved, 0.0);
  RollPlanes(&x, {-2, 3}, {1, -7});
  for (int64_t i = 0; i < x.size(); ++i) ASSERT_EQ(x[i], original[i]);
}

}  // namespace
}  // namespace simdnet
