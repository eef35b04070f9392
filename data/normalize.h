// Input normalization whose statistics come from the training split only: mean-image
// subtraction, or per-channel (x - mean) / std. The statistics serialize to key-value strings so
// they can be stored with a model and inference applies exactly the same transform.
#ifndef SIMDNET_DATA_NORMALIZE_H_
#define SIMDNET_DATA_NORMALIZE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace simdnet {

class ThreadPool;

struct Normalization {
  enum class Kind { kNone, kMeanImage, kPerChannel };
  Kind kind = Kind::kNone;
  // Per-sample shape the statistics were computed for.
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  // kMeanImage: C * H * W means (NCHW order). kPerChannel: C means.
  std::vector<float> mean;
  // kPerChannel: C standard deviations (population std, floored at 1e-6). Empty otherwise.
  std::vector<float> stddev;

  // Applies the transform in place to `count` samples stored (count, C, H, W) at `data`.
  // Requires: the samples have the shape the statistics were computed for.
  void Apply(float* data, int64_t count) const;

  // Returns the statistics as key-value strings: "kind", "shape" ("C,H,W"), "mean", "std"
  // (comma-separated floats printed with 9 significant digits, so they round-trip exactly).
  std::map<std::string, std::string> ToKeyValues() const;

  // Parses ToKeyValues() output. InvalidArgument naming the key and the bad token for a
  // missing key, an unknown kind, a malformed number, or a count that does not match the shape.
  static absl::StatusOr<Normalization> FromKeyValues(
      const std::map<std::string, std::string>& kv);
};

// Computes the mean image of `train` (values in [0, 1] as ReadSample returns them).
// Accumulates in double, in fixed sample order: the result is identical for any thread count.
// Errors from ReadSample are returned; InvalidArgument if train is empty.
absl::StatusOr<Normalization> ComputeMeanImage(const SampleSource& train);

// Computes per-channel mean and population standard deviation over every pixel of `train`.
absl::StatusOr<Normalization> ComputePerChannelStats(const SampleSource& train);

// Returns InvalidArgument naming both shapes if `norm` does not apply to samples of `shape`
// (C, H, W); OK for kind kNone.
absl::Status CheckNormalizationShape(const Normalization& norm, const Shape& shape);

}  // namespace simdnet

#endif  // SIMDNET_DATA_NORMALIZE_H_
