// BatchNormSync: whole-batch BatchNorm statistics for a batch that is split across model
// replicas running at the same time, one thread each (train/batch_split.h). Each replica's
// BatchNorm layer computes its slice's per-channel sums and exchanges them here, so that every
// replica normalizes with the statistics of the whole batch, as the unsplit layer would.
#ifndef SIMDNET_LAYERS_BATCH_NORM_SYNC_H_
#define SIMDNET_LAYERS_BATCH_NORM_SYNC_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace simdnet {

class BatchNormSync {
 public:
  // For `ranks` replicas (>= 1) exchanging at most `max_count` floats per call.
  BatchNormSync(size_t ranks, size_t max_count);
  BatchNormSync(const BatchNormSync&) = delete;
  BatchNormSync& operator=(const BatchNormSync&) = delete;

  size_t ranks() const { return slots_.size(); }
  // The number of rows of the whole batch (the statistics' sample count is this times the
  // spatial size), as set by Begin.
  int64_t total_rows() const { return total_rows_; }

  // Starts a step over a batch of `total_rows` rows: clears the rounds and any Abort. Called
  // while no replica is inside AllReduce.
  void Begin(int64_t total_rows);

  // Replica `rank` contributes values[0, count); once every replica has contributed to this
  // round, values is overwritten with the sums over the replicas, added in rank order
  // (v_0 + v_1 + ..., so every replica gets the same bits). The replicas must make the same
  // sequence of calls with the same counts, from threads that run at the same time. Returns
  // false, values unchanged, if Abort was called (a replica stopped early): the caller's step
  // is then void. Requires: rank < ranks(), count <= max_count.
  bool AllReduce(size_t rank, float* values, size_t count);

  // Releases every replica waiting in AllReduce now or later in this step (each returns false).
  void Abort();

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> round{0};  // the last round this rank has published
    uint64_t local_round = 0;        // touched by the rank's own thread only
    std::vector<float> values[2];    // by round parity
  };
  std::vector<std::unique_ptr<Slot>> slots_;
  size_t max_count_;
  int64_t total_rows_ = 0;
  std::atomic<bool> aborted_{false};
};

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_BATCH_NORM_SYNC_H_
