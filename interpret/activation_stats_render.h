// Pictures, CSV files and text tables of activation statistics (interpret/activation_stats.h):
// a histogram row per layer for a trained model, and for the CS231n initialization experiment
// one strip of per-layer histograms per setting plus mean/std-per-layer line charts.
#ifndef SIMDNET_INTERPRET_ACTIVATION_STATS_RENDER_H_
#define SIMDNET_INTERPRET_ACTIVATION_STATS_RENDER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "interpret/activation_stats.h"
#include "train/plot.h"

namespace simdnet {

// Renders one row per layer: name, description and shape on the left, the histogram (with its
// range under it) in the middle, mean / std / zero fraction / min / max on the right; `title`
// on top. Text uses DrawText scale 2. A bin more than 4x taller than every other is clipped
// (drawn darker, its percentage written beside it) so that ReLU's spike at 0 does not flatten
// the rest. InvalidArgument if `stats` is empty or the image would exceed 4096 x 16384 pixels.
absl::StatusOr<Image> RenderActivationHistogramRows(
    const std::vector<LayerActivationStats>& stats, absl::string_view title);

// Renders the experiment's histograms: for each setting, a title and one row of small
// histograms (layer 1 left), each with "layer k", mean, std and the zero (ReLU) or saturated
// (|a| > threshold, tanh/sigmoid) fraction written under it. InvalidArgument if `result` has no
// settings or no layers.
absl::StatusOr<Image> RenderInitExperimentHistograms(const InitExperimentResult& result);

// Renders a line chart (an inline SVG element, train/plot.h) of the per-layer std (log y axis,
// since it spans many decades) or mean (linear axis) of every setting, one series per setting.
// InvalidArgument as RenderInitExperimentHistograms.
absl::StatusOr<std::string> RenderInitExperimentCurve(const InitExperimentResult& result,
                                                      bool plot_std);

// Returns CSV text: the header "layer,mean,std,fraction_zero,min,max" then one line per layer,
// numbers with 9 significant digits; a name containing ',', '"' or a newline is quoted
// (RFC 4180).
std::string FormatActivationStatsCsv(const std::vector<LayerActivationStats>& stats);

// Returns CSV text "setting,layer,mean,std,fraction_zero,min,max,fraction_saturated", one line
// per setting and layer.
std::string FormatInitExperimentCsv(const InitExperimentResult& result);

// Writes `csv` to `path` atomically (tensor/atomic_file.h); errors name the path.
absl::Status WriteCsvFile(absl::string_view path, absl::string_view csv);

// Returns a fixed-width text table of `stats` (layer, description, shape, mean, std, zero %,
// min, max), one line per layer, for the CLI.
std::string FormatActivationStatsTable(const std::vector<LayerActivationStats>& stats);

// Returns a text table of the experiment: one line per layer, one std column per setting, then
// per setting the layer-1 -> layer-L std ratio and the largest saturated (tanh, sigmoid) or
// exact-zero (others) fraction.
std::string FormatInitExperimentTable(const InitExperimentResult& result);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_ACTIVATION_STATS_RENDER_H_
