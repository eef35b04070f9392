// Background batch production with a bounded queue and cooperative cancellation.
#include "data/loader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "data/shuffle.h"
#include "tensor/status_macros.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<DataLoader>> DataLoader::Create(const SampleSource* source,
                                                               const Augmenter* augment,
                                                               const Normalization* norm,
                                                               const DataLoaderOptions& options) {
  if (source == nullptr) return absl::InvalidArgumentError("DataLoader: source is null");
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataLoaderOptions.batch_size is ", options.batch_size, "; must be >= 1"));
  }
  if (options.prefetch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataLoaderOptions.prefetch is ", options.prefetch, "; must be >= 1"));
  }
  if (options.num_threads < 1 || options.num_threads > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("DataLoaderOptions.num_threads is ",
                                                   options.num_threads, "; must be in [1, 1024]"));
  }
  if (options.shard_count < 1 || options.shard_index < 0 ||
      options.shard_index >= options.shard_count) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataLoaderOptions.shard_index is ", options.shard_index, " of shard_count ",
                     options.shard_count, "; must be in [0, shard_count)"));
  }
  if (source->size() <= 0) {
    return absl::InvalidArgumentError("DataLoader: the data set contains zero images");
  }
  if (source->sample_shape().rank() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("DataLoader: sample shape ",
                                                   source->sample_shape().ToString(),
                                                   " is not (C, H, W)"));
  }
  if (norm != nullptr) {
    SIMDNET_RETURN_IF_ERROR(CheckNormalizationShape(*norm, source->sample_shape()));
  }
  return std::unique_ptr<DataLoader>(new DataLoader(source, augment, norm, options));
}

DataLoader::DataLoader(const SampleSource* source, const Augmenter* augment,
                       const Normalization* norm, const DataLoaderOptions& options)
    : source_(source), augment_(augment), norm_(norm), options_(options) {
  if (options_.num_threads > 1) pool_ = std::make_unique<ThreadPool>(options_.num_threads);
}

DataLoader::~DataLoader() { Stop(); }

int64_t DataLoader::num_batches() const {
  return NumBatches(source_->size(), options_.batch_size, options_.drop_last);
}

void DataLoader::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (producer_.joinable()) producer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
  producer_done_ = true;
}

void DataLoader::StartEpoch(uint64_t epoch) {
  Stop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = false;
    producer_done_ = false;
    started_ = true;
  }
  producer_ = std::thread([this, epoch] { Produce(epoch); });
}

void DataLoader::Produce(uint64_t epoch) {
  const std::vector<int64_t> order =
      EpochOrder(source_->size(), options_.seed, epoch, options_.shuffle);
  const int64_t nb = num_batches();
  for (int64_t b = 0; b < nb; ++b) {
    {
      // Wait for room before assembling, so at most `prefetch` batches exist ahead of the
      // consumer plus the one being built.
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < options_.prefetch; });
      if (stop_) break;
    }
    Item item;
    {
      // The oldest recycled batch whose images nobody else holds any more.
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = spare_.begin(); it != spare_.end(); ++it) {
        if (it->images.StorageUseCount() == 1) {
          item.batch = std::move(*it);
          spare_.erase(it);
          break;
        }
      }
      while (spare_.size() > static_cast<size_t>(options_.prefetch) + 1) spare_.pop_front();
    }
    item.batch.batch_index = b;
    item.status = AssembleBatch(
        *source_,
        ShardOfBatch(BatchIndices(order, options_.batch_size, b), options_.shard_index,
                     options_.shard_count),
        augment_, norm_, options_.seed, epoch, pool_.get(), &item.batch);
    if (!item.status.ok()) {
      item.status = absl::Status(item.status.code(),
                                 absl::StrCat("DataLoader epoch ", epoch, " batch ", b, ": ",
                                              item.status.message()));
    }
    const bool failed = !item.status.ok();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) break;
      queue_.push_back(std::move(item));
    }
    cv_.notify_all();
    if (failed) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    producer_done_ = true;
  }
  cv_.notify_all();
}

void DataLoader::Recycle(Batch batch) {
  if (batch.images.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  spare_.push_back(std::move(batch));
}

absl::StatusOr<std::optional<Batch>> DataLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!started_) {
    return absl::FailedPreconditionError("DataLoader::Next called before StartEpoch");
  }
  cv_.wait(lock, [&] { return !queue_.empty() || producer_done_; });
  if (queue_.empty()) return std::optional<Batch>();
  Item item = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  cv_.notify_all();
  if (!item.status.ok()) return item.status;
  return std::optional<Batch>(std::move(item.batch));
}

}  // namespace simdnet
