// Features of a data set at a named layer: the flattened outputs of that layer for every
// sample, computed in batches in evaluation mode (for t-SNE, nearest neighbours, probes).
#ifndef SIMDNET_INTERPRET_FEATURES_H_
#define SIMDNET_INTERPRET_FEATURES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset.h"
#include "interpret/source.h"
#include "tensor/tensor.h"

namespace simdnet {

struct FeatureOptions {
  int64_t max_samples = 0;   // > 0: only the first max_samples samples
  int64_t batch_size = 256;  // >= 1
};

struct Features {
  Tensor values;                   // (N, D): layer output per sample, flattened
  std::vector<int32_t> labels;     // N data-set labels
  std::vector<int64_t> predicted;  // N predicted classes (argmax of the logits)
};

// Computes the outputs of layer `layer` of `model` for the samples of `data` (pixels in
// [0, 1]), flattened to (N, D). NotFound listing the layers for an unknown name;
// InvalidArgument naming the field for batch_size < 1 or max_samples < 0, or for an empty data
// set; errors from reading samples are returned.
absl::StatusOr<Features> ExtractFeatures(PixelModel& model, const SampleSource& data,
                                         absl::string_view layer, const FeatureOptions& options);

// Returns the name of the layer whose output feeds the classifier's last layer (the
// "penultimate features", e.g. "classifier.3" in vgg-small: the 128 ReLU units after dropout,
// which is the identity in eval mode). Returns the last layer's own name for a one-layer model.
std::string PenultimateLayer(Model& model);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_FEATURES_H_
