// Batched feature extraction at a named layer.
#include "interpret/features.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {

absl::StatusOr<Features> ExtractFeatures(PixelModel& model, const SampleSource& data,
                                         absl::string_view layer_name,
                                         const FeatureOptions& options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", options.batch_size));
  }
  if (options.max_samples < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_samples must be >= 0, got ", options.max_samples));
  }
  SIMDNET_ASSIGN_OR_RETURN(Layer * layer, model.model().FindLayer(layer_name));
  const int64_t n = options.max_samples > 0 ? std::min(options.max_samples, data.size())
                                            : data.size();
  if (n < 1) return absl::InvalidArgumentError("the data set has no samples");
  const int64_t dim = layer->OutputShape().size();
  Features out;
  out.values = Tensor(Shape({n, dim}));
  out.labels.reserve(static_cast<size_t>(n));
  const std::vector<std::string> names = {std::string(layer_name)};
  ScopedEvalMode eval(model.model());
  Tensor logits;
  std::vector<Tensor> outputs;
  for (int64_t begin = 0; begin < n; begin += options.batch_size) {
    const int64_t end = std::min(n, begin + options.batch_size);
    std::vector<int64_t> idx;
    for (int64_t i = begin; i < end; ++i) idx.push_back(i);
    std::vector<int32_t> labels;
    SIMDNET_ASSIGN_OR_RETURN(Tensor pixels, GatherPixels(data, idx, &labels));
    SIMDNET_RETURN_IF_ERROR(model.ForwardWithOutputs(pixels, names, &logits, &outputs));
    std::copy(outputs[0].data(), outputs[0].data() + outputs[0].size(),
              out.values.data() + begin * dim);
    out.labels.insert(out.labels.end(), labels.begin(), labels.end());
    for (int64_t p : ArgMaxRows(logits)) out.predicted.push_back(p);
  }
  return out;
}

std::string PenultimateLayer(Model& model) {
  // The leaves in forward order; the penultimate features are the second-to-last leaf's output.
  std::vector<std::string> leaves;
  model.ForEachLayer([&](const std::string& path, Layer& layer, int) {
    if (layer.Children().empty()) leaves.push_back(path);
  });
  if (leaves.size() < 2) return leaves.empty() ? std::string() : leaves.back();
  return leaves[leaves.size() - 2];
}

}  // namespace simdnet
