// Tests for interpret/activation_stats (+ _render, _command): statistics of hand-computed
// tensors, the five behaviours of the CS231n initialization experiment, determinism, layer-name
// errors, CSV content, rendering and the command's option errors.
#include "interpret/activation_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "interpret/activation_stats_command.h"
#include "interpret/activation_stats_render.h"
#include "layers/activation.h"
#include "layers/linear.h"
#include "layers/model.h"
#include "layers/sequential.h"
#include "tensor/atomic_file.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "train/plot.h"

namespace simdnet {
namespace {

std::string TempDir(const std::string& name) {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base ? base : "/tmp", "/", name);
  std::filesystem::create_directories(dir);
  return dir;
}

Tensor Make(const Shape& shape, const std::vector<float>& values) {
  absl::StatusOr<Tensor> t = Tensor::FromVector(shape, values);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

// 8 values, hand-computed: sum 10 -> mean 1.25; sum of squares 40 -> var 40/8 - 1.25^2 =
// 3.4375; three exact zeros.
const std::vector<float> kKnown = {0, 0, 1, 2, 3, -1, 0, 5};

TEST(TensorStatsTest, KnownValuesAutoRange) {
  ActivationStatsOptions o;
  o.bins = 6;
  const LayerActivationStats s = ComputeTensorStats(Make(Shape({2, 4}), kKnown), o);
  EXPECT_EQ(s.shape, Shape({4}));
  EXPECT_EQ(s.count, 8);
  EXPECT_EQ(s.non_finite, 0);
  EXPECT_DOUBLE_EQ(s.mean, 1.25);
  EXPECT_NEAR(s.std, std::sqrt(3.4375), 1e-12);
  EXPECT_DOUBLE_EQ(s.fraction_zero, 3.0 / 8.0);
  EXPECT_EQ(s.min, -1.0);
  EXPECT_EQ(s.max, 5.0);
  EXPECT_EQ(s.hist_lo, -1.0);
  EXPECT_EQ(s.hist_hi, 5.0);
  // Unit-wide bins [-1,0) [0,1) [1,2) [2,3) [3,4) [4,5]: the max lands in the closed last bin.
  EXPECT_EQ(s.histogram, (std::vector<int64_t>{1, 3, 1, 1, 1, 1}));
}

TEST(TensorStatsTest, FixedRangeCountsOutsideValuesInEndBins) {
  ActivationStatsOptions o;
  o.bins = 2;
  o.fixed_range = true;
  o.range_lo = 0.0;
  o.range_hi = 2.0;
  const LayerActivationStats s = ComputeTensorStats(Make(Shape({8}), kKnown), o);
  // [0, 1): -1 (clamped), 0, 0, 0; [1, 2]: 1, 2, 3 and 5 (clamped).
  EXPECT_EQ(s.histogram, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(s.shape, Shape(absl::Span<const int64_t>()));
}

TEST(TensorStatsTest, NonFiniteValuesAreCountedApart) {
  std::vector<float> v = kKnown;
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  v.push_back(std::numeric_limits<float>::infinity());
  ActivationStatsOptions o;
  o.bins = 6;
  const LayerActivationStats s = ComputeTensorStats(Make(Shape({10}), v), o);
  EXPECT_EQ(s.count, 10);
  EXPECT_EQ(s.non_finite, 2);
  EXPECT_DOUBLE_EQ(s.mean, 1.25);
  EXPECT_EQ(s.histogram, (std::vector<int64_t>{1, 3, 1, 1, 1, 1}));
}

TEST(TensorStatsTest, ConstantTensorWidensTheRangeLikeNumpy) {
  ActivationStatsOptions o;
  o.bins = 5;
  const LayerActivationStats s = ComputeTensorStats(Make(Shape({3}), {2, 2, 2}), o);
  EXPECT_EQ(s.std, 0.0);
  EXPECT_EQ(s.hist_lo, 1.5);
  EXPECT_EQ(s.hist_hi, 2.5);
  EXPECT_EQ(s.histogram, (std::vector<int64_t>{0, 0, 3, 0, 0}));
}

TEST(TensorStatsTest, BadOptionsNameTheField) {
  ActivationStatsOptions o;
  o.bins = 0;
  EXPECT_TRUE(absl::StrContains(ValidateActivationStatsOptions(o).message(), "bins=0"));
  o.bins = 10;
  o.fixed_range = true;
  o.range_lo = 1.0;
  o.range_hi = 1.0;
  EXPECT_TRUE(absl::StrContains(ValidateActivationStatsOptions(o).message(), "range_lo"));
}

// A small MLP: fc1 (8 -> 16), relu1, fc2 (16 -> 3), built from the real layers.
std::unique_ptr<Model> SmallMlp() {
  Rng rng(3);
  auto net = Sequential::Create(Shape({8}));
  EXPECT_TRUE(net.ok());
  LinearOptions l1;
  l1.out_features = 16;
  EXPECT_TRUE((*net)->Add(Linear::Create(l1, Shape({8}), rng), "fc1").ok());
  EXPECT_TRUE((*net)->Add(Activation::Create({}, Shape({16})), "relu1").ok());
  LinearOptions l2;
  l2.out_features = 3;
  EXPECT_TRUE((*net)->Add(Linear::Create(l2, Shape({16}), rng), "fc2").ok());
  auto model = Model::Create(std::move(*net), 3);
  EXPECT_TRUE(model.ok());
  return std::move(*model);
}

Tensor RandomInput(int64_t n, int64_t d) {
  Tensor x(Shape({n, d}));
  Rng(5).FillNormal(x.data(), static_cast<size_t>(x.size()), 0.0f, 1.0f);
  return x;
}

TEST(ActivationStatsTest, DefaultsToEveryLeafAndRestoresTrainMode) {
  std::unique_ptr<Model> model = SmallMlp();
  ASSERT_EQ(model->mode(), Mode::kTrain);
  auto stats = ComputeActivationStats(*model, RandomInput(32, 8), {}, {});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 3u);
  EXPECT_EQ((*stats)[0].name, "fc1");
  EXPECT_EQ((*stats)[1].name, "relu1");
  EXPECT_EQ((*stats)[1].description, "ReLU()");
  EXPECT_EQ((*stats)[1].shape, Shape({16}));
  EXPECT_EQ((*stats)[1].count, 32 * 16);
  EXPECT_GE((*stats)[1].min, 0.0);
  EXPECT_GT((*stats)[1].fraction_zero, 0.2);  // about half of a ReLU's inputs are negative
  EXPECT_EQ((*stats)[2].shape, Shape({3}));
  EXPECT_EQ(model->mode(), Mode::kTrain);
}

TEST(ActivationStatsTest, UnknownLayerIsNotFoundListingValidNames) {
  std::unique_ptr<Model> model = SmallMlp();
  auto stats = ComputeActivationStats(*model, RandomInput(4, 8), {"relu1", "conv9"}, {});
  ASSERT_EQ(stats.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(stats.status().message(), "conv9")) << stats.status();
  EXPECT_TRUE(absl::StrContains(stats.status().message(), "fc1")) << stats.status();
  EXPECT_TRUE(absl::StrContains(stats.status().message(), "relu1")) << stats.status();
}

TEST(ActivationStatsTest, WrongInputShapeIsInvalidArgument) {
  std::unique_ptr<Model> model = SmallMlp();
  auto stats = ComputeActivationStats(*model, RandomInput(4, 7), {}, {});
  EXPECT_EQ(stats.status().code(), absl::StatusCode::kInvalidArgument);
}

// The lecture-sized experiment (10 x 500, 1000 inputs) runs once for all tests below (~4 s on
// 2 cores).
const InitExperimentResult& Lecture() {
  static const InitExperimentResult* result = [] {
    auto r = RunInitExperiment({});
    EXPECT_TRUE(r.ok()) << r.status();
    return new InitExperimentResult(std::move(*r));
  }();
  return *result;
}

const InitSettingResult& Setting(const std::string& name) {
  for (const InitSettingResult& r : Lecture().settings) {
    if (r.setting.name == name) return r;
  }
  ADD_FAILURE() << "no setting " << name;
  return Lecture().settings.front();
}

TEST(InitExperimentTest, HasFiveSettingsOfTenLayers) {
  ASSERT_EQ(Lecture().settings.size(), 5u);
  for (const InitSettingResult& r : Lecture().settings) {
    ASSERT_EQ(r.layers.size(), 10u) << r.setting.name;
    EXPECT_EQ(r.layers[0].count, 1000 * 500);
    EXPECT_EQ(r.layers[9].name, "layer 10");
  }
}

// tanh(z) ~ z near 0, so each layer multiplies the std by sqrt(fan_in) * 0.01 = sqrt(500) * 0.01
// = 0.2236: layer 10 is at about 0.2236^10 = 3.1e-7 (measured 2.95e-7).
TEST(InitExperimentTest, TanhSmallWeightsCollapseTowardZero) {
  const InitSettingResult& r = Setting("tanh, std=0.01");
  for (size_t k = 1; k < r.layers.size(); ++k) {
    const double ratio = r.layers[k].std / r.layers[k - 1].std;
    EXPECT_GT(ratio, 0.19) << "layer " << k + 1;
    EXPECT_LT(ratio, 0.25) << "layer " << k + 1;
  }
  EXPECT_LT(r.layers[9].std, 1e-6);
  EXPECT_GT(r.layers[9].std, 1e-8);
}

// z = W a has std about sqrt(500 * E[a^2]) ~ 22, and |tanh(z)| > 0.99 iff |z| > 2.65, so about
// 1 - 2.65 * 0.8 / 22 = 90% of the units saturate at every layer (measured 90.3-90.6%).
TEST(InitExperimentTest, TanhUnitWeightsSaturate) {
  const InitSettingResult& r = Setting("tanh, std=1");
  for (size_t k = 0; k < r.layers.size(); ++k) {
    EXPECT_GT(r.fraction_saturated[k], 0.85) << "layer " << k + 1;
    EXPECT_GT(r.layers[k].std, 0.95) << "layer " << k + 1;
  }
}

// Layer 1: z ~ N(0, 1), std(tanh z) = sqrt(E[tanh^2 z]) = 0.628; afterwards the variance map
// v -> E[tanh^2(N(0, v))] has slope 1 at 0, so the std decays only slowly (measured 0.627 at
// layer 1, 0.321 at layer 5, 0.227 at layer 10) and nothing saturates.
TEST(InitExperimentTest, TanhXavierStaysHealthy) {
  const InitSettingResult& r = Setting("tanh, Xavier");
  EXPECT_NEAR(r.layers[0].std, 0.628, 0.02);
  for (size_t k = 0; k < r.layers.size(); ++k) {
    EXPECT_GT(r.layers[k].std, 0.15) << "layer " << k + 1;
    EXPECT_LT(r.layers[k].std, 0.8) << "layer " << k + 1;
    EXPECT_LT(r.fraction_saturated[k], 0.05) << "layer " << k + 1;
  }
}

// With ReLU half the units are 0, so E[a^2] halves per layer and the std shrinks by about
// 1/sqrt(2) = 0.707 per layer: layer 10 is near 0.584 * 0.5^4.5 = 0.026 (measured 0.0235).
TEST(InitExperimentTest, ReluXavierHalvesTheSecondMomentPerLayer) {
  const InitSettingResult& r = Setting("relu, Xavier");
  for (size_t k = 1; k < r.layers.size(); ++k) {
    const double ratio = r.layers[k].std / r.layers[k - 1].std;
    EXPECT_GT(ratio, 0.6) << "layer " << k + 1;
    EXPECT_LT(ratio, 0.8) << "layer " << k + 1;
  }
  for (const LayerActivationStats& s : r.layers) {
    EXPECT_NEAR(s.fraction_zero, 0.5, 0.06) << s.name;
  }
  EXPECT_LT(r.layers[9].std, 0.05);
  EXPECT_LT(r.layers[9].std, r.layers[0].std / 15);
}

// He: z ~ N(0, 2 E[a^2]) keeps E[a^2] = 1, so std(relu z) = sqrt(1 - 1/pi) = 0.826 at every
// layer up to finite-width noise (measured 0.75-0.89).
TEST(InitExperimentTest, ReluHeKeepsTheScale) {
  const InitSettingResult& r = Setting("relu, He");
  EXPECT_NEAR(r.layers[0].std, 0.826, 0.03);
  for (const LayerActivationStats& s : r.layers) {
    EXPECT_GT(s.std, 0.6) << s.name;
    EXPECT_LT(s.std, 1.1) << s.name;
  }
  const double ratio = r.layers[9].std / r.layers[0].std;
  EXPECT_GT(ratio, 0.7);
  EXPECT_LT(ratio, 1.3);
}

TEST(InitExperimentTest, SameSeedGivesIdenticalResults) {
  InitExperimentOptions o;
  o.layers = 4;
  o.width = 64;
  o.samples = 100;
  auto a = RunInitExperiment(o);
  auto b = RunInitExperiment(o);
  o.seed = 2;
  auto c = RunInitExperiment(o);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  for (size_t i = 0; i < a->settings.size(); ++i) {
    for (size_t k = 0; k < 4; ++k) {
      const LayerActivationStats& sa = a->settings[i].layers[k];
      const LayerActivationStats& sb = b->settings[i].layers[k];
      EXPECT_EQ(sa.mean, sb.mean);
      EXPECT_EQ(sa.std, sb.std);
      EXPECT_EQ(sa.histogram, sb.histogram);
      EXPECT_NE(sa.std, c->settings[i].layers[k].std);
    }
  }
}

TEST(InitExperimentTest, BadOptionsNameTheField) {
  InitExperimentOptions o;
  o.layers = 0;
  EXPECT_TRUE(absl::StrContains(RunInitExperiment(o).status().message(), "layers=0"));
  o = {};
  o.width = 5000;
  EXPECT_TRUE(absl::StrContains(RunInitExperiment(o).status().message(), "width=5000"));
  o = {};
  o.settings = {{"bad", ActivationKind::kTanh, InitSpec()}};
  o.settings[0].weight_init.kind = InitKind::kNormal;
  o.settings[0].weight_init.std = -1.0f;
  EXPECT_TRUE(absl::StrContains(RunInitExperiment(o).status().message(), "'bad'"));
}

TEST(ActivationStatsCsvTest, OneLinePerLayerWithQuotedNames) {
  LayerActivationStats a;
  a.name = "features.0";
  a.mean = 0.5;
  a.std = 0.25;
  a.fraction_zero = 0.125;
  a.min = -1;
  a.max = 2;
  LayerActivationStats b;
  b.name = "odd,name";
  EXPECT_EQ(FormatActivationStatsCsv({a, b}),
            "layer,mean,std,fraction_zero,min,max\n"
            "features.0,0.5,0.25,0.125,-1,2\n"
            "\"odd,name\",0,0,0,0,0\n");
  const std::string path = TempDir("csv") + "/stats.csv";
  ASSERT_TRUE(WriteCsvFile(path, FormatActivationStatsCsv({a})).ok());
  auto read = ReadFile(path);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, FormatActivationStatsCsv({a}));
}

TEST(InitExperimentReportTest, WritesPicturesCsvAndTable) {
  const std::string dir = TempDir("init");
  auto table = WriteInitExperimentReport(Lecture(), dir);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(absl::StrContains(*table, "relu, He:"));
  EXPECT_TRUE(absl::StrContains(*table, "saturated (|a| > 0.99) up to 90."));  // tanh, std=1
  EXPECT_TRUE(absl::StrContains(*table, "exact zeros up to"));
  for (const char* f : {"init_histograms.png", "init_std.svg", "init_mean.svg"}) {
    EXPECT_GT(std::filesystem::file_size(absl::StrCat(dir, "/", f)), 1000u) << f;
  }
  auto csv = ReadFile(dir + "/init_experiment.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_TRUE(absl::StartsWith(
      *csv, "setting,layer,mean,std,fraction_zero,min,max,fraction_saturated\n"));
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 1 + 5 * 10);
  auto image = RenderInitExperimentHistograms(Lecture());
  ASSERT_TRUE(image.ok());
  EXPECT_LE(image->width, 2000);
}

