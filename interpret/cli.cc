// Flags and dispatch of the interpretation subcommands.
#include "interpret/cli.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "interpret/activation_stats_command.h"
#include "interpret/filters_command.h"
#include "interpret/inspect_command.h"
#include "interpret/source.h"
#include "interpret/tsne_command.h"
#include "tensor/status_macros.h"

ABSL_FLAG(std::string, layer, "",
          "filters/patches/tsne/saliency: layer path as `simdnet summary` prints it, e.g. "
          "features.3 (default: a sensible layer per command)");
ABSL_FLAG(std::string, layers, "", "activations: comma-separated layer paths (default: all)");
ABSL_FLAG(std::string, indices, "0,1,2,3,4,5,6,7",
          "saliency/adversarial: test-set image indices, comma-separated");
ABSL_FLAG(int64_t, samples, 0,
          "activations/tsne/patches/adversarial sweep: held-out images to use (0 = the "
          "command's default)");
// filters
ABSL_FLAG(int64_t, max_filters, 32, "filters: at most this many filters (rows) of deep layers");
ABSL_FLAG(int64_t, max_channels, 16, "filters: at most this many input channels of deep layers");
ABSL_FLAG(bool, channel_mean, false,
          "filters: deep layers as one tile per filter (mean over input channels)");
// activations
ABSL_FLAG(bool, init_experiment, false,
          "activations: the weight-initialization experiment (10-layer tanh/ReLU MLP) instead of "
          "a checkpoint");
// tsne
ABSL_FLAG(double, perplexity, 30.0, "tsne: perplexity (effective neighbours)");
ABSL_FLAG(int64_t, iterations, 1000, "tsne: gradient-descent iterations");
ABSL_FLAG(double, theta, 0.5, "tsne: Barnes-Hut angle (0 = exact gradient)");
ABSL_FLAG(bool, thumbnails, true, "tsne: draw image thumbnails on the map");
ABSL_FLAG(bool, save_features, false, "tsne: also write features.npy and labels.npy");

namespace simdnet {
namespace {

constexpr const char* kCommands[] = {"filters",     "patches",  "activations", "tsne",
                                     "saliency",    "adversarial", "classvis", "inspect"};

// Returns --out, or <checkpoint's folder>/<command> when --out was not given.
std::string OutDir(const InterpretCommonOptions& c, const std::string& command) {
  if (!c.out_dir.empty()) return c.out_dir;
  std::filesystem::path dir = std::filesystem::path(c.checkpoint).parent_path();
  if (c.checkpoint.empty()) dir = "runs";
  return (dir / command).string();
}

std::vector<std::string> SplitList(const std::string& text) {
  return absl::StrSplit(text, ',', absl::SkipWhitespace());
}

}  // namespace

bool IsInterpretCommand(const std::string& command) {
  for (const char* c : kCommands) {
    if (command == c) return true;
  }
  return false;
}

const char* InterpretUsage() {
  return R"(looking inside a trained model (--checkpoint=C; pictures go to --out, default <C's folder>/<command>):
  filters      the filters of a conv layer (--layer, default the first conv)
  activations  per-layer activation statistics on test images; --init_experiment for the
               weight-initialization experiment (no checkpoint)
  tsne         t-SNE map of a layer's features (--layer, default the penultimate) for
               --samples test images (default 10000)
  inspect      all of the above on one HTML page (inspect.html)
)";
}

absl::StatusOr<std::string> RunInterpretCommand(const std::string& command,
                                                const InterpretCommonOptions& c) {
  const int64_t samples = absl::GetFlag(FLAGS_samples);
  if (samples < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--samples=", samples, ": must be >= 0"));
  }
  if (command == "filters") {
    FiltersCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.layer = absl::GetFlag(FLAGS_layer);
    o.out_dir = OutDir(c, command);
    o.max_filters = absl::GetFlag(FLAGS_max_filters);
    o.max_channels = absl::GetFlag(FLAGS_max_channels);
    o.channel_mean = absl::GetFlag(FLAGS_channel_mean);
    return RunFiltersCommand(o);
  }
  if (command == "activations") {
    ActivationsCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    if (samples > 0) o.samples = samples;
    o.layers = SplitList(absl::GetFlag(FLAGS_layers));
    o.init_experiment = absl::GetFlag(FLAGS_init_experiment);
    o.out_dir = OutDir(c, o.init_experiment && c.checkpoint.empty() ? "init_experiment"
                                                                     : command);
    o.seed = c.seed;
    return RunActivationsCommand(o);
  }
  if (command == "tsne") {
    TsneCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    o.layer = absl::GetFlag(FLAGS_layer);
    if (samples > 0) o.samples = samples;
    o.tsne.perplexity = absl::GetFlag(FLAGS_perplexity);
    o.tsne.iterations = absl::GetFlag(FLAGS_iterations);
    o.tsne.theta = absl::GetFlag(FLAGS_theta);
    o.tsne.seed = c.seed;
    o.thumbnails = absl::GetFlag(FLAGS_thumbnails);
    o.save_features = absl::GetFlag(FLAGS_save_features);
    o.out_dir = OutDir(c, command);
    return RunTsneCommand(o);
  }
  if (command == "inspect") {
    InspectCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    o.out_dir = OutDir(c, command);
    o.seed = c.seed;
    SIMDNET_ASSIGN_OR_RETURN(o.indices,
                             ParseIndexList(absl::GetFlag(FLAGS_indices), "--indices"));
    if (samples > 0) o.tsne_samples = o.sweep_samples = o.patch_samples = samples;
    return RunInspectCommand(o);
  }
  return absl::UnimplementedError(absl::StrCat("'", command, "' is not available yet"));
}

}  // namespace simdnet
