// Activation statistics: per-layer mean, std, fraction of exact zeros, range and histogram of a
// network's inner activations, and the weight-initialization experiment of the CS231n lecture
// "Training Neural Networks I" (a 10-layer tanh/ReLU MLP under five weight scales).
#ifndef SIMDNET_INTERPRET_ACTIVATION_STATS_H_
#define SIMDNET_INTERPRET_ACTIVATION_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "layers/activation.h"
#include "layers/init.h"
#include "layers/model.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// Statistics of one layer's output over a batch. All moments are over the finite elements
// (accumulated in double, in element order, so the result is deterministic).
struct LayerActivationStats {
  std::string name;         // layer path ("features.2") or a label ("layer 3")
  std::string description;  // Layer::Describe(), e.g. "ReLU"
  Shape shape;              // per-sample output shape
  int64_t count = 0;        // elements seen (batch * shape.size())
  int64_t non_finite = 0;   // NaN / Inf elements, left out of everything below
  double mean = 0.0;
  double std = 0.0;            // population std (numpy's np.std, ddof = 0)
  double fraction_zero = 0.0;  // fraction of finite elements exactly 0 (dead ReLU outputs)
  double min = 0.0, max = 0.0;
  // histogram[b] counts values in [hist_lo + b * w, hist_lo + (b + 1) * w), w = (hist_hi -
  // hist_lo) / bins; the last bin includes hist_hi. Values outside a fixed range are counted in
  // the end bins, so the counts always sum to count - non_finite.
  std::vector<int64_t> histogram;
  double hist_lo = 0.0, hist_hi = 0.0;
};

struct ActivationStatsOptions {
  int64_t bins = 50;  // in [1, 1000]
  // false: the histogram spans each layer's own [min, max] (widened by 0.5 on both sides when
  // min == max, as numpy does). true: it spans [range_lo, range_hi] for every layer.
  bool fixed_range = false;
  double range_lo = 0.0, range_hi = 0.0;  // fixed_range only; requires range_lo < range_hi
};

// Returns OK if `options` are usable; InvalidArgument naming the field otherwise.
absl::Status ValidateActivationStatsOptions(const ActivationStatsOptions& options);

// Computes the statistics of every element of `values` (any shape; the first dim is the batch,
// so stats.shape is values' shape without it). name / description are left empty.
// Requires: valid options (SIMDNET_CHECK), values.rank() >= 1.
LayerActivationStats ComputeTensorStats(const Tensor& values, const ActivationStatsOptions& options);

// Returns the paths of every leaf layer (a layer without children) in forward order: the
// default layer list of ComputeActivationStats.
std::vector<std::string> LeafLayerNames(Model& model);

// Runs `model` on x (N, ...InputShape()) in eval mode (restoring its previous mode after) and
// returns the statistics of each named layer's output, in the order of `layers` (empty: every
// leaf layer, LeafLayerNames). NotFound from the Model (naming the layer and listing the valid
// names) for an unknown name; InvalidArgument for a wrong input shape or bad options.
absl::StatusOr<std::vector<LayerActivationStats>> ComputeActivationStats(
    Model& model, const Tensor& x, const std::vector<std::string>& layers,
    const ActivationStatsOptions& options);

// ---- The initialization experiment (CS231n 2017, "Training Neural Networks I", slides on
// weight initialization; Glorot & Bengio 2010, "Understanding the difficulty of training deep
// feedforward neural networks"; He et al. 2015, "Delving Deep into Rectifiers") ----

// One setting: a nonlinearity and the weight init of every Linear layer.
struct InitSetting {
  // Short label for tables, legends and file names (only characters train/plot.h's font has),
  // e.g. "tanh, std=0.01".
  std::string name;
  ActivationKind activation = ActivationKind::kTanh;
  InitSpec weight_init;
};

// Returns the lecture's five settings, in this order (all fans are fan_in = width):
//   "tanh, std=0.01"   N(0, 0.01^2), small random numbers: activations collapse toward 0
//   "tanh, std=1"      N(0, 1), too large: tanh saturates at +-1
//   "tanh, Xavier"     std = 1/sqrt(fan_in) (the lecture's Xavier, Glorot & Bengio 2010)
//   "relu, Xavier"     the same scale with ReLU: the second moment halves per layer
//   "relu, He"         std = sqrt(2/fan_in) (He et al. 2015): constant scale
// Xavier and He are expressed as InitKind::kKaimingNormal with gain 1 (linear) and sqrt(2)
// (relu), which is exactly gain / sqrt(fan_in).
std::vector<InitSetting> LectureInitSettings();

struct InitExperimentOptions {
  int64_t layers = 10;     // hidden layers (Linear + nonlinearity each), in [1, 100]
  int64_t width = 500;     // input dimension and units per layer, in [1, 4096]
  int64_t samples = 1000;  // inputs drawn N(0, 1), in [1, 100000]
  int64_t bins = 50;       // histogram bins, in [1, 1000]
  // Activations above this magnitude count as saturated (tanh).
  double saturation_threshold = 0.99;
  uint64_t seed = 1;
  std::vector<InitSetting> settings;  // empty: LectureInitSettings()
};

struct InitSettingResult {
  InitSetting setting;
  // Statistics of the output of the nonlinearity of layers 1..L, named "layer k". Histograms
  // share one range per setting: [-1, 1] for tanh and sigmoid, else [min, max] over all layers.
  std::vector<LayerActivationStats> layers;
  std::vector<double> fraction_saturated;  // per layer: fraction of |a| > saturation_threshold
};

struct InitExperimentResult {
  InitExperimentOptions options;  // with settings filled in
  std::vector<InitSettingResult> settings;
};

// Runs the lecture's experiment: for each setting, builds a Model of `layers` x (Linear(width,
// width, bias=false) + activation) from simdnet's layers, feeds the same `samples` x `width`
// inputs drawn N(0, 1), and records the statistics after every nonlinearity. The inputs come
// from Rng(seed).Split(0), and every setting draws its weights from the same Rng(seed).Split(1),
// so the settings differ only in scale and nonlinearity. Same options give identical results.
// InvalidArgument naming the field for out-of-range options or an invalid init spec.
absl::StatusOr<InitExperimentResult> RunInitExperiment(const InitExperimentOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_ACTIVATION_STATS_H_
