// Logit parity with torchvision 0.14: each torchvision preset, filled with the hash-seeded
// weights (train/hash_weights.h) that tools/interop/torchvision_export.py gives the PyTorch
// model, on the hash-seeded input batch, must reproduce the float64 logits PyTorch computed
// (train/testdata/torchvision_logits.safetensors, from tools/torchvision/make_logit_fixture.py).
// Tolerance: max |simdnet - torch| <= 1e-5 * max |torch logit| (float32 through 8 to 53
// layers; measured: 4.0e-7 (resnet50) to 9.9e-7 (alexnet) of the largest logit). Also: state_dict files load through ReadCheckpoint
// and another architecture's file is refused naming the tensor.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "layers/torchvision_specs.h"
#include "train/checkpoint.h"
#include "train/hash_weights.h"
#include "train/safetensors.h"
#include "train/torch_checkpoint.h"

namespace simdnet {
namespace {

constexpr char kFixture[] = "train/testdata/torchvision_logits.safetensors";
constexpr double kRelTol = 1e-5;

class TorchvisionParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TorchvisionParityTest, LogitsMatchPyTorchOnHashSeededWeights) {
  const std::string arch = GetParam();
  auto fixture = LoadSafetensors(kFixture);
  ASSERT_TRUE(fixture.ok()) << fixture.status();
  ASSERT_TRUE(fixture->tensors.count(arch)) << arch;
  const Tensor& expected = fixture->tensors.at(arch);
  auto input_shape = fixture->metadata.at(arch + ".input");
  std::vector<int64_t> dims;
  for (const char* p = input_shape.c_str(); *p;) {
    dims.push_back(std::strtoll(p, const_cast<char**>(&p), 10));
    if (*p == ',') ++p;
  }
  ASSERT_EQ(dims.size(), 4u);
  auto spec = TorchvisionSpec(arch);
  ASSERT_TRUE(spec.ok());
  auto model = ModelFromSpec(*spec, Shape({dims[1], dims[2], dims[3]}), 1000, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  FillModelHashSeeded(**model);
  (*model)->SetMode(Mode::kEval);
  Tensor x(Shape({dims[0], dims[1], dims[2], dims[3]}));
  FillHashSeededInput(&x);
  Tensor logits;
  ASSERT_TRUE((*model)->Forward(x, &logits).ok());
  ASSERT_EQ(logits.shape(), expected.shape());
  double max_ref = 0, max_diff = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < expected.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(double{expected[i]}));
    const double d = std::abs(double{logits[i]} - double{expected[i]});
    if (d > max_diff) {
      max_diff = d;
      worst = i;
    }
  }
  std::cout << arch << ": max |logit diff| " << max_diff << " (" << max_diff / max_ref
            << " of max |logit| " << max_ref << ") at " << worst << "\n";
  EXPECT_LE(max_diff, kRelTol * max_ref)
      << arch << " logit " << worst << ": simdnet " << logits[worst] << " vs PyTorch "
      << expected[worst];
  // The test must be able to fail: with two images, their logits differ far beyond the bound.
  if (dims[0] == 2) {
    double between = 0;
    for (int64_t k = 0; k < 1000; ++k) {
      between = std::max(between, std::abs(double{expected[k]} - double{expected[1000 + k]}));
    }
    EXPECT_GT(between, 100 * kRelTol * max_ref) << arch;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, TorchvisionParityTest,
                         ::testing::ValuesIn(TorchvisionArchNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// A state_dict of `arch` with hash-seeded values as torchvision_export.py writes it: every
// tensor by its torchvision name, the num_batches_tracked counters, metadata format and arch.
SafetensorsContents HashStateDict(const std::string& arch, const std::string& meta_arch) {
  auto model = LoadModel(arch, std::nullopt, 1000, 1);
  EXPECT_TRUE(model.ok()) << model.status();
  FillModelHashSeeded(**model);
  SafetensorsContents c;
  for (NamedParameter& p : (*model)->Params()) c.tensors[p.name] = p.param->value;
  for (NamedBuffer& b : (*model)->Buffers()) {
    c.tensors[b.name] = *b.value;
    if (b.name.size() > 12 && b.name.substr(b.name.size() - 12) == "running_mean") {
      IntTensor counter;
      counter.values = {0};
      c.int_tensors[b.name.substr(0, b.name.size() - 12) + "num_batches_tracked"] = counter;
    }
  }
  c.metadata["format"] = kTorchStateDictFormat;
  if (!meta_arch.empty()) c.metadata["arch"] = meta_arch;
  return c;
}

TEST(TorchvisionWeightsTest, StateDictFileReadsAsACheckpointWithImageNetConventions) {
  const std::string path = ::testing::TempDir() + "/resnet18.safetensors";
  ASSERT_TRUE(SaveSafetensors(path, HashStateDict("resnet18", "resnet18")).ok());
  auto ck = ReadCheckpoint(path);
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_EQ(ck->info.num_classes, 1000);
  ASSERT_EQ(ck->info.class_names.size(), 1000u);
  EXPECT_EQ(ck->info.class_names[207], "golden retriever");
  EXPECT_EQ(ck->info.normalization.kind, Normalization::Kind::kPerChannel);
  EXPECT_EQ(ck->info.extra.at("preprocess"), "imagenet");
  auto model = ModelFromCheckpoint(*ck);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->Params()[0].name, "conv1.weight");
}

TEST(TorchvisionWeightsTest, AnotherArchitecturesWeightsAreRefusedNamingTheTensor) {
  // resnet18's state_dict without an arch in its metadata, read as resnet34.
  SafetensorsContents c = HashStateDict("resnet18", "");
  auto as34 = CheckpointFromStateDict("r18.safetensors", c, "resnet34");
  ASSERT_FALSE(as34.ok());
  EXPECT_NE(as34.status().message().find("tensor 'layer1.2.conv1.weight' (shape (64, 64, 3, 3))"
                                         " of resnet34 is missing"),
            std::string::npos) << as34.status();
  // With its arch recorded, the mismatch is named directly.
  c.metadata["arch"] = "resnet18";
  auto named = CheckpointFromStateDict("r18.safetensors", c, "resnet50");
  ASSERT_FALSE(named.ok());
  EXPECT_NE(named.status().message().find("holds resnet18 weights"), std::string::npos)
      << named.status();
  // A file without any format: ReadCheckpoint says how to name the architecture.
  SafetensorsContents bare = HashStateDict("resnet18", "");
  bare.metadata.clear();
  const std::string path = ::testing::TempDir() + "/bare.safetensors";
  ASSERT_TRUE(SaveSafetensors(path, bare).ok());
  auto read = ReadCheckpoint(path);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("--model=ARCH"), std::string::npos) << read.status();
  SetDefaultTorchArch("resnet18");
  EXPECT_TRUE(ReadCheckpoint(path).ok());
  SetDefaultTorchArch("");
}

TEST(TorchvisionWeightsTest, MisShapedHeadIsNamedWithBothShapes) {
  SafetensorsContents c = HashStateDict("resnet18", "resnet18");
  c.tensors["layer4.1.conv2.weight"] = Tensor(Shape({512, 512, 1, 1}));
  auto ck = CheckpointFromStateDict("r18.safetensors", c, "resnet18");
  ASSERT_FALSE(ck.ok());
  EXPECT_NE(ck.status().message().find(
                "tensor 'layer4.1.conv2.weight' has shape (512, 512, 1, 1) but resnet18 expects "
                "(512, 512, 3, 3)"),
            std::string::npos) << ck.status();
}

}  // namespace
}  // namespace simdnet
