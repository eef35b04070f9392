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
#include "interpret/adversarial_command.h"
#include "interpret/class_visualization_command.h"
#include "interpret/filters_command.h"
#include "interpret/inspect_command.h"
#include "interpret/patches_command.h"
#include "interpret/saliency_command.h"
#include "interpret/source.h"
#include "interpret/tsne_command.h"
#include "train/flag_lists.h"
#include "tensor/status_macros.h"

ABSL_FLAG(std::string, layer, "",
          "filters/patches/tsne/saliency: layer path as `simdnet summary` prints it, e.g. "
          "features.3 (default: a sensible layer per command)");
ABSL_FLAG(std::string, layers, "", "activations: comma-separated layer paths (default: all)");
ABSL_FLAG(std::string, indices, "",
          "saliency/adversarial/inspect: test-set image indices, comma-separated (default: the "
          "first few)");
ABSL_FLAG(std::string, class, "",
          "saliency: class(es) to explain (default: the predicted one); classvis: 'all' or "
          "class indices, comma-separated");
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
// patches
ABSL_FLAG(std::string, layer_channels, "",
          "patches: channels of --layer, comma-separated (default 0..7)");
ABSL_FLAG(int64_t, k, 9, "patches: top-activating images per channel");
// saliency
ABSL_FLAG(int64_t, smoothgrad_samples, 25, "saliency: noisy copies averaged by SmoothGrad");
ABSL_FLAG(double, smoothgrad_sigma, 0.15, "saliency: SmoothGrad noise std / (max - min)");
ABSL_FLAG(bool, throughput, false,
          "saliency: also time vanilla saliency over the whole held-out set (images/s)");
// adversarial
ABSL_FLAG(std::string, target, "",
          "adversarial: target class (name or index) of the iterative attack (default: "
          "untargeted FGSM)");
ABSL_FLAG(double, epsilon, 0.1, "adversarial: L-infinity radius in pixel units [0, 1]");
ABSL_FLAG(double, alpha, 0.01, "adversarial: step of the targeted attack");
ABSL_FLAG(int64_t, max_steps, 100, "adversarial: most steps of the targeted attack");
ABSL_FLAG(bool, sweep, false,
          "adversarial: also accuracy vs epsilon for FGSM and the iterative attack over "
          "--samples test images (default 1000)");
ABSL_FLAG(std::string, epsilons, "0,0.01,0.02,0.05,0.1,0.2", "adversarial: the sweep's epsilons");
// classvis
ABSL_FLAG(int64_t, steps, 200, "classvis: gradient-ascent steps");
ABSL_FLAG(double, lr, 0.05, "classvis: step size (pixels per normalized-gradient step)");
ABSL_FLAG(int64_t, jitter, 2, "classvis: random shift of up to this many pixels per step");
ABSL_FLAG(double, decay, 0.002, "classvis: L2 decay per step (image *= 1 - decay)");
ABSL_FLAG(int64_t, blur_every, 4, "classvis: Gaussian blur every this many steps (0 = never)");
ABSL_FLAG(double, blur_sigma, 0.5, "classvis: blur width in pixels");
ABSL_FLAG(double, center, -1.0,
          "classvis: the pixel value the regularizers pull toward (< 0: the data mean; 0: black, "
          "for data on a black background)");
ABSL_FLAG(double, clip_percentile, 10.0,
          "classvis: zero the pixels whose contribution |x * grad| is below this percentile");
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

