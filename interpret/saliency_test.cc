// Tests for interpret/saliency: vanilla gradients against finite differences, SmoothGrad's
// sigma = 0 limit and determinism, guided backpropagation's ReLU rule, Grad-CAM on a network
// built so that only one channel matters, and the flag-naming errors.
#include "interpret/saliency.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "interpret/source.h"
#include "layers/model.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace {

std::unique_ptr<Model> MakeModel(const char* spec, int64_t classes, uint64_t seed) {
  auto model = ModelFromSpec(spec, std::nullopt, classes, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  (*model)->SetMode(Mode::kEval);
  return std::move(model).value();
}

// Smooth everywhere (tanh), so central differences are accurate; 2 channels for the max.
constexpr char kTanhNet[] = R"(input 2x5x5
conv 3 k3 p1; tanh
conv 2 k3 p1; tanh
flatten
linear classes
)";

constexpr char kReluNet[] = R"(input 1x6x6
relu
conv 4 k3 p1; relu
conv 4 k3 p1; relu
flatten
linear 8; relu
linear classes
)";

Normalization PerChannel2() {
  Normalization n;
  n.kind = Normalization::Kind::kPerChannel;
  n.channels = 2;
  n.height = n.width = 5;
  n.mean = {0.25f, 0.5f};
  n.stddev = {0.5f, 2.0f};
  return n;
}

Tensor RandomPixels(const Shape& shape, uint64_t seed) {
  Tensor t(shape);
  Rng rng(seed);
  rng.FillUniform(t.data(), static_cast<size_t>(t.size()), 0.0f, 1.0f);
  return t;
}

TEST(VanillaSaliencyTest, EqualsMaxOverChannelsOfFiniteDifferencesOfTheLogit) {
  auto model = MakeModel(kTanhNet, 4, 7);
  auto pm = PixelModel::Create(model.get(), PerChannel2());
  ASSERT_TRUE(pm.ok()) << pm.status();
  Tensor pixels = RandomPixels(Shape({2, 2, 5, 5}), 1);
  const std::vector<int64_t> classes = {1, 3};
  auto map = VanillaSaliency(*pm, pixels, classes);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->shape(), Shape({2, 5, 5}));
  // Central differences in float with h = 1e-2 (pixels): truncation O(h^2) and rounding
  // O(1e-7 / h) both stay below 1e-4 here; the bound is 5e-4 + 1% of the value.
  const float h = 1e-2f;
  Tensor logits;
  for (int64_t s = 0; s < 2; ++s) {
    for (int64_t k = 0; k < 25; ++k) {
      float expected = 0.0f;
      for (int64_t c = 0; c < 2; ++c) {
        const int64_t idx = s * 50 + c * 25 + k;
        Tensor x = pixels.Clone();
        x[idx] = pixels[idx] + h;
        ASSERT_TRUE(pm->Forward(x, &logits).ok());
        const float up = logits[s * 4 + classes[static_cast<size_t>(s)]];
        x[idx] = pixels[idx] - h;
        ASSERT_TRUE(pm->Forward(x, &logits).ok());
        const float down = logits[s * 4 + classes[static_cast<size_t>(s)]];
        expected = std::max(expected, std::fabs((up - down) / (2 * h)));
      }
      const float got = (*map)[s * 25 + k];
      EXPECT_NEAR(got, expected, 5e-4f + 0.01f * expected) << "image " << s << " pixel " << k;
    }
  }
}

