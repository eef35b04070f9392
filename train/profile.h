// Per-layer profile of a model: the wall time of every layer's Forward and Backward (timed by
// the containers through a LayerTimer), with each layer's share of the total and its achieved
// GFLOPS, as a table (`simdnet bench --profile`, `simdnet train --profile`).
#ifndef SIMDNET_TRAIN_PROFILE_H_
#define SIMDNET_TRAIN_PROFILE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "layers/layer.h"
#include "layers/model.h"

namespace simdnet {

// Collects per-layer times while installed (the constructor installs it with SetLayerTimer,
// the destructor removes it). Requires: one profiler at a time; `model` outlives it and keeps
// its layers (no ReplaceHead) while it is installed.
class ModelProfiler : public LayerTimer {
 public:
  explicit ModelProfiler(Model& model);
  ~ModelProfiler() override;
  ModelProfiler(const ModelProfiler&) = delete;
  ModelProfiler& operator=(const ModelProfiler&) = delete;

  void Record(const Layer& layer, bool backward, int64_t batch, double seconds) override;

  // Returns the table: one row per layer (containers indented, with inclusive times) with
  // forward and backward milliseconds per call, the leaf's share of the leaves' total time, and
  // GFLOPS = 2 * mult-adds per sample * samples / time (backward counts twice the forward's
  // work: the data and the weight gradient).
  std::string Format() const;

  // Returns the forward / backward seconds recorded for the leaf layers in total.
  double LeafForwardSeconds() const;
  double LeafBackwardSeconds() const;

 private:
  struct Row {
    std::string path, description;
    int depth = 0;
    bool leaf = false;
    int64_t mult_adds = 0;  // per sample, forward
    double forward = 0.0, backward = 0.0;  // seconds
    int64_t forward_calls = 0, backward_calls = 0;
    int64_t forward_samples = 0, backward_samples = 0;
  };
  std::vector<Row> rows_;
  std::map<const Layer*, size_t> index_;
};

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_PROFILE_H_
