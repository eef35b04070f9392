// Tests for batch assembly and the background DataLoader: coverage of every sample per epoch,
// drop_last, thread-count invariance, early stop, and error propagation.
#include "data/loader.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "data/test_fixtures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

InMemoryDataset MakeData(int64_t n) {
  InMemoryDataset d;
  d.num = n;
  d.channels = 3;
  d.height = 6;
  d.width = 6;
  d.classes = {"a", "b", "c"};
  for (int64_t i = 0; i < n * 108; ++i) d.pixels.push_back(static_cast<uint8_t>((i * 7) % 256));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 3));
  return d;
}

// Fails on one sample index; counts reads.
class FailingSource : public SampleSource {
 public:
  FailingSource(int64_t n, int64_t bad) : data_(MakeData(n)), bad_(bad) {}
  int64_t size() const override { return data_.size(); }
  Shape sample_shape() const override { return data_.sample_shape(); }
  int32_t label(int64_t i) const override { return data_.label(i); }
  const std::vector<std::string>& class_names() const override { return data_.class_names(); }
  absl::Status ReadSample(int64_t i, float* out) const override {
    reads_++;
    if (i == bad_) return absl::DataLossError("disk on fire");
    return data_.ReadSample(i, out);
  }
  mutable std::atomic<int64_t> reads_{0};

 private:
  InMemoryDataset data_;
  int64_t bad_;
};

TEST(BatcherTest, NumBatchesAndIndices) {
  EXPECT_EQ(NumBatches(10, 4, false), 3);
  EXPECT_EQ(NumBatches(10, 4, true), 2);
  EXPECT_EQ(NumBatches(8, 4, true), 2);
  EXPECT_EQ(NumBatches(3, 4, true), 0);
  const std::vector<int64_t> order = {5, 4, 3, 2, 1, 0};
  const auto last = BatchIndices(order, 4, 1);
  EXPECT_EQ(std::vector<int64_t>(last.begin(), last.end()), (std::vector<int64_t>{1, 0}));
}

TEST(BatcherTest, AssembleIsBitIdenticalForAnyThreadCount) {
  const InMemoryDataset d = MakeData(20);
  auto aug = ParseAugmentSpec("hflip,crop=2,rotate=20,jitter=0.4:0.4:0.4:0.1,cutout=2");
  ASSERT_TRUE(aug.ok());
  auto norm = ComputePerChannelStats(d);
  ASSERT_TRUE(norm.ok());
  const std::vector<int64_t> idx = {3, 17, 0, 9, 9, 12, 5};
  Batch serial, parallel;
  ThreadPool pool(3);
  ASSERT_TRUE(AssembleBatch(d, idx, &*aug, &*norm, 11, 4, nullptr, &serial).ok());
  ASSERT_TRUE(AssembleBatch(d, idx, &*aug, &*norm, 11, 4, &pool, &parallel).ok());
  EXPECT_EQ(serial.images.shape(), Shape({7, 3, 6, 6}));
  EXPECT_EQ(serial.labels, (std::vector<int32_t>{0, 2, 0, 0, 0, 0, 2}));
  ASSERT_EQ(serial.images.size(), parallel.images.size());
  EXPECT_EQ(0, std::memcmp(serial.images.data(), parallel.images.data(),
                           sizeof(float) * serial.images.size()));
  // The same sample index in one epoch gets the same augmentation (positions 3 and 4).
  EXPECT_EQ(0, std::memcmp(serial.images.data() + 3 * 108, serial.images.data() + 4 * 108,
                           sizeof(float) * 108));
  // A different epoch gives different augmentations.
  Batch other;
  ASSERT_TRUE(AssembleBatch(d, idx, &*aug, &*norm, 11, 5, nullptr, &other).ok());
  EXPECT_NE(0, std::memcmp(serial.images.data(), other.images.data(),
                           sizeof(float) * serial.images.size()));
}

TEST(BatcherTest, WithoutAugmentationReturnsTheSamples) {
  const InMemoryDataset d = MakeData(4);
  Batch b;
  ASSERT_TRUE(AssembleBatch(d, std::vector<int64_t>{2}, nullptr, nullptr, 0, 0, nullptr, &b).ok());
  for (int k = 0; k < 108; ++k) EXPECT_FLOAT_EQ(b.images[k], d.SamplePixels(2)[k] / 255.0f);
}

