// Activation statistics and the CS231n weight-initialization experiment (see the header).
#include "interpret/activation_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "layers/activation.h"
#include "layers/init.h"
#include "layers/linear.h"
#include "layers/model.h"
#include "layers/sequential.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/status_macros.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace {

constexpr int64_t kMaxBins = 1000;

// Returns the bin of v in [lo, hi) split into `bins`; values outside go to the end bins and hi
// itself to the last bin (numpy.histogram's closed last edge).
int64_t BinOf(double v, double lo, double hi, int64_t bins) {
  const double t = (v - lo) / (hi - lo) * static_cast<double>(bins);
  if (!(t >= 0.0)) return 0;
  if (t >= static_cast<double>(bins)) return bins - 1;
  return static_cast<int64_t>(t);
}

absl::Status CheckRange(const char* field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat("InitExperimentOptions.", field, "=", value,
                                                   ": must be in [", lo, ", ", hi, "]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateActivationStatsOptions(const ActivationStatsOptions& options) {
  if (options.bins < 1 || options.bins > kMaxBins) {
    return absl::InvalidArgumentError(absl::StrCat("ActivationStatsOptions.bins=", options.bins,
                                                   ": must be in [1, ", kMaxBins, "]"));
  }
  if (options.fixed_range &&
      !(std::isfinite(options.range_lo) && std::isfinite(options.range_hi) &&
        options.range_lo < options.range_hi)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ActivationStatsOptions.range_lo/range_hi = [", options.range_lo, ", ",
                     options.range_hi, "]: a fixed range needs finite lo < hi"));
  }
  return absl::OkStatus();
}

LayerActivationStats ComputeTensorStats(const Tensor& values,
                                        const ActivationStatsOptions& options) {
  SIMDNET_CHECK(ValidateActivationStatsOptions(options).ok());
  SIMDNET_CHECK(values.rank() >= 1);
  LayerActivationStats s;
  s.shape = Shape(values.shape().dims().subspan(1));
  s.count = values.size();
  const float* v = values.data();
  // Pass 1: finite count, sum, zeros, range. Pass 2: squared deviations from the mean (more
  // accurate than sum of squares when |mean| >> std). Both in element order: deterministic.
  double sum = 0.0;
  int64_t finite = 0, zeros = 0;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < s.count; ++i) {
    const double x = v[i];
    if (!std::isfinite(x)) continue;
    ++finite;
    sum += x;
    if (x == 0.0) ++zeros;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  s.non_finite = s.count - finite;
  if (finite > 0) {
    s.mean = sum / static_cast<double>(finite);
    double ss = 0.0;
    for (int64_t i = 0; i < s.count; ++i) {
      const double x = v[i];
      if (std::isfinite(x)) ss += (x - s.mean) * (x - s.mean);
    }
    s.std = std::sqrt(ss / static_cast<double>(finite));
    s.fraction_zero = static_cast<double>(zeros) / static_cast<double>(finite);
    s.min = lo;
    s.max = hi;
  }
  if (options.fixed_range) {
    s.hist_lo = options.range_lo;
    s.hist_hi = options.range_hi;
  } else if (finite > 0 && s.min < s.max) {
    s.hist_lo = s.min;
    s.hist_hi = s.max;
  } else {
    s.hist_lo = s.min - 0.5;
    s.hist_hi = s.min + 0.5;
  }
  s.histogram.assign(static_cast<size_t>(options.bins), 0);
  for (int64_t i = 0; i < s.count; ++i) {
    const double x = v[i];
    if (!std::isfinite(x)) continue;
    ++s.histogram[static_cast<size_t>(BinOf(x, s.hist_lo, s.hist_hi, options.bins))];
  }
  return s;
}

std::vector<std::string> LeafLayerNames(Model& model) {
  std::vector<std::string> names;
  model.ForEachLayer([&](const std::string& path, Layer& layer, int) {
    if (layer.Children().empty()) names.push_back(path);
  });
  return names;
}

absl::StatusOr<std::vector<LayerActivationStats>> ComputeActivationStats(
    Model& model, const Tensor& x, const std::vector<std::string>& layers,
    const ActivationStatsOptions& options) {
  SIMDNET_RETURN_IF_ERROR(ValidateActivationStatsOptions(options));
  const std::vector<std::string> names = layers.empty() ? LeafLayerNames(model) : layers;
  std::vector<Layer*> found;
  for (const std::string& name : names) {
    SIMDNET_ASSIGN_OR_RETURN(Layer * layer, model.FindLayer(name));
    found.push_back(layer);
  }
  Tensor logits;
  std::vector<Tensor> outputs;
  {
    ScopedEvalMode eval(model);
    SIMDNET_RETURN_IF_ERROR(model.ForwardWithOutputs(x, names, &logits, &outputs));
  }
  std::vector<LayerActivationStats> stats;
  stats.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    LayerActivationStats s = ComputeTensorStats(outputs[i], options);
    s.name = names[i];
    s.description = found[i]->Describe();
    stats.push_back(std::move(s));
  }
  return stats;
}

