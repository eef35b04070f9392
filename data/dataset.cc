// InMemoryDataset conversion, validation, subsetting and the train / validation split.
#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "data/augment_kernels.h"
#include "data/shuffle.h"
#include "tensor/status_macros.h"

namespace simdnet {

absl::Status InMemoryDataset::ReadSample(int64_t i, float* out) const {
  if (i < 0 || i >= num) {
    return absl::OutOfRangeError(absl::StrCat("sample index ", i, " out of range [0, ", num, ")"));
  }
  U8ToFloat(SamplePixels(i), out, static_cast<size_t>(SampleBytes()), 1.0f / 255.0f);
  return absl::OkStatus();
}

absl::Status InMemoryDataset::Validate(const std::string& name) const {
  if (num <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", name, "' contains zero images"));
  }
  if (channels <= 0 || height <= 0 || width <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", name, "': bad image shape (",
                                                   channels, ", ", height, ", ", width, ")"));
  }
  if (static_cast<int64_t>(pixels.size()) != num * SampleBytes()) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", name, "': ", pixels.size(),
                                                   " pixel bytes, expected ", num * SampleBytes()));
  }
  if (static_cast<int64_t>(labels.size()) != num) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", name, "': ", labels.size(),
                                                   " labels for ", num, " images"));
  }
  if (classes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("data set '", name, "' has no class names"));
  }
  for (size_t k = 0; k < labels.size(); ++k) {
    if (labels[k] < 0 || labels[k] >= static_cast<int32_t>(classes.size())) {
      return absl::InvalidArgumentError(absl::StrCat("data set '", name, "': label ", labels[k],
                                                     " of image ", k, " is out of range [0, ",
                                                     classes.size(), ")"));
    }
  }
  return absl::OkStatus();
}

Tensor InMemoryDataset::ToTensor() const {
  Tensor t(Shape({num, channels, height, width}));
  U8ToFloat(pixels.data(), t.data(), pixels.size(), 1.0f / 255.0f);
  return t;
}

absl::StatusOr<InMemoryDataset> Subset(const InMemoryDataset& data,
                                       absl::Span<const int64_t> indices) {
  InMemoryDataset out;
  out.num = static_cast<int64_t>(indices.size());
  out.channels = data.channels;
  out.height = data.height;
  out.width = data.width;
  out.classes = data.classes;
  const int64_t bytes = data.SampleBytes();
  out.pixels.resize(static_cast<size_t>(out.num * bytes));
  out.labels.resize(indices.size());
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    if (i < 0 || i >= data.num) {
      return absl::InvalidArgumentError(absl::StrCat("Subset: index ", i, " at position ", k,
                                                     " is out of range [0, ", data.num, ")"));
    }
    std::copy_n(data.SamplePixels(i), bytes, out.pixels.data() + k * bytes);
    out.labels[k] = data.labels[static_cast<size_t>(i)];
  }
  return out;
}

absl::StatusOr<SplitIndices> TrainValidationSplit(int64_t n, double validation_fraction,
                                                  uint64_t seed) {
  if (n < 0) return absl::InvalidArgumentError(absl::StrCat("TrainValidationSplit: n = ", n));
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TrainValidationSplit: validation_fraction ", validation_fraction, " is not in [0, 1)"));
  }
  const std::vector<int64_t> order = EpochOrder(n, seed, /*epoch=*/~uint64_t{0}, /*shuffle=*/true);
  const int64_t num_val = static_cast<int64_t>(std::llround(static_cast<double>(n) * validation_fraction));
  SplitIndices split;
  split.train.assign(order.begin(), order.end() - num_val);
  split.validation.assign(order.end() - num_val, order.end());
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  return split;
}

}  // namespace simdnet
