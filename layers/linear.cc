// Linear layer: shape validation, PyTorch-default initialization and the Sgemm calls.
#include "layers/linear.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>

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

namespace {

// dst (cols, rows) = src (rows, cols)^T, in 16 x 16 tiles, split over column blocks on `pool`
// when large (each element is a plain copy, so the split does not change the result).
void Transpose(const float* src, size_t rows, size_t cols, float* dst, ThreadPool& pool) {
  constexpr size_t kTile = 16;
  constexpr size_t kColsPerTask = 256;
  const auto columns = [&](size_t c0, size_t c1) {
    for (size_t i0 = 0; i0 < rows; i0 += kTile) {
      const size_t i1 = std::min(rows, i0 + kTile);
      for (size_t j0 = c0; j0 < c1; j0 += kTile) {
        const size_t j1 = std::min(c1, j0 + kTile);
        for (size_t j = j0; j < j1; ++j) {
          for (size_t i = i0; i < i1; ++i) dst[j * rows + i] = src[i * cols + j];
        }
      }
    }
  };
  const size_t tasks = (cols + kColsPerTask - 1) / kColsPerTask;
  if (rows * cols < (size_t{1} << 15) || tasks < 2) {
    columns(0, cols);
    return;
  }
  pool.ParallelFor(tasks, [&](uint64_t t, size_t) {
    const size_t c0 = static_cast<size_t>(t) * kColsPerTask;
    columns(c0, std::min(cols, c0 + kColsPerTask));
  });
}

}  // namespace

void Linear::Forward(const Tensor& x, Tensor* y) {
  SIMDNET_CHECK(x.rank() == 2 && x.dim(1) == in_features() && x.dim(0) >= 1);
  const size_t n = static_cast<size_t>(x.dim(0));
  const size_t in = static_cast<size_t>(in_features());
  const size_t out = static_cast<size_t>(out_features());
  y->EnsureShape(Shape({x.dim(0), out_features()}));
  x_ = KeptForBackward(x);
  ThreadPool& pool = DefaultThreadPool();
  // The GEMM packs a transposed operand element by element; an explicit transpose of the
  // smaller of x and W (vectorizable, split over the pool) followed by a GEMM on plain
  // operands is several times faster for the usual shapes (e.g. 64 x 3136 by 3136 x 128).
  // With the bias the GEMM accumulates onto rows pre-loaded with it (beta = 1).
  const float beta = options_.bias ? 1.0f : 0.0f;
  if (n == 1) {
    // One sample: a GEMM with n = 1 would pad its column strips to the kernel width; the
    // transposed-B product pads the single row to the kernel height instead, a smaller waste.
    if (options_.bias) Copy(bias_.value.data(), y->data(), out);
    Sgemm(/*trans_a=*/false, /*trans_b=*/true, 1, out, in, 1.0f, x.data(), in,
          weight_.value.data(), in, beta, y->data(), out, pool);
    return;
  }
  if (n < out) {
    // y^T (out, n) = W (out, in) * x^T (in, n).
    float* yt = y->data();
    if (n > 1) {
      transposed_.EnsureShape(Shape({x.dim(1), x.dim(0)}));
      Transpose(x.data(), n, in, transposed_.data(), pool);
      yt_.EnsureShape(Shape({out_features(), x.dim(0)}));
      yt = yt_.data();
    }
    if (options_.bias) {
      for (size_t j = 0; j < out; ++j) Fill(yt + j * n, n, bias_.value[j]);
    }
    // The rows of y^T split across the threads, each a one-thread GEMM over all of `in`: with
    // few columns (the batch) the shared-panel GEMM would synchronize twice per K block for
    // little work (vgg-small's 3136 -> 128 at batch 64 ran at 70 GFLOPS). Every element is summed
    // in the same k order either way, so the split does not change the result.
    const float* xt = n > 1 ? transposed_.data() : x.data();
    const size_t parts = std::min<size_t>(pool.NumThreads(), (out + 7) / 8);
    pool.ParallelFor(parts, [&](uint64_t part, size_t) {
      const size_t r0 = out * part / parts / 8 * 8;
      const size_t r1 = part + 1 == parts ? out : out * (part + 1) / parts / 8 * 8;
      if (r1 <= r0) return;
      Sgemm(/*trans_a=*/false, /*trans_b=*/false, r1 - r0, n, in, 1.0f,
            weight_.value.data() + r0 * in, in, xt, n, beta, yt + r0 * n, n, SerialThreadPool());
    });
    if (n > 1) Transpose(yt, out, n, y->data(), pool);
    return;
  }
  // y (n, out) = x (n, in) * W^T (in, out).
  transposed_.EnsureShape(Shape({in_features(), out_features()}));
  Transpose(weight_.value.data(), out, in, transposed_.data(), pool);
  if (options_.bias) {
    for (size_t i = 0; i < n; ++i) Copy(bias_.value.data(), y->data() + i * out, out);
  }
  Sgemm(/*trans_a=*/false, /*trans_b=*/false, n, out, in, 1.0f, x.data(), in,
        transposed_.data(), out, beta, y->data(), out, pool);
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
