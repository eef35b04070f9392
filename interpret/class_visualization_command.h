// `simdnet classvis`: images that a checkpoint's model scores highest for chosen classes.
#ifndef SIMDNET_INTERPRET_CLASS_VISUALIZATION_COMMAND_H_
#define SIMDNET_INTERPRET_CLASS_VISUALIZATION_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "interpret/class_visualization.h"

namespace simdnet {

struct ClassVisCommandOptions {
  std::string checkpoint;  // --checkpoint: a `simdnet train` checkpoint (required)
  std::string out_dir;     // --out: directory for the PNGs and the CSV
  // --class: "all" (every class) or a comma-separated list of class indices ("1,7").
  std::string classes = "all";
  // --steps, --lr, --jitter, --decay, --blur_every, --blur_sigma, --clip_percentile, --seed:
  // see ClassVisualizationOptions (init_std and snapshot_every are not CLI flags).
  // snapshot_every = 0 here picks steps / 8.
  ClassVisualizationOptions ascent;
};

// Loads the checkpoint, runs VisualizeClasses for the classes and writes into out_dir:
// - classvis.png: one image per class (upscaled), captioned with its name and logit start->end;
// - classvis_steps.png: one row per class, the snapshots of the ascent left to right;
// - classvis_scores.png / classvis_scores.csv (step, class, name, logit): the class score per
//   step.
// Returns the text to print (settings, per-class logit rise, time, paths). Errors name the flag.
absl::StatusOr<std::string> RunClassVisCommand(const ClassVisCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_CLASS_VISUALIZATION_COMMAND_H_