TEST(VanillaSaliencyTest, ForSourceMatchesPerBatchMapsOfThePredictedClass) {
  auto model = MakeModel(kReluNet, 3, 2);
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  InMemoryDataset data;
  data.num = 5;
  data.channels = 1;
  data.height = data.width = 6;
  data.classes = {"a", "b", "c"};
  data.labels = {0, 1, 2, 0, 1};
  Rng rng(4);
  for (int64_t i = 0; i < 5 * 36; ++i) data.pixels.push_back(static_cast<uint8_t>(rng.UniformInt(256)));
  auto all = VanillaSaliencyForSource(*pm, data, /*batch_size=*/2);
  ASSERT_TRUE(all.ok()) << all.status();
  Tensor pixels = data.ToTensor();
  Tensor logits;
  ASSERT_TRUE(pm->Forward(pixels, &logits).ok());
  auto one = VanillaSaliency(*pm, pixels, ArgMaxRows(logits));
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(all->shape(), one->shape());
  for (int64_t i = 0; i < one->size(); ++i) EXPECT_NEAR((*all)[i], (*one)[i], 1e-5f);
  EXPECT_FALSE(VanillaSaliencyForSource(*pm, data, 0).ok());
}

TEST(GuidedBackpropTest, EqualsThePlainGradientWithoutRelus) {
  auto model = MakeModel(kTanhNet, 4, 7);
  auto pm = PixelModel::Create(model.get(), PerChannel2());
  ASSERT_TRUE(pm.ok());
  Tensor pixels = RandomPixels(Shape({3, 2, 5, 5}), 2);
  const std::vector<int64_t> classes = {0, 2, 3};
  Tensor plain;
  ASSERT_TRUE(ClassScoreGradient(*pm, pixels, classes, &plain).ok());
  auto guided = GuidedBackprop(*pm, pixels, classes);
  ASSERT_TRUE(guided.ok()) << guided.status();
  ASSERT_EQ(guided->shape(), plain.shape());
  for (int64_t i = 0; i < plain.size(); ++i) EXPECT_EQ((*guided)[i], plain[i]);
}

// The first layer is a ReLU on the pixels, so the guided gradient at the pixels is that ReLU's
// guided dx: it must be >= 0 everywhere, while the plain gradient of the same net has negative
// entries. Afterwards the hooks are gone: the plain gradient is unchanged.
TEST(GuidedBackpropTest, ReluRuleClampsEveryRelusGradientAndHooksAreRemoved) {
  auto model = MakeModel(kReluNet, 3, 5);
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  Tensor pixels = RandomPixels(Shape({4, 1, 6, 6}), 3);
  const std::vector<int64_t> classes = {0, 1, 2, 1};
  Tensor before, after;
  ASSERT_TRUE(ClassScoreGradient(*pm, pixels, classes, &before).ok());
  auto guided = GuidedBackprop(*pm, pixels, classes);
  ASSERT_TRUE(guided.ok());
  int64_t negative = 0, differs = 0;
  for (int64_t i = 0; i < before.size(); ++i) {
    EXPECT_GE((*guided)[i], 0.0f);
    negative += before[i] < 0.0f;
    differs += before[i] != (*guided)[i];
  }
  EXPECT_GT(negative, 0);
  EXPECT_GT(differs, 0);
  ASSERT_TRUE(ClassScoreGradient(*pm, pixels, classes, &after).ok());
  for (int64_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]);
}

