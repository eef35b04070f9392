// Pictures of convolution filters: per-filter contrast stretch, signed per-channel tiles.
#include "interpret/filters.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "interpret/image.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// Cuts rows [y0, y0 + h) of `image` into a new image.
Image CropRows(const Image& image, int y0, int h) {
  Image out = Image::Filled(image.width, h, {});
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < image.width; ++x) out.Set(x, y, image.Get(x, y0 + y));
  }
  return out;
}

}  // namespace

std::vector<std::string> ConvLayerNames(Model& model) {
  std::vector<std::string> names;
  model.ForEachLayer([&](const std::string& path, Layer& layer, int) {
    if (layer.TypeName() == "conv2d") names.push_back(path);
  });
  return names;
}

absl::StatusOr<Conv2d*> FindConvLayer(Model& model, absl::string_view name) {
  const std::vector<std::string> convs = ConvLayerNames(model);
  if (name.empty()) {
    if (convs.empty()) {
      return absl::NotFoundError(absl::StrCat("--layer: the model has no conv layer (layers: ",
                                              absl::StrJoin(model.LayerNames(), ", "), ")"));
    }
    name = convs.front();
  }
  absl::StatusOr<Layer*> layer = model.FindLayer(name);
  if (!layer.ok()) {
    return absl::NotFoundError(absl::StrCat("--layer=", name, ": ", layer.status().message()));
  }
  if ((*layer)->TypeName() != "conv2d") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--layer=", name, ": is a ", (*layer)->TypeName(), " layer (", (*layer)->Describe(),
        "), not a convolution; conv layers: ",
        convs.empty() ? std::string("none") : absl::StrJoin(convs, ", ")));
  }
  return static_cast<Conv2d*>(*layer);
}

absl::StatusOr<Image> RenderFilters(Conv2d& conv, const FilterGridOptions& options) {
  if (options.max_filters < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_filters=", options.max_filters, ": must be >= 1"));
  }
  if (options.max_channels < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_channels=", options.max_channels, ": must be >= 1"));
  }
  if (options.pixels_per_weight < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--pixels_per_weight=", options.pixels_per_weight, ": must be >= 0 (0: automatic)"));
  }
  const Tensor& w = conv.weight().value;
  SIMDNET_CHECK(w.rank() == 4);
  const int64_t filters = w.dim(0), cin = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t per_filter = cin * kh * kw, plane = kh * kw;
  const int scale = options.pixels_per_weight > 0
                        ? options.pixels_per_weight
                        : std::max(8, ScaleFor(std::max(kh, kw), 30));
  const std::string name = options.layer_name.empty() ? "conv" : options.layer_name;

  std::vector<Image> tiles;
  TileGridOptions grid;
  grid.gap = 4;
  if (cin == 1 || cin == 3) {
    // Image-like filters: (Cin, kh, kw) is a small picture; stretch each filter on its own.
    std::vector<float> chw(static_cast<size_t>(per_filter));
    for (int64_t f = 0; f < filters; ++f) {
      std::copy(w.data() + f * per_filter, w.data() + (f + 1) * per_filter, chw.begin());
      tiles.push_back(StretchToImage(chw.data(), cin, kh, kw, scale));
      grid.captions.push_back(absl::StrCat(f));
    }
    grid.cols = static_cast<int>(std::min<int64_t>(filters, 16));
    grid.title = absl::StrCat(name, ": ", filters, " filters ", cin, "x", kh, "x", kw,
                              ", min..max each");
    return ComposeGrid(tiles, grid);
  }
  const int64_t rows = std::min(filters, options.max_filters);
  if (options.channel_mean) {
    std::vector<float> mean(static_cast<size_t>(plane));
    for (int64_t f = 0; f < rows; ++f) {
      std::fill(mean.begin(), mean.end(), 0.0f);
      for (int64_t c = 0; c < cin; ++c) {
        const float* src = w.data() + f * per_filter + c * plane;
        for (int64_t k = 0; k < plane; ++k) mean[static_cast<size_t>(k)] += src[k];
      }
      for (float& v : mean) v /= static_cast<float>(cin);
      tiles.push_back(DivergingImage(mean.data(), kh, kw, scale));
      grid.captions.push_back(absl::StrCat(f));
    }
    grid.cols = static_cast<int>(std::min<int64_t>(rows, 16));
    grid.title = absl::StrCat(name, ": ", rows, " filters, mean of ", cin, " channels");
    grid.background = Rgb{190, 190, 190};
    return ComposeGrid(tiles, grid);
  }
  // One tile per (filter, input channel). The whole filter goes through DivergingImage as one
  // (cin * kh, kw) map so that its channels share one scale (per-filter stretch), then the
  // drawn channels are cut out of it.
  const int64_t cols = std::min(cin, options.max_channels);
  for (int64_t f = 0; f < rows; ++f) {
    const Image whole = DivergingImage(w.data() + f * per_filter, cin * kh, kw, scale);
    for (int64_t c = 0; c < cols; ++c) {
      tiles.push_back(CropRows(whole, static_cast<int>(c * kh * scale),
                               static_cast<int>(kh * scale)));
    }
    grid.row_labels.push_back(absl::StrCat("f", f));
  }
  grid.cols = static_cast<int>(cols);
  grid.title = absl::StrCat(name, ": filter (row) x input channel");
  grid.background = Rgb{190, 190, 190};  // near-zero weights are white: keep tile edges visible
  return ComposeGrid(tiles, grid);
}

}  // namespace simdnet
