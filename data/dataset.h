// Dataset representations: the SampleSource interface the batcher reads from, and
// InMemoryDataset, which keeps all images as one contiguous uint8 (N, C, H, W) array.
//
// Storage choice: pixels stay uint8 in memory (CIFAR-10 train is 150 MB as uint8, 600 MB as
// float) and are converted to float in [0, 1] per sample when a batch is assembled.
#ifndef SIMDNET_DATA_DATASET_H_
#define SIMDNET_DATA_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// A random-access collection of labelled (C, H, W) images. Implementations must allow
// concurrent calls to ReadSample from several threads.
class SampleSource {
 public:
  virtual ~SampleSource() = default;

  // Returns the number of samples.
  virtual int64_t size() const = 0;
  // Returns the per-sample shape (C, H, W).
  virtual Shape sample_shape() const = 0;
  // Returns the label of sample i. Requires: 0 <= i < size().
  virtual int32_t label(int64_t i) const = 0;
  // Returns the class names, indexed by label.
  virtual const std::vector<std::string>& class_names() const = 0;
  // Writes sample i as floats in [0, 1], layout (C, H, W), to out[0, sample_shape().size()).
  // Returns an error naming the sample (and file, for lazy sources) if it cannot be produced.
  // Requires: 0 <= i < size().
  virtual absl::Status ReadSample(int64_t i, float* out) const = 0;
};

// Images held in memory as uint8 (N, C, H, W), with int32 labels in [0, class_names.size()).
struct InMemoryDataset : public SampleSource {
  int64_t num = 0;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // num * channels * height * width bytes, NCHW
  std::vector<int32_t> labels;  // num entries
  std::vector<std::string> classes;
  // Files skipped by a reader in skip mode, with the reason for each.
  std::vector<std::string> skipped;

  int64_t size() const override { return num; }
  Shape sample_shape() const override { return Shape({channels, height, width}); }
  int32_t label(int64_t i) const override { return labels[static_cast<size_t>(i)]; }
  const std::vector<std::string>& class_names() const override { return classes; }
  absl::Status ReadSample(int64_t i, float* out) const override;

  // Returns the number of bytes per sample (C * H * W).
  int64_t SampleBytes() const { return channels * height * width; }
  // Returns the uint8 pixels of sample i. Requires: 0 <= i < num.
  const uint8_t* SamplePixels(int64_t i) const { return pixels.data() + i * SampleBytes(); }

  // Returns OK if the fields are mutually consistent (sizes match, labels in range, at least one
  // sample); otherwise InvalidArgument naming `name` and the inconsistent field.
  absl::Status Validate(const std::string& name) const;

  // Returns the images as one float tensor (N, C, H, W) with values in [0, 1].
  Tensor ToTensor() const;
};

// Returns the samples of `data` at `indices` (in that order) as a new dataset with the same
// class names. InvalidArgument naming the index if one is out of range.
absl::StatusOr<InMemoryDataset> Subset(const InMemoryDataset& data,
                                       absl::Span<const int64_t> indices);

// A train / validation split of sample indices.
struct SplitIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
};

// Splits [0, n) into train and validation index sets: a seeded shuffle, then the last
// round(n * validation_fraction) indices go to validation. Both lists are returned sorted so
// the split does not depend on the order of later processing.
// InvalidArgument if validation_fraction is not in [0, 1) or n < 0.
absl::StatusOr<SplitIndices> TrainValidationSplit(int64_t n, double validation_fraction,
                                                  uint64_t seed);

}  // namespace simdnet

#endif  // SIMDNET_DATA_DATASET_H_
