// BatchSplit: data parallelism inside one process for small models. Each thread of the pool runs
// the forward and backward pass of one contiguous slice of the batch on its own replica of the
// model, with one-thread kernels, in a single parallel loop; the slices' parameter gradients are
// then summed in slice order.
//
// Why: a small network (LeNet-5: 61,706 parameters, 0.42 M mult-adds per image) at batch 64 runs
// dozens of layer-level parallel loops per step, each too short to pay for the synchronization
// of its threads (and a worker that was descheduled makes the caller run the whole loop alone).
// One replica per thread turns them into one loop per step whose tasks each take about half a
// millisecond. The sum of the slices' gradients, each slice's loss weighted by its share of the
// batch, is then the gradient of the whole batch. BatchNorm, whose statistics couple the samples
// of a batch, exchanges its slices' per-channel sums between the replicas
// (layers/batch_norm_sync.h) and normalizes with the whole batch's statistics, so the replicas of
// such a model run at the same time, one per thread (ThreadPool::ParallelForConcurrent). For
// vgg-small at batch 64 on two cores this is faster than splitting each layer across the threads:
// no parallel loop per layer, no thread waiting at the end of each, each core on its own half of
// the activations. The statistics are those of the unsplit batch up to float rounding (a
// channel's sums are added slice by slice), so a fixed slice count gives fixed bits.
#ifndef SIMDNET_TRAIN_BATCH_SPLIT_H_
#define SIMDNET_TRAIN_BATCH_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "layers/batch_norm.h"
#include "layers/batch_norm_sync.h"
#include "layers/dropout.h"
#include "layers/model.h"
#include "tensor/tensor.h"
#include "tensor/thread_pool.h"

namespace simdnet {

// The loss of one slice: returns the SUM over its rows of the per-sample losses of logits
// (n, K) for labels (n) and OVERWRITES *dlogits with the gradient of that sum (e.g.
// SoftmaxCrossEntropy with LossReduction::kSum).
using SliceLoss = std::function<absl::StatusOr<float>(
    const Tensor& logits, absl::Span<const int64_t> labels, Tensor* dlogits)>;

// The largest model (in parameters) that the trainer's batch_split = "auto" splits: each replica
// holds its own copy of the gradients.
inline constexpr int64_t kAutoBatchSplitMaxParams = int64_t{1} << 22;

class BatchSplit {
 public:
  // Returns "" if `model` can be trained with BatchSplit, else why not (the first layer other
  // than a BatchNorm that keeps buffers which training updates).
  static std::string Unsupported(Model& model);

  // Whether the trainer's batch_split = "auto" splits `model` over `threads` threads: more than
  // one thread, Unsupported(model) empty, at most kAutoBatchSplitMaxParams parameters and, for a
  // model with BatchNorm, no more threads than AvailableCores().
  static bool AutoSplits(Model& model, size_t threads);

  // Returns a splitter into `slices` slices for `model` (which it does not own and which must
  // outlive it): slice 0 runs on `model` itself, slice s >= 1 on a replica rebuilt from
  // model->ToSpec() whose parameter values share the model's storage (an optimizer step on the
  // model updates every replica) and whose gradients are its own. FailedPrecondition naming the
  // reason if Unsupported(*model) is not empty or the model cannot be rebuilt from its spec;
  // InvalidArgument if slices < 2.
  static absl::StatusOr<std::unique_ptr<BatchSplit>> Create(Model* model, size_t slices);

  size_t slices() const { return replicas_.size() + 1; }

  // Sets the dropout sample keys (Dropout::SetSampleKeys) for the next ForwardBackward: ids has
  // one entry per row of that batch; each slice's dropout layers get the ids of its rows, so the
  // masks are those of the unsplit model.
  void SetSampleKeys(uint64_t epoch, absl::Span<const int64_t> ids);

  // Runs forward and backward on x (N, ...InputShape()) with labels (N): rows
  // [N * s / S, N * (s + 1) / S) of slice s on replica s (S = min(slices(), N)), the slices as
  // the tasks of one ParallelFor on `pool` (ParallelForConcurrent when the model has BatchNorm
  // layers: FailedPrecondition if `pool` cannot run S tasks at once), each with one-thread
  // kernels. The batch loss is the
  // sum of the slices' losses divided by `divisor` (N for a plain mean, the sum of the rows'
  // class weights for PyTorch's weighted mean), and each slice's gradient is scaled by
  // 1 / divisor; divisor == 0 gives a NaN loss and no gradient, as a mean loss's 0/0. Then the
  // model's parameter gradients ACCUMULATE (+=, as Model::ForwardBackward) the slices'
  // gradients, slice 1, 2, ... added in order (bit-identical results for a fixed slice count,
  // whichever thread ran which slice). Returns the batch loss; *correct (if non-null) gets the
  // number of rows whose largest logit is at the label. InvalidArgument, before any gradient is
  // touched, if x does not fit the model, labels.size() != N, a label is outside
  // [0, num_classes) or divisor is negative or not finite; errors of `loss`. zero_grad: the
  // model's gradients are first set to zero (Model::ZeroGrad, by slice 0's task, so that it
  // overlaps the other slices' work) and then receive the batch's gradient.
  absl::StatusOr<float> ForwardBackward(const Tensor& x, absl::Span<const int64_t> labels,
                                        const SliceLoss& loss, double divisor, int64_t* correct,
                                        ThreadPool& pool, bool zero_grad = false);

 private:
  BatchSplit() = default;
  // Makes every replica's parameters share the model's values and copies the model's frozen /
  // weight-decay flags, mode and parameter-gradient switch (they may change between steps).
  absl::Status SyncReplicas();

  // Points the BatchNorm layers of the model (rank 0) and of the first slices - 1 replicas at
  // syncs_ for a batch of `rows` rows (null: detaches them all).
  void AttachBatchNorms(size_t slices, int64_t rows);
  void DetachBatchNorms();

  struct Replica {
    std::unique_ptr<Model> model;
    std::vector<Parameter*> params;  // in the order of the model's Params()
    std::vector<Dropout*> dropouts;
    std::vector<BatchNorm*> batch_norms;  // in the order of the model's
    std::vector<Tensor*> buffers;         // in the order of the model's Buffers()
  };
  Model* model_ = nullptr;
  std::vector<Parameter*> params_;
  std::vector<Dropout*> dropouts_;
  std::vector<BatchNorm*> batch_norms_;
  std::vector<Tensor*> buffers_;
  // One per BatchNorm layer, for the slice count of the last batch.
  std::vector<std::unique_ptr<BatchNormSync>> syncs_;
  std::vector<Replica> replicas_;
  uint64_t key_epoch_ = 0;
  std::vector<int64_t> sample_ids_;
  // Per slice: logits, loss, correct count, status (kept across steps: no allocation per step).
  std::vector<Tensor> logits_;
};

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_BATCH_SPLIT_H_