// Channel 0 of the conv is the image, channel 1 its complement 1 - x; class 0 reads only
// channel 0 and class 1 only channel 1. Grad-CAM for class 0 must light up exactly where the
// image is bright, and for class 1 exactly where it is dark.
TEST(GradCamTest, HighlightsWhereTheOnlyChannelThatMattersIsActive) {
  auto model = MakeModel("input 1x8x8\nconv 2 k1\nrelu\nflatten\nlinear classes\n", 2, 1);
  for (const NamedParameter& p : model->Params()) {
    Tensor& v = p.param->value;
    if (p.name == "0.weight") {
      v[0] = 1.0f;
      v[1] = -1.0f;
    } else if (p.name == "0.bias") {
      v[0] = 0.0f;
      v[1] = 1.0f;
    } else if (p.name == "3.weight") {  // (2, 128): class k reads channel k
      v.SetAll(0.0f);
      for (int64_t k = 0; k < 64; ++k) {
        v[k] = 1.0f;
        v[128 + 64 + k] = 1.0f;
      }
    } else if (p.name == "3.bias") {
      v.SetAll(0.0f);
    }
  }
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  Tensor pixels(Shape({2, 1, 8, 8}));
  pixels.SetAll(0.0f);
  auto bright = [](int64_t y, int64_t x) { return y < 3 && x >= 2 && x < 5; };
  for (int64_t s = 0; s < 2; ++s) {
    for (int64_t y = 0; y < 8; ++y) {
      for (int64_t x = 0; x < 8; ++x) pixels[s * 64 + y * 8 + x] = bright(y, x) ? 1.0f : 0.0f;
    }
  }
  auto layer = DefaultGradCamLayer(*model);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(*layer, "1");  // the ReLU after the conv
  auto cam = GradCam(*pm, pixels, {0, 1}, *layer);
  ASSERT_TRUE(cam.ok()) << cam.status();
  ASSERT_EQ(cam->shape(), Shape({2, 8, 8}));
  for (int64_t y = 0; y < 8; ++y) {
    for (int64_t x = 0; x < 8; ++x) {
      EXPECT_FLOAT_EQ((*cam)[y * 8 + x], bright(y, x) ? 1.0f : 0.0f) << y << "," << x;
      EXPECT_FLOAT_EQ((*cam)[64 + y * 8 + x], bright(y, x) ? 0.0f : 1.0f) << y << "," << x;
    }
  }
  // The same at the conv itself, and upsampled from a pooled layer it stays in [0, 1].
  auto at_conv = GradCam(*pm, pixels, {0, 1}, "0");
  ASSERT_TRUE(at_conv.ok());
  for (int64_t i = 0; i < 128; ++i) EXPECT_FLOAT_EQ((*at_conv)[i], (*cam)[i]);
}

TEST(GradCamTest, UpsamplesACoarseLayerIntoZeroOne) {
  auto model = MakeModel(kReluNet, 3, 5);
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  auto pooled = MakeModel("input 1x6x6\nconv 4 k3 p1; relu\nmaxpool k2\nconv 4 k3 p1; relu\n"
                          "flatten\nlinear classes\n", 3, 9);
  auto pp = PixelModel::Create(pooled.get(), Normalization{});
  ASSERT_TRUE(pp.ok());
  auto layer = DefaultGradCamLayer(*pooled);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(*layer, "4");
  Tensor pixels = RandomPixels(Shape({3, 1, 6, 6}), 8);
  auto cam = GradCam(*pp, pixels, {0, 1, 2}, *layer);
  ASSERT_TRUE(cam.ok()) << cam.status();
  ASSERT_EQ(cam->shape(), Shape({3, 6, 6}));
  for (int64_t s = 0; s < 3; ++s) {
    float peak = 0.0f;
    for (int64_t k = 0; k < 36; ++k) {
      const float v = (*cam)[s * 36 + k];
      EXPECT_GE(v, 0.0f);
      EXPECT_LE(v, 1.0f);
      peak = std::max(peak, v);
    }
    EXPECT_TRUE(peak == 0.0f || peak == 1.0f) << peak;
  }
}

TEST(GradCamTest, DefaultLayerOfVggSmallIsTheLastReluBeforePooling) {
  auto spec = PresetSpec("vgg-small");
  ASSERT_TRUE(spec.ok());
  auto model = ModelFromSpec(*spec, std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok());
  auto layer = DefaultGradCamLayer(**model);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(*layer, "features.12");
}

