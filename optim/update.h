// Fused optimizer update kernels: one vectorized pass over a parameter buffer
// applies weight decay, updates the optimizer state and writes the new
// parameter (Highway, update-inl.h, dispatched at run time in update.cc), plus
// the reductions gradient clipping needs.
//
// Each kernel is written with precomputed float coefficients so that one kernel
// covers every form of its optimizer (see optim/sgd.h, optim/adam.h,
// optim/rmsprop.h, optim/adagrad.h for the mapping). Element i of the outputs depends only on
// element i of the inputs, so results are identical however a buffer is split
// into chunks or threads; they may differ in the last bit between ISAs (FMA on
// AVX2/AVX-512, separate multiply-add on SSE4/scalar).
#ifndef SIMDNET_OPTIM_UPDATE_H_
#define SIMDNET_OPTIM_UPDATE_H_

#include <cstddef>

#include "hwy/base.h"

namespace simdnet {

// Coefficients of the fused momentum-SGD step, per element:
//   g' = g + l2 * x                  (coupled weight decay: L2 in the gradient)
//   v  = a * v + c * g'              (velocity)
//   x  = decay * x + s * v + t * g'  (decay = 1 - lr * wd when decoupled)
struct MomentumCoefficients {
  float l2 = 0.0f;
  float a = 0.0f;
  float c = 0.0f;
  float decay = 1.0f;
  float s = 0.0f;
  float t = 0.0f;
};

// Applies the fused momentum step above to n elements. x, v are updated in
// place. Requires: g, x, v each hold n floats and do not overlap (any
// alignment).
void MomentumUpdate(const MomentumCoefficients& k, const float* HWY_RESTRICT g,
                    float* HWY_RESTRICT x, float* HWY_RESTRICT v, size_t n);

// Applies the stateless (vanilla) SGD step x = decay * x + t * (g + l2 * x),
// with t = -lr. Requires: g and x hold n floats and do not overlap.
void SgdUpdate(float l2, float decay, float t, const float* HWY_RESTRICT g,
               float* HWY_RESTRICT x, size_t n);

// Coefficients of the fused Adam / AdamW step (PyTorch's Adam/AdamW
// implementation), per element:
//   g' = g + l2 * x
//   m  = beta1 * m + (1 - beta1) * g'
//   v  = beta2 * v + (1 - beta2) * g'^2
//   x  = decay * x - step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps)
// with step_size = lr / (1 - beta1^t) and inv_sqrt_bc2 = 1 / sqrt(1 - beta2^t).
struct AdamCoefficients {
  float l2 = 0.0f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float step_size = 0.0f;
  float inv_sqrt_bc2 = 1.0f;
  float decay = 1.0f;
};

// Applies the fused Adam step above to n elements; x, m, v are updated in
// place. Requires: g, x, m, v each hold n floats and do not overlap.
void AdamUpdate(const AdamCoefficients& k, const float* HWY_RESTRICT g,
                float* HWY_RESTRICT x, float* HWY_RESTRICT m,
                float* HWY_RESTRICT v, size_t n);

// Coefficients of the fused RMSProp step (PyTorch RMSprop, centered=False), per
// element:
//   g' = g + l2 * x
//   sq = alpha * sq + (1 - alpha) * g'^2
//   u  = g' / (sqrt(sq) + eps)
//   without momentum:  x = decay * x - lr * u
//   with momentum:     buf = momentum * buf + u;  x = decay * x - lr * buf
struct RmspropCoefficients {
  float l2 = 0.0f;
  float alpha = 0.99f;
  float eps = 1e-8f;
  float lr = 0.0f;
  float momentum = 0.0f;
  float decay = 1.0f;
};

// Applies the fused RMSProp step above to n elements; x, sq (and buf) are
// updated in place. buf may be null, in which case the momentum-free form is
// used (k.momentum is ignored). Requires: g, x, sq (and buf if non-null) each
// hold n floats and do not overlap.
void RmspropUpdate(const RmspropCoefficients& k, const float* HWY_RESTRICT g,
                   float* HWY_RESTRICT x, float* HWY_RESTRICT sq,
                   float* HWY_RESTRICT buf, size_t n);

// Coefficients of the fused Adagrad step (PyTorch Adagrad), per element:
//   g'  = g + l2 * x
//   sum = sum + g'^2
//   x   = x - clr * g' / (sqrt(sum) + eps)
// with clr = lr / (1 + (step - 1) * lr_decay) computed by the caller.
struct AdagradCoefficients {
  float l2 = 0.0f;
  float eps = 1e-10f;
  float clr = 0.0f;
};

// Applies the fused Adagrad step above to n elements; x and sum are updated in
// place. Requires: g, x, sum each hold n floats and do not overlap.
void AdagradUpdate(const AdagradCoefficients& k, const float* HWY_RESTRICT g,
                   float* HWY_RESTRICT x, float* HWY_RESTRICT sum, size_t n);

// Returns sum x[i]^2 accumulated in float lanes; 0 for n == 0. Callers needing
// accuracy for large buffers split them into chunks and add the chunk sums in
// double (optim/clip.cc).
float SumOfSquares(const float* x, size_t n);

// Multiplies n elements of x by `scale` in place.
void ScaleInPlace(float scale, float* x, size_t n);

// Clamps n elements of x to [lo, hi] in place. Requires: lo <= hi.
void ClampInPlace(float lo, float hi, float* x, size_t n);

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_UPDATE_H_
