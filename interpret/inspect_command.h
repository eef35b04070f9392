// `simdnet inspect`: one self-contained HTML page for a checkpoint that gathers every
// interpretation tool: filters, top-activating patches with their deconvnet / guided
// projections, activation statistics, the t-SNE map, saliency maps, adversarial examples and
// the accuracy-vs-epsilon sweep, and class visualizations.
#ifndef SIMDNET_INTERPRET_INSPECT_COMMAND_H_
#define SIMDNET_INTERPRET_INSPECT_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/commands.h"

namespace simdnet {

struct InspectCommandOptions {
  std::string checkpoint;  // --checkpoint
  DataOptions data;        // the held-out (test) split is looked at
  std::string out_dir;     // --out: inspect.html plus one sub-folder per tool
  uint64_t seed = 1;       // --seed
  // Test images for saliency and adversarial examples (--indices).
  std::vector<int64_t> indices = {0, 1, 2, 3, 4, 5};
  int64_t tsne_samples = 5000;    // images on the t-SNE map
  int64_t sweep_samples = 500;    // images in the accuracy-vs-epsilon sweep
  int64_t patch_samples = 5000;   // images searched for top-activating patches
  int64_t patch_channels = 4;     // channels shown per conv layer
};

// Runs every tool into sub-folders of out_dir and writes out_dir/inspect.html (images embedded
// as data URIs, so the page is one file). Returns the text to print: each tool's summary and
// the page's path. A tool's failure fails the command, naming the tool.
absl::StatusOr<std::string> RunInspectCommand(const InspectCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_INSPECT_COMMAND_H_
