// Grid rendering for the augment_grid debug tool.
#include "data/grid.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::Status CheckRange(const char* field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat("GridOptions.", field, " is ", v, "; must be in [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Image> RenderAugmentGrid(const SampleSource& source, const Augmenter& augment,
                                        const GridOptions& o) {
  SIMDNET_RETURN_IF_ERROR(CheckRange("rows", o.rows, 1, 64));
  SIMDNET_RETURN_IF_ERROR(CheckRange("cols", o.cols, 1, 64));
  SIMDNET_RETURN_IF_ERROR(CheckRange("scale", o.scale, 1, 16));
  SIMDNET_RETURN_IF_ERROR(CheckRange("border", o.border, 0, 16));
  if (o.first_sample < 0 || o.first_sample + o.rows > source.size()) {
    return absl::InvalidArgumentError(absl::StrCat("GridOptions: samples [", o.first_sample, ", ",
                                                   o.first_sample + o.rows,
                                                   ") exceed the data set size ", source.size()));
  }
  const Shape s = source.sample_shape();
  const ImageDims d{s.dim(0), s.dim(1), s.dim(2)};
  if (d.channels != 1 && d.channels != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("augment grid: samples have ", d.channels, " channels; expected 1 or 3"));
  }
  Image g;
  g.channels = static_cast<int>(d.channels);
  const int64_t cell_h = d.height * o.scale, cell_w = d.width * o.scale;
  // At most 64 cells of 16x-scaled samples plus borders per side: fits an int for any sample
  // size an image data set holds (Image sizes are int).
  const int64_t height = o.rows * cell_h + (o.rows + 1) * o.border;
  const int64_t width = o.cols * cell_w + (o.cols + 1) * o.border;
  if (height > (int64_t{1} << 15) || width > (int64_t{1} << 15)) {
    return absl::InvalidArgumentError(absl::StrCat("augment grid: the grid would be ", width, "x",
                                                   height, " pixels (max 32768 per side)"));
  }
  g.height = static_cast<int>(height);
  g.width = static_cast<int>(width);
  g.pixels.assign(static_cast<size_t>(height * width * d.channels), 255);
  std::vector<float> original(static_cast<size_t>(d.size())), image(original.size()),
      scratch(original.size());
  for (int64_t r = 0; r < o.rows; ++r) {
    const int64_t index = o.first_sample + r;
    SIMDNET_RETURN_IF_ERROR(source.ReadSample(index, original.data()));
    for (int64_t c = 0; c < o.cols; ++c) {
      image = original;
      if (c > 0) {
        Rng rng = SampleRng(o.seed, static_cast<uint64_t>(c - 1), static_cast<uint64_t>(index));
        augment.Apply(d, rng, image.data(), scratch.data());
      }
      const int64_t y0 = o.border + r * (cell_h + o.border);
      const int64_t x0 = o.border + c * (cell_w + o.border);
      for (int64_t y = 0; y < cell_h; ++y) {
        for (int64_t x = 0; x < cell_w; ++x) {
          for (int64_t ch = 0; ch < d.channels; ++ch) {
            const float v = image[(ch * d.height + y / o.scale) * d.width + x / o.scale];
            const float clamped = std::min(std::max(v, 0.0f), 1.0f);
            g.pixels[static_cast<size_t>(((y0 + y) * width + x0 + x) * d.channels + ch)] =
                static_cast<uint8_t>(std::lround(clamped * 255.0f));
          }
        }
      }
    }
  }
  return g;
}

}  // namespace simdnet
