// Model spec tests: presets build with the expected names and sizes, a spec and the same
// network built in C++ agree bit for bit, and hostile specs get errors naming line, column and
// token.
#include "layers/model_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/pooling.h"
#include "layers/residual.h"
#include "layers/sequential.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

std::vector<std::string> ParamNames(Model& m) {
  std::vector<std::string> names;
  for (const NamedParameter& p : m.Params()) names.push_back(p.name);
  return names;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(ModelSpecTest, Lenet5HasTheClassicParameterCount) {
  auto model = LoadModel("lenet5", std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  // conv1 6*25+6, conv2 16*6*25+16, fc 400*120+120, 120*84+84, 84*10+10.
  EXPECT_EQ((*model)->ParameterCount(), 156 + 2416 + 48120 + 10164 + 850);
  // conv1 150 weights x 28*28, conv2 2400 x 10*10, then 48000 + 10080 + 840.
  EXPECT_NE((*model)->Summary().find("Forward mult-adds per sample: 416,520"), std::string::npos)
      << (*model)->Summary();
  EXPECT_EQ((*model)->InputShape(), Shape({1, 28, 28}));
  const auto names = ParamNames(**model);
  EXPECT_EQ(names.front(), "features.0.weight");
  EXPECT_EQ(names.back(), "classifier.5.bias");
}

TEST(ModelSpecTest, VggSmallNamesBuffersAndDropout) {
  auto model = LoadModel("vgg-small", std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  const auto names = ParamNames(**model);
  EXPECT_TRUE(Contains(names, "features.0.weight"));
  EXPECT_FALSE(Contains(names, "features.0.bias"));  // nobias before bn
  EXPECT_TRUE(Contains(names, "features.1.weight"));
  EXPECT_TRUE(Contains(names, "classifier.4.weight"));
  std::vector<std::string> buffers;
  for (const NamedBuffer& b : (*model)->Buffers()) buffers.push_back(b.name);
  EXPECT_TRUE(Contains(buffers, "features.1.running_mean"));
  ASSERT_EQ((*model)->Rngs().size(), 1u);
  EXPECT_EQ((*model)->Rngs()[0].name, "classifier.3.rng");
  EXPECT_LT((*model)->ParameterCount(), 1000000);
}

TEST(ModelSpecTest, ResnetSmallHasProjectionShortcutsAndRunsOnCifarShape) {
  auto model = LoadModel("resnet-small", std::nullopt, 10, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  const auto names = ParamNames(**model);
  EXPECT_TRUE(Contains(names, "stem.0.weight"));
  EXPECT_TRUE(Contains(names, "stage1.0.0.weight"));
  EXPECT_FALSE(Contains(names, "stage1.0.shortcut.0.weight"));  // identity
  EXPECT_TRUE(Contains(names, "stage2.0.shortcut.0.weight"));
  EXPECT_TRUE(Contains(names, "stage3.0.shortcut.1.weight"));
  EXPECT_TRUE(Contains(names, "head.1.weight"));
  Tensor x(Shape({2, 3, 32, 32})), logits;
  x.SetAll(0.25f);
  ASSERT_TRUE((*model)->Forward(x, &logits).ok());
  EXPECT_EQ(logits.shape(), Shape({2, 10}));
}

TEST(ModelSpecTest, InputShapeOverrideAndClassCount) {
  auto model = LoadModel("lenet5", Shape({3, 32, 32}), 7, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->InputShape(), Shape({3, 32, 32}));
  EXPECT_EQ((*model)->num_classes(), 7);
  for (const std::string& name : PresetNames()) {
    EXPECT_TRUE(PresetSpec(name).ok()) << name;
  }
  EXPECT_EQ(PresetSpec("googlenet").status().code(), absl::StatusCode::kNotFound);
}

// The same network written as a spec and built in C++ from Rng(seed) in the same order.
TEST(ModelSpecTest, SpecAndCppBuildGiveIdenticalOutputs) {
  const uint64_t seed = 1234;
  const char* spec =
      "input 2x9x9\r\n"
      "conv 4 k3 p1 nobias; bn; lrelu 0.2   # CRLF and comments are fine\r\n"
      "residual {\n  conv 4 k3 p1; tanh\n} shortcut { conv 4 k1; bn }\n"
      "avgpool k3 s2 p1 exclude_pad\n"
      "block head { flatten; dropout 0.25; linear classes init=xavier_uniform }\n";
  auto from_spec = ModelFromSpec(spec, std::nullopt, 6, seed);
  ASSERT_TRUE(from_spec.ok()) << from_spec.status();

  Rng rng(seed);
  auto root = std::move(Sequential::Create(Shape({2, 9, 9}))).value();
  Conv2dOptions c0;
  c0.out_channels = 4;
  c0.kernel_h = c0.kernel_w = 3;
  c0.pad_h = c0.pad_w = 1;
  c0.bias = false;
  ASSERT_TRUE(root->Add(Conv2d::Create(c0, root->OutputShape(), rng)).ok());
  ASSERT_TRUE(root->Add(BatchNorm2d::Create({}, root->OutputShape())).ok());
  ActivationOptions lrelu;
  lrelu.kind = ActivationKind::kLeakyRelu;
  lrelu.negative_slope = 0.2f;
  ASSERT_TRUE(root->Add(Activation::Create(lrelu, root->OutputShape())).ok());
  auto main = std::move(Sequential::Create(root->OutputShape())).value();
  Conv2dOptions c1 = c0;
  c1.bias = true;
  ASSERT_TRUE(main->Add(Conv2d::Create(c1, main->OutputShape(), rng)).ok());
  ActivationOptions tanh;
  tanh.kind = ActivationKind::kTanh;
  ASSERT_TRUE(main->Add(Activation::Create(tanh, main->OutputShape())).ok());
  auto shortcut = std::move(Sequential::Create(root->OutputShape())).value();
  Conv2dOptions c2;
  c2.out_channels = 4;
  c2.kernel_h = c2.kernel_w = 1;
  ASSERT_TRUE(shortcut->Add(Conv2d::Create(c2, shortcut->OutputShape(), rng)).ok());
  ASSERT_TRUE(shortcut->Add(BatchNorm2d::Create({}, shortcut->OutputShape())).ok());
  ASSERT_TRUE(root->Add(Residual::Create(std::move(main), std::move(shortcut))).ok());
  Pool2dOptions pool;
  pool.kind = PoolKind::kAvg;
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride_h = pool.stride_w = 2;
  pool.pad_h = pool.pad_w = 1;
  pool.count_include_pad = false;
  ASSERT_TRUE(root->Add(Pool2d::Create(pool, root->OutputShape())).ok());
  auto head = std::move(Sequential::Create(root->OutputShape())).value();
  ASSERT_TRUE(head->Add(Flatten::Create(head->OutputShape())).ok());
  DropoutOptions drop;
  drop.drop_rate = 0.25f;
  ASSERT_TRUE(head->Add(Dropout::Create(drop, head->OutputShape(), rng)).ok());
  LinearOptions lin;
  lin.out_features = 6;
  lin.weight_init = ParseInitSpec("xavier_uniform").value();
  ASSERT_TRUE(head->Add(Linear::Create(lin, head->OutputShape(), rng)).ok());
  ASSERT_TRUE(root->Add(std::move(head), "head").ok());
  auto from_cpp = std::move(Model::Create(std::move(root), 6)).value();

  EXPECT_EQ(ParamNames(**from_spec), ParamNames(*from_cpp));
  EXPECT_EQ((*from_spec)->Summary(), from_cpp->Summary());
  Tensor x(Shape({3, 2, 9, 9}));
  Rng data(5);
  data.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
  Tensor a, b;
  ASSERT_TRUE((*from_spec)->Forward(x, &a).ok());  // training mode: dropout masks must agree
  ASSERT_TRUE(from_cpp->Forward(x, &b).ok());
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(ModelSpecTest, SameSeedSameWeightsDifferentSeedDifferentWeights) {
  auto a = LoadModel("lenet5", std::nullopt, 10, 3);
  auto b = LoadModel("lenet5", std::nullopt, 10, 3);
  auto c = LoadModel("lenet5", std::nullopt, 10, 4);
  const Tensor& wa = (*a)->Params()[0].param->value;
  const Tensor& wb = (*b)->Params()[0].param->value;
  const Tensor& wc = (*c)->Params()[0].param->value;
  bool same = true, differs = false;
  for (int64_t i = 0; i < wa.size(); ++i) {
    same &= wa[i] == wb[i];
    differs |= wa[i] != wc[i];
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

struct BadSpec {
  const char* name;
  std::string spec;
  std::vector<std::string> fragments;  // all must appear in the message
};

class ModelSpecRejectsTest : public ::testing::TestWithParam<BadSpec> {};

TEST_P(ModelSpecRejectsTest, WithAClearMessage) {
  const BadSpec& c = GetParam();
  auto model = ModelFromSpec(c.spec, std::nullopt, 10, 1);
  ASSERT_FALSE(model.ok()) << c.name;
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << model.status();
  // Shown in the test log so the messages can be read as a user sees them.
  std::printf("%-20s %s\n", c.name, std::string(model.status().message()).c_str());
  for (const std::string& f : c.fragments) {
    EXPECT_NE(model.status().message().find(f), std::string::npos)
        << c.name << ": '" << f << "' not in: " << model.status().message();
  }
}

std::string Deep(int depth) {
  std::string s = "input 4\n";
  for (int i = 0; i < depth; ++i) s += "block b {\n";
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, ModelSpecRejectsTest,
    ::testing::Values(
        BadSpec{"Empty", "", {"no input shape"}},
        BadSpec{"OnlyComments", "# nothing\n\n  # here\r\n", {"no input shape"}},
        BadSpec{"NoLayers", "input 1x28x28\n", {"defines no layers"}},
        BadSpec{"UnknownLayer", "input 4\nrleu\n", {"model spec:2:1", "'rleu'", "unknown layer"}},
        BadSpec{"Garbage", "input 4\n@@@ !!", {":2:1", "'@@@'", "unknown layer"}},
        BadSpec{"BinaryByte", std::string("input 4\nrelu\x01\n"), {":2:5", "unexpected character"}},
        BadSpec{"NonAscii", "input 4\nr\xc3\xa9lu\n", {":2:2", "plain ASCII"}},
        BadSpec{"MissingKernel", "input 1x8x8\nconv 8\nflatten; linear classes",
                {":2:1", "'conv'", "kernel size"}},
        BadSpec{"MissingOut", "input 1x8x8\nconv k3", {":2:1", "missing output channel count"}},
        BadSpec{"NegativeChannels", "input 1x8x8\nconv -8 k3", {":2:6", "'-8'", "negative"}},
        BadSpec{"NegativeKernel", "input 1x8x8\nconv 8 k-3", {":2:8", "kernel size -3 is negative"}},
        BadSpec{"HugeNumber", "input 1x8x8\nconv 99999999999999999999999 k3",
                {":2:6", "not an integer (or too large)"}},
        BadSpec{"TooManyChannels", "input 1x8x8\nconv 100000 k3", {"too large (max 65536)"}},
        BadSpec{"ParamBudget", "input 60000\nlinear 60000\nlinear classes",
                {":2:1", "parameters"}},
        BadSpec{"HugeInput", "input 65536x65536x65536\nflatten", {"elements"}},
        BadSpec{"ZeroInputDim", "input 0x28x28\nflatten", {":1:7", "input dim 0 must be at least 1"}},
        BadSpec{"BadInputSyntax", "input 1xx28\nflatten", {":1:7", "not an integer"}},
        BadSpec{"InputNotFirst", "input 4\nrelu\ninput 4", {":3:1", "first statement"}},
        BadSpec{"KernelTooBig", "input 1x4x4\nconv 2 k7\nflatten\nlinear classes",
                {":2:1", "Conv2d"}},
        BadSpec{"LinearNeedsFlat", "input 1x4x4\nlinear classes", {":2:1", "flatten", "(1, 4, 4)"}},
        BadSpec{"WrongClassCount", "input 4\nlinear 7", {"(7)", "num_classes 10"}},
        BadSpec{"UnknownOption", "input 1x8x8\nconv 8 k3 q2", {":2:11", "'q2'", "unknown or repeated"}},
        BadSpec{"RepeatedOption", "input 1x8x8\nconv 8 k3 k5", {":2:11", "'k5'"}},
        BadSpec{"DropoutRate", "input 4\ndropout 1.5", {":2:1", "drop_rate"}},
        BadSpec{"DropoutNotNumber", "input 4\ndropout half", {":2:9", "not a finite number"}},
        BadSpec{"UnbalancedOpen", "input 4\nblock a {\nrelu\n", {":2:9", "missing '}'"}},
        BadSpec{"UnbalancedClose", "input 4\nrelu\n}\n", {":3:1", "unbalanced '}'"}},
        BadSpec{"BraceAfterSimple", "input 4\nrelu { }", {":2:6", "takes no '{'"}},
        BadSpec{"BlockWithoutName", "input 4\nblock { relu }", {":2:1", "one NAME"}},
        BadSpec{"BadBlockName", "input 4\nblock a.b { relu }", {":2:7", "block names"}},
        BadSpec{"DuplicateBlockName", "input 4\nblock a { relu }\nblock a { relu }",
                {":3:7", "already used"}},
        BadSpec{"StrayShortcut", "input 4\nrelu\nshortcut { relu }", {":3:1", "must directly follow"}},
        BadSpec{"ResidualShapeChange", "input 2x4x4\nresidual { conv 3 k1 }", {":2:1", "projection"}},
        BadSpec{"BnOnRank2", "input 2x3\nbn", {":2:1", "bn needs"}},
        BadSpec{"BnMomentumConvention", "input 4\nbn momentum_convention=keras",
                {":2:4", "momentum_convention must be one of pytorch|onnx", "keras"}},
        BadSpec{"BnRunningVar", "input 4\nbn var=sample", {":2:4", "var must be one of"}},
        BadSpec{"ConvThreePads", "input 1x8x8\nconv 2 k3 pad=1,2,3", {":2:11", "T,L,B,R"}},
        BadSpec{"ConvNegativePad", "input 1x8x8\nconv 2 k3 pad=1,-2,3,0",
                {":2:11", "negative"}},
        BadSpec{"ConvPadAndSame", "input 1x8x8\nconv 2 k3 p1 same",
                {":2:1", "'conv' takes one of pP, pad=T,L,B,R, same and same_lower"}},
        BadSpec{"BadInit", "input 4\nlinear classes init=bogus", {":2:16", "bogus"}},
        BadSpec{"TooDeep", Deep(40), {"nested deeper than 16"}},
        BadSpec{"GapOnFlat", "input 8\ngap", {":2:1", "GlobalAvgPool2d"}},
        BadSpec{"PoolPadsNotFour", "input 1x8x8\nmaxpool k3 pad=1,0,1", {":2:12", "four pads"}},
        BadSpec{"PoolPadsNegative", "input 1x8x8\nmaxpool k3 pad=1,0,-1,0", {":2:12", "negative"}},
        BadSpec{"PoolTwoPaddings", "input 1x8x8\nmaxpool k3 p1 same", {":2:1", "one of pP"}},
        BadSpec{"PoolTwoSames", "input 1x8x8\navgpool k3 same same_lower", {":2:1", "one of pP"}},
        BadSpec{"PoolPadOverHalf", "input 1x8x8\nmaxpool k3 pad=0,0,2,0",
                {":2:1", "pad_bottom = 2", "half the kernel"}},
        BadSpec{"AvgPoolDilation", "input 1x8x8\navgpool k3 d2", {":2:1", "dilation (2, 2)"}},
        BadSpec{"MaxPoolDivisor", "input 1x8x8\nmaxpool k3 divisor=4", {":2:1", "divisor_override"}},
        BadSpec{"AvgPoolDivisorZero", "input 1x8x8\navgpool k3 divisor=0", {":2:12", "at least 1"}},
        BadSpec{"UnpoolUnknownName", "input 1x8x8\nmaxpool k2 name=a\nmaxunpool b",
                {":3:11", "no earlier 'maxpool ... name=b'"}},
        BadSpec{"UnpoolNoName", "input 1x8x8\nmaxpool k2 name=a\nmaxunpool", {":3:1", "needs the NAME"}},
        BadSpec{"UnpoolShape", "input 1x8x8\nmaxpool k2 name=a\nmaxpool k2\nmaxunpool a",
                {":4:1", "(1, 2, 2) differs from the output shape (1, 4, 4)"}},
        BadSpec{"PoolNameTwice", "input 1x8x8\nmaxpool k1 name=a\nmaxpool k1 name=a",
                {":3:12", "already named 'a'"}},
        BadSpec{"PoolBadName", "input 1x8x8\nmaxpool k1 name=a.b", {":2:12", "maxpool names"}},
        // name= names any layer in its block (only a maxpool can be a maxunpool target).
        BadSpec{"AvgPoolNameNotAnUnpoolTarget",
                "input 1x8x8\navgpool k2 name=a\nmaxunpool a\nflatten\nlinear classes",
                {":3:11", "no earlier 'maxpool ... name=a'"}}),
    [](const ::testing::TestParamInfo<BadSpec>& info) { return info.param.name; });

TEST(ModelSpecTest, ConvAsymmetricAndSamePaddingParse) {
  auto model = ModelFromSpec(
      "input 2x7x8\nconv 3 k4x3 s2x3 same_lower\nconv 2 k3 pad=0,1,2,1\n"
      "conv 2 k1 same\nflatten\nlinear classes",
      std::nullopt, 3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<std::string> convs;
  (*model)->ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (layer.TypeName() == "conv2d") convs.push_back(layer.Describe());
  });
  EXPECT_EQ(convs, std::vector<std::string>({"Conv2d(2, 3, k=4x3, s=2x3, padding=same_lower)",
                                             "Conv2d(3, 2, k=3x3, p=(0,1,2,1))",
                                             "Conv2d(2, 2, k=1x1, padding=same)"}));
}

TEST(ModelSpecTest, BatchNormConventionsParse) {
  auto model = ModelFromSpec(
      "input 4\nbn momentum=0.9 momentum_convention=onnx var=biased\nlinear classes",
      std::nullopt, 3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  std::string described;
  (*model)->ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (layer.TypeName() == "batch_norm1d") described = layer.Describe();
  });
  EXPECT_EQ(described, "BatchNorm1d(4, momentum=0.9, momentum_convention=onnx, var=biased)");
  auto logsm = ModelFromSpec("input 4\nlinear classes\nlog_softmax", std::nullopt, 3, 1);
  ASSERT_TRUE(logsm.ok()) << logsm.status();
  std::string last_type;
  (*logsm)->ForEachLayer([&](const std::string&, Layer& layer, int) {
    last_type = layer.TypeName();
  });
  EXPECT_EQ(last_type, "log_softmax");
  auto defaults = ModelFromSpec("input 4\nbn momentum_convention=pytorch var=unbiased\n"
                                "linear classes", std::nullopt, 3, 1);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
}

TEST(ModelSpecTest, PoolingOptionsParse) {
  auto model = ModelFromSpec(
      "input 1x20x18\nmaxpool k3 s2 p1 d2 ceil\nmaxpool k2 pad=0,1,1,0\n"
      "avgpool k2 s2 same_lower exclude_pad ceil\navgpool k2 s1 same divisor=3\n"
      "maxpool k2\nflatten\nlinear classes",
      std::nullopt, 3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<std::string> described;
  (*model)->ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (layer.TypeName() == "maxpool2d" || layer.TypeName() == "avgpool2d") {
      described.push_back(layer.Describe());
    }
  });
  EXPECT_EQ(described,
            (std::vector<std::string>{
                "MaxPool2d(k=3, s=2, p=1, d=2, ceil_mode=true)",
                "MaxPool2d(k=2, s=2, pad=0,1,1,0)",
                "AvgPool2d(k=2, s=2, pad=1,1,0,0, ceil_mode=true, count_include_pad=false)",
                "AvgPool2d(k=2, s=1, pad=0,0,1,1, divisor_override=3)",
                "MaxPool2d(k=2, s=2)"}));
}

TEST(ModelSpecTest, MaxUnpoolPairsWithANamedPoolAcrossBlocks) {
  auto model = ModelFromSpec(
      "input 2x6x8\nblock enc { maxpool k2 name=p1; conv 2 k3 p1 }\n"
      "block dec { maxunpool p1 }\nflatten\nlinear classes",
      std::nullopt, 3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  std::string described;
  (*model)->ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (layer.TypeName() == "maxunpool2d") described = layer.Describe();
  });
  EXPECT_EQ(described, "MaxUnpool2d(of MaxPool2d(k=2, s=2))");
  Tensor x(Shape({2, 2, 6, 8})), logits, dx;
  x.SetAll(0.25f);
  ASSERT_TRUE((*model)->Forward(x, &logits).ok());
  EXPECT_EQ(logits.shape(), Shape({2, 3}));
  Tensor dlogits(Shape({2, 3}));
  dlogits.SetAll(1.0f);
  (*model)->Backward(dlogits, &dx);
  EXPECT_EQ(dx.shape(), x.shape());
}

TEST(ModelSpecTest, RejectsOversizedTextAndBadClassCount) {
  const std::string big(size_t{2} << 20, '#');
  auto model = ModelFromSpec(big, std::nullopt, 10, 1);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("limit"), std::string::npos);
  EXPECT_FALSE(ModelFromSpec("input 4\nlinear classes", std::nullopt, 0, 1).ok());
}

TEST(ModelSpecTest, SemicolonsNewlinesAndShortcutOnNextLineParse) {
  auto model = ModelFromSpec(
      "input 2x4x4;residual{relu;tanh}\n\n  shortcut {sigmoid}\r\ngap;linear classes", std::nullopt,
      3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  auto* res = dynamic_cast<Residual*>(&(*model)->root().layer(0));
  ASSERT_NE(res, nullptr);
  ASSERT_NE(res->shortcut(), nullptr);
  EXPECT_EQ(res->shortcut()->layer(0).TypeName(), "sigmoid");
}

TEST(ModelSpecTest, LoadsSpecFilesAndNamesMissingOnes) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/net.spec";
  {
    std::ofstream f(path);
    f << "input 3\nlinear 4; relu\nlinear bogus\n";
  }
  auto bad = LoadModel(path, std::nullopt, 2, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path + ":3:8"), std::string::npos) << bad.status();
  auto missing = LoadModelSpecText(dir + "/does-not-exist.spec");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("does-not-exist.spec"), std::string::npos);
  EXPECT_NE(missing.status().message().find("lenet5"), std::string::npos);
  auto preset_error = LoadModel("lenet5", Shape({1, 4, 4}), 10, 1);
  ASSERT_FALSE(preset_error.ok());
  EXPECT_NE(preset_error.status().message().find("preset lenet5:"), std::string::npos)
      << preset_error.status();
}

