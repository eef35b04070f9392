// The learned filters of a convolution layer as a picture: one contrast-stretched tile per filter
// (gray or RGB for 1- or 3-channel inputs), or one signed tile per (filter, input channel) or per
// filter averaged over its input channels for deeper layers (as in CS231n's "Visualizing what
// ConvNets learn"; Zeiler & Fergus 2014 show first-layer filters the same way).
#ifndef SIMDNET_INTERPRET_FILTERS_H_
#define SIMDNET_INTERPRET_FILTERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "layers/conv2d.h"
#include "layers/model.h"
#include "train/plot.h"

namespace simdnet {

// Returns the paths of the model's Conv2d layers in forward order (e.g. {"features.0", ...}).
std::vector<std::string> ConvLayerNames(Model& model);

// Returns the Conv2d at `name`, or the first one for an empty name. Errors name the flag
// `--layer`: NotFound (listing the layers) for an unknown name or a model without convolutions;
// InvalidArgument naming the layer, its type and the conv layers if it is not a Conv2d.
absl::StatusOr<Conv2d*> FindConvLayer(Model& model, absl::string_view name);

struct FilterGridOptions {
  // Deeper layers (more than 3 input channels): at most this many filters (rows) ...
  int64_t max_filters = 32;
  // ... and this many input channels (columns) are drawn.
  int64_t max_channels = 16;
  // Deeper layers: one tile per filter showing the mean over its input channels instead of one
  // per (filter, input channel).
  bool channel_mean = false;
  // Screen pixels per weight; 0 picks max(8, enough for 30-pixel tiles): 10 for 3x3.
  int pixels_per_weight = 0;
  // Shown in the title, e.g. "features.0".
  std::string layer_name;
};

// Renders the filters of `conv` (weight (F, Cin, kh, kw), Cin per group):
// - Cin = 1 or 3: one tile per filter (all F), gray or RGB, each filter contrast-stretched on its
//   own (min -> black, max -> white);
// - Cin > 3: rows = filters (first max_filters), cols = input channels (first max_channels),
//   each tile a DivergingImage (blue < 0 < red) scaled by its FILTER's max |w| so the channels of
//   one filter compare; or with channel_mean, one diverging tile per filter of the channel mean.
// The short title names the layer and the view (the caller prints the details). Signed views
// have a gray background so that near-zero (white) weights keep their tile edges. InvalidArgument naming the flag for
// max_filters / max_channels < 1 or pixels_per_weight < 0.
absl::StatusOr<Image> RenderFilters(Conv2d& conv, const FilterGridOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_FILTERS_H_
