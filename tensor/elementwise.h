// Element-wise kernels on float buffers, written once with Highway (elementwise-inl.h) and
// dispatched at run time to the best ISA the CPU supports.
//
// Common contract: buffers hold n floats; any alignment; in-place use (y == x, or y == a / b) is
// allowed, partial overlap is not. When `pool` is non-null and n is large, the work is split
// into fixed-size chunks across the pool (results do not depend on the thread count).
#ifndef SIMDNET_TENSOR_ELEMENTWISE_H_
#define SIMDNET_TENSOR_ELEMENTWISE_H_

#include <cstddef>

#include "hwy/base.h"  // HWY_RESTRICT only

namespace simdnet {

class ThreadPool;

// y[i] = value.
void Fill(float* y, size_t n, float value, ThreadPool* pool = nullptr);
// y[i] = x[i].
void Copy(const float* x, float* y, size_t n, ThreadPool* pool = nullptr);

// y[i] = a[i] + b[i]; a[i] - b[i]; a[i] * b[i].
void Add(const float* a, const float* b, float* y, size_t n, ThreadPool* pool = nullptr);
void Sub(const float* a, const float* b, float* y, size_t n, ThreadPool* pool = nullptr);
void Mul(const float* a, const float* b, float* y, size_t n, ThreadPool* pool = nullptr);
// y[i] = x[i] + s; x[i] * s.
void AddScalar(const float* x, float s, float* y, size_t n, ThreadPool* pool = nullptr);
void MulScalar(const float* x, float s, float* y, size_t n, ThreadPool* pool = nullptr);
// y[i] += alpha * x[i] (BLAS saxpy).
void Axpy(float alpha, const float* x, float* y, size_t n, ThreadPool* pool = nullptr);
// y[i] *= alpha.
void Scale(float alpha, float* y, size_t n, ThreadPool* pool = nullptr);

// y[i] = exp(x[i]); log(x[i]) (hwy/contrib/math; max error a few ulp, see the tests).
void Exp(const float* x, float* y, size_t n, ThreadPool* pool = nullptr);
void Log(const float* x, float* y, size_t n, ThreadPool* pool = nullptr);

// Activations. Forward: y = f(x). Backward overwrites dx (dx may alias dy):
//   ReLU:      y = max(x, 0);                dx = dy * (x > 0)        (takes x)
//   LeakyReLU: y = x > 0 ? x : slope * x;    dx = dy * (x > 0 ? 1 : slope)  (takes x)
//   Tanh:      y = tanh(x);                  dx = dy * (1 - y^2)      (takes y)
//   Sigmoid:   y = 1 / (1 + exp(-x));        dx = dy * y * (1 - y)    (takes y)
void ReluForward(const float* x, float* y, size_t n, ThreadPool* pool = nullptr);
void ReluBackward(const float* x, const float* dy, float* dx, size_t n,
                  ThreadPool* pool = nullptr);
void LeakyReluForward(const float* x, float slope, float* y, size_t n,
                      ThreadPool* pool = nullptr);
void LeakyReluBackward(const float* x, float slope, const float* dy, float* dx, size_t n,
                       ThreadPool* pool = nullptr);
void TanhForward(const float* x, float* y, size_t n, ThreadPool* pool = nullptr);
void TanhBackward(const float* y, const float* dy, float* dx, size_t n,
                  ThreadPool* pool = nullptr);
void SigmoidForward(const float* x, float* y, size_t n, ThreadPool* pool = nullptr);
void SigmoidBackward(const float* y, const float* dy, float* dx, size_t n,
                     ThreadPool* pool = nullptr);

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_ELEMENTWISE_H_
