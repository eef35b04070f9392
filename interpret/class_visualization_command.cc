// `simdnet classvis`: class-maximizing images, their ascent snapshots and score curves.
#include "interpret/class_visualization_command.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "interpret/image.h"
#include "interpret/source.h"
#include "train/flag_lists.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"
#include "train/plot.h"

namespace simdnet {

absl::StatusOr<std::string> RunClassVisCommand(const ClassVisCommandOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(options.checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(PixelModel pixels_model, loaded.Pixels());
  std::vector<int64_t> classes;
  if (options.classes == "all" || options.classes.empty()) {
    for (int64_t k = 0; k < loaded.model->num_classes(); ++k) classes.push_back(k);
  } else {
    SIMDNET_ASSIGN_OR_RETURN(classes, ParseIntList(options.classes, "--class", 0));
  }
  ClassVisualizationOptions ascent = options.ascent;
  if (ascent.snapshot_every == 0) ascent.snapshot_every = std::max<int64_t>(1, ascent.steps / 8);
  SIMDNET_ASSIGN_OR_RETURN(std::vector<ClassVisualization> result,
                           VisualizeClasses(pixels_model, classes, ascent));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const Shape in = loaded.model->InputShape();
  const int64_t c = in.dim(0), h = in.dim(1), w = in.dim(2);
  const bool image_channels = c == 1 || c == 3;
  const int scale = ScaleFor(std::max(h, w), 112);
  auto render = [&](const Tensor& chw) {
    // Non-image channel counts: show the first channel.
    return PixelsToImage(chw.data(), image_channels ? c : 1, h, w, scale);
  };
  TileGridOptions finals;
  finals.cols = static_cast<int>(std::min<size_t>(result.size(), 5));
  finals.title = absl::StrFormat("class visualization, %d steps", ascent.steps);
  TileGridOptions steps_grid;
  steps_grid.title = "ascent snapshots (step below each)";
  std::vector<Image> final_tiles, step_tiles;
  std::vector<PlotSeries> series;
  std::string csv = "step,class,name,logit\n";
  std::string text = absl::StrFormat(
      "class visualization: %d steps, lr %g, jitter %d, decay %g, blur sigma %g every %d, "
      "clip contribution < p%g, seed %d (%s)\n",
      ascent.steps, ascent.learning_rate, ascent.jitter, ascent.decay, ascent.blur_sigma,
      ascent.blur_every, ascent.contribution_percentile, ascent.seed,
      ascent.center < 0 ? std::string("centered on the data mean: z = pixel - mean")
                        : absl::StrFormat("centered on pixel value %g", ascent.center));
  double rise_sum = 0.0;
  for (const ClassVisualization& v : result) {
    const std::string name = loaded.ClassName(v.class_index);
    final_tiles.push_back(render(v.image));
    finals.captions.push_back(
        absl::StrFormat("%s %.0f>%.0f", name, v.initial_score, v.final_score));
    for (size_t i = 0; i < v.snapshots.size(); ++i) {
      step_tiles.push_back(render(v.snapshots[i]));
      steps_grid.captions.push_back(absl::StrCat(v.snapshot_steps[i]));
    }
    steps_grid.row_labels.push_back(name);
    PlotSeries ps;
    ps.name = name;
    for (size_t i = 0; i < v.scores.size(); ++i) {
      ps.x.push_back(static_cast<double>(i + 1));
      ps.y.push_back(v.scores[i]);
      absl::StrAppendFormat(&csv, "%d,%d,%s,%.6g\n", i + 1, v.class_index, name, v.scores[i]);
    }
    series.push_back(std::move(ps));
    rise_sum += v.final_score - v.initial_score;
    absl::StrAppendFormat(&text, "  class %d (%s): logit %.3f -> %.3f\n", v.class_index, name,
                          v.initial_score, v.final_score);
  }
  steps_grid.cols = static_cast<int>(result.front().snapshots.size());
  steps_grid.text_scale = 1;
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
  const std::string dir = options.out_dir;
  const Image final_image = ComposeGrid(final_tiles, finals);
  SIMDNET_RETURN_IF_ERROR(WritePng(dir + "/classvis.png", final_image));
  SIMDNET_RETURN_IF_ERROR(WritePng(dir + "/classvis_steps.png", ComposeGrid(step_tiles, steps_grid)));
  PlotOptions plot;
  plot.title = "class logit during the ascent";
  plot.x_label = "step";
  plot.y_label = "logit";
  SIMDNET_RETURN_IF_ERROR(WriteLinePlotSvg(dir + "/classvis_scores.svg", series, plot));
  SIMDNET_RETURN_IF_ERROR(WriteFileAtomically(dir + "/classvis_scores.csv", csv));
  absl::StrAppendFormat(&text,
                        "  mean logit rise %.3f over %d classes in %.2f s\n  wrote %s/classvis.png "
                        "(%dx%d), classvis_steps.png, classvis_scores.svg, classvis_scores.csv\n",
                        rise_sum / static_cast<double>(result.size()), result.size(), seconds,
                        dir, final_image.width, final_image.height);
  return text;
}

}  // namespace simdnet
