// Gradient checker for layers and losses (testonly): compares a layer's analytic Backward
// against central finite differences of a caller-supplied DOUBLE-precision reference forward
// (the idea of dlib's test_layer and gemma.cpp's TestGradient).
//
// Why a double reference: differencing the float layer itself needs a large step and loose
// tolerances (float rounding / h dominates). Differencing an independent double implementation
// makes the numeric gradient accurate to ~1e-9, so the tolerances only have to absorb the float
// layer's own rounding, and a wrong forward is caught too (the forward is compared first).
#ifndef SIMDNET_LAYERS_GRADIENT_CHECK_H_
#define SIMDNET_LAYERS_GRADIENT_CHECK_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "layers/layer.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

// Double-precision reference forward of a layer: maps the batch input x (flattened
// (N, ...InputShape()), row-major) and the layer's parameters (one flattened vector per entry of
// layer.Params(), in that order, frozen ones included) to the flattened output
// (N, ...OutputShape()). It is called only after layer.Forward(x) has run, so it may read state
// that Forward drew (e.g. a dropout mask); it must not depend on anything else that changes.
using ReferenceForward = std::function<std::vector<double>(
    const std::vector<double>& x, const std::vector<std::vector<double>>& params)>;

// Double-precision reference loss: maps flattened logits (the loss input) to the loss value
// (labels/targets are captured by the closure).
using ReferenceLoss = std::function<double(const std::vector<double>& input)>;

// The loss under test: returns the float loss and OVERWRITES *grad with d loss / d input
// (same shape as input).
using LossUnderTest =
    std::function<absl::StatusOr<float>(const Tensor& input, Tensor* grad)>;

struct GradCheckOptions {
  // Required for CheckLayerGradients (ignored by CheckLossGradients).
  ReferenceForward reference;
  // Seeds the random input and upstream gradient.
  uint64_t seed = 1;
  // Input elements are drawn from U(input_low, input_high) unless fill_input is set.
  float input_low = -1.0f;
  float input_high = 1.0f;
  // Optional custom input generator (e.g. well-separated values for max pooling). Receives a
  // tensor already shaped (N, ...InputShape()).
  std::function<void(Rng& rng, Tensor* x)> fill_input;
  // Central-difference step, applied in double precision to the reference:
  // g ~ (L(v + h) - L(v - h)) / (2h), truncation error O(h^2 * L'''), rounding O(1e-16 / h).
  double step = 1e-5;
  // An analytic gradient g passes if |g - numeric| <= grad_abs_tol + grad_rel_tol * |numeric|.
  double grad_abs_tol = 1e-3;
  double grad_rel_tol = 1e-3;
  // The float forward passes if |y - y_ref| <= forward_abs_tol + forward_rel_tol * |y_ref|.
  double forward_abs_tol = 1e-4;
  double forward_rel_tol = 1e-4;
  // When > 0, checks at most this many elements per tensor (evenly strided, always including
  // the first and last), to bound the cost on big layers; 0 checks every element.
  int64_t max_checks_per_tensor = 0;
};

// Checks layer's Forward against options.reference and its Backward (dx and every non-frozen
// parameter gradient) against central differences of the scalar loss L = sum(y * dy), for a
// random input of shape (batch, ...InputShape()) and a random upstream dy ~ U(-1, 1).
// Also checks that frozen parameters' gradients stay unchanged. Parameter gradients are
// measured as the change Backward makes (so prior accumulated gradients do not matter; they are
// left accumulated). The layer runs in its current mode.
// Returns success, or a failure whose message reports, per tensor ("x", "weight", ...), the
// number of mismatches, the worst error and the first few mismatching indices.
// Requires: batch >= 1 and options.reference set.
::testing::AssertionResult CheckLayerGradients(Layer& layer, int64_t batch,
                                               const GradCheckOptions& options);

// Checks a loss: the float value against reference(input) (forward tolerances) and the gradient
// written by loss() against central differences of reference, at a random input of
// input_shape drawn as in GradCheckOptions (options.reference is ignored).
// Fails (with the status message) if loss() returns an error.
::testing::AssertionResult CheckLossGradients(const LossUnderTest& loss,
                                              const Shape& input_shape,
                                              const ReferenceLoss& reference,
                                              const GradCheckOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_GRADIENT_CHECK_H_
