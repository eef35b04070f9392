// Dropout layer: Bernoulli masks from the layer's Rng, applied with the element-wise kernels.
#include "layers/dropout.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<Dropout>> Dropout::Create(const DropoutOptions& options,
                                                         const Shape& input_shape, Rng& rng) {
  if (!(options.drop_rate >= 0.0f && options.drop_rate < 1.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Dropout: drop_rate must be in [0, 1), got ", options.drop_rate));
  }
  if (input_shape.rank() == 0 || input_shape.rank() >= Shape::kMaxRank ||
      input_shape.size() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Dropout: input_shape ", input_shape.ToString(), " must have rank 1..",
                     Shape::kMaxRank - 1, " and at least one element"));
  }
  const Rng child = rng.Split(0);
  rng.NextU64();  // advance so that the next layer splitting from `rng` gets another stream
  return std::unique_ptr<Dropout>(new Dropout(options, input_shape, child));
}

std::string Dropout::Describe() const {
  return absl::StrCat("Dropout(p=", options_.drop_rate, ")");
}

void Dropout::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == shape_.rank() + 1 && x.size() == x.dim(0) * shape_.size());
  y->EnsureShape(x.shape());
  const size_t n = static_cast<size_t>(x.size());
  ThreadPool* pool = &DefaultThreadPool();
  masked_ = mode_ == Mode::kTrain && options_.drop_rate > 0.0f;
  if (!masked_) {
    Copy(x.data(), y->data(), n, pool);
    return;
  }
  mask_.EnsureShape(x.shape());
  const float keep = 1.0f - options_.drop_rate;
  const size_t rows = static_cast<size_t>(x.dim(0));
  if (!sample_ids_.empty() && sample_ids_.size() == rows) {
    const size_t per_sample = n / rows;
    const Rng epoch_rng = rng_.Split(key_epoch_);
    auto fill_row = [&](uint64_t r, size_t) {
      Rng row = epoch_rng.Split(static_cast<uint64_t>(sample_ids_[r]));
      row.FillBernoulli(mask_.data() + r * per_sample, per_sample, keep);
    };
    if (n >= 4096) {
      pool->ParallelFor(rows, fill_row);
    } else {
      for (size_t r = 0; r < rows; ++r) fill_row(r, 0);
    }
  } else {
    rng_.FillBernoulli(mask_.data(), n, keep, pool);
  }
  Scale(1.0f / keep, mask_.data(), n, pool);
  Mul(x.data(), mask_.data(), y->data(), n, pool);
}

void Dropout::SetSampleKeys(uint64_t epoch, absl::Span<const int64_t> ids) {
  key_epoch_ = epoch;
  sample_ids_.assign(ids.begin(), ids.end());
}

void Dropout::Backward(const Tensor& dy, Tensor* dx) {
  dx->EnsureShape(dy.shape());
  const size_t n = static_cast<size_t>(dy.size());
  if (!masked_) {
    Copy(dy.data(), dx->data(), n, &DefaultThreadPool());
    return;
  }
  SIMDNET_CHECK(dy.shape() == mask_.shape());
  Mul(dy.data(), mask_.data(), dx->data(), n, &DefaultThreadPool());
}

}  // namespace simdnet
