// A self-contained HTML training report: curves, confusion matrix, misclassified test images,
// first-layer filters and run metadata, viewable offline (inline CSS, no scripts or links).
//
// Curves are inline SVG charts (train/plot.h). The confusion matrix is a color-scaled
// table, or a heatmap image plus a per-class accuracy list beyond 60 classes (keeps the file
// small). Images and filters are min-max normalized PNGs.
#ifndef SIMDNET_TRAIN_REPORT_H_
#define SIMDNET_TRAIN_REPORT_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensor/tensor.h"
#include "train/csv_log.h"
#include "train/metrics.h"
#include "train/plot.h"

namespace simdnet {

// One test image the model got wrong.
struct ReportExample {
  Tensor image;  // (C, H, W) with C = 1 (gray) or 3 (RGB), or (H, W); any value range.
  int64_t true_label = 0;
  int64_t predicted_label = 0;
  double confidence = std::numeric_limits<double>::quiet_NaN();  // Of the prediction, optional.
};

// Everything the report shows; the trainer fills it. Empty fields omit their section.
struct ReportData {
  std::string title = "simdnet training report";
  std::string generated_at;   // Free text (e.g. an ISO time); kept out of the renderer so the
                              // output is a pure function of this struct.
  std::string model_summary;  // Preformatted text (layer table), shown in a <pre>.
  std::vector<std::pair<std::string, std::string>> hyperparameters;  // Display order.
  std::vector<std::pair<std::string, std::string>> run_info;  // Data set, SIMD target, threads...
  std::vector<std::string> class_names;      // Index -> name; empty = show class indices.
  std::vector<EpochRecord> epochs;           // Per-epoch curves (metrics.csv rows).
  std::vector<IterationRecord> iterations;   // Optional per-iteration training loss curve.
  std::optional<ConfusionMatrix> confusion;  // Test-set confusion matrix.
  std::vector<ReportExample> misclassified;  // Shown in order, up to max_examples.
  int64_t max_examples = 64;
  Tensor first_layer_filters;  // (O, I, kh, kw); default-constructed (empty) omits the section.
  double final_test_accuracy = std::numeric_limits<double>::quiet_NaN();  // Fraction.
  double final_test_loss = std::numeric_limits<double>::quiet_NaN();
  double wall_time_seconds = std::numeric_limits<double>::quiet_NaN();
};

// Returns the HTML text of the report. Deterministic for a given `data`.
// Returns InvalidArgument naming the field and index for: class_names whose size differs from
// the confusion matrix's class count; a misclassified example with a label outside the classes
// or an image of unsupported shape; filters that are not rank 4 or have a zero dim.
absl::StatusOr<std::string> RenderHtmlReport(const ReportData& data);

// Renders the report and writes it to `path` atomically.
absl::Status WriteHtmlReport(absl::string_view path, const ReportData& data);

// HtmlEscape (escaping & < > " ' for HTML) is in train/plot.h, shared with the SVG charts.

// Converts an image tensor (C, H, W) with C in {1, 3}, or (H, W), to RGB, mapping its min to 0
// and its max to 255 (a constant image becomes mid-gray), each pixel enlarged to a
// scale x scale square. InvalidArgument for other shapes, an empty image or scale outside
// [1, 64]. NaNs are drawn as 0.
absl::StatusOr<Image> TensorToImage(const Tensor& image, int scale = 1);

// Lays out first-layer filters (O, I, kh, kw) as a grid of tiles on a gray background with
// `pad` pixels between tiles, each filter pixel a scale x scale square. With I == 3 each filter
// is one RGB tile; otherwise each (filter, input channel) pair is a gray tile, a row of I tiles
// per filter (at most 256 tiles in total are drawn). With I in {1, 3} the tiles are arranged in
// a near-square grid. Each tile (RGB: each filter) is min-max normalized on its own.
// InvalidArgument for a tensor that is not rank 4, has a zero dim, or a scale/pad out of range
// (scale in [1, 64], pad in [0, 16]).
absl::StatusOr<Image> FilterGrid(const Tensor& filters, int scale, int pad);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_REPORT_H_