TEST(SmoothGradTest, ZeroSigmaEqualsVanilla) {
  auto model = MakeModel(kReluNet, 3, 5);
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  Tensor pixels = RandomPixels(Shape({3, 1, 6, 6}), 4);
  const std::vector<int64_t> classes = {2, 0, 1};
  auto vanilla = VanillaSaliency(*pm, pixels, classes);
  ASSERT_TRUE(vanilla.ok());
  SmoothGradOptions o;
  o.sigma = 0.0f;
  o.samples = 5;
  o.batch_size = 4;
  auto smooth = SmoothGrad(*pm, pixels, classes, o);
  ASSERT_TRUE(smooth.ok()) << smooth.status();
  ASSERT_EQ(smooth->shape(), vanilla->shape());
  for (int64_t i = 0; i < vanilla->size(); ++i) EXPECT_EQ((*smooth)[i], (*vanilla)[i]);
}

TEST(SmoothGradTest, SameSeedSameMapsWhateverTheBatchSize) {
  auto model = MakeModel(kReluNet, 3, 5);
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  Tensor pixels = RandomPixels(Shape({2, 1, 6, 6}), 6);
  SmoothGradOptions o;
  o.samples = 9;
  o.seed = 11;
  auto a = SmoothGrad(*pm, pixels, {0, 1}, o);
  o.batch_size = 4;
  auto b = SmoothGrad(*pm, pixels, {0, 1}, o);
  o.seed = 12;
  auto c = SmoothGrad(*pm, pixels, {0, 1}, o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  int64_t differs = 0;
  for (int64_t i = 0; i < a->size(); ++i) {
    EXPECT_NEAR((*a)[i], (*b)[i], 1e-6f);
    differs += (*a)[i] != (*c)[i];
  }
  EXPECT_GT(differs, 0);
}

TEST(SaliencyErrorsTest, NameTheFlag) {
  auto model = MakeModel(kReluNet, 3, 5);
  auto pm = PixelModel::Create(model.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  Tensor pixels = RandomPixels(Shape({2, 1, 6, 6}), 6);
  Tensor logits;
  ASSERT_TRUE(pm->Forward(pixels, &logits).ok());
  auto bad_class = ResolveClasses({12}, logits, "--class");
  ASSERT_FALSE(bad_class.ok());
  EXPECT_NE(bad_class.status().message().find("--class=12: must be in [0, 3)"), std::string::npos)
      << bad_class.status();
  EXPECT_FALSE(ResolveClasses({0, 1, 2}, logits, "--class").ok());
  auto one = ResolveClasses({2}, logits, "--class");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::vector<int64_t>({2, 2}));
  auto predicted = ResolveClasses({}, logits, "--class");
  ASSERT_TRUE(predicted.ok());
  EXPECT_EQ(*predicted, ArgMaxRows(logits));

  auto bad_layer = GradCam(*pm, pixels, {0, 1}, "features.99");
  ASSERT_FALSE(bad_layer.ok());
  EXPECT_NE(bad_layer.status().message().find("--layer=features.99"), std::string::npos)
      << bad_layer.status();
  auto flat_layer = GradCam(*pm, pixels, {0, 1}, "7");  // flatten: (144)
  ASSERT_FALSE(flat_layer.ok());
  EXPECT_NE(flat_layer.status().message().find("--layer=7"), std::string::npos);

  auto wrong_shape = VanillaSaliency(*pm, RandomPixels(Shape({2, 1, 5, 6}), 1), {0, 1});
  ASSERT_FALSE(wrong_shape.ok());
  EXPECT_NE(wrong_shape.status().message().find("(2, 1, 5, 6)"), std::string::npos)
      << wrong_shape.status();
  SmoothGradOptions o;
  o.samples = 0;
  auto s = SmoothGrad(*pm, pixels, {0, 1}, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--smoothgrad_samples=0"), std::string::npos);
  o.samples = 2;
  o.sigma = -1.0f;
  s = SmoothGrad(*pm, pixels, {0, 1}, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--smoothgrad_sigma=-1"), std::string::npos);
  // A bad class in the library calls (not through ResolveClasses) is an error, not a crash.
  EXPECT_FALSE(VanillaSaliency(*pm, pixels, {0, 3}).ok());
}

}  // namespace
}  // namespace simdnet
