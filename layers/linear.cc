// Linear layer: shape validation, PyTorch-default initialization and the Sgemm calls.
#include "layers/linear.h"

#include "absl/strings/str_cat.h"
#include "tensor/elementwise.h"
#include "tensor/gemm.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
Linear::Linear(const LinearOptions& options, const Shape& input_shape)
    : options_(options),
      input_shape_(input_shape),
      output_shape_({options.out_features}) {
  const int64_t in = input_shape.dim(0), out = options.out_features;
  weight_.value = Tensor(Shape({out, in}));
  weight_.grad = Tensor(Shape({out, in}));
  if (options.bias) {
    bias_.value = Tensor(Shape({out}));
    bias_.grad = Tensor(Shape({out}));
    bias_.weight_decay = false;
  }
}

absl::StatusOr<std::unique_ptr<Linear>> Linear::Create(const LinearOptions& options,
                                                       const Shape& input_shape, Rng& rng) {
  if (input_shape.rank() != 1 || input_shape.dim(0) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Linear: input_shape ", input_shape.ToString(),
        " must be (in_features) with in_features >= 1 (flatten image inputs first)"));
  }
  if (options.out_features < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Linear: out_features must be >= 1, got ", options.out_features,
                     " (input_shape ", input_shape.ToString(), ")"));
  }
  std::unique_ptr<Linear> layer(new Linear(options, input_shape));
  const int64_t fan_in = input_shape.dim(0), fan_out = options.out_features;
  absl::Status s = InitTensor(options.weight_init, fan_in, fan_out, rng, &layer->weight_.value);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("Linear: weight_init: ", s.message()));
  if (options.bias) {
    s = InitTensor(options.bias_init, fan_in, fan_out, rng, &layer->bias_.value);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("Linear: bias_init: ", s.message()));
    }
  }
  return layer;
}

std::string Linear::Describe() const {
  return absl::StrCat("Linear(", in_features(), ", ", out_features(),
                      options_.bias ? "" : ", bias=false", ")");
}

int64_t Linear::ForwardMultAdds() const { return weight_.value.size(); }

std::vector<NamedParameter> Linear::Params() {
  std::vector<NamedParameter> params = {{"weight", &weight_}};
  if (options_.bias) params.push_back({"bias", &bias_});
  return params;
}

void Linear::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 2 && x.dim(1) == in_features() && x.dim(0) >= 1);
  const size_t n = static_cast<size_t>(x.dim(0));
  const size_t in = static_cast<size_t>(in_features());
  const size_t out = static_cast<size_t>(out_features());
  y->EnsureShape(Shape({x.dim(0), out_features()}));
  x_ = x;
  ThreadPool& pool = DefaultThreadPool();
  float beta = 0.0f;
  if (options_.bias) {
    // Pre-load every row with the bias and let the GEMM accumulate onto it (beta = 1), which
    // saves a second pass over y.
    for (size_t i = 0; i < n; ++i) Copy(bias_.value.data(), y->data() + i * out, out);
    beta = 1.0f;
  }
  // y (n, out) = x (n, in) * W^T (in, out).
  Sgemm(/*trans_a=*/false, /*trans_b=*/true, n, out, in, 1.0f, x.data(), in,
        weight_.value.data(), in, beta, y->data(), out, pool);
}

void Linear::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(dy.rank() == 2 && dy.dim(1) == out_features() && dy.dim(0) == x_.dim(0));
  const size_t n = static_cast<size_t>(dy.dim(0));
  const size_t in = static_cast<size_t>(in_features());
  const size_t out = static_cast<size_t>(out_features());
  dx->EnsureShape(x_.shape());
  ThreadPool& pool = DefaultThreadPool();
  // dx (n, in) = dy (n, out) * W (out, in).
  Sgemm(false, false, n, in, out, 1.0f, dy.data(), out, weight_.value.data(), in, 0.0f,
        dx->data(), in, pool);
  if (Learns(weight_)) {
    // dW (out, in) += dy^T (out, n) * x (n, in).
    Sgemm(true, false, out, in, n, 1.0f, dy.data(), out, x_.data(), in, 1.0f,
          weight_.grad.data(), in, pool);
  }
  if (options_.bias && Learns(bias_)) {
    // db (out) += sum over the batch of dy, row by row in batch order (deterministic).
    for (size_t i = 0; i < n; ++i) Axpy(1.0f, dy.data() + i * out, bias_.grad.data(), out);
  }
}

}  // namespace simdnet
