// `simdnet activations` as a library function (see the header).
#include "interpret/activation_stats_command.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "interpret/activation_stats.h"
#include "interpret/activation_stats_render.h"
#include "interpret/source.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"
#include "train/plot.h"

namespace simdnet {
namespace {

constexpr int64_t kMaxSamples = 10000;
// ForwardWithOutputs copies every chosen layer's output for the whole batch; beyond this the
// command refuses rather than exhausting memory on a large --samples with many layers.
constexpr int64_t kMaxKeptBytes = int64_t{2} << 30;

std::string JoinPath(const std::string& dir, const std::string& file) {
  return (std::filesystem::path(dir) / file).string();
}

// Returns `count` distinct indices in [0, n), chosen by a seeded partial Fisher-Yates shuffle
// and sorted, so that a seed always picks the same images.
std::vector<int64_t> ChooseSamples(int64_t n, int64_t count, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed, /*stream=*/7);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = i + static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(n - i)));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  order.resize(static_cast<size_t>(count));
  std::sort(order.begin(), order.end());
  return order;
}

}  // namespace

absl::StatusOr<std::string> WriteModelActivationReport(Model& model, const Tensor& x,
                                                       const std::vector<std::string>& layers,
                                                       const std::string& out_dir,
                                                       const std::string& title) {
  const std::vector<std::string> names = layers.empty() ? LeafLayerNames(model) : layers;
  int64_t kept = 0;
  for (const std::string& name : names) {
    absl::StatusOr<Layer*> layer = model.FindLayer(name);
    if (!layer.ok()) {
      return absl::Status(layer.status().code(),
                          absl::StrCat("--layers: ", layer.status().message()));
    }
    kept += (*layer)->OutputShape().size();
  }
  const int64_t batch = x.rank() >= 1 ? x.dim(0) : 0;
  if (kept * batch * static_cast<int64_t>(sizeof(float)) > kMaxKeptBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--samples=", batch, ": keeping the outputs of ", names.size(), " layers needs ",
        kept * batch * static_cast<int64_t>(sizeof(float)) >> 20, " MiB (limit ",
        kMaxKeptBytes >> 20, " MiB); use fewer --samples or fewer --layers"));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::vector<LayerActivationStats> stats,
                           ComputeActivationStats(model, x, names, ActivationStatsOptions()));
  SIMDNET_ASSIGN_OR_RETURN(Image image, RenderActivationHistogramRows(stats, title));
  const std::string png = JoinPath(out_dir, "activations.png");
  const std::string csv = JoinPath(out_dir, "activations.csv");
  SIMDNET_RETURN_IF_ERROR(WritePng(png, image));
  SIMDNET_RETURN_IF_ERROR(WriteCsvFile(csv, FormatActivationStatsCsv(stats)));
  return absl::StrCat(title, "\n", FormatActivationStatsTable(stats), "wrote ", png, "\nwrote ",
                      csv, "\n");
}

absl::StatusOr<std::string> WriteInitExperimentReport(const InitExperimentResult& result,
                                                      const std::string& out_dir) {
  SIMDNET_ASSIGN_OR_RETURN(Image hist, RenderInitExperimentHistograms(result));
  SIMDNET_ASSIGN_OR_RETURN(std::string std_plot, RenderInitExperimentCurve(result, true));
  SIMDNET_ASSIGN_OR_RETURN(std::string mean_plot, RenderInitExperimentCurve(result, false));
  const std::vector<std::string> paths = {
      JoinPath(out_dir, "init_histograms.png"), JoinPath(out_dir, "init_std.svg"),
      JoinPath(out_dir, "init_mean.svg"), JoinPath(out_dir, "init_experiment.csv")};
  SIMDNET_RETURN_IF_ERROR(WritePng(paths[0], hist));
  SIMDNET_RETURN_IF_ERROR(WriteSvgFile(paths[1], std::move(std_plot)));
  SIMDNET_RETURN_IF_ERROR(WriteSvgFile(paths[2], std::move(mean_plot)));
  SIMDNET_RETURN_IF_ERROR(WriteCsvFile(paths[3], FormatInitExperimentCsv(result)));
  std::string out = FormatInitExperimentTable(result);
  for (const std::string& p : paths) absl::StrAppend(&out, "wrote ", p, "\n");
  return out;
}

absl::StatusOr<std::string> RunActivationsCommand(const ActivationsCommandOptions& options) {
  if (options.samples < 1 || options.samples > kMaxSamples) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples=", options.samples, ": must be in [1, ", kMaxSamples, "]"));
  }
  if (options.out_dir.empty()) {
    return absl::InvalidArgumentError("--out: required (an output directory)");
  }
  if (options.init_experiment) {
    if (!options.layers.empty()) {
      return absl::InvalidArgumentError(
          "--layers: applies to a --checkpoint; the --init_experiment network is fixed");
    }
    InitExperimentOptions eo;
    eo.seed = options.seed;
    SIMDNET_ASSIGN_OR_RETURN(InitExperimentResult result, RunInitExperiment(eo));
    SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
    return WriteInitExperimentReport(result, options.out_dir);
  }
  if (options.checkpoint.empty()) {
    return absl::InvalidArgumentError(
        "--checkpoint: required (or --init_experiment for the initialization experiment)");
  }
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(options.checkpoint));
  // Check layer names before the (slow) data load, so a typo fails fast.
  for (const std::string& name : options.layers) {
    absl::StatusOr<Layer*> layer = loaded.model->FindLayer(name);
    if (!layer.ok()) {
      return absl::Status(layer.status().code(),
                          absl::StrCat("--layers: ", layer.status().message()));
    }
  }
  SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset held_out, LoadHeldOutImages(loaded, options.data));
  if (held_out.size() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dataset=", options.data.dataset, ": no held-out images"));
  }
  const int64_t count = std::min(options.samples, held_out.size());
  const std::vector<int64_t> indices = ChooseSamples(held_out.size(), count, options.seed);
  SIMDNET_ASSIGN_OR_RETURN(Tensor pixels, GatherPixels(held_out, indices));
  SIMDNET_ASSIGN_OR_RETURN(PixelModel pixel_model, loaded.Pixels());
  Tensor input;
  pixel_model.PixelsToInput(pixels, &input);
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
  const std::string title = absl::StrCat("Activations of ", options.checkpoint, " on ", count,
                                         " held-out images (", options.data.dataset, ")");
  return WriteModelActivationReport(*loaded.model, input, options.layers, options.out_dir,
                                    title);
}

}  // namespace simdnet
