// Throughput of the full input pipeline (decode + augment + normalize + batch) in images/s, per
// thread count: Fashion-MNIST from the installed gzip IDX files, and a folder of 224x224 JPEGs
// generated into a temp directory and decoded lazily per batch.
//
//   bazel run -c opt //data:pipeline_bench
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "data/augment.h"
#include "data/batcher.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/normalize.h"
#include "data/shuffle.h"
#include "data/test_fixtures.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

constexpr int64_t kFashionBatch = 128;
constexpr int64_t kJpegBatch = 32;
constexpr int kJpegClasses = 4;
constexpr int kJpegPerClass = 16;

// Loaded once; null if the data set is not installed.
const InMemoryDataset* Fashion() {
  static const InMemoryDataset* data = [] {
    auto d = LoadFashionMnist("", Split::kTrain);
    if (!d.ok()) {
      std::fprintf(stderr, "Fashion-MNIST unavailable: %s\n", std::string(d.status().message()).c_str());
      return static_cast<InMemoryDataset*>(nullptr);
    }
    return new InMemoryDataset(*std::move(d));
  }();
  return data;
}

// Writes kJpegClasses x kJpegPerClass random-pattern 224x224 JPEGs once; returns the root.
const std::string& JpegFolder() {
  static const std::string root = [] {
    const std::string dir = test::TempDir("simdnet_pipeline_bench_jpeg");
    for (int c = 0; c < kJpegClasses; ++c) {
      const std::string cls = dir + "/class_" + std::to_string(c);
      std::filesystem::create_directories(cls);
      for (int k = 0; k < kJpegPerClass; ++k) {
        const std::vector<uint8_t> px = test::MakePattern(224, 224, 3, c * kJpegPerClass + k);
        test::WriteFile(cls + "/" + std::to_string(k) + ".jpg", test::EncodeJpeg(px, 224, 224, 3));
      }
    }
    return dir;
  }();
  return root;
}

void BM_FashionMnistGunzipAndParse(benchmark::State& state) {
  for (auto _ : state) {
    auto d = LoadFashionMnist("", Split::kTest);
    if (!d.ok()) {
      state.SkipWithError("Fashion-MNIST not installed");
      return;
    }
    benchmark::DoNotOptimize(d->pixels.data());
  }
  state.counters["images/s"] =
      benchmark::Counter(10000.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// One batch: uint8 -> float, flip + pad-crop, per-channel normalization, on `threads` threads.
void BM_FashionMnistBatch(benchmark::State& state) {
  const InMemoryDataset* data = Fashion();
  if (data == nullptr) {
    state.SkipWithError("Fashion-MNIST not installed");
    return;
  }
  const size_t threads = static_cast<size_t>(state.range(0));
  auto aug = ParseAugmentSpec("hflip,crop=2");
  auto norm = ComputePerChannelStats(*data);
  SIMDNET_CHECK(aug.ok() && norm.ok());
  ThreadPool pool(threads);
  const std::vector<int64_t> order = EpochOrder(data->size(), 1, 0, true);
  Batch batch;
  int64_t b = 0;
  const int64_t nb = NumBatches(data->size(), kFashionBatch, true);
  for (auto _ : state) {
    const absl::Status s = AssembleBatch(*data, BatchIndices(order, kFashionBatch, b % nb),
                                         &*aug, &*norm, 1, 0, threads > 1 ? &pool : nullptr, &batch);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    ++b;
  }
  state.counters["images/s"] = benchmark::Counter(
      static_cast<double>(kFashionBatch * state.iterations()), benchmark::Counter::kIsRate);
}

// A whole Fashion-MNIST epoch through the background DataLoader (the consumer does nothing).
void BM_FashionMnistLoaderEpoch(benchmark::State& state) {
  const InMemoryDataset* data = Fashion();
  if (data == nullptr) {
    state.SkipWithError("Fashion-MNIST not installed");
    return;
  }
  auto aug = ParseAugmentSpec("hflip,crop=2");
  SIMDNET_CHECK(aug.ok());
  DataLoaderOptions opt;
  opt.batch_size = kFashionBatch;
  opt.num_threads = static_cast<size_t>(state.range(0));
  auto loader = DataLoader::Create(data, &*aug, nullptr, opt);
  SIMDNET_CHECK(loader.ok());
  uint64_t epoch = 0;
  for (auto _ : state) {
    (*loader)->StartEpoch(epoch++);
    for (auto b = (*loader)->Next(); b.ok() && b->has_value(); b = (*loader)->Next()) {
      benchmark::DoNotOptimize((*b)->images.data());
    }
  }
  state.counters["images/s"] = benchmark::Counter(
      static_cast<double>(data->size() * static_cast<int64_t>(state.iterations())),
      benchmark::Counter::kIsRate);
}

// One batch of 224x224 JPEGs: read + decode + (no-op) resize + random resized crop + flip +
// colour jitter, on `threads` threads.
void BM_JpegFolderBatch(benchmark::State& state) {
  const size_t threads = static_cast<size_t>(state.range(0));
  ImageFolderOptions fopt;
  fopt.height = fopt.width = 224;
  auto src = ImageFolderSource::Create(JpegFolder(), fopt);
  SIMDNET_CHECK(src.ok());
  auto aug = ParseAugmentSpec("rrc,hflip,jitter=0.4:0.4:0.4:0.1");
  SIMDNET_CHECK(aug.ok());
  ThreadPool pool(threads);
  const std::vector<int64_t> order = EpochOrder((*src)->size(), 1, 0, true);
  Batch batch;
  int64_t b = 0;
  const int64_t nb = NumBatches((*src)->size(), kJpegBatch, true);
  for (auto _ : state) {
    const absl::Status s = AssembleBatch(**src, BatchIndices(order, kJpegBatch, b % nb), &*aug,
                                         nullptr, 1, 0, threads > 1 ? &pool : nullptr, &batch);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    ++b;
  }
  state.counters["images/s"] = benchmark::Counter(
      static_cast<double>(kJpegBatch * state.iterations()), benchmark::Counter::kIsRate);
}

// Decode only (no augmentation), to separate decoder cost from augmentation cost.
void BM_JpegDecodeOnly(benchmark::State& state) {
  ImageFolderOptions fopt;
  fopt.height = fopt.width = 224;
  auto src = ImageFolderSource::Create(JpegFolder(), fopt);
  SIMDNET_CHECK(src.ok());
  std::vector<float> out(3 * 224 * 224);
  int64_t i = 0;
  for (auto _ : state) {
    SIMDNET_CHECK((*src)->ReadSample(i++ % (*src)->size(), out.data()).ok());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_FashionMnistGunzipAndParse)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_FashionMnistBatch)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_FashionMnistLoaderEpoch)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_JpegDecodeOnly)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_JpegFolderBatch)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace simdnet

BENCHMARK_MAIN();
