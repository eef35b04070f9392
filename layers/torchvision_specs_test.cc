// The torchvision presets: each builds with torchvision 0.14's parameter count and names,
// prints back to an equivalent spec, and unknown names are refused. (Logit parity with
// PyTorch on shared weights: //train:torchvision_parity_test.)
#include "layers/torchvision_specs.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "layers/model_spec.h"

namespace simdnet {
namespace {

// sum(p.numel() for p in torchvision.models.<arch>().parameters()), torchvision 0.14.
const std::map<std::string, int64_t>& TorchvisionParamCounts() {
  static const auto* counts = new std::map<std::string, int64_t>{
      {"alexnet", 61100840},   {"vgg11", 132863336},    {"vgg11_bn", 132868840},
      {"vgg16", 138357544},    {"vgg16_bn", 138365992}, {"resnet18", 11689512},
      {"resnet34", 21797672},  {"resnet50", 25557032},  {"mobilenet_v2", 3504872}};
  return *counts;
}

class TorchvisionSpecTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchvisionSpecTest, BuildsWithTorchvisionsParameterCountAndRoundTrips) {
  const std::string arch = GetParam();
  auto model = LoadModel(arch, std::nullopt, 1000, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->InputShape(), Shape({3, 224, 224}));
  EXPECT_EQ((*model)->ParameterCount(), TorchvisionParamCounts().at(arch));
  // Model::ToSpec writes the names back (name=, shortcut downsample), giving the same tensors.
  // (The ResNets and MobileNetV2 carry every construct; rebuilding AlexNet / VGG, 61M-138M
  // parameters, would only add initialization time.)
  if ((*model)->ParameterCount() > 30000000) return;
  auto text = (*model)->ToSpec();
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::pair<std::string, Shape>> expected;
  for (const NamedParameter& p : (*model)->Params()) {
    expected.emplace_back(p.name, p.param->value.shape());
  }
  model->reset();
  auto again = ModelFromSpec(*text, std::nullopt, 1000, 1);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << *text;
  auto b = (*again)->Params();
  ASSERT_EQ(expected.size(), b.size());
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(expected[i].first, b[i].name);
    EXPECT_EQ(expected[i].second, b[i].param->value.shape()) << b[i].name;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, TorchvisionSpecTest,
                         ::testing::ValuesIn(TorchvisionArchNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(TorchvisionSpecsTest, UsesTorchvisionsTensorNames) {
  auto r50 = LoadModel("resnet50", std::nullopt, 1000, 1);
  ASSERT_TRUE(r50.ok()) << r50.status();
  std::map<std::string, Shape> shapes;
  for (const NamedParameter& p : (*r50)->Params()) shapes.emplace(p.name, p.param->value.shape());
  for (const NamedBuffer& b : (*r50)->Buffers()) shapes.emplace(b.name, b.value->shape());
  EXPECT_EQ(shapes.at("conv1.weight"), Shape({64, 3, 7, 7}));
  EXPECT_EQ(shapes.at("layer1.0.conv3.weight"), Shape({256, 64, 1, 1}));
  EXPECT_EQ(shapes.at("layer1.0.downsample.0.weight"), Shape({256, 64, 1, 1}));
  EXPECT_EQ(shapes.at("layer1.0.downsample.1.running_var"), Shape({256}));
  EXPECT_EQ(shapes.at("layer4.2.bn3.bias"), Shape({2048}));
  EXPECT_EQ(shapes.at("fc.weight"), Shape({1000, 2048}));
  auto mobile = LoadModel("mobilenet_v2", std::nullopt, 2, 1);
  ASSERT_TRUE(mobile.ok()) << mobile.status();
  shapes.clear();
  for (const NamedParameter& p : (*mobile)->Params()) {
    shapes.emplace(p.name, p.param->value.shape());
  }
  EXPECT_EQ(shapes.at("features.1.conv.0.0.weight"), Shape({32, 1, 3, 3}));
  EXPECT_EQ(shapes.at("features.1.conv.1.weight"), Shape({16, 32, 1, 1}));
  EXPECT_EQ(shapes.at("features.3.conv.1.0.weight"), Shape({144, 1, 3, 3}));
  EXPECT_EQ(shapes.at("features.18.0.weight"), Shape({1280, 320, 1, 1}));
  EXPECT_EQ(shapes.at("classifier.1.weight"), Shape({2, 1280}));
}

TEST(TorchvisionSpecsTest, UnknownArchitectureListsTheKnownOnes) {
  auto bad = TorchvisionSpec("resnet19");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'resnet19'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("mobilenet_v2"), std::string::npos);
  EXPECT_FALSE(IsTorchvisionArch("resnet-small"));
}

TEST(TorchvisionSpecsTest, LeafNamesAreValidatedAndUnique) {
  auto bad = ModelFromSpec("input 4; linear 3 name=a.b", std::nullopt, 3, 1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'name=a.b'"), std::string::npos) << bad.status();
  auto dup = ModelFromSpec("input 4; linear 4 name=fc; linear 3 name=fc", std::nullopt, 3, 1);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("already used"), std::string::npos) << dup.status();
  auto ok = ModelFromSpec("input 4; linear 4 name=fc1; relu; linear classes name=fc", std::nullopt,
                          3, 1);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)->Params()[0].name, "fc1.weight");
  EXPECT_EQ((*ok)->Params()[2].name, "fc.weight");
}

}  // namespace
}  // namespace simdnet