// The C++ example of the README's "Models" section, verbatim: LeNet-5 built by hand.
absl::StatusOr<std::unique_ptr<Model>> MakeLeNet5(uint64_t seed) {
  Rng rng(seed);
  SIMDNET_ASSIGN_OR_RETURN(auto features, Sequential::Create(Shape({1, 28, 28})));
  Conv2dOptions c1;
  c1.out_channels = 6;
  c1.kernel_h = c1.kernel_w = 5;
  c1.pad_h = c1.pad_w = 2;
  SIMDNET_RETURN_IF_ERROR(features->Add(Conv2d::Create(c1, features->OutputShape(), rng)));
  SIMDNET_RETURN_IF_ERROR(features->Add(Activation::Create({}, features->OutputShape())));
  SIMDNET_RETURN_IF_ERROR(features->Add(Pool2d::Create({}, features->OutputShape())));
  Conv2dOptions c2;
  c2.out_channels = 16;
  c2.kernel_h = c2.kernel_w = 5;
  SIMDNET_RETURN_IF_ERROR(features->Add(Conv2d::Create(c2, features->OutputShape(), rng)));
  SIMDNET_RETURN_IF_ERROR(features->Add(Activation::Create({}, features->OutputShape())));
  SIMDNET_RETURN_IF_ERROR(features->Add(Pool2d::Create({}, features->OutputShape())));

  SIMDNET_ASSIGN_OR_RETURN(auto classifier, Sequential::Create(features->OutputShape()));
  SIMDNET_RETURN_IF_ERROR(classifier->Add(Flatten::Create(classifier->OutputShape())));
  for (int64_t width : {120, 84, 10}) {
    LinearOptions fc;
    fc.out_features = width;
    SIMDNET_RETURN_IF_ERROR(classifier->Add(Linear::Create(fc, classifier->OutputShape(), rng)));
    if (width != 10) {
      SIMDNET_RETURN_IF_ERROR(
          classifier->Add(Activation::Create({}, classifier->OutputShape())));
    }
  }
  SIMDNET_ASSIGN_OR_RETURN(auto root, Sequential::Create(Shape({1, 28, 28})));
  SIMDNET_RETURN_IF_ERROR(root->Add(std::move(features), "features"));
  SIMDNET_RETURN_IF_ERROR(root->Add(std::move(classifier), "classifier"));
  return Model::Create(std::move(root), /*num_classes=*/10);
}