std::vector<InitSetting> LectureInitSettings() {
  InitSpec small;
  small.kind = InitKind::kNormal;
  small.std = 0.01f;
  InitSpec unit = small;
  unit.std = 1.0f;
  InitSpec xavier;  // gain 1 / sqrt(fan_in)
  xavier.kind = InitKind::kKaimingNormal;
  xavier.nonlinearity = Nonlinearity::kLinear;
  InitSpec he = xavier;  // sqrt(2) / sqrt(fan_in)
  he.nonlinearity = Nonlinearity::kRelu;
  return {
      {"tanh, std=0.01", ActivationKind::kTanh, small},
      {"tanh, std=1", ActivationKind::kTanh, unit},
      {"tanh, Xavier", ActivationKind::kTanh, xavier},
      {"relu, Xavier", ActivationKind::kRelu, xavier},
      {"relu, He", ActivationKind::kRelu, he},
  };
}

absl::StatusOr<InitExperimentResult> RunInitExperiment(const InitExperimentOptions& options) {
  SIMDNET_RETURN_IF_ERROR(CheckRange("layers", options.layers, 1, 100));
  SIMDNET_RETURN_IF_ERROR(CheckRange("width", options.width, 1, 4096));
  SIMDNET_RETURN_IF_ERROR(CheckRange("samples", options.samples, 1, 100000));
  SIMDNET_RETURN_IF_ERROR(CheckRange("bins", options.bins, 1, kMaxBins));
  if (!(options.saturation_threshold > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("InitExperimentOptions.saturation_threshold=",
                     options.saturation_threshold, ": must be > 0"));
  }
  InitExperimentResult result;
  result.options = options;
  if (result.options.settings.empty()) result.options.settings = LectureInitSettings();

  const Rng root(options.seed);
  Tensor x(Shape({options.samples, options.width}));
  Rng input_rng = root.Split(0);
  input_rng.FillNormal(x.data(), static_cast<size_t>(x.size()), 0.0f, 1.0f);

  for (const InitSetting& setting : result.options.settings) {
    // The same weight stream for every setting: N(0, s^2) fills are s times the same draws.
    Rng weight_rng = root.Split(1);
    SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> net,
                             Sequential::Create(Shape({options.width})));
    std::vector<std::string> names;
    for (int64_t k = 1; k <= options.layers; ++k) {
      LinearOptions lo;
      lo.out_features = options.width;
      lo.bias = false;
      lo.weight_init = setting.weight_init;
      auto linear = Linear::Create(lo, Shape({options.width}), weight_rng);
      if (!linear.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("init setting '", setting.name,
                                                       "', layer ", k, ": ",
                                                       linear.status().message()));
      }
      SIMDNET_RETURN_IF_ERROR(net->Add(std::move(linear), absl::StrCat("fc", k)));
      ActivationOptions ao;
      ao.kind = setting.activation;
      const std::string act = absl::StrCat(ActivationKindName(setting.activation), k);
      SIMDNET_RETURN_IF_ERROR(net->Add(Activation::Create(ao, Shape({options.width})), act));
      names.push_back(act);
    }
    SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                             Model::Create(std::move(net), options.width));

    Tensor logits;
    std::vector<Tensor> outputs;
    {
      ScopedEvalMode eval(*model);
      SIMDNET_RETURN_IF_ERROR(model->ForwardWithOutputs(x, names, &logits, &outputs));
    }
    // One histogram range per setting, so that the strip shows the scale changing.
    ActivationStatsOptions so;
    so.bins = options.bins;
    so.fixed_range = true;
    if (setting.activation == ActivationKind::kTanh ||
        setting.activation == ActivationKind::kSigmoid) {
      so.range_lo = setting.activation == ActivationKind::kTanh ? -1.0 : 0.0;
      so.range_hi = 1.0;
    } else {
      ActivationStatsOptions probe;
      so.range_lo = std::numeric_limits<double>::infinity();
      so.range_hi = -std::numeric_limits<double>::infinity();
      for (const Tensor& out : outputs) {
        const LayerActivationStats s = ComputeTensorStats(out, probe);
        so.range_lo = std::min(so.range_lo, s.min);
        so.range_hi = std::max(so.range_hi, s.max);
      }
      if (!(so.range_lo < so.range_hi) || !std::isfinite(so.range_lo) ||
          !std::isfinite(so.range_hi)) {
        so.range_lo = 0.0;
        so.range_hi = 1.0;
      }
    }
    InitSettingResult r;
    r.setting = setting;
    for (size_t i = 0; i < outputs.size(); ++i) {
      LayerActivationStats s = ComputeTensorStats(outputs[i], so);
      s.name = absl::StrCat("layer ", i + 1);
      s.description = absl::StrCat("Linear(", options.width, ", ", options.width,
                                   ", bias=false) + ", ActivationKindName(setting.activation));
      int64_t saturated = 0;
      const float* v = outputs[i].data();
      for (int64_t j = 0; j < outputs[i].size(); ++j) {
        if (std::fabs(static_cast<double>(v[j])) > options.saturation_threshold) ++saturated;
      }
      r.fraction_saturated.push_back(static_cast<double>(saturated) /
                                     static_cast<double>(outputs[i].size()));
      r.layers.push_back(std::move(s));
    }
    result.settings.push_back(std::move(r));
  }
  return result;
}

}  // namespace simdnet
