// Scatter plots of 2-D embeddings (t-SNE output): points colored by class with a legend and a
// title, optionally with a non-overlapping subset of per-point thumbnails drawn at their
// positions. Drawing and PNG encoding come from train/plot.h.
#ifndef SIMDNET_INTERPRET_TSNE_PLOT_H_
#define SIMDNET_INTERPRET_TSNE_PLOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "train/plot.h"

namespace simdnet {

struct ScatterOptions {
  int width = 1000;   // In [200, 4096].
  int height = 1000;  // In [200, 4096].
  std::string title;
  int point_radius = 3;  // Disc radius in pixels, in [1, 20].

  // Optional thumbnails: n images of thumb_channels x thumb_height x thumb_width uint8 (CHW),
  // concatenated; thumb_channels is 1 (gray) or 3 (RGB). Empty = no thumbnails.
  std::vector<uint8_t> thumbnails;
  int64_t thumb_channels = 0, thumb_height = 0, thumb_width = 0;
  int thumbnail_scale = 1;  // Each thumbnail pixel becomes scale x scale, in [1, 8].
  int max_thumbnails = 80;  // At most this many are drawn (>= 0).
};

// Returns the color of class `c` (a 10-color palette of well-distinguishable hues, Tableau 10;
// cycles for c >= 10). Requires: c >= 0.
Rgb ClassColor(int64_t c);

// Renders xy (n, 2 row-major) as a scatter plot: each point a disc colored by labels[i], a
// legend with one entry per class (class_names[c], or "class c" when class_names is empty),
// equal axis scales, and the title on top. With thumbnails, the plot area is split into cells
// about two thumbnails wide; in each cell the point nearest its center gets its thumbnail drawn
// centered on it with a border in its class color, so thumbnails never overlap.
// Returns InvalidArgument naming the field if: xy.size() != 2 * labels.size(), n == 0, an xy
// value is not finite (naming the point), a label is negative or (with class_names) >=
// class_names.size(), an option is out of range, or the thumbnail buffer size is not
// n * channels * height * width.
absl::StatusOr<Image> RenderScatter(const std::vector<float>& xy,
                                       const std::vector<int32_t>& labels,
                                       const std::vector<std::string>& class_names,
                                       const ScatterOptions& options);

// Renders with RenderScatter and writes the PNG to `path` atomically.
absl::Status WriteScatterPng(absl::string_view path, const std::vector<float>& xy,
                             const std::vector<int32_t>& labels,
                             const std::vector<std::string>& class_names,
                             const ScatterOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_TSNE_PLOT_H_