TEST(ModelSpecTest, ReadmeCppLeNet5EqualsThePreset) {
  auto cpp = MakeLeNet5(21);
  ASSERT_TRUE(cpp.ok()) << cpp.status();
  auto preset = LoadModel("lenet5", std::nullopt, 10, 21);
  ASSERT_TRUE(preset.ok()) << preset.status();
  EXPECT_EQ((*cpp)->Summary(), (*preset)->Summary());
  Tensor x(Shape({2, 1, 28, 28}));
  Rng data(8);
  data.FillUniform(x.data(), static_cast<size_t>(x.size()), 0.0f, 1.0f);
  Tensor a, b;
  ASSERT_TRUE((*cpp)->Forward(x, &a).ok());
  ASSERT_TRUE((*preset)->Forward(x, &b).ok());
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

// Seeded mutation fuzzing of the presets: deleting, duplicating or replacing characters
// (braces, separators, digits, letters, CR, NUL, high bytes) must give either a model or an
// InvalidArgument naming the source, never a crash or another error code.
TEST(ModelSpecTest, MutatedPresetsNeverCrash) {
  const std::string alphabet = std::string("{};#\n\r\t x-0123456789kspdg=.abc") + '\0' + "\xff";
  Rng rng(2024);
  int ok = 0, rejected = 0;
  for (const std::string& name : PresetNames()) {
    const std::string base = PresetSpec(name).value();
    for (int trial = 0; trial < 150; ++trial) {
      std::string spec = base;
      const int edits = 1 + static_cast<int>(rng.UniformInt(3));
      for (int e = 0; e < edits && !spec.empty(); ++e) {
        const size_t pos = rng.UniformInt(spec.size());
        const char c = alphabet[rng.UniformInt(alphabet.size())];
        switch (rng.UniformInt(3)) {
          case 0:
            spec.erase(pos, 1);
            break;
          case 1:
            spec.insert(pos, 1, c);
            break;
          default:
            spec[pos] = c;
        }
      }
      auto model = ModelFromSpec(spec, std::nullopt, 10, 1, "fuzz");
      if (model.ok()) {
        ++ok;
        continue;
      }
      ++rejected;
      ASSERT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument)
          << model.status() << "\nspec:\n" << spec;
      ASSERT_EQ(model.status().message().rfind("fuzz", 0), 0u) << model.status();
    }
  }
  // Both outcomes occur, so the mutations reach the builder as well as the tokenizer.
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
}

