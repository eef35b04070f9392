// `simdnet saliency`: vanilla gradient, SmoothGrad, guided backpropagation and Grad-CAM maps of
// a checkpoint for chosen test images or image files, drawn as one PNG (a row per image).
#ifndef SIMDNET_INTERPRET_SALIENCY_COMMAND_H_
#define SIMDNET_INTERPRET_SALIENCY_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/commands.h"

namespace simdnet {

struct SaliencyCommandOptions {
  std::string checkpoint;           // --checkpoint: a `simdnet train` checkpoint (required)
  DataOptions data;                 // --dataset/--data_dir...: where --indices look (test split)
  std::vector<int64_t> indices;     // --indices: test images; empty with no files = 0..7
  std::vector<std::string> files;   // image files (CLI arguments) instead of test images
  std::vector<int64_t> classes;     // --class: empty = predicted class; one = for every image;
                                    //   else one per image
  std::string layer;                // --layer: Grad-CAM layer; "" = DefaultGradCamLayer
  int64_t smoothgrad_samples = 25;  // --smoothgrad_samples: noisy copies per image, >= 1
  float smoothgrad_sigma = 0.15f;   // --smoothgrad_sigma: noise std / (max - min), >= 0
  uint64_t seed = 1;                // --seed: SmoothGrad noise
  std::string out_dir;              // --out: gets saliency.png (created if missing)
  bool throughput = false;          // --throughput: also time vanilla saliency over the whole
                                    //   held-out split (batches of 256) and report images/s
};

// Loads the checkpoint, computes the four maps for the selected images (explaining the class
// logit) and writes out_dir/saliency.png: per image a row image | vanilla | SmoothGrad | guided
// backprop (signed: red positive, blue negative) | Grad-CAM overlay (the three gradient maps
// scaled to their 99th percentile of |value| per image), captions with the class
// name and probability, the Grad-CAM layer in the title. Returns the text to print (a table
// per image, the timings and the path). Errors name the flag: "--class=12: must be in [0, 10)",
// "--layer=features.99: ...", "--indices: ...", "image files ...", "--smoothgrad_samples=0: ...".
absl::StatusOr<std::string> RunSaliencyCommand(const SaliencyCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_SALIENCY_COMMAND_H_
