// `simdnet bench`: inference speed of a preset, spec or checkpoint on this machine (images/s at
// several batch sizes, latency percentiles at batch 1, data loading excluded), optionally with
// the per-layer profile of inference and of a training step.
#ifndef SIMDNET_TRAIN_BENCH_COMMAND_H_
#define SIMDNET_TRAIN_BENCH_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tensor/shape.h"

namespace simdnet {

struct BenchOptions {
  std::string model = "vgg-small";  // --model: preset or spec file (ignored with a checkpoint)
  std::string checkpoint;           // --checkpoint: benchmark this trained model instead
  std::optional<Shape> input_shape;  // --input_shape for a preset or spec
  int64_t num_classes = 10;          // --num_classes for a preset or spec
  std::vector<int64_t> batch_sizes = {1, 64, 256};  // --batch_sizes, each in [1, 4096]
  double seconds = 1.0;   // --bench_seconds: measuring time per batch size, in [0.01, 600]
  bool profile = false;   // --profile: per-layer tables (inference, and a training step)
  // --bench_train: also time training steps (train mode: forward, backward, SGD with momentum
  // 0.9 and weight decay 1e-4), once per item: "full" trains every parameter, any other item is
  // a freeze list for Model::FreezeList ("backbone": only the head learns, as when fine-tuning
  // with a frozen backbone; prefixes separated by '+'). Empty: inference only.
  std::vector<std::string> train_modes;
};

// Runs the benchmark and returns the report: per batch size images/s (median of the timed
// calls) and, at batch 1, latency p50 / p90 / p99; with profile, the per-layer tables of
// inference and of a training step (forward, backward with parameter gradients) at the largest
// batch size; with train_modes, training images/s and step time per mode and batch size.
// Inputs are random (speed does not depend on the values); weights are the checkpoint's or a
// seeded initialization. Errors name the flag.
absl::StatusOr<std::string> RunBench(const BenchOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_BENCH_COMMAND_H_