TEST(ModelReportTest, WritesRowsPictureCsvAndTable) {
  std::unique_ptr<Model> model = SmallMlp();
  const std::string dir = TempDir("model");
  auto table = WriteModelActivationReport(*model, RandomInput(64, 8), {}, dir, "small MLP");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(absl::StrContains(*table, "relu1"));
  EXPECT_GT(std::filesystem::file_size(dir + "/activations.png"), 1000u);
  auto csv = ReadFile(dir + "/activations.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 4);
  EXPECT_TRUE(absl::StrContains(*csv, "\nrelu1,"));
}

TEST(ModelReportTest, UnknownLayerNamesTheFlagAndTheValidNames) {
  std::unique_ptr<Model> model = SmallMlp();
  auto table = WriteModelActivationReport(*model, RandomInput(4, 8), {"fc3"}, TempDir("bad"), "");
  ASSERT_FALSE(table.ok());
  EXPECT_TRUE(absl::StartsWith(table.status().message(), "--layers: ")) << table.status();
  EXPECT_TRUE(absl::StrContains(table.status().message(), "fc2")) << table.status();
}

TEST(ActivationsCommandTest, BadOptionsNameTheFlag) {
  ActivationsCommandOptions o;
  o.init_experiment = true;
  o.out_dir = TempDir("cmd");
  o.samples = 0;
  EXPECT_EQ(RunActivationsCommand(o).status().message(), "--samples=0: must be in [1, 10000]");
  o.samples = 10001;
  EXPECT_TRUE(absl::StartsWith(RunActivationsCommand(o).status().message(), "--samples=10001"));
  o.samples = 256;
  o.layers = {"fc1"};
  EXPECT_TRUE(absl::StartsWith(RunActivationsCommand(o).status().message(), "--layers"));
  o.layers.clear();
  o.out_dir = "";
  EXPECT_TRUE(absl::StartsWith(RunActivationsCommand(o).status().message(), "--out"));
  o.out_dir = TempDir("cmd");
  o.init_experiment = false;
  EXPECT_TRUE(absl::StartsWith(RunActivationsCommand(o).status().message(), "--checkpoint"));
  o.checkpoint = TempDir("cmd") + "/missing.safetensors";
  auto missing = RunActivationsCommand(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "missing.safetensors"))
      << missing.status();
}

}  // namespace
}  // namespace simdnet
