// Tests for batched feature extraction: batch boundaries, labels, predictions, the
// penultimate-layer choice and the errors.
#include "interpret/features.h"

#include <memory>

#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

InMemoryDataset RandomData(int64_t n) {
  InMemoryDataset d;
  d.num = n;
  d.channels = 1;
  d.height = d.width = 6;
  Rng rng(5);
  for (int64_t i = 0; i < n * 36; ++i) d.pixels.push_back(static_cast<uint8_t>(rng.UniformInt(256)));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 3));
  d.classes = {"a", "b", "c"};
  return d;
}

TEST(FeaturesTest, BatchedFeaturesEqualOneBigForward) {
  auto model = ModelFromSpec(
      "input 1x6x6\nblock features { conv 4 k3; relu; maxpool k2 }\n"
      "block head { flatten; linear 8; relu; linear classes }\n",
      std::nullopt, 3, 7);
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->SetMode(Mode::kEval);
  auto pm = PixelModel::Create(model->get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  const InMemoryDataset data = RandomData(11);
  FeatureOptions o;
  o.batch_size = 4;  // 4 + 4 + 3
  auto f = ExtractFeatures(*pm, data, "head.2", o);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->values.shape(), Shape({11, 8}));
  EXPECT_EQ(f->labels.size(), 11u);
  EXPECT_EQ(f->labels[4], 1);
  std::vector<int64_t> all;
  for (int64_t i = 0; i < 11; ++i) all.push_back(i);
  auto pixels = GatherPixels(data, all);
  ASSERT_TRUE(pixels.ok());
  Tensor logits;
  std::vector<Tensor> outs;
  ASSERT_TRUE(pm->ForwardWithOutputs(*pixels, {"head.2"}, &logits, &outs).ok());
  for (int64_t i = 0; i < outs[0].size(); ++i) EXPECT_EQ(f->values[i], outs[0][i]) << i;
  EXPECT_EQ(f->predicted, ArgMaxRows(logits));
  o.max_samples = 5;
  auto few = ExtractFeatures(*pm, data, "features.0", o);
  ASSERT_TRUE(few.ok());
  EXPECT_EQ(few->values.shape(), Shape({5, 4 * 4 * 4}));
  EXPECT_EQ(PenultimateLayer(**model), "head.2");
}

TEST(FeaturesTest, ErrorsNameTheProblem) {
  auto model = ModelFromSpec("input 1x6x6\nflatten\nlinear classes\n", std::nullopt, 3, 7);
  ASSERT_TRUE(model.ok());
  auto pm = PixelModel::Create(model->get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  const InMemoryDataset data = RandomData(2);
  auto bad = ExtractFeatures(*pm, data, "9", FeatureOptions{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("'9'"), std::string::npos);
  FeatureOptions o;
  o.batch_size = 0;
  auto zero = ExtractFeatures(*pm, data, "0", o);
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(std::string(zero.status().message()).find("batch_size"), std::string::npos);
}

TEST(FeaturesTest, PenultimateOfVggSmallIsTheDropoutOutput) {
  auto model = ModelFromSpec(*PresetSpec("vgg-small"), std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(PenultimateLayer(**model), "classifier.3");
}

}  // namespace
}  // namespace simdnet