TEST(BatcherTest, AppliesNormalizationAfterAugmentation) {
  const InMemoryDataset d = MakeData(4);
  Normalization norm;
  norm.kind = Normalization::Kind::kPerChannel;
  norm.channels = 3;
  norm.height = norm.width = 6;
  norm.mean = {0.5f, 0.25f, 0.0f};
  norm.stddev = {0.5f, 2.0f, 1.0f};
  Batch b;
  ASSERT_TRUE(AssembleBatch(d, std::vector<int64_t>{1}, nullptr, &norm, 0, 0, nullptr, &b).ok());
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < 36; ++p) {
      const float x = d.SamplePixels(1)[c * 36 + p] / 255.0f;
      EXPECT_NEAR(b.images[c * 36 + p], (x - norm.mean[c]) / norm.stddev[c], 1e-6);
    }
  }
}

TEST(BatcherTest, ReportsFirstFailingSample) {
  FailingSource src(10, 6);
  Batch b;
  const absl::Status s =
      AssembleBatch(src, std::vector<int64_t>{1, 6, 7}, nullptr, nullptr, 0, 0, nullptr, &b);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sample 6: disk on fire"));
}

TEST(DataLoaderTest, EachEpochVisitsEverySampleOnce) {
  const InMemoryDataset d = MakeData(23);
  DataLoaderOptions opt;
  opt.batch_size = 5;
  opt.seed = 3;
  auto loader = DataLoader::Create(&d, nullptr, nullptr, opt);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_EQ((*loader)->num_batches(), 5);
  std::vector<int64_t> first_epoch;
  for (uint64_t epoch = 0; epoch < 2; ++epoch) {
    (*loader)->StartEpoch(epoch);
    std::multiset<int64_t> seen;
    std::vector<int64_t> order;
    int64_t batches = 0;
    for (;;) {
      auto b = (*loader)->Next();
      ASSERT_TRUE(b.ok()) << b.status();
      if (!b->has_value()) break;
      EXPECT_EQ((*b)->batch_index, batches);
      EXPECT_EQ((*b)->epoch, epoch);
      ++batches;
      for (size_t k = 0; k < (*b)->indices.size(); ++k) {
        seen.insert((*b)->indices[k]);
        order.push_back((*b)->indices[k]);
        EXPECT_EQ((*b)->labels[k], d.label((*b)->indices[k]));
      }
    }
    EXPECT_EQ(batches, 5);
    EXPECT_EQ(seen.size(), 23u);
    EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 23u);
    if (epoch == 0) first_epoch = order;
    if (epoch == 1) {
      EXPECT_NE(order, first_epoch);
    }
    // After the end, Next keeps returning nullopt.
    auto after = (*loader)->Next();
    ASSERT_TRUE(after.ok());
    EXPECT_FALSE(after->has_value());
  }
}

TEST(DataLoaderTest, DropLastDropsTheShortBatch) {
  const InMemoryDataset d = MakeData(23);
  DataLoaderOptions opt;
  opt.batch_size = 5;
  opt.drop_last = true;
  auto loader = DataLoader::Create(&d, nullptr, nullptr, opt);
  ASSERT_TRUE(loader.ok());
  (*loader)->StartEpoch(0);
  int batches = 0;
  for (auto b = (*loader)->Next(); b.ok() && b->has_value(); b = (*loader)->Next()) {
    EXPECT_EQ((*b)->images.dim(0), 5);
    ++batches;
  }
  EXPECT_EQ(batches, 4);
}

TEST(DataLoaderTest, ThreadCountDoesNotChangeBatches) {
  const InMemoryDataset d = MakeData(17);
  auto aug = ParseAugmentSpec("hflip,crop=1,rrc,jitter=0.2:0.2:0.2:0.05");
  ASSERT_TRUE(aug.ok());
  std::vector<std::vector<float>> results;
  for (size_t threads : {size_t{1}, size_t{3}}) {
    DataLoaderOptions opt;
    opt.batch_size = 4;
    opt.seed = 99;
    opt.num_threads = threads;
    auto loader = DataLoader::Create(&d, &*aug, nullptr, opt);
    ASSERT_TRUE(loader.ok());
    (*loader)->StartEpoch(2);
    std::vector<float> all;
    for (auto b = (*loader)->Next(); b.ok() && b->has_value(); b = (*loader)->Next()) {
      all.insert(all.end(), (*b)->images.data(), (*b)->images.data() + (*b)->images.size());
    }
    results.push_back(all);
  }
  EXPECT_EQ(results[0].size(), 17u * 108u);
  EXPECT_EQ(results[0], results[1]);
}

