// Hash-seeded weights: bit-exact agreement with the Python formula
// (tools/interop/torchvision_export.py hash_tensor, values printed there once), per tensor kind.
#include "train/hash_weights.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "layers/model_spec.h"

namespace simdnet {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

void ExpectBits(const char* name, const Shape& shape, const std::vector<uint32_t>& expected) {
  Tensor t(shape);
  FillHashSeeded(name, &t);
  ASSERT_EQ(t.size(), static_cast<int64_t>(expected.size()));
  for (int64_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(Bits(t[i]), expected[static_cast<size_t>(i)]) << name << "[" << i << "] = " << t[i];
  }
}

TEST(HashWeightsTest, MatchesPythonFormulaBitForBit) {
  // /usr/bin/python3 -c 'import torchvision_export as t; print(t.hash_tensor(NAME, SHAPE))'
  ExpectBits("conv1.weight", Shape({2, 3}),
             {0x3e028d14, 0x3f31841d, 0xbfacb885, 0x3f2b0687, 0xbebd337e, 0x3fa815b5});
  ExpectBits("bn1.running_var", Shape({3}), {0x3fa91b91, 0x3fb25a2b, 0x3fbe213e});
  ExpectBits("bn1.running_mean", Shape({3}), {0x3d400fb9, 0x3ca4da89, 0x3c09f1ec});
  ExpectBits("bn1.weight", Shape({3}), {0x3f6e1b2a, 0x3f94c31e, 0x3f846d93});
  ExpectBits("fc.bias", Shape({3}), {0xbb9276e3, 0xbb7c8d4a, 0xbd342c1d});
  ExpectBits("input", Shape({3}), {0xbfcdeac1, 0x3f1c045f, 0xbf97be8f});
  // t.hash_uniform('a', 3) = [-0.25653807, 0.99624464, 0.98421303]
  EXPECT_NEAR(HashUniform("a", 0), -0.25653807, 1e-8);
  EXPECT_NEAR(HashUniform("a", 1), 0.99624464, 1e-8);
  EXPECT_NEAR(HashUniform("a", 2), 0.98421303, 1e-8);
}

TEST(HashWeightsTest, InputBatchMatchesPythonBitForBit) {
  // t.hash_input((2, 2, 3, 2)) in torchvision_export.py.
  const std::vector<uint32_t> expected = {
      0xbff02f9a, 0xbf447242, 0xbf5727e2, 0xbf32e550, 0x3f945644, 0x3f8bf1e9,
      0xbfc7b76f, 0x3e06f56f, 0xbf1c5639, 0x3f074c58, 0xbf079352, 0x3e6467bb,
      0x3f3135ac, 0x3f0a31a5, 0xbf010d8a, 0x3eb54053, 0x3f59574f, 0xbec95989,
      0xbe8b0b4b, 0xbfaabd02, 0xbb60f59a, 0xbeb7ea18, 0xbedb8f03, 0xbf0b3125};
  Tensor x(Shape({2, 2, 3, 2}));
  FillHashSeededInput(&x);
  for (int64_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(Bits(x[i]), expected[static_cast<size_t>(i)]) << i << ": " << x[i];
  }
}

TEST(HashWeightsTest, LargeTensorsFillTheSameInParallelBlocks) {
  // 3M elements cross the 1M-element parallel blocks; spot-check against single elements.
  Tensor big(Shape({3, 1024, 1024}));
  FillHashSeeded("features.0.weight", &big);
  for (int64_t i : {int64_t{0}, int64_t{1} << 20, (int64_t{1} << 20) - 1, big.size() - 1}) {
    const double scale = std::sqrt(6.0 / (1024.0 * 1024.0));
    EXPECT_EQ(big[i], static_cast<float>(scale * HashUniform("features.0.weight",
                                                              static_cast<uint64_t>(i))))
        << i;
  }
}

TEST(HashWeightsTest, FillsEveryModelTensorByName) {
  auto model = ModelFromSpec("input 3x8x8; conv 4 k3; bn; relu; gap; linear classes",
                             std::nullopt, 5, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  FillModelHashSeeded(**model);
  for (NamedParameter& p : (*model)->Params()) {
    Tensor expected(p.param->value.shape());
    FillHashSeeded(p.name, &expected);
    for (int64_t i = 0; i < expected.size(); ++i) ASSERT_EQ(p.param->value[i], expected[i]);
  }
  for (NamedBuffer& b : (*model)->Buffers()) {
    Tensor expected(b.value->shape());
    FillHashSeeded(b.name, &expected);
    for (int64_t i = 0; i < expected.size(); ++i) ASSERT_EQ((*b.value)[i], expected[i]);
  }
}

}  // namespace
}  // namespace simdnet
