// `simdnet activations`: activation statistics of a trained checkpoint on held-out images, or
// the CS231n weight-initialization experiment, written as PNG + CSV with a printable table.
#ifndef SIMDNET_INTERPRET_ACTIVATION_STATS_COMMAND_H_
#define SIMDNET_INTERPRET_ACTIVATION_STATS_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "interpret/activation_stats.h"
#include "layers/model.h"
#include "tensor/tensor.h"
#include "train/commands.h"

namespace simdnet {

struct ActivationsCommandOptions {
  std::string checkpoint;            // --checkpoint (not needed with init_experiment)
  DataOptions data;                  // held-out images come from its test split
  int64_t samples = 256;             // --samples: images drawn (seeded) from the held-out set
  std::vector<std::string> layers;   // --layers: layer paths; empty = every leaf layer
  bool init_experiment = false;      // --init_experiment: run RunInitExperiment instead
  std::string out_dir;               // --out: created if missing
  uint64_t seed = 1;                 // --seed: sample choice / the experiment's weights+inputs
};

// Runs the command and returns the text table the CLI prints (ending with the written paths).
// With a checkpoint: `samples` held-out images (a seeded random subset, in index order) are
// normalized with the checkpoint's statistics and the model's layer outputs summarized; writes
// out_dir/activations.png and out_dir/activations.csv. With init_experiment: runs the
// lecture's experiment (10 layers x 500 units, 1000 inputs) with `seed`; writes
// out_dir/init_histograms.png, init_std.svg, init_mean.svg and init_experiment.csv.
// Errors name the flag: "--samples=0: must be in [1, 10000]", "--out: ...",
// "--checkpoint: ...", "--layers: ..." (listing the valid names), and the file for I/O errors.
absl::StatusOr<std::string> RunActivationsCommand(const ActivationsCommandOptions& options);

// The checkpoint half of RunActivationsCommand for a model already in memory: computes the
// statistics of `layers` (empty = every leaf) for x (N, ...InputShape(), already normalized),
// writes out_dir/activations.png (titled `title`) and out_dir/activations.csv, and returns the
// table. Requires: out_dir exists. NotFound prefixed "--layers: " (listing the valid names) for
// an unknown layer; InvalidArgument naming "--samples" if the kept outputs would exceed 2 GiB.
absl::StatusOr<std::string> WriteModelActivationReport(Model& model, const Tensor& x,
                                                       const std::vector<std::string>& layers,
                                                       const std::string& out_dir,
                                                       const std::string& title);

// The init-experiment half: writes init_histograms.png, init_std.svg, init_mean.svg and
// init_experiment.csv for `result` into out_dir and returns FormatInitExperimentTable plus the
// paths. Requires: out_dir exists.
absl::StatusOr<std::string> WriteInitExperimentReport(const InitExperimentResult& result,
                                                      const std::string& out_dir);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_ACTIVATION_STATS_COMMAND_H_
