// DataLoader: prepares the next mini-batches of an epoch on a background thread while the
// current one trains. Bounded queue, seeded per-epoch shuffling, clean shutdown on early stop and
// in the destructor, and errors from reading or decoding returned to the caller as Status.
#ifndef SIMDNET_DATA_LOADER_H_
#define SIMDNET_DATA_LOADER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/augment.h"
#include "data/batcher.h"
#include "data/dataset.h"
#include "data/normalize.h"
#include "tensor/thread_pool.h"

namespace simdnet {

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;     // a new seeded permutation every epoch (see EpochOrder)
  bool drop_last = false;  // drop the last, smaller batch
  uint64_t seed = 0;       // drives shuffling and augmentation
  int64_t prefetch = 2;    // batches kept ready ahead of the consumer (queue bound)
  size_t num_threads = 1;  // threads assembling one batch (the loader owns its pool)
  // Data-parallel sharding: every batch holds only shard `shard_index` of `shard_count` of the
  // global batch of batch_size samples (ShardOfBatch); the global order is unchanged.
  int64_t shard_index = 0;
  int64_t shard_count = 1;
};

class DataLoader {
 public:
  // Creates a loader over `source`, optionally augmenting and normalizing every sample.
  // The loader does not own source, augment or norm; they must outlive it.
  // InvalidArgument naming the field for batch_size < 1, prefetch < 1, num_threads outside
  // [1, 1024], an empty source, or a normalization for a different sample shape.
  static absl::StatusOr<std::unique_ptr<DataLoader>> Create(const SampleSource* source,
                                                            const Augmenter* augment,
                                                            const Normalization* norm,
                                                            const DataLoaderOptions& options);

  // Stops the producer (dropping queued batches) and joins it.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts producing the batches of `epoch` in the background. An epoch still in progress is
  // stopped first (early stop), and its remaining batches are discarded.
  void StartEpoch(uint64_t epoch);

  // Returns the next batch of the current epoch, std::nullopt once the epoch is exhausted, or
  // the error that stopped batch production (the epoch then ends: later calls return nullopt).
  // FailedPrecondition if StartEpoch was never called.
  absl::StatusOr<std::optional<Batch>> Next();

  // Gives back a batch that Next() returned, once the caller is done with it: a later batch is
  // assembled into its storage (no allocation and zero fill per batch) if by then nothing else
  // shares its images (a layer may keep a view of its last input until its next Forward), else
  // it is dropped. Optional.
  void Recycle(Batch batch);

  // Stops the current epoch early: the producer exits at its next check, queued batches are
  // dropped, and the thread is joined. Next() then returns nullopt. Idempotent.
  void Stop();

  // Returns the number of batches per epoch.
  int64_t num_batches() const;
  const DataLoaderOptions& options() const { return options_; }

 private:
  DataLoader(const SampleSource* source, const Augmenter* augment, const Normalization* norm,
             const DataLoaderOptions& options);
  void Produce(uint64_t epoch);

  const SampleSource* source_;
  const Augmenter* augment_;
  const Normalization* norm_;
  DataLoaderOptions options_;
  std::unique_ptr<ThreadPool> pool_;  // null for num_threads == 1

  std::mutex mu_;
  std::condition_variable cv_;
  struct Item {
    absl::Status status;
    Batch batch;
  };
  std::deque<Item> queue_;    // guarded by mu_
  std::deque<Batch> spare_;   // guarded by mu_: recycled batches, oldest first
  bool stop_ = false;         // guarded by mu_
  bool producer_done_ = true; // guarded by mu_
  bool started_ = false;      // guarded by mu_
  std::thread producer_;
};

}  // namespace simdnet

#endif  // SIMDNET_DATA_LOADER_H_
