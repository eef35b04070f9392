// Tests for interpret/source: loading a checkpoint for interpretation, the pixel-space model
// (normalization inside, gradients per pixel) and the image selection helpers.
#include "interpret/source.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"
#include "train/checkpoint.h"

namespace simdnet {
namespace {

constexpr char kSpec[] = R"(input 2x5x5
conv 3 k3 p1; relu
maxpool k2
flatten
linear classes
)";

std::unique_ptr<Model> MakeModel() {
  auto model = ModelFromSpec(kSpec, std::nullopt, 4, /*seed=*/3);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

Normalization PerChannel() {
  Normalization n;
  n.kind = Normalization::Kind::kPerChannel;
  n.channels = 2;
  n.height = n.width = 5;
  n.mean = {0.25f, 0.5f};
  n.stddev = {0.5f, 2.0f};
  return n;
}

TEST(PixelModelTest, ForwardNormalizesLikeTheTrainingPipeline) {
  auto model = MakeModel();
  model->SetMode(Mode::kEval);
  auto pm = PixelModel::Create(model.get(), PerChannel());
  ASSERT_TRUE(pm.ok()) << pm.status();
  Tensor pixels(Shape({2, 2, 5, 5}));
  Rng rng(1);
  rng.FillUniform(pixels.data(), pixels.size(), 0.0f, 1.0f);
  Tensor normalized = pixels.Clone();
  PerChannel().Apply(normalized.data(), 2);
  Tensor a, b;
  ASSERT_TRUE(pm->Forward(pixels, &a).ok());
  ASSERT_TRUE(model->Forward(normalized, &b).ok());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]);
}

TEST(PixelModelTest, PixelGradientMatchesFiniteDifferences) {
  auto model = MakeModel();
  model->SetMode(Mode::kEval);
  auto pm = PixelModel::Create(model.get(), PerChannel());
  ASSERT_TRUE(pm.ok());
  Tensor pixels(Shape({1, 2, 5, 5}));
  Rng rng(2);
  rng.FillUniform(pixels.data(), pixels.size(), 0.0f, 1.0f);
  Tensor logits, dpixels;
  ASSERT_TRUE(pm->Forward(pixels, &logits).ok());
  Tensor onehot(logits.shape());
  onehot.SetAll(0.0f);
  onehot[2] = 1.0f;
  ASSERT_TRUE(pm->InputGradient(onehot, &dpixels).ok());
  // Central differences of logit 2 in float; h = 1e-2 keeps rounding below ~1e-4 and the
  // piecewise-linear net is exact away from kinks (inputs uniform, kinks rare).
  const float h = 1e-2f;
  int checked = 0, agree = 0;
  for (int64_t i = 0; i < pixels.size(); ++i) {
    Tensor p = pixels.Clone();
    p[i] += h;
    Tensor up, down;
    ASSERT_TRUE(pm->Forward(p, &up).ok());
    p[i] -= 2 * h;
    ASSERT_TRUE(pm->Forward(p, &down).ok());
    const float numeric = (up[2] - down[2]) / (2 * h);
    ++checked;
    if (std::fabs(numeric - dpixels[i]) <= 2e-3f + 1e-2f * std::fabs(numeric)) ++agree;
  }
  // A ReLU or max-pool switch can flip inside +-h for a few pixels; all others agree.
  EXPECT_GE(agree, checked - 3) << agree << " of " << checked;
}

TEST(PixelModelTest, RejectsNormalizationOfAnotherShape) {
  auto model = MakeModel();
  Normalization n = PerChannel();
  n.channels = 3;
  n.mean = {0, 0, 0};
  n.stddev = {1, 1, 1};
  EXPECT_FALSE(PixelModel::Create(model.get(), n).ok());
}

TEST(LoadModelForInterpretationTest, ReadsModelStatisticsAndClassNamesInEvalMode) {
  auto model = MakeModel();
  CheckpointInfo info;
  info.model_spec = kSpec;
  info.input_shape = Shape({2, 5, 5});
  info.num_classes = 4;
  info.class_names = {"a", "b", "c", "d"};
  info.normalization = PerChannel();
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/m.safetensors";
  ASSERT_TRUE(SaveCheckpoint(path, *model, info, nullptr).ok());
  auto loaded = LoadModelForInterpretation(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->model->mode(), Mode::kEval);
  EXPECT_EQ(loaded->ClassName(2), "c");
  EXPECT_EQ(loaded->ClassName(9), "9");
  EXPECT_EQ(loaded->normalization.stddev, PerChannel().stddev);
  auto missing = LoadModelForInterpretation(path + ".nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find(".nope"), std::string::npos);
  EXPECT_FALSE(LoadModelForInterpretation("").ok());
  // Not an image model of 1 or 3 channels: image files cannot be read for it.
  auto files = ReadImageFilesAsPixels(*loaded, {"x.png"});
  ASSERT_FALSE(files.ok());
  EXPECT_NE(std::string(files.status().message()).find("1 or 3 channels"), std::string::npos);
}

TEST(GatherPixelsTest, ReadsSamplesAndLabelsAndRejectsBadIndices) {
  InMemoryDataset data;
  data.num = 3;
  data.channels = 1;
  data.height = 1;
  data.width = 2;
  data.pixels = {0, 255, 51, 102, 10, 20};
  data.labels = {2, 0, 1};
  data.classes = {"x", "y", "z"};
  std::vector<int32_t> labels;
  auto px = GatherPixels(data, {2, 0}, &labels);
  ASSERT_TRUE(px.ok()) << px.status();
  EXPECT_EQ(px->shape(), Shape({2, 1, 1, 2}));
  EXPECT_FLOAT_EQ((*px)[0], 10.0f / 255.0f);
  EXPECT_FLOAT_EQ((*px)[3], 1.0f);
  EXPECT_EQ(labels, (std::vector<int32_t>{1, 2}));
  auto bad = GatherPixels(data, {3});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("index 3"), std::string::npos);
  EXPECT_FALSE(GatherPixels(data, {}).ok());
}

TEST(SourceHelpersTest, ArgMaxAndSoftmax) {
  auto z = Tensor::FromVector(Shape({2, 3}), {1, 3, 2, 0, 0, 0});
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(ArgMaxRows(*z), (std::vector<int64_t>{1, 0}));
  const Tensor p = SoftmaxRows(*z);
  EXPECT_NEAR(p[3], 1.0 / 3, 1e-6);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-6);
}

}  // namespace
}  // namespace simdnet
