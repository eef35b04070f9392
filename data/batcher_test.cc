// Tests for batch sharding: the shards of a global batch are contiguous, balanced and, in rank
// order, the batch itself; a sharded DataLoader gives each rank its share of the same global
// batches, with the same per-sample augmentation as the unsharded loader.
#include "data/batcher.h"

#include <vector>

#include "data/loader.h"
#include "data/shuffle.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(ShardOfBatchTest, ShardsAreBalancedContiguousAndConcatenateToTheBatch) {
  for (int64_t n = 0; n <= 9; ++n) {
    std::vector<int64_t> batch;
    for (int64_t i = 0; i < n; ++i) batch.push_back(100 + 7 * i);
    for (int64_t shards = 1; shards <= 4; ++shards) {
      std::vector<int64_t> joined;
      for (int64_t s = 0; s < shards; ++s) {
        absl::Span<const int64_t> part = ShardOfBatch(batch, s, shards);
        EXPECT_TRUE(static_cast<int64_t>(part.size()) == n / shards ||
                    static_cast<int64_t>(part.size()) == n / shards + 1);
        // The longer shards come first.
        EXPECT_EQ(static_cast<int64_t>(part.size()), n / shards + (s < n % shards ? 1 : 0));
        joined.insert(joined.end(), part.begin(), part.end());
      }
      EXPECT_EQ(joined, batch) << "n=" << n << " shards=" << shards;
    }
  }
}

InMemoryDataset Ramp(int64_t n) {
  InMemoryDataset d;
  d.num = n;
  d.channels = 1;
  d.height = 4;
  d.width = 4;
  d.classes = {"a", "b", "c"};
  for (int64_t i = 0; i < n; ++i) {
    d.labels.push_back(static_cast<int32_t>(i % 3));
    for (int64_t p = 0; p < 16; ++p) d.pixels.push_back(static_cast<uint8_t>((i * 16 + p) % 251));
  }
  return d;
}

TEST(ShardOfBatchTest, ShardedLoadersTogetherProduceTheUnshardedBatches) {
  const InMemoryDataset data = Ramp(23);
  auto augment = ParseAugmentSpec("hflip,crop=1");
  ASSERT_TRUE(augment.ok());
  DataLoaderOptions o;
  o.batch_size = 8;  // batches of 8, 8, 7
  o.seed = 5;
  auto whole = DataLoader::Create(&data, &*augment, nullptr, o);
  ASSERT_TRUE(whole.ok()) << whole.status();
  std::vector<std::unique_ptr<DataLoader>> ranks;
  for (int64_t r = 0; r < 3; ++r) {
    DataLoaderOptions ro = o;
    ro.shard_index = r;
    ro.shard_count = 3;
    auto l = DataLoader::Create(&data, &*augment, nullptr, ro);
    ASSERT_TRUE(l.ok()) << l.status();
    ranks.push_back(std::move(l).value());
  }
  (*whole)->StartEpoch(2);
  for (auto& l : ranks) l->StartEpoch(2);
  for (int64_t b = 0; b < 3; ++b) {
    auto full = (*whole)->Next();
    ASSERT_TRUE(full.ok() && full->has_value());
    std::vector<int64_t> indices;
    std::vector<float> pixels;
    for (auto& l : ranks) {
      auto part = l->Next();
      ASSERT_TRUE(part.ok() && part->has_value());
      EXPECT_EQ((*part)->batch_index, b);
      indices.insert(indices.end(), (*part)->indices.begin(), (*part)->indices.end());
      pixels.insert(pixels.end(), (*part)->images.data(),
                    (*part)->images.data() + (*part)->images.size());
    }
    EXPECT_EQ(indices, (*full)->indices) << "batch " << b;
    EXPECT_EQ(pixels, std::vector<float>((*full)->images.data(),
                                         (*full)->images.data() + (*full)->images.size()));
  }
  DataLoaderOptions bad = o;
  bad.shard_index = 3;
  bad.shard_count = 3;
  auto rejected = DataLoader::Create(&data, nullptr, nullptr, bad);
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("DataLoaderOptions.shard_index"), std::string::npos);
}

}  // namespace
}  // namespace simdnet
