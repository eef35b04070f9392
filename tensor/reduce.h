// Reductions and axis-wise operations (sum, mean, max, argmax, norms, softmax), written once
// with Highway (reduce-inl.h) and dispatched at run time.
//
// Axis functions view the input as a row-major (outer, axis, inner) array: for an NCHW tensor
// reduced over C, outer = N, axis = C, inner = H*W. Outputs are (outer, inner).
// Summation order depends on the ISA (vector width), so results may differ in the last bits
// between ISAs; they are identical for a fixed ISA and thread count.
#ifndef SIMDNET_TENSOR_REDUCE_H_
#define SIMDNET_TENSOR_REDUCE_H_

#include <cstddef>
#include <cstdint>

namespace simdnet {

// Returns sum(x[0, n)); 0 for n == 0.
float Sum(const float* x, size_t n);
// Returns max(x[0, n)). Requires: n >= 1.
float Max(const float* x, size_t n);
// Returns sum |x[i]|.
float L1Norm(const float* x, size_t n);
// Returns sum x[i]^2.
float SquaredL2Norm(const float* x, size_t n);
// Returns sum a[i] * b[i].
float Dot(const float* a, const float* b, size_t n);

// y[o, i] = sum_a x[o, a, i]. y has outer * inner floats, overwritten.
void SumAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y);
// y[o, i] = mean_a x[o, a, i]. Requires: axis >= 1.
void MeanAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y);
// y[o, i] = max_a x[o, a, i]. Requires: axis >= 1.
void MaxAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y);
// idx[o, i] = the first a with x[o, a, i] == max_a x[o, a, i]. Requires: axis >= 1.
void ArgmaxAxis(const float* x, size_t outer, size_t axis, size_t inner, int64_t* idx);
// y[o, :, i] = softmax over a of x[o, :, i], computed stably (max subtracted first).
// y may alias x. Requires: axis >= 1.
void SoftmaxAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y);
// y[o, :, i] = log_softmax over a of x[o, :, i] = x - max - log(sum exp(x - max)).
void LogSoftmaxAxis(const float* x, size_t outer, size_t axis, size_t inner, float* y);

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_REDUCE_H_
