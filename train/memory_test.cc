// Tests for the memory estimate, the limit lookup and the refusal message.
#include "train/memory.h"

#include <memory>

#include "gtest/gtest.h"
#include "layers/model_spec.h"

namespace simdnet {
namespace {

std::unique_ptr<Model> Make(const char* spec, int64_t classes) {
  auto m = ModelFromSpec(spec, std::nullopt, classes, 1);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(m).value();
}

TEST(MemoryTest, EstimateCountsOutputsGradientsAndParameters) {
  auto model = Make("input 1x4x4\nflatten\nlinear classes\n", 2);
  // Parameters: 16 * 2 + 2 = 34 scalars; training keeps value, grad and 2 optimizer buffers.
  // Activations: input 16 + flatten 16 + linear 2 = 34 per sample, and their gradients.
  const MemoryEstimate train = EstimateMemory(*model, 3, /*training=*/true);
  EXPECT_EQ(train.parameters, 34 * 4 * 4);
  EXPECT_EQ(train.activations, 34 * 3 * 4 * 2);
  EXPECT_EQ(train.scratch, 0);
  EXPECT_EQ(train.total, train.parameters + train.activations);
  const MemoryEstimate eval = EstimateMemory(*model, 3, /*training=*/false);
  EXPECT_EQ(eval.parameters, 34 * 4);
  EXPECT_EQ(eval.activations, 34 * 3 * 4);
}

TEST(MemoryTest, HugeConvolutionIsRefusedWithABatchSizeSuggestion) {
  auto model = Make("input 1x28x28\nconv 65536 k1\nconv 1 k1\nflatten\nlinear classes\n", 10);
  const MemoryEstimate e = EstimateMemory(*model, 64, true);
  // The conv output alone: 65536 * 784 * 64 floats, kept with its gradient: ~26 GB.
  EXPECT_GT(e.activations, int64_t{26} * 1000 * 1000 * 1000);
  const MemoryLimit limit{int64_t{24} << 30, "physical memory"};
  absl::Status s = CheckMemoryFits(*model, 64, true, limit, "training m");
  ASSERT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  const std::string msg(s.message());
  EXPECT_NE(msg.find("training m at batch size 64 needs about"), std::string::npos) << msg;
  EXPECT_NE(msg.find("physical memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("try --batch_size=32"), std::string::npos) << msg;
  EXPECT_TRUE(CheckMemoryFits(*model, 16, true, limit, "training m").ok());
  const MemoryLimit tiny{1000, "RLIMIT_AS"};
  s = CheckMemoryFits(*model, 8, true, tiny, "training m");
  EXPECT_NE(std::string(s.message()).find("even batch size 1 does not fit"), std::string::npos);
}

TEST(MemoryTest, AvailableMemoryFindsALimit) {
  const MemoryLimit limit = AvailableMemory();
  EXPECT_GT(limit.bytes, int64_t{1} << 20);
  EXPECT_FALSE(limit.source.empty());
}

}  // namespace
}  // namespace simdnet
