// State_dict import: a PyTorch-style file loads into a model with the same names; missing,
// extra, mis-shaped, mistyped and non-finite tensors, another architecture's file and a
// truncated file are refused with the offending tensor named and the model left unchanged.
#include "train/torch_weights.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <string>

#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "train/hash_weights.h"

namespace simdnet {
namespace {

constexpr char kSpec[] = "input 3x8x8; conv 4 k3 nobias; bn; relu; gap; linear classes";

std::unique_ptr<Model> MakeModel(uint64_t seed = 1) {
  auto model = ModelFromSpec(kSpec, std::nullopt, 5, seed);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

// The model's state_dict as PyTorch writes it: hash-seeded F32 tensors plus the BatchNorm
// num_batches_tracked counter (I64 scalar).
SafetensorsContents StateDictOf(Model& model) {
  SafetensorsContents c;
  for (NamedParameter& p : model.Params()) {
    Tensor t(p.param->value.shape());
    FillHashSeeded(p.name, &t);
    c.tensors[p.name] = t;
  }
  for (NamedBuffer& b : model.Buffers()) {
    Tensor t(b.value->shape());
    FillHashSeeded(b.name, &t);
    c.tensors[b.name] = t;
  }
  IntTensor counter;
  counter.dtype = IntDType::kI64;
  counter.values = {0};
  c.int_tensors["1.num_batches_tracked"] = counter;
  c.metadata["arch"] = "tiny";
  return c;
}

// Returns the error message of importing `c` into a fresh model, and checks that the model's
// weights were left as initialized.
std::string ImportError(const SafetensorsContents& c) {
  auto model = MakeModel();
  const Tensor before = model->Params()[0].param->value.Clone();
  const absl::Status s = ImportStateDict(c, "w.safetensors", "tiny", *model);
  EXPECT_FALSE(s.ok());
  const Tensor& after = model->Params()[0].param->value;
  for (int64_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], before[i]) << "modified";
  return std::string(s.message());
}

TEST(TorchWeightsTest, ImportsEveryTensorAndIgnoresTheBatchCounter) {
  auto model = MakeModel();
  ASSERT_TRUE(ImportStateDict(StateDictOf(*model), "w.safetensors", "tiny", *model).ok());
  auto reference = MakeModel(/*seed=*/7);
  FillModelHashSeeded(*reference);
  auto a = model->Params(), b = reference->Params();
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    for (int64_t i = 0; i < a[k].param->value.size(); ++i) {
      ASSERT_EQ(a[k].param->value[i], b[k].param->value[i]) << a[k].name;
    }
  }
  EXPECT_EQ((*model->Buffers()[1].value)[0], (*reference->Buffers()[1].value)[0]);
}

TEST(TorchWeightsTest, RoundTripsThroughAFile) {
  auto model = MakeModel();
  const std::string path = ::testing::TempDir() + "/tiny.safetensors";
  ASSERT_TRUE(SaveSafetensors(path, StateDictOf(*model)).ok());
  ASSERT_TRUE(LoadTorchWeights(path, "tiny", *model).ok());
}

TEST(TorchWeightsTest, NamesTheMissingTensor) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.tensors.erase("1.running_var");
  const std::string m = ImportError(c);
  EXPECT_NE(m.find("w.safetensors: tensor '1.running_var' (shape (4)) of tiny is missing"),
            std::string::npos) << m;
}

TEST(TorchWeightsTest, NamesTheExtraTensor) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.tensors["fc.weight"] = Tensor(Shape({5, 4}));
  const std::string m = ImportError(c);
  EXPECT_NE(m.find("tensor 'fc.weight' (shape (5, 4)) is not part of tiny"), std::string::npos)
      << m;
}

TEST(TorchWeightsTest, NamesBothShapesOfAMismatch) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.tensors["4.weight"] = Tensor(Shape({1000, 4}));  // a 1000-class head into a 5-class model
  const std::string m = ImportError(c);
  EXPECT_NE(m.find("tensor '4.weight' has shape (1000, 4) but tiny expects (5, 4)"),
            std::string::npos) << m;
}

TEST(TorchWeightsTest, RejectsIntegerDtypeForAFloatTensor) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.tensors.erase("4.bias");
  IntTensor wrong;
  wrong.dims = {5};
  wrong.values = {0, 0, 0, 0, 0};
  c.int_tensors["4.bias"] = wrong;
  const std::string m = ImportError(c);
  EXPECT_NE(m.find("tensor '4.bias' has dtype I64, expected F32"), std::string::npos) << m;
}

TEST(TorchWeightsTest, RejectsStrayIntegerTensorsAndMalformedCounters) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.int_tensors["0.num_batches_tracked"] = c.int_tensors["1.num_batches_tracked"];  // a conv
  std::string m = ImportError(c);
  EXPECT_NE(m.find("'0.num_batches_tracked' (an integer tensor) is not part of tiny"),
            std::string::npos) << m;
  SafetensorsContents d = StateDictOf(*model);
  d.int_tensors["1.num_batches_tracked"].dims = {2};
  d.int_tensors["1.num_batches_tracked"].values = {1, 2};
  m = ImportError(d);
  EXPECT_NE(m.find("'1.num_batches_tracked' has 2 elements"), std::string::npos) << m;
}

TEST(TorchWeightsTest, RejectsNonFiniteValues) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.tensors["0.weight"][5] = std::numeric_limits<float>::infinity();
  const std::string m = ImportError(c);
  EXPECT_NE(m.find("tensor '0.weight' element 5 is inf"), std::string::npos) << m;
}

TEST(TorchWeightsTest, RejectsAnotherArchitecturesFile) {
  auto model = MakeModel();
  SafetensorsContents c = StateDictOf(*model);
  c.metadata["arch"] = "resnet18";
  const std::string m = ImportError(c);
  EXPECT_NE(m.find("holds resnet18 weights (metadata arch) but the model is tiny"),
            std::string::npos) << m;
}

TEST(TorchWeightsTest, RejectsATruncatedFileNamingIt) {
  auto model = MakeModel();
  auto bytes = SerializeSafetensors(StateDictOf(*model));
  ASSERT_TRUE(bytes.ok());
  const std::string path = ::testing::TempDir() + "/truncated.safetensors";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes->data(), static_cast<std::streamsize>(bytes->size() - 10));
  }
  const absl::Status s = LoadTorchWeights(path, "tiny", *model);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
}

}  // namespace
}  // namespace simdnet
