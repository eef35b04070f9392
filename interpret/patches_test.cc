// Tests for receptive fields (hand-computed cases), top-K activations (against brute force) and
// the deconvnet / guided projections (support inside the field, hooks removed afterwards).
#include "interpret/patches.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

std::unique_ptr<Model> Spec(const std::string& spec, int64_t classes = 3) {
  auto model = ModelFromSpec(spec, std::nullopt, classes, 5);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

ReceptiveField Field(Model& model, const std::string& layer) {
  auto rf = ReceptiveFieldOf(model, layer);
  EXPECT_TRUE(rf.ok()) << rf.status();
  return rf.ok() ? *rf : ReceptiveField{};
}

void ExpectField(const ReceptiveField& rf, int64_t size, int64_t stride, int64_t offset) {
  EXPECT_EQ(rf.size_h, size);
  EXPECT_EQ(rf.size_w, size);
  EXPECT_EQ(rf.stride_h, stride);
  EXPECT_EQ(rf.stride_w, stride);
  EXPECT_EQ(rf.offset_h, offset);
  EXPECT_EQ(rf.offset_w, offset);
}

TEST(ReceptiveFieldTest, TwoPaddedThreeByThreeConvsSeeFive) {
  auto m = Spec("input 1x16x16; conv 2 k3 p1; relu; conv 2 k3 p1; maxpool k2; flatten; "
                "linear classes");
  ExpectField(Field(*m, "0"), 3, 1, -1);
  ExpectField(Field(*m, "1"), 3, 1, -1);  // ReLU passes through
  ExpectField(Field(*m, "2"), 5, 1, -2);
  ExpectField(Field(*m, "3"), 6, 2, -2);  // + maxpool k2 s2
}

TEST(ReceptiveFieldTest, DilatedConv) {
  auto m = Spec("input 1x16x16; conv 2 k3 d2; flatten; linear classes");
  ExpectField(Field(*m, "0"), 5, 1, 0);
}

TEST(ReceptiveFieldTest, SameAndAsymmetricConvPadsShiftByTheLeadingPad) {
  // k4 same: total pad 3, top/left 1 (SAME_UPPER) or 2 (same_lower); pad=2,2,0,0 leads by 2.
  auto m = Spec("input 1x16x16; conv 2 k4 same; conv 2 k4 same_lower; conv 2 k3 pad=2,2,0,0; "
                "flatten; linear classes");
  ExpectField(Field(*m, "0"), 4, 1, -1);
  ExpectField(Field(*m, "1"), 7, 1, -3);
  ExpectField(Field(*m, "2"), 9, 1, -5);
}

TEST(ReceptiveFieldTest, DilatedAndSamePaddedMaxPooling) {
  // maxpool k2 d2 s1: a window spans 3 pixels; then maxpool k3 s2 same: total pad 1 on a
  // 14-wide input, leading pad 0 (SAME_UPPER).
  auto m = Spec("input 1x16x16; maxpool k2 s1 d2; maxpool k3 s2 same; flatten; linear classes");
  ExpectField(Field(*m, "0"), 3, 1, 0);
  ExpectField(Field(*m, "1"), 5, 2, 0);
}

TEST(ReceptiveFieldTest, StridedConvThenConv) {
  auto m = Spec("input 1x17x17; conv 2 k5 s2; conv 2 k3; flatten; linear classes");
  ExpectField(Field(*m, "0"), 5, 2, 0);
  ExpectField(Field(*m, "1"), 9, 2, 0);  // 5 + (3 - 1) * 2
}

TEST(ReceptiveFieldTest, VggSmall) {
  auto model = LoadModel("vgg-small", std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectField(Field(**model, "features.5"), 5, 1, -2);
  ExpectField(Field(**model, "features.6"), 6, 2, -2);
  ExpectField(Field(**model, "features.12"), 14, 2, -6);
  ExpectField(Field(**model, "features.13"), 16, 4, -6);
  // After flatten every unit sees the whole image.
  ExpectField(Field(**model, "classifier.1"), 28, 4, 0);
}

TEST(ReceptiveFieldTest, ResidualTakesMainBranchAndReachesShortcut) {
  auto model = LoadModel("resnet-small", std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  ExpectField(Field(**model, "stem.2"), 3, 1, -1);
  ExpectField(Field(**model, "stage1"), 7, 1, -3);
  ExpectField(Field(**model, "stage2.0.0"), 9, 2, -4);   // main conv k3 s2 p1
  ExpectField(Field(**model, "stage2.0"), 13, 2, -6);   // main branch wins
  ExpectField(Field(**model, "stage2.0.shortcut.0"), 7, 2, -3);  // 1x1 s2 projection
  ExpectField(Field(**model, "stage2.1"), 13, 2, -6);
}

TEST(ReceptiveFieldTest, UnknownLayerNamesFlag) {
  auto m = Spec("input 1x8x8; conv 2 k3; flatten; linear classes");
  auto rf = ReceptiveFieldOf(*m, "features.99");
  ASSERT_FALSE(rf.ok());
  EXPECT_NE(rf.status().message().find("--layer=features.99"), std::string::npos);
}

TEST(PatchBoxTest, ClipsToImage) {
  ReceptiveField rf{5, 5, 1, 1, -2, -2};
  PatchBox b = PatchBoxAt(rf, 0, 3, 8, 8);
  EXPECT_EQ(b.y0, 0);
  EXPECT_EQ(b.y1, 3);
  EXPECT_EQ(b.x0, 1);
  EXPECT_EQ(b.x1, 6);
  b = PatchBoxAt(rf, 7, 7, 8, 8);
  EXPECT_EQ(b.y0, 5);
  EXPECT_EQ(b.y1, 8);
}

InMemoryDataset RandomImages(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  InMemoryDataset d;
  d.num = n;
  d.channels = c;
  d.height = h;
  d.width = w;
  d.classes = {"a", "b", "c"};
  Rng rng(seed);
  for (int64_t i = 0; i < n * c * h * w; ++i) {
    d.pixels.push_back(static_cast<uint8_t>(rng.UniformInt(256)));
  }
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 3));
  return d;
}

constexpr char kSmallCnn[] =
    "input 1x12x12; conv 4 k3 p1; relu; conv 6 k3 p1; relu; maxpool k2; conv 5 k3; relu; "
    "flatten; linear classes";

TEST(TopActivationsTest, MatchesBruteForceAcrossBatches) {
  auto m = Spec(kSmallCnn);
  auto pixels_model = PixelModel::Create(m.get(), Normalization{});
  ASSERT_TRUE(pixels_model.ok()) << pixels_model.status();
  InMemoryDataset data = RandomImages(37, 1, 12, 12, 3);
  TopActivationOptions o;
  o.layer = "3";
  o.channels = {0, 5, 2};
  o.k = 5;
  o.batch = 8;
  auto top = FindTopActivations(*pixels_model, data, o);
  ASSERT_TRUE(top.ok()) << top.status();
  // Brute force: one image at a time.
  std::vector<int64_t> all(37);
  for (int64_t i = 0; i < 37; ++i) all[static_cast<size_t>(i)] = i;
  auto pixels = GatherPixels(data, all);
  ASSERT_TRUE(pixels.ok());
  Tensor logits;
  std::vector<Tensor> outs;
  ASSERT_TRUE(pixels_model->ForwardWithOutputs(*pixels, {"3"}, &logits, &outs).ok());
  for (size_t j = 0; j < o.channels.size(); ++j) {
    std::vector<std::pair<float, int64_t>> best;
    for (int64_t i = 0; i < 37; ++i) {
      const float* a = outs[0].data() + (i * 6 + o.channels[j]) * 144;
      best.push_back({*std::max_element(a, a + 144), i});
    }
    std::sort(best.begin(), best.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    ASSERT_EQ((*top)[j].size(), 5u);
    for (size_t r = 0; r < 5; ++r) {
      EXPECT_EQ((*top)[j][r].image, best[r].second) << "channel " << o.channels[j];
      EXPECT_FLOAT_EQ((*top)[j][r].activation, best[r].first);
      const TopActivation& t = (*top)[j][r];
      EXPECT_EQ(outs[0][((t.image * 6 + o.channels[j]) * 12 + t.y) * 12 + t.x], t.activation);
      EXPECT_EQ(t.label, data.labels[static_cast<size_t>(t.image)]);
    }
  }
}

TEST(TopActivationsTest, ErrorsNameTheFlag) {
  auto m = Spec(kSmallCnn);
  auto pm = PixelModel::Create(m.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  InMemoryDataset data = RandomImages(4, 1, 12, 12, 3);
  TopActivationOptions o;
  o.layer = "features.99";
  o.channels = {0};
  EXPECT_NE(FindTopActivations(*pm, data, o).status().message().find("--layer=features.99"),
            std::string::npos);
  o.layer = "3";
  o.channels = {6};
  const std::string m6(FindTopActivations(*pm, data, o).status().message());
  EXPECT_NE(m6.find("--layer_channels"), std::string::npos) << m6;
  EXPECT_NE(m6.find("[0, 6)"), std::string::npos) << m6;
  o.channels = {0};
  o.k = 0;
  EXPECT_NE(FindTopActivations(*pm, data, o).status().message().find("--k=0"),
            std::string::npos);
  o.k = 1;
  o.layer = "8";  // flatten: not a feature map
  EXPECT_NE(FindTopActivations(*pm, data, o).status().message().find("--layer=8"),
            std::string::npos);
}

TEST(ProjectionTest, DeconvnetSupportLiesInReceptiveFieldAndHooksAreRemoved) {
  auto m = Spec(kSmallCnn);
  auto pm = PixelModel::Create(m.get(), Normalization{});
  ASSERT_TRUE(pm.ok());
  InMemoryDataset data = RandomImages(3, 1, 12, 12, 9);
  auto pixels = GatherPixels(data, {0, 1, 2});
  ASSERT_TRUE(pixels.ok());
  // Layer "6" (relu after the unpadded conv after the pool): output 5x4x4, field 10, stride 2.
  const std::string layer = "6";
  auto rf = ReceptiveFieldOf(*m, layer);
  ASSERT_TRUE(rf.ok());
  ExpectField(*rf, 10, 2, -2);
  const std::vector<int64_t> ch = {0, 3, 4}, ys = {0, 2, 3}, xs = {3, 1, 0};
  auto plain = ProjectActivations(*pm, layer, *pixels, ch, ys, xs, ProjectionRule::kGradient);
  ASSERT_TRUE(plain.ok()) << plain.status();
  for (ProjectionRule rule : {ProjectionRule::kDeconvnet, ProjectionRule::kGuided}) {
    auto proj = ProjectActivations(*pm, layer, *pixels, ch, ys, xs, rule);
    ASSERT_TRUE(proj.ok()) << proj.status();
    double inside = 0.0;
    for (int64_t s = 0; s < 3; ++s) {
      const PatchBox box = FullPatchBox(*rf, ys[static_cast<size_t>(s)],
                                        xs[static_cast<size_t>(s)]);
      for (int64_t y = 0; y < 12; ++y) {
        for (int64_t x = 0; x < 12; ++x) {
          const float v = (*proj)[(s * 12 + y) * 12 + x];
          if (y < box.y0 || y >= box.y1 || x < box.x0 || x >= box.x1) {
            EXPECT_EQ(v, 0.0f) << "sample " << s << " at " << y << "," << x;
          } else {
            inside += std::fabs(v);
          }
        }
      }
    }
    EXPECT_GT(inside, 0.0);
  }
  // Hooks are gone: the plain gradient is unchanged, and the deconvnet rule changed something.
  auto again = ProjectActivations(*pm, layer, *pixels, ch, ys, xs, ProjectionRule::kGradient);
  ASSERT_TRUE(again.ok());
  auto deconv = ProjectActivations(*pm, layer, *pixels, ch, ys, xs, ProjectionRule::kDeconvnet);
  ASSERT_TRUE(deconv.ok());
  double diff_plain = 0.0, diff_deconv = 0.0;
  for (int64_t i = 0; i < plain->size(); ++i) {
    diff_plain += std::fabs((*again)[i] - (*plain)[i]);
    diff_deconv += std::fabs((*deconv)[i] - (*plain)[i]);
  }
  EXPECT_EQ(diff_plain, 0.0);
  EXPECT_GT(diff_deconv, 0.0);
  Tensor logits, dx;
  ASSERT_TRUE(pm->Forward(*pixels, &logits).ok());
  Tensor grad(logits.shape());
  grad.SetAll(1.0f);
  ASSERT_TRUE(pm->InputGradient(grad, &dx).ok());  // no hook left to misbehave
}

}  // namespace
}  // namespace simdnet
