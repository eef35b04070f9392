// `simdnet filters`: checkpoint -> conv layer -> filter grid PNG.
#include "interpret/filters_command.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "interpret/filters.h"
#include "interpret/source.h"
#include "tensor/status_macros.h"

namespace simdnet {

absl::StatusOr<std::string> RunFiltersCommand(const FiltersCommandOptions& options) {
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(options.checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(Conv2d * conv, FindConvLayer(*loaded.model, options.layer));
  std::string layer = options.layer;
  if (layer.empty()) layer = ConvLayerNames(*loaded.model).front();
  FilterGridOptions grid;
  grid.max_filters = options.max_filters;
  grid.max_channels = options.max_channels;
  grid.channel_mean = options.channel_mean;
  grid.pixels_per_weight = options.pixels_per_weight;
  grid.layer_name = layer;
  SIMDNET_ASSIGN_OR_RETURN(Image image, RenderFilters(*conv, grid));
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
  const bool mean_view = options.channel_mean && conv->weight().value.dim(1) != 1 &&
                         conv->weight().value.dim(1) != 3;
  const std::string path = absl::StrCat(options.out_dir, "/filters_", layer,
                                        mean_view ? "_mean" : "", ".png");
  SIMDNET_RETURN_IF_ERROR(WritePng(path, image));
  const Tensor& w = conv->weight().value;
  double sum_sq = 0.0;
  float lo = w[0], hi = w[0];
  for (int64_t i = 0; i < w.size(); ++i) {
    sum_sq += static_cast<double>(w[i]) * w[i];
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  const int64_t cin = w.dim(1);
  const int64_t rows = std::min(w.dim(0), options.max_filters);
  const int64_t cols = std::min(cin, options.max_channels);
  const std::string view =
      (cin == 1 || cin == 3)
          ? absl::StrCat(cin == 1 ? "gray" : "RGB",
                         ", one tile per filter, each stretched from its min (black) to its max "
                         "(white)")
      : options.channel_mean
          ? absl::StrCat("mean over the ", cin, " input channels, one tile per filter (first ",
                         rows, "), blue < 0 < red, each filter scaled by its max |w|")
          : absl::StrCat("rows = filters 0..", rows - 1, ", cols = input channels 0..", cols - 1,
                         ", blue < 0 < red, each filter scaled by its max |w|");
  return absl::StrFormat(
      "filters of %s: %s, weight %dx%dx%dx%d, min %.4g max %.4g rms %.4g\n  view: %s\n  wrote %s "
      "(%dx%d)\n",
      layer, conv->Describe(), w.dim(0), w.dim(1), w.dim(2), w.dim(3), lo, hi,
      std::sqrt(sum_sq / static_cast<double>(w.size())), view, path, image.width,
      image.height);
}

}  // namespace simdnet
