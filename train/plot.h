// SVG line charts for training curves (loss, accuracy, learning rate): several series, axes with
// "nice" ticks, grid and legend, for the HTML report (inline) and the CLI's curve files. (Text in
// PNG figures: DrawText in tensor/image.h.)
#ifndef SIMDNET_TRAIN_PLOT_H_
#define SIMDNET_TRAIN_PLOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "tensor/image.h"

namespace simdnet {


// Returns evenly spaced "nice" tick values (steps of 1, 2 or 5 times a power of ten) from
// floor(lo / step) * step to ceil(hi / step) * step, with at most about `max_ticks` intervals.
// A zero-width or non-finite range is widened first. With `integer_steps` the step is at least
// 1 (epoch and step axes) and a zero-width range is widened by 1 on each side.
// Requires: max_ticks >= 2.
std::vector<double> NiceTicks(double lo, double hi, int max_ticks, bool integer_steps = false);

// One curve. Points with a non-finite coordinate (or y <= 0 on a log axis) break the line.
struct PlotSeries {
  std::string name;       // Legend text; a series with an empty name has no legend entry.
  std::vector<double> x;  // Same length as y.
  std::vector<double> y;
};

struct PlotOptions {
  int width = 640;   // In [160, 4096].
  int height = 400;  // In [120, 4096].
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_y = false;  // Log-scale y axis with decade ticks (learning-rate curves).
};

// Renders a line chart of `series` (colors from a fixed 8-color palette, in order) as an <svg>
// element for inlining in HTML5 (text drawn by the viewer; deterministic text, coordinates to
// 0.1 pixel). With no finite points the axes span [0, 1]; a single point is a small square.
// InvalidArgument naming the series if x and y lengths differ, or naming the field if the size
// is out of range.
absl::StatusOr<std::string> RenderLinePlotSvg(absl::Span<const PlotSeries> series,
                                              const PlotOptions& options);

// Writes an inline <svg> element (as RenderLinePlotSvg returns) to `path` atomically as a
// standalone SVG file (XML declaration and SVG namespace added). InvalidArgument if `svg` does
// not start with "<svg "; I/O errors as WriteFileAtomically.
absl::Status WriteSvgFile(absl::string_view path, std::string svg);

// Renders with RenderLinePlotSvg and writes it with WriteSvgFile.
absl::Status WriteLinePlotSvg(absl::string_view path, absl::Span<const PlotSeries> series,
                              const PlotOptions& options);

// Returns `text` with & < > " ' escaped, for HTML and SVG text and attribute values.
std::string HtmlEscape(absl::string_view text);

// Returns the palette color used for series `i` (cycles through 8 colors).
Rgb SeriesColor(size_t i);


}  // namespace simdnet

#endif  // SIMDNET_TRAIN_PLOT_H_