TEST(DataLoaderTest, BatchSizeDoesNotChangeTheEpochStream) {
  // Order depends on (seed, epoch) and augmentation on (seed, epoch, index), so concatenating an
  // epoch's batches gives the same images for any batch size (useful when resuming runs).
  const InMemoryDataset d = MakeData(13);
  auto aug = ParseAugmentSpec("hflip,rotate=30,cutout=2:0.5");
  ASSERT_TRUE(aug.ok());
  std::vector<std::vector<float>> results;
  for (int64_t bs : {1, 4, 13}) {
    DataLoaderOptions opt;
    opt.batch_size = bs;
    opt.seed = 5;
    auto loader = DataLoader::Create(&d, &*aug, nullptr, opt);
    ASSERT_TRUE(loader.ok());
    (*loader)->StartEpoch(3);
    std::vector<float> all;
    for (auto b = (*loader)->Next(); b.ok() && b->has_value(); b = (*loader)->Next()) {
      all.insert(all.end(), (*b)->images.data(), (*b)->images.data() + (*b)->images.size());
    }
    results.push_back(all);
  }
  EXPECT_EQ(results[0], results[1]);
  EXPECT_EQ(results[0], results[2]);
}

TEST(DataLoaderTest, EarlyStopAndDestructionDoNotHang) {
  const InMemoryDataset d = MakeData(200);
  DataLoaderOptions opt;
  opt.batch_size = 2;
  opt.prefetch = 2;
  {
    auto loader = DataLoader::Create(&d, nullptr, nullptr, opt);
    ASSERT_TRUE(loader.ok());
    (*loader)->StartEpoch(0);
    auto b = (*loader)->Next();
    ASSERT_TRUE(b.ok() && b->has_value());
    (*loader)->Stop();
    auto after = (*loader)->Next();
    ASSERT_TRUE(after.ok());
    EXPECT_FALSE(after->has_value());
    // Restarting mid-epoch and destroying with a full queue both return promptly.
    (*loader)->StartEpoch(1);
    (*loader)->StartEpoch(2);
    auto c = (*loader)->Next();
    ASSERT_TRUE(c.ok() && c->has_value());
    EXPECT_EQ((*c)->epoch, 2u);
    EXPECT_EQ((*c)->batch_index, 0);
  }
}

TEST(DataLoaderTest, RecycledBatchesAreReusedUnlessStillShared) {
  const InMemoryDataset d = MakeData(101);
  DataLoaderOptions opt;
  opt.batch_size = 4;
  opt.prefetch = 1;
  opt.seed = 5;
  auto plain = DataLoader::Create(&d, nullptr, nullptr, opt);
  auto recycling = DataLoader::Create(&d, nullptr, nullptr, opt);
  ASSERT_TRUE(plain.ok() && recycling.ok());
  (*plain)->StartEpoch(3);
  (*recycling)->StartEpoch(3);
  std::vector<const float*> recycled;
  Tensor kept;  // a view held past Recycle, as a layer keeps its last input
  std::vector<float> kept_values;
  bool reused = false;
  for (int64_t b = 0;; ++b) {
    auto want = (*plain)->Next();
    auto got = (*recycling)->Next();
    ASSERT_TRUE(want.ok() && got.ok());
    ASSERT_EQ(want->has_value(), got->has_value());
    if (!got->has_value()) break;
    Batch& g = **got;
    const Batch& w = **want;
    ASSERT_EQ(g.images.shape(), w.images.shape());
    for (int64_t i = 0; i < g.images.size(); ++i) ASSERT_EQ(g.images[i], w.images[i]) << b;
    EXPECT_EQ(g.labels, w.labels);
    EXPECT_EQ(g.indices, w.indices);
    EXPECT_EQ(g.batch_index, b);
    for (const float* p : recycled) reused = reused || p == g.images.data();
    if (b == 2) {
      kept = g.images;
      kept_values.assign(g.images.data(), g.images.data() + g.images.size());
    }
    recycled.push_back(g.images.data());
    (*recycling)->Recycle(std::move(g));
  }
  EXPECT_TRUE(reused);
  // The held batch was never overwritten.
  for (int64_t i = 0; i < kept.size(); ++i) ASSERT_EQ(kept[i], kept_values[static_cast<size_t>(i)]);
}

