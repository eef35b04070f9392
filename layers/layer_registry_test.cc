// Tests of the layer registry: every built-in keyword is linked in, the keyword list and the
// grammar help come from it, a layer registered outside model_spec parses, and Layer::ToSpec /
// Model::ToSpec round-trip every preset and every option (spec -> model -> ToSpec -> model with
// identical parameter names and values).
#include "layers/layer_registry.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/model.h"
#include "layers/model_spec.h"
#include "layers/pooling.h"
#include "layers/sequential.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// A layer type registered here, outside model_spec.cc: "test_relu" builds a ReLU (it reuses
// Activation; the point is the registration path).
[[maybe_unused]] const bool kTestKeyword = RegisterLayerSpec(
    {"test_relu", "test_relu    a ReLU registered by layer_registry_test", SpecBody::kNone, "",
     [](LayerSpecContext& c) -> absl::StatusOr<std::unique_ptr<Layer>> {
       SIMDNET_ASSIGN_OR_RETURN(auto scale, c.args.Float("scale=", "scale"));
       SIMDNET_RETURN_IF_ERROR(c.args.Finish("scale=F"));
       if (scale && *scale != 1.0f) return c.Error("scale must be 1");
       return c.Wrap(Activation::Create({}, c.input));
     }});

// Expects that two models have the same parameters, buffers (names and values) and RNG names.
void ExpectSameModel(Model& a, Model& b) {
  const std::vector<NamedParameter> pa = a.Params(), pb = b.Params();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].name, pb[i].name);
    ASSERT_EQ(pa[i].param->value.shape(), pb[i].param->value.shape()) << pa[i].name;
    for (int64_t j = 0; j < pa[i].param->value.size(); ++j) {
      ASSERT_EQ(pa[i].param->value.data()[j], pb[i].param->value.data()[j])
          << pa[i].name << "[" << j << "]";
    }
    EXPECT_EQ(pa[i].param->weight_decay, pb[i].param->weight_decay) << pa[i].name;
  }
  const std::vector<NamedBuffer> ba = a.Buffers(), bb = b.Buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (size_t i = 0; i < ba.size(); ++i) EXPECT_EQ(ba[i].name, bb[i].name);
  EXPECT_EQ(a.root().Describe(), b.root().Describe());
  EXPECT_EQ(a.root().OutputShape(), b.root().OutputShape());
}

// Builds `spec`, prints it, rebuilds the print, and checks both models and both prints agree.
void ExpectRoundTrip(const std::string& spec, int64_t classes, const std::string& what) {
  SCOPED_TRACE(what);
  constexpr uint64_t kSeed = 77;
  absl::StatusOr<std::unique_ptr<Model>> first =
      ModelFromSpec(spec, std::nullopt, classes, kSeed, what);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::string> printed = (*first)->ToSpec();
  ASSERT_TRUE(printed.ok()) << printed.status();
  absl::StatusOr<std::unique_ptr<Model>> second =
      ModelFromSpec(*printed, std::nullopt, classes, kSeed, "printed spec");
  ASSERT_TRUE(second.ok()) << second.status() << "\n" << *printed;
  ExpectSameModel(**first, **second);
  absl::StatusOr<std::string> reprinted = (*second)->ToSpec();
  ASSERT_TRUE(reprinted.ok()) << reprinted.status();
  EXPECT_EQ(*printed, *reprinted);
}

