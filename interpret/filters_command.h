// `simdnet filters`: draws the filters of a checkpoint's conv layer into a PNG.
#ifndef SIMDNET_INTERPRET_FILTERS_COMMAND_H_
#define SIMDNET_INTERPRET_FILTERS_COMMAND_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace simdnet {

struct FiltersCommandOptions {
  std::string checkpoint;  // --checkpoint: a `simdnet train` checkpoint (required)
  std::string layer;       // --layer: a conv layer path, e.g. "features.3"; "" = the first conv
  std::string out_dir;     // --out: directory for filters_<layer>[_mean].png (created if missing)
  int64_t max_filters = 32;   // --max_filters: deeper layers, at most this many filters (rows)
  int64_t max_channels = 16;  // --max_channels: deeper layers, at most this many input channels
  bool channel_mean = false;  // --channel_mean: deeper layers, one tile per filter (channel mean)
  int pixels_per_weight = 0;  // --pixels_per_weight: tile pixels per weight; 0 = 8
};

// Loads the checkpoint, renders FindConvLayer(layer)'s filters (RenderFilters) and writes
// out_dir/filters_<layer>.png. Returns the text to print (layer, weight shape, view, path).
// Errors name the flag (--checkpoint, --layer, --max_filters, ...).
absl::StatusOr<std::string> RunFiltersCommand(const FiltersCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_FILTERS_COMMAND_H_
