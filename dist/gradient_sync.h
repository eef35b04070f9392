// GradientSync: the data-parallel part of a training step. Averages parameter gradients over
// the ranks of a Communicator in flat buckets of about `bucket_bytes`, each started
// (non-blocking) as soon as the backward passes of all its layers have run, so communication
// overlaps the rest of the backward pass (the bucketing of PyTorch DDP, Li et al. 2020).
// Also broadcasts rank 0's model, averages BatchNorm running statistics and checks that the
// ranks' models have not drifted apart.
#ifndef SIMDNET_DIST_GRADIENT_SYNC_H_
#define SIMDNET_DIST_GRADIENT_SYNC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dist/communicator.h"
#include "layers/model.h"

namespace simdnet {

struct GradientSyncOptions {
  // Target bucket size; a layer's parameters are never split, so a bucket may be larger.
  int64_t bucket_bytes = int64_t{1} << 20;
};

class GradientSync {
 public:
  // Plans the buckets over the trainable (not frozen) parameters of `model` in backward order
  // (the reverse of the forward order) and installs a backward hook on every leaf layer that
  // has such parameters (replacing any hook it had; the destructor removes them), except a
  // BatchNorm that follows another such leaf in a Sequential: its parameters are complete when
  // that leaf's hook runs, and without a hook it keeps the fused BatchNorm+ReLU backward.
  // Neither pointer is owned; both must outlive this object. InvalidArgument for
  // bucket_bytes < 1.
  static absl::StatusOr<std::unique_ptr<GradientSync>> Create(Model* model, Communicator* comm,
                                                              const GradientSyncOptions& options);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // Starts a step whose local gradients will be weighted by `weight` (this rank's share of the
  // global batch: local samples / global samples, so that the sum over ranks is the gradient of
  // the mean loss over the global batch). Call after ZeroGrad, before the backward pass.
  void BeginStep(double weight);
  // Ends the step: starts the buckets whose layers did not run backward (a rank with no
  // samples in this batch), waits for every bucket under the communicator's deadline and
  // writes the summed gradients back into every parameter's grad. All ranks must call it.
  absl::Status FinishStep();

  // Copies rank 0's parameters and buffers (BatchNorm running statistics) to every rank.
  absl::Status BroadcastModel();
  // Replaces every buffer by its mean over the ranks (BatchNorm running mean and variance).
  absl::Status AverageBuffers();
  // Internal if the ranks' parameters and buffers differ (compared by a double-precision
  // checksum per tensor): a bug or a non-deterministic reduction, never expected.
  absl::Status CheckInSync();

  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Returns the parameter names of bucket `b` (for tests and the run log).
  std::vector<std::string> BucketParams(int64_t b) const;
  // Bytes of gradient sent per step (all buckets).
  int64_t gradient_bytes() const;
  // Total time FinishStep spent blocked waiting for buckets to complete.
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Bucket {
    std::vector<NamedParameter> params;
    std::vector<float> flat;
    int64_t layers = 0;        // leaf layers whose parameters it holds
    int64_t layers_done = 0;   // of those, backward passes run this step
    CollectiveId id = -1;      // in flight; -1: not started this step
  };

  GradientSync(Model* model, Communicator* comm) : model_(model), comm_(comm) {}
  void OnLayerBackward(int64_t bucket);
  absl::Status StartBucket(Bucket& b);
  // The model's buffers and parameters as one list of (name, tensor).
  std::vector<std::pair<std::string, Tensor*>> State();

  Model* model_;
  Communicator* comm_;
  std::vector<Bucket> buckets_;
  std::vector<Layer*> hooked_;
  float weight_ = 1.0f;
  double wait_seconds_ = 0.0;
  absl::Status hook_status_;  // the first error of a bucket started from a hook
};

}  // namespace simdnet

#endif  // SIMDNET_DIST_GRADIENT_SYNC_H_
