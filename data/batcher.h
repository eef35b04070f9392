// Mini-batch assembly: reads samples from a SampleSource, augments each with its own
// (seed, epoch, index) Rng, normalizes, and packs them into one (B, C, H, W) tensor.
#ifndef SIMDNET_DATA_BATCHER_H_
#define SIMDNET_DATA_BATCHER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "tensor/tensor.h"

namespace simdnet {

class ThreadPool;

// One mini-batch.
struct Batch {
  Tensor images;                 // (B, C, H, W)
  std::vector<int32_t> labels;   // B labels
  std::vector<int64_t> indices;  // B sample indices into the source
  uint64_t epoch = 0;
  int64_t batch_index = 0;       // position within the epoch
};

// Returns the number of batches per epoch for n samples: ceil(n / batch_size), or
// floor(n / batch_size) with drop_last. Requires: n >= 0, batch_size >= 1.
int64_t NumBatches(int64_t n, int64_t batch_size, bool drop_last);

// Returns the sample indices of batch `batch_index` within `order` (see EpochOrder).
// Requires: 0 <= batch_index < NumBatches(order.size(), batch_size, drop_last).
absl::Span<const int64_t> BatchIndices(absl::Span<const int64_t> order, int64_t batch_size,
                                       int64_t batch_index);

// Returns shard `shard` of `shards` of `batch` (the sample indices of one global batch): a
// contiguous slice, the first batch.size() % shards shards one sample longer, possibly empty.
// Concatenated in shard order, the shards are `batch`, so data-parallel ranks together train on
// exactly the samples, in the order, of a single-process run with the same global batch.
// Requires: 0 <= shard < shards.
absl::Span<const int64_t> ShardOfBatch(absl::Span<const int64_t> batch, int64_t shard,
                                       int64_t shards);

// Fills `out` with the samples at `indices`: ReadSample, then `augment` (if non-null) with
// SampleRng(seed, epoch, index), then `norm` (if non-null). Samples are processed on `pool`
// (if non-null) one task per sample; the result is bit-identical for every thread count.
// Returns the error of the first failing sample (lowest position), prefixed with its index.
// Requires: norm (if any) matches source.sample_shape() (see CheckNormalizationShape).
absl::Status AssembleBatch(const SampleSource& source, absl::Span<const int64_t> indices,
                           const Augmenter* augment, const Normalization* norm, uint64_t seed,
                           uint64_t epoch, ThreadPool* pool, Batch* out);

}  // namespace simdnet

#endif  // SIMDNET_DATA_BATCHER_H_
