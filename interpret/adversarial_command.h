// `simdnet adversarial`: fooling images of a checkpoint (the iterative targeted attack, or FGSM
// without a target) for chosen images as a PNG and a table, and optionally the accuracy of the
// model under FGSM and the iterative attack versus epsilon over the test set (CSV + plot).
#ifndef SIMDNET_INTERPRET_ADVERSARIAL_COMMAND_H_
#define SIMDNET_INTERPRET_ADVERSARIAL_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/commands.h"

namespace simdnet {

struct AdversarialCommandOptions {
  std::string checkpoint;          // --checkpoint: a `simdnet train` checkpoint (required)
  DataOptions data;                // --dataset/--data_dir...: test split for --indices, --sweep
  std::vector<int64_t> indices;    // --indices: test images to attack; empty with no files = 0..3
  std::vector<std::string> files;  // image files (CLI arguments) to attack instead
  std::string target;              // --target: class name ("Bag") or index; "" = untargeted FGSM
                                   //   on the true label (predicted label for files)
  float epsilon = 0.1f;            // --epsilon: L_inf radius in pixel units [0, 1], >= 0
  float alpha = 0.01f;             // --alpha: targeted step size, > 0
  int64_t max_steps = 100;         // --max_steps: targeted iterations at most, >= 1
  bool sweep = false;              // --sweep: also measure accuracy vs epsilon
  int64_t sweep_samples = 1000;    // --samples: the first n test images for the sweep, >= 1
  std::vector<float> sweep_epsilons = {0.0f, 0.01f, 0.02f, 0.05f, 0.1f, 0.2f};  // --epsilons
  int64_t sweep_steps = 10;            // --sweep_steps: iterative attack steps per epsilon
  float sweep_alpha_fraction = 0.25f;  // --alpha_fraction: iterative step = fraction * eps
  std::string out_dir;                 // --out: gets adversarial.png (+ sweep.csv/png)
};

// Loads the checkpoint, attacks the selected images and writes out_dir/adversarial.png: per
// image a row original (caption: class p) | perturbation amplified (DivergingImage, caption the
// amplification "x10" = 1 / max|delta|) | result (caption: new prediction p, steps). With
// `sweep`, runs AccuracyUnderAttack on the first sweep_samples test images and writes
// out_dir/sweep.csv (eps,fgsm_accuracy,iterative_accuracy) and out_dir/sweep.png. Returns the
// text to print: the per-image table (steps, success, L_inf, L2, probabilities before/after),
// the sweep table and the paths. Errors name the flag ("--target=Bga: no such class (...)",
// "--epsilon=-1: must be >= 0", "--alpha=0: ...", "--max_steps=0: ...", "--samples=0: ...").
absl::StatusOr<std::string> RunAdversarialCommand(const AdversarialCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_ADVERSARIAL_COMMAND_H_