// Every preset can memorize a tiny batch with plain SGD (w -= lr * g): the end-to-end sanity
// check that forward, loss, backward and the parameter wiring fit together.
TEST(ModelSpecTest, EveryPresetOverfitsATinyBatch) {
  for (const std::string& name : PresetNames()) {
    auto model = std::move(LoadModel(name, std::nullopt, 10, 3)).value();
    const Shape in = model->InputShape();
    const int64_t n = 8;
    Tensor x(Shape({n, in.dim(0), in.dim(1), in.dim(2)}));
    Rng rng(4);
    // Zero-mean noise images (as after input normalization), so samples are distinguishable.
    rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
    const std::vector<int64_t> labels = {0, 1, 2, 3, 4, 5, 6, 7};
    const LossFunction loss = [&](const Tensor& z, Tensor* dz) {
      return SoftmaxCrossEntropy(z, labels, dz);
    };
    // LeNet-5 has no batch norm and starts on the usual plateau near log(10): it needs more
    // steps than the batch-normalized presets.
    const int steps = name == "lenet5" ? 150 : 40;
    const float lr = 0.05f;
    float first = 0.0f, last = 0.0f;
    for (int step = 0; step < steps; ++step) {
      model->ZeroGrad();
      auto value = model->ForwardBackward(x, loss);
      ASSERT_TRUE(value.ok()) << value.status();
      if (step == 0) first = *value;
      last = *value;
      for (const NamedParameter& p : model->Params()) {
        Axpy(-lr, p.param->grad.data(), p.param->value.data(),
             static_cast<size_t>(p.param->value.size()));
      }
    }
    std::printf("%s: loss %.4f -> %.4f after %d SGD steps\n", name.c_str(), first, last, steps);
    EXPECT_NEAR(first, std::log(10.0f), 1.0f) << name;
    EXPECT_LT(last, 0.25f * first) << name;
  }
}

TEST(ModelSpecTest, EveryPresetSummarizesItsTotals) {
  for (const std::string& name : PresetNames()) {
    auto model = LoadModel(name, std::nullopt, 10, 1);
    ASSERT_TRUE(model.ok()) << name << ": " << model.status();
    const std::string summary = (*model)->Summary();
    // Printed so the tables can be read in the test log (and pasted into the docs).
    std::printf("preset %s\n%s\n", name.c_str(), summary.c_str());
    const int64_t total = (*model)->ParameterCount();
    std::string digits = std::to_string(total), grouped;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
      grouped += digits[i];
    }
    EXPECT_NE(summary.find("Total params: " + grouped), std::string::npos) << summary;
  }
}

}  // namespace
}  // namespace simdnet
