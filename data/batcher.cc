// Batch assembly: per-sample work is independent and seeded by sample index, so the thread
// count changes only the speed, never the bits.
#include "data/batcher.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {

int64_t NumBatches(int64_t n, int64_t batch_size, bool drop_last) {
  SIMDNET_CHECK(n >= 0 && batch_size >= 1);
  return drop_last ? n / batch_size : (n + batch_size - 1) / batch_size;
}

absl::Span<const int64_t> BatchIndices(absl::Span<const int64_t> order, int64_t batch_size,
                                       int64_t batch_index) {
  const int64_t n = static_cast<int64_t>(order.size());
  const int64_t begin = batch_index * batch_size;
  SIMDNET_CHECK(batch_index >= 0 && begin < n);
  const int64_t end = std::min(n, begin + batch_size);
  return order.subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin));
}

absl::Span<const int64_t> ShardOfBatch(absl::Span<const int64_t> batch, int64_t shard,
                                       int64_t shards) {
  SIMDNET_CHECK(shards >= 1 && shard >= 0 && shard < shards);
  const int64_t n = static_cast<int64_t>(batch.size());
  const int64_t base = n / shards, extra = n % shards;
  const int64_t begin = shard * base + std::min(shard, extra);
  const int64_t size = base + (shard < extra ? 1 : 0);
  return batch.subspan(static_cast<size_t>(begin), static_cast<size_t>(size));
}

absl::Status AssembleBatch(const SampleSource& source, absl::Span<const int64_t> indices,
                           const Augmenter* augment, const Normalization* norm, uint64_t seed,
                           uint64_t epoch, ThreadPool* pool, Batch* out) {
  const Shape s = source.sample_shape();
  const ImageDims dims{s.dim(0), s.dim(1), s.dim(2)};
  const int64_t b = static_cast<int64_t>(indices.size());
  const int64_t per = dims.size();
  if (out->images.shape() != Shape({b, dims.channels, dims.height, dims.width})) {
    out->images = Tensor(Shape({b, dims.channels, dims.height, dims.width}));
  }
  out->labels.resize(indices.size());
  out->indices.assign(indices.begin(), indices.end());
  out->epoch = epoch;
  std::vector<absl::Status> status(indices.size());
  const bool need_scratch = augment != nullptr && !augment->empty();
  const size_t threads = pool ? pool->NumThreads() : 1;
  // One scratch image per thread: `thread` only selects a buffer, never affects the result.
  std::vector<std::unique_ptr<float[]>> scratch(threads);
  if (need_scratch) {
    for (auto& buf : scratch) buf.reset(new float[static_cast<size_t>(per)]);
  }
  float* images = out->images.data();
  auto work = [&](uint64_t k, size_t thread) {
    const int64_t index = indices[k];
    if (index < 0 || index >= source.size()) {
      status[k] = absl::OutOfRangeError(absl::StrCat("batch sample index ", index,
                                                     " out of range [0, ", source.size(), ")"));
      return;
    }
    float* image = images + static_cast<int64_t>(k) * per;
    status[k] = source.ReadSample(index, image);
    if (!status[k].ok()) return;
    out->labels[k] = source.label(index);
    if (need_scratch) {
      Rng rng = SampleRng(seed, epoch, static_cast<uint64_t>(index));
      augment->Apply(dims, rng, image, scratch[thread].get());
    }
    if (norm != nullptr) norm->Apply(image, 1);
  };
  if (pool != nullptr && b > 1) {
    pool->ParallelFor(static_cast<uint64_t>(b), work);
  } else {
    for (int64_t k = 0; k < b; ++k) work(static_cast<uint64_t>(k), 0);
  }
  for (size_t k = 0; k < status.size(); ++k) {
    if (!status[k].ok()) {
      return absl::Status(status[k].code(), absl::StrCat("sample ", indices[k], ": ",
                                                         status[k].message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace simdnet