// Returns the parsed --flag list, or an empty list when the flag is empty.
absl::StatusOr<std::vector<int64_t>> OptionalIndexList(const std::string& text,
                                                       const std::string& flag) {
  if (text.empty()) return std::vector<int64_t>{};
  return ParseIntList(text, flag, 0);
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
  patches      the test-image patches that activate channels of --layer most (--channels,
               --k), with their deconvnet and guided-backprop projections
  tsne         t-SNE map of a layer's features (--layer, default the penultimate) for
               --samples test images (default 10000)
  saliency     saliency maps (gradient, SmoothGrad, guided backprop, Grad-CAM at --layer) of
               test images (--indices) or image files given as arguments, for --class
  adversarial  FGSM, or with --target=CLASS the iterative targeted attack within --epsilon;
               --sweep: accuracy vs epsilon
  classvis     images that maximize a class score (--class=all or indices, --steps)
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
  if (command == "patches") {
    PatchesCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    o.out_dir = OutDir(c, command);
    o.layer = absl::GetFlag(FLAGS_layer);
    SIMDNET_ASSIGN_OR_RETURN(
        o.channels, OptionalIndexList(absl::GetFlag(FLAGS_layer_channels), "--layer_channels"));
    o.k = absl::GetFlag(FLAGS_k);
    o.num_images = samples;
    return RunPatchesCommand(o);
  }
  if (command == "saliency") {
    SaliencyCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    SIMDNET_ASSIGN_OR_RETURN(o.indices,
                             OptionalIndexList(absl::GetFlag(FLAGS_indices), "--indices"));
    o.files = c.files;
    SIMDNET_ASSIGN_OR_RETURN(o.classes, OptionalIndexList(absl::GetFlag(FLAGS_class), "--class"));
    o.layer = absl::GetFlag(FLAGS_layer);
    o.smoothgrad_samples = absl::GetFlag(FLAGS_smoothgrad_samples);
    o.smoothgrad_sigma = static_cast<float>(absl::GetFlag(FLAGS_smoothgrad_sigma));
    o.seed = c.seed;
    o.out_dir = OutDir(c, command);
    o.throughput = absl::GetFlag(FLAGS_throughput);
    return RunSaliencyCommand(o);
  }
  if (command == "adversarial") {
    AdversarialCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    SIMDNET_ASSIGN_OR_RETURN(o.indices,
                             OptionalIndexList(absl::GetFlag(FLAGS_indices), "--indices"));
    o.files = c.files;
    o.target = absl::GetFlag(FLAGS_target);
    o.epsilon = static_cast<float>(absl::GetFlag(FLAGS_epsilon));
    o.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
    o.max_steps = absl::GetFlag(FLAGS_max_steps);
    o.sweep = absl::GetFlag(FLAGS_sweep);
    if (samples > 0) o.sweep_samples = samples;
    SIMDNET_ASSIGN_OR_RETURN(o.sweep_epsilons,
                             ParseFloatList(absl::GetFlag(FLAGS_epsilons), "--epsilons"));
    o.out_dir = OutDir(c, command);
    return RunAdversarialCommand(o);
  }
  if (command == "classvis") {
    ClassVisCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.out_dir = OutDir(c, command);
    const std::string classes = absl::GetFlag(FLAGS_class);
    if (!classes.empty()) o.classes = classes;
    o.ascent.steps = absl::GetFlag(FLAGS_steps);
    o.ascent.learning_rate = static_cast<float>(absl::GetFlag(FLAGS_lr));
    o.ascent.jitter = absl::GetFlag(FLAGS_jitter);
    o.ascent.decay = static_cast<float>(absl::GetFlag(FLAGS_decay));
    o.ascent.blur_every = absl::GetFlag(FLAGS_blur_every);
    o.ascent.blur_sigma = static_cast<float>(absl::GetFlag(FLAGS_blur_sigma));
    o.ascent.contribution_percentile = static_cast<float>(absl::GetFlag(FLAGS_clip_percentile));
    o.ascent.center = static_cast<float>(absl::GetFlag(FLAGS_center));
    o.ascent.seed = c.seed;
    return RunClassVisCommand(o);
  }
  if (command == "inspect") {
    InspectCommandOptions o;
    o.checkpoint = c.checkpoint;
    o.data = c.data;
    o.out_dir = OutDir(c, command);
    o.seed = c.seed;
    if (!absl::GetFlag(FLAGS_indices).empty()) {
      SIMDNET_ASSIGN_OR_RETURN(o.indices,
                               ParseIntList(absl::GetFlag(FLAGS_indices), "--indices", 0));
    }
    if (samples > 0) o.tsne_samples = o.sweep_samples = o.patch_samples = samples;
    return RunInspectCommand(o);
  }
  return absl::UnimplementedError(absl::StrCat("'", command, "' is not available yet"));
}

}  // namespace simdnet