TEST(LayerRegistryTest, EveryBuiltInKeywordIsLinkedIn) {
  const std::vector<std::string> keywords = LayerSpecKeywords();
  for (const char* k : {"avgpool", "bn", "conv", "dropout", "flatten", "gap", "leaky_relu",
                        "linear", "log_softmax", "lrelu", "maxpool", "maxunpool", "relu", "relu6",
                        "residual", "sigmoid", "tanh", "test_relu"}) {
    EXPECT_NE(FindLayerSpec(k), nullptr) << k;
    EXPECT_TRUE(absl::StrContains(SpecGrammarHelp(), std::string("\n") + k + " ") ||
                absl::StrContains(SpecGrammarHelp(), std::string("\n") + k + "\n"))
        << k;
  }
  for (const char* type :
       {"conv2d", "linear", "batch_norm1d", "batch_norm2d", "relu", "leaky_relu", "tanh", "sigmoid",
        "relu6", "maxpool2d", "avgpool2d", "maxunpool2d", "global_avgpool2d", "flatten",
        "log_softmax", "dropout", "residual", "sequential"}) {
    EXPECT_NE(FindSpecPrinter(type), nullptr) << type;
  }
  EXPECT_EQ(FindLayerSpec("block"), nullptr);
  EXPECT_EQ(FindLayerSpec("nonesuch"), nullptr);
  EXPECT_TRUE(IsSpecSecondKeyword("shortcut"));
  EXPECT_FALSE(IsSpecSecondKeyword("residual"));
}

TEST(LayerRegistryTest, UnknownKeywordListsTheRegistryAtLineAndColumn) {
  absl::StatusOr<std::unique_ptr<Model>> m =
      ModelFromSpec("input 4\n  rleu\nlinear classes\n", std::nullopt, 3, 1);
  ASSERT_FALSE(m.ok());
  const std::string msg(m.status().message());
  EXPECT_TRUE(absl::StrContains(msg, "model spec:2:3: 'rleu': unknown layer")) << msg;
  for (const std::string& k : LayerSpecKeywords()) {
    EXPECT_TRUE(absl::StrContains(msg, k)) << k << " missing from: " << msg;
  }
}

TEST(LayerRegistryTest, KeywordRegisteredOutsideTheParserBuildsAndChecksOptions) {
  absl::StatusOr<std::unique_ptr<Model>> m =
      ModelFromSpec("input 5\ntest_relu scale=1\nlinear classes\n", std::nullopt, 2, 1);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->root().layer(0).TypeName(), "relu");
  m = ModelFromSpec("input 5\ntest_relu scale=2\nlinear classes\n", std::nullopt, 2, 1);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(absl::StrContains(m.status().message(), ":2:1: 'test_relu': scale must be 1"))
      << m.status();
  m = ModelFromSpec("input 5\ntest_relu k3\nlinear classes\n", std::nullopt, 2, 1);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(absl::StrContains(m.status().message(), ":2:11: 'k3': unknown or repeated"))
      << m.status();
  m = ModelFromSpec("input 5\ntest_relu { relu }\n", std::nullopt, 2, 1);
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(absl::StrContains(m.status().message(), "takes no '{' body")) << m.status();
}

TEST(LayerRegistryTest, EveryPresetRoundTripsThroughToSpec) {
  for (const std::string& name : PresetNames()) {
    absl::StatusOr<std::string> spec = PresetSpec(name);
    ASSERT_TRUE(spec.ok());
    // The torchvision presets (up to 138M parameters) round-trip in torchvision_specs_test.
    if (absl::StartsWith(*spec, "# torchvision")) continue;
    ExpectRoundTrip(*spec, 10, name);
  }
}

TEST(LayerRegistryTest, EveryOptionRoundTripsThroughToSpec) {
  ExpectRoundTrip(
      "input 3x13x11\n"
      "conv 6 k3x5 s2x1 same d1x2 nobias init=kaiming_normal:fan_out:relu\n"
      "conv 6 k3 same_lower g3 bias_init=constant:0.25 init=xavier_uniform:tanh\n"
      "conv 4 k2 pad=0,1,1,0 d2; bn eps=0.001 momentum=0.3 momentum_convention=onnx var=biased\n"
      "lrelu 0.2; tanh; sigmoid; relu; relu6\n"
      "block enc { maxpool k3 s2 p1 ceil name=p1 }\n"
      "block dec { maxunpool p1 }\n"
      "maxpool k2 pad=0,0,1,1 d1x2\n"
      "avgpool k3 s1 p1 exclude_pad ceil; avgpool k2 divisor=3; avgpool k2 same\n"
      "residual { conv 4 k3 p1; bn noaffine } shortcut { conv 4 k1 }\n"
      "residual { relu }\n"
      "residual { conv 4 k1; relu } shortcut downsample { conv 4 k1; bn }\n"
      "block 5x { log_softmax; dropout 0.125 }\n"
      "gap; bn; flatten; linear 7 nobias init=normal:0.02; dropout; linear classes\n",
      5, "all options");
}

