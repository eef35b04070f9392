// Pictures of tensors for people: input images, heat maps and their overlays, contrast-stretched
// filters, and grids of captioned tiles, as Image (train/plot.h) ready for WritePng.
#ifndef SIMDNET_INTERPRET_IMAGE_H_
#define SIMDNET_INTERPRET_IMAGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "train/plot.h"

namespace simdnet {

// Returns the sample `chw` (C, H, W) with values in [0, 1] (clamped) as an RGB image, gray
// replicated when C = 1, each pixel drawn as a scale x scale block.
// Requires: c is 1 or 3, h, w >= 1, scale >= 1.
Image PixelsToImage(const float* chw, int64_t c, int64_t h, int64_t w, int scale);

// Returns the color of t in [0, 1] (clamped) on a perceptually ordered dark-to-bright map
// (black, purple, red, orange, light yellow: close to matplotlib's "inferno").
Rgb HeatColor(float t);

// Returns the map (h, w) as a heat map: values mapped linearly from [lo, hi] to HeatColor,
// each value a scale x scale block. With hi <= lo every value maps to 0.
// Requires: h, w >= 1, scale >= 1.
Image HeatMapImage(const float* map, int64_t h, int64_t w, float lo, float hi, int scale);

// Returns `base` (e.g. PixelsToImage at the same scale) blended with the heat map of `map`
// (h, w), upscaled to base's size: out = (1 - a) * gray(base) + a * heat, where a = alpha * t
// for the normalized value t, so cold regions show the image and hot ones the heat color.
// Requires: base is (h * scale) x (w * scale) for an integer scale >= 1; alpha in [0, 1].
Image OverlayHeatMap(const Image& base, const float* map, int64_t h, int64_t w, float lo,
                        float hi, float alpha);

// Returns `chw` (C, H, W), C = 1 or 3, contrast-stretched so its minimum maps to 0 and its
// maximum to 255 (jointly over channels), each value a scale x scale block. A constant tensor
// becomes mid gray. For filters, whose values have no fixed range.
Image StretchToImage(const float* chw, int64_t c, int64_t h, int64_t w, int scale);

// Returns `values` (h, w) with a symmetric diverging map around 0: negative blue, 0 white,
// positive red, |v| / max|v| as intensity. For signed maps (perturbations, filter channels).
Image DivergingImage(const float* values, int64_t h, int64_t w, int scale);

struct TileGridOptions {
  int cols = 8;                       // tiles per row, >= 1
  int gap = 6;                        // background pixels between tiles and around the grid
  Rgb background{255, 255, 255};
  Rgb text{20, 20, 20};
  int text_scale = 1;                 // DrawText scale for captions and labels
  std::string title;                  // drawn at text_scale + 1 above the grid when non-empty
  std::vector<std::string> captions;  // one per tile (or empty): drawn under each tile
  std::vector<std::string> row_labels;  // one per row (or empty): drawn left of each row
};

// Arranges `tiles` row-major into a grid, cells sized to the largest tile (smaller tiles are
// centered), with captions cut to the cell width. An empty tile list gives a grid with only the
// title. Requires: options.cols >= 1, text_scale >= 1.
Image ComposeGrid(const std::vector<Image>& tiles, const TileGridOptions& options);

// Returns `image` scaled by an integer factor (nearest neighbour). Requires: scale >= 1.
Image Upscale(const Image& image, int scale);

// Returns an integer scale that makes an image of `size` pixels at least `min_size` pixels
// on its longer side (1 if it already is), e.g. 28 -> 4 for min_size 112.
int ScaleFor(int64_t size, int64_t min_size);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_IMAGE_H_
