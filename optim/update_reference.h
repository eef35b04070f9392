// Plain scalar references of the fused update kernels in optim/update.h,
// templated on the arithmetic type T (tests run them in double on float inputs
// and compare).
#ifndef SIMDNET_OPTIM_UPDATE_REFERENCE_H_
#define SIMDNET_OPTIM_UPDATE_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "optim/update.h"

namespace simdnet {
namespace reference {

// Reference of MomentumUpdate: same formula, one element at a time in T.
template <typename T>
void MomentumUpdate(const MomentumCoefficients& k, const T* g, T* x, T* v,
                    size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T gi = g[i] + T(k.l2) * x[i];
    v[i] = T(k.a) * v[i] + T(k.c) * gi;
    x[i] = T(k.decay) * x[i] + T(k.s) * v[i] + T(k.t) * gi;
  }
}

// Reference of SgdUpdate.
template <typename T>
void SgdUpdate(float l2, float decay, float t, const T* g, T* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T gi = g[i] + T(l2) * x[i];
    x[i] = T(decay) * x[i] + T(t) * gi;
  }
}

// Reference of AdamUpdate.
template <typename T>
void AdamUpdate(const AdamCoefficients& k, const T* g, T* x, T* m, T* v,
                size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T gi = g[i] + T(k.l2) * x[i];
    m[i] = T(k.beta1) * m[i] + (T(1) - T(k.beta1)) * gi;
    v[i] = T(k.beta2) * v[i] + (T(1) - T(k.beta2)) * gi * gi;
    const T denom = std::sqrt(v[i]) * T(k.inv_sqrt_bc2) + T(k.eps);
    x[i] = T(k.decay) * x[i] - T(k.step_size) * m[i] / denom;
  }
}

// Reference of RmspropUpdate (buf may be null).
template <typename T>
void RmspropUpdate(const RmspropCoefficients& k, const T* g, T* x, T* sq,
                   T* buf, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T gi = g[i] + T(k.l2) * x[i];
    sq[i] = T(k.alpha) * sq[i] + (T(1) - T(k.alpha)) * gi * gi;
    const T u = gi / (std::sqrt(sq[i]) + T(k.eps));
    if (buf != nullptr) {
      buf[i] = T(k.momentum) * buf[i] + u;
      x[i] = T(k.decay) * x[i] - T(k.lr) * buf[i];
    } else {
      x[i] = T(k.decay) * x[i] - T(k.lr) * u;
    }
  }
}

// Reference of AdagradUpdate.
template <typename T>
void AdagradUpdate(const AdagradCoefficients& k, const T* g, T* x, T* sum,
                   size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const T gi = g[i] + T(k.l2) * x[i];
    sum[i] += gi * gi;
    x[i] -= T(k.clr) * gi / (std::sqrt(sum[i]) + T(k.eps));
  }
}

// Reference of SumOfSquares.
template <typename T>
T SumOfSquares(const T* x, size_t n) {
  T sum = 0;
  for (size_t i = 0; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

// Reference of ScaleInPlace.
template <typename T>
void ScaleInPlace(float scale, T* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= T(scale);
}

// Reference of ClampInPlace.
template <typename T>
void ClampInPlace(float lo, float hi, T* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], T(lo)), T(hi));
}

}  // namespace reference
}  // namespace simdnet

#endif  // SIMDNET_OPTIM_UPDATE_REFERENCE_H_
