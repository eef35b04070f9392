// `simdnet patches`: the held-out images that activate chosen channels of a layer most, cropped
// to the receptive field, beside their deconvnet and guided-backpropagation projections.
#ifndef SIMDNET_INTERPRET_PATCHES_COMMAND_H_
#define SIMDNET_INTERPRET_PATCHES_COMMAND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/commands.h"

namespace simdnet {

struct PatchesCommandOptions {
  std::string checkpoint;  // --checkpoint: a `simdnet train` checkpoint (required)
  DataOptions data;        // --dataset/--data_dir...: the held-out split is searched
  std::string out_dir;     // --out: patches_<layer>.png and patches_<layer>.csv go here
  std::string layer;       // --layer: a layer with (C, H, W) output, e.g. "features.5" (required)
  std::vector<int64_t> channels;  // --layer_channels: channels of the layer; empty = the first 8
  int64_t k = 9;                  // --k: top images per channel
  int64_t num_images = 0;         // --samples: search only the first n images; 0 = all
  int64_t batch = 256;            // --batch: images per forward pass
};

// Loads the checkpoint and the held-out images, finds each channel's top-K images
// (FindTopActivations), projects each top activation to pixels with the deconvnet rule and with
// guided backpropagation (one batched backward each), and writes
// - out_dir/patches_<layer>.png: one row per channel: the K patches (receptive field crops,
//   slate where the field leaves the image), then the K deconvnet projections and the K guided
//   projections of the same boxes, each contrast-stretched;
// - out_dir/patches_<layer>.csv: channel, rank, image, label, class, activation, y, x, box
//   (y0, x0, y1, x1; end exclusive, clipped to the image).
// Returns the text to print (receptive field, time, paths). Errors name the flag.
absl::StatusOr<std::string> RunPatchesCommand(const PatchesCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_PATCHES_COMMAND_H_