TEST(DataLoaderTest, QueueIsBounded) {
  FailingSource src(100, -1);
  DataLoaderOptions opt;
  opt.batch_size = 1;
  opt.prefetch = 3;
  auto loader = DataLoader::Create(&src, nullptr, nullptr, opt);
  ASSERT_TRUE(loader.ok());
  (*loader)->StartEpoch(0);
  // Wait (up to 10 s on a loaded machine) until the producer has filled the queue, then give it
  // time to overrun if the bound were broken.
  for (int k = 0; k < 1000 && src.reads_.load() < 3; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // `prefetch` ready batches; the producer waits for room before assembling the next one.
  EXPECT_EQ(src.reads_.load(), 3);
  auto b = (*loader)->Next();
  ASSERT_TRUE(b.ok() && b->has_value());
  for (int k = 0; k < 1000 && src.reads_.load() < 4; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(src.reads_.load(), 4);
}

TEST(DataLoaderTest, PropagatesSampleErrorsAsStatus) {
  FailingSource src(12, 7);
  DataLoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  auto loader = DataLoader::Create(&src, nullptr, nullptr, opt);
  ASSERT_TRUE(loader.ok());
  (*loader)->StartEpoch(0);
  auto b0 = (*loader)->Next();
  ASSERT_TRUE(b0.ok() && b0->has_value());
  auto b1 = (*loader)->Next();
  ASSERT_FALSE(b1.ok());
  EXPECT_EQ(b1.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(b1.status().message()), HasSubstr("batch 1"));
  EXPECT_THAT(std::string(b1.status().message()), HasSubstr("sample 7"));
  auto after = (*loader)->Next();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());
}

TEST(DataLoaderTest, PropagatesCorruptImageFileFromLazyFolder) {
  const std::string root = test::TempDir("loader_folder");
  std::filesystem::create_directories(root + "/a");
  for (int k = 0; k < 5; ++k) {
    test::WriteFile(root + "/a/" + std::to_string(k) + ".png",
                    test::EncodePng(test::MakePattern(8, 8, 3, k), 8, 8, 3));
  }
  test::WriteFile(root + "/a/3.png", "truncated");
  ImageFolderOptions fopt;
  fopt.height = 8;
  fopt.width = 8;
  auto src = ImageFolderSource::Create(root, fopt);
  ASSERT_TRUE(src.ok());
  DataLoaderOptions opt;
  opt.batch_size = 5;
  auto loader = DataLoader::Create(src->get(), nullptr, nullptr, opt);
  ASSERT_TRUE(loader.ok());
  (*loader)->StartEpoch(0);
  auto b = (*loader)->Next();
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(std::string(b.status().message()), HasSubstr("a/3.png"));
}

TEST(DataLoaderTest, CreateRejectsBadOptions) {
  const InMemoryDataset d = MakeData(4);
  DataLoaderOptions opt;
  opt.batch_size = 0;
  EXPECT_THAT(std::string(DataLoader::Create(&d, nullptr, nullptr, opt).status().message()),
              HasSubstr("batch_size"));
  opt = DataLoaderOptions();
  opt.prefetch = 0;
  EXPECT_THAT(std::string(DataLoader::Create(&d, nullptr, nullptr, opt).status().message()),
              HasSubstr("prefetch"));
  opt = DataLoaderOptions();
  opt.num_threads = 0;
  EXPECT_THAT(std::string(DataLoader::Create(&d, nullptr, nullptr, opt).status().message()),
              HasSubstr("num_threads"));
  InMemoryDataset empty;
  EXPECT_THAT(std::string(DataLoader::Create(&empty, nullptr, nullptr, DataLoaderOptions())
                              .status()
                              .message()),
              HasSubstr("zero images"));
  Normalization wrong;
  wrong.kind = Normalization::Kind::kPerChannel;
  wrong.channels = 1;
  wrong.height = 6;
  wrong.width = 6;
  wrong.mean = {0.5f};
  wrong.stddev = {0.5f};
  EXPECT_THAT(std::string(DataLoader::Create(&d, nullptr, &wrong, DataLoaderOptions())
                              .status()
                              .message()),
              HasSubstr("(1, 6, 6)"));
}

TEST(DataLoaderTest, NextBeforeStartEpochIsFailedPrecondition) {
  const InMemoryDataset d = MakeData(4);
  auto loader = DataLoader::Create(&d, nullptr, nullptr, DataLoaderOptions());
  ASSERT_TRUE(loader.ok());
  EXPECT_EQ((*loader)->Next().status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace simdnet