TEST(LayerRegistryTest, ModelBuiltInCppRoundTrips) {
  constexpr uint64_t kSeed = 5;
  Rng rng(kSeed);
  auto root = std::move(Sequential::Create(Shape({2, 8, 8}))).value();
  Conv2dOptions conv;
  conv.out_channels = 3;
  conv.kernel_h = 3;
  conv.kernel_w = 1;
  conv.pads = Conv2dPads{1, 0, 1, 2};
  ASSERT_TRUE(root->Add(Conv2d::Create(conv, root->OutputShape(), rng)).ok());
  auto features = std::move(Sequential::Create(root->OutputShape())).value();
  Pool2dOptions pool;
  pool.kernel_h = pool.kernel_w = 2;
  ASSERT_TRUE(features->Add(Pool2d::Create(pool, features->OutputShape())).ok());
  ASSERT_TRUE(root->Add(std::move(features), "features").ok());
  ASSERT_TRUE(root->Add(GlobalAvgPool2d::Create(root->OutputShape())).ok());
  LinearOptions fc;
  fc.out_features = 4;
  ASSERT_TRUE(root->Add(Linear::Create(fc, root->OutputShape(), rng)).ok());
  auto model = std::move(Model::Create(std::move(root), 4)).value();

  absl::StatusOr<std::string> spec = model->ToSpec();
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(*spec,
            "input 2x8x8\n"
            "conv 3 k3x1 pad=1,0,1,2\n"
            "block features {\n"
            "  maxpool k2\n"
            "}\n"
            "gap\n"
            "linear 4\n");
  auto rebuilt = ModelFromSpec(*spec, std::nullopt, 4, kSeed);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  ExpectSameModel(*model, **rebuilt);
}

TEST(LayerRegistryTest, ToSpecNamesWhatASpecCannotExpress) {
  auto root = std::move(Sequential::Create(Shape({4}))).value();
  // Leaf names print as "name=NAME" when a spec can write them (letters, digits, '_', '-').
  ASSERT_TRUE(root->Add(Activation::Create({}, root->OutputShape()), "a+b").ok());
  absl::StatusOr<std::string> spec = root->ToSpec();
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(spec.status().message(), "'a+b'")) << spec.status();

  auto pooled = std::move(Sequential::Create(Shape({1, 4, 4}))).value();
  auto pool = Pool2d::Create(Pool2dOptions{}, pooled->OutputShape());
  ASSERT_TRUE(pool.ok());
  const Pool2d* pool_ptr = pool->get();
  ASSERT_TRUE(pooled->Add(std::move(pool)).ok());
  ASSERT_TRUE(pooled->Add(MaxUnpool2d::Create(pool_ptr, pooled->OutputShape())).ok());
  spec = pooled->ToSpec();
  ASSERT_FALSE(spec.ok());
  EXPECT_TRUE(absl::StrContains(spec.status().message(), "no name")) << spec.status();
}

TEST(LayerRegistryTest, FloatsPrintShortAndExact) {
  for (float v : {0.1f, 1e-5f, 0.3f, 1.0f / 3.0f, 123456.789f, -0.2f, 0.0f}) {
    const std::string text = FormatSpecFloat(v);
    SpecError err("t");
    absl::StatusOr<float> back = ParseSpecFloat(SpecToken{}, text, "v", err);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, v) << text;
  }
  EXPECT_EQ(FormatSpecFloat(0.1f), "0.1");
  EXPECT_EQ(FormatSpecFloat(1e-5f), "1e-05");
}

}  // namespace
}  // namespace simdnet
