// Renders a grid of augmented samples (one row per sample: the original, then augmented
// variants from successive epochs) as a gray or RGB image (tensor/image.h, which encodes PNG),
// for eyeballing an augmentation spec.
#ifndef SIMDNET_DATA_GRID_H_
#define SIMDNET_DATA_GRID_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/augment.h"
#include "data/dataset.h"
#include "tensor/image.h"

namespace simdnet {

struct GridOptions {
  int64_t rows = 4;        // samples (indices first_sample, first_sample + 1, ...)
  int64_t cols = 8;        // column 0 is the original, columns 1.. are epochs 0.. augmented
  int64_t first_sample = 0;
  int64_t scale = 4;       // nearest-neighbour upscaling factor
  int64_t border = 2;      // pixels of white between cells
  uint64_t seed = 0;
};

// Renders the grid (channels as the samples'). Each augmented cell uses SampleRng(seed, epoch = col - 1, index), the same
// stream the batcher uses, so the grid shows exactly what training sees. InvalidArgument naming
// the field if rows/cols/scale are out of [1, 64] / [1, 64] / [1, 16], border not in [0, 16],
// the samples are not 1- or 3-channel, or first_sample + rows exceeds the data set. Errors from
// ReadSample are returned.
absl::StatusOr<Image> RenderAugmentGrid(const SampleSource& source, const Augmenter& augment,
                                            const GridOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_DATA_GRID_H_
