// Batch-normalization kernels: per-channel reductions and per-channel affine maps over data
// viewed as (n, c, s) row-major, i.e. NCHW with s = H*W, or (N, F) batches with s = 1.
// Written once with Highway (batch_norm_kernels-inl.h) and dispatched at run time.
//
// Common contract: all buffers are float arrays of n * c * s (data) or c (per-channel) elements,
// any alignment. Each channel's result is computed by a fixed sequence of operations, so it does
// not depend on the thread count or on `pool`; it may differ in the last bits between ISAs
// (vector width changes the summation order). When `pool` is non-null and the data is large,
// channels are split across it.
#ifndef SIMDNET_LAYERS_BATCH_NORM_KERNELS_H_
#define SIMDNET_LAYERS_BATCH_NORM_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace simdnet {

class ThreadPool;

// The element-wise activation that the fused passes apply after a batch norm (forward), and
// whose derivative masks the incoming gradient (backward), computed from the activation's
// OUTPUT y:
enum class BatchNormActivation {
  kNone,
  // max(v, 0) (bit-identical to a ReLU layer); gradient where y > 0.
  kRelu,
  // min(max(v, 0), 6) (bit-identical to a ReLU6 layer, layers/clamp_kernels.h, NaN kept);
  // gradient where 0 < y < 6, which is where 0 < v < 6 (PyTorch's hardtanh_backward on v).
  kRelu6,
};

// Computes sums[ch] = sum over (i, j) of x[i, ch, j]. sums (c) is overwritten.
void BatchNormChannelSums(const float* x, size_t n, size_t c, size_t s, float* sums,
                          ThreadPool* pool = nullptr);

// Computes out[ch] = sum over (i, j) of (a[i, ch, j] - ca[ch]) * (b[i, ch, j] - cb[ch]).
// ca / cb (c) may be null, meaning 0. With a == b == x and ca == cb == mean this is the
// centered (two-pass, numerically stable) sum of squares. out (c) is overwritten.
void BatchNormChannelCenteredDots(const float* a, const float* ca, const float* b, const float* cb,
                                  size_t n, size_t c, size_t s, float* out,
                                  ThreadPool* pool = nullptr);

// Computes y[i, ch, j] = x[i, ch, j] * scale[ch] + shift[ch]. y may alias x.
void BatchNormChannelAffine(const float* x, const float* scale, const float* shift, size_t n,
                            size_t c, size_t s, float* y, ThreadPool* pool = nullptr);

// Computes y[i, ch, j] = act(x[i, ch, j] * scale[ch] + shift[ch]): BatchNormChannelAffine
// followed by the activation in one pass, bit-identical to the two. y may alias x.
void BatchNormChannelAffineAct(const float* x, const float* scale, const float* shift,
                               BatchNormActivation act, size_t n, size_t c, size_t s, float* y,
                               ThreadPool* pool = nullptr);

// The batch-norm backward reductions in one pass: with g = dy, or (act != kNone) g = dy where
// the derivative of act at its output y is 1 and 0 elsewhere (the gradient through the
// activation), computes sum_g[ch] = sum of g and sum_gxc[ch] = sum of g * (x - mean[ch]) over
// (i, j). Bit-identical to BatchNormChannelSums(g) and BatchNormChannelCenteredDots(g, null, x,
// mean). sum_g and sum_gxc (c) are overwritten. y may be null when act == kNone.
void BatchNormChannelBackwardSums(const float* dy, const float* y, BatchNormActivation act,
                                  const float* x, const float* mean, size_t n, size_t c, size_t s,
                                  float* sum_g, float* sum_gxc, ThreadPool* pool = nullptr);

// Computes out[i, ch, j] = a[ch] * u[i, ch, j] + b[ch] * v[i, ch, j] + d[ch] (the batch-norm
// input gradient in closed form). out may alias u or v.
void BatchNormChannelAffine2(const float* u, const float* a, const float* v, const float* b,
                             const float* d, size_t n, size_t c, size_t s, float* out,
                             ThreadPool* pool = nullptr);

// BatchNormChannelAffine2 with u masked by the derivative of act at its output `mask` (u where
// that derivative is 1, 0 elsewhere; see BatchNormActivation). out may alias u or v, not mask.
// Requires: act != kNone.
void BatchNormChannelAffine2Masked(const float* u, const float* mask, BatchNormActivation act,
                                   const float* a, const float* v, const float* b, const float* d,
                                   size_t n, size_t c, size_t s, float* out,
                                   ThreadPool* pool = nullptr);

// The per-channel scalars of a batch-norm training forward, supplied by the layer so that they
// round exactly as its own scalar code (and as the separate passes above did).
class BatchNormChannelStats {
 public:
  virtual ~BatchNormChannelStats() = default;
  // Returns the mean of channel ch given the sum of its n * s elements.
  virtual float Mean(size_t ch, float sum) const = 0;
  // Given the centered sum of squares of channel ch, sets its y = x * scale + shift.
  virtual void ScaleShift(size_t ch, float centered_sq, float* scale, float* shift) const = 0;
};

// The batch-norm training forward, one channel at a time: the channel's sum
// (BatchNormChannelSums), its mean (stats.Mean), its centered sum of squares
// (BatchNormChannelCenteredDots), stats.ScaleShift and y = act(x * scale + shift),
// bit-identical to those passes. A channel's n * s floats are read from memory once and then,
// while they fit in the core's L2 cache (MobileNetV2's largest: 16 x 112 x 112 floats
// = 784 KiB), from there, instead of three times from memory. y may alias x. Requires: s > 1.
void BatchNormTrainForward(const float* x, size_t n, size_t c, size_t s,
                           const BatchNormChannelStats& stats, BatchNormActivation act, float* y,
                           ThreadPool* pool = nullptr);

// The per-channel step of a batch-norm training backward between its reductions and dx,
// supplied by the layer (parameter gradients and dx coefficients in its own arithmetic).
class BatchNormBackwardCoefs {
 public:
  virtual ~BatchNormBackwardCoefs() = default;
  // Given channel ch's sums of g and of g * (x - mean), sets b[ch] and d[ch] of the arrays
  // passed to BatchNormTrainBackward.
  virtual void Coefs(size_t ch, float sum_g, float sum_gxc) const = 0;
};

// The batch-norm training backward, one channel at a time: BatchNormChannelBackwardSums (g from
// dy and, when act != kNone, the mask of act at its output act_y) into sum_g / sum_gxc (c),
// coefs.Coefs, then dx = a * g + b * x + d (BatchNormChannelAffine2 / Affine2Masked),
// bit-identical to those passes, reading the channel's dy, x (and act_y) from memory once and
// then from cache while they fit. dx may alias dy or x. act_y may be null when act == kNone.
// Requires: s > 1.
void BatchNormTrainBackward(const float* dy, const float* act_y, BatchNormActivation act,
                            const float* x, const float* mean, const float* a, const float* b,
                            const float* d, size_t n, size_t c, size_t s,
                            const BatchNormBackwardCoefs& coefs, float* sum_g, float* sum_gxc,
                            float* dx, ThreadPool* pool = nullptr);

// BatchNormTrainBackward for act != kNone without reading the activation's output: the mask
// is recomputed from x at the activation's input, x * act_scale + act_shift (the forward's
// per-channel scale and shift, BatchNormChannelStats::ScaleShift), which is the mask at the
// output act_y that BatchNormTrainForward wrote (ReLU: y > 0 iff its input > 0; ReLU6 tests
// its input, as hardtanh_backward does). Bit-identical to BatchNormTrainBackward with that
// act_y. Requires: s > 1.
void BatchNormTrainBackwardFromInput(const float* dy, BatchNormActivation act,
                                     const float* act_scale, const float* act_shift,
                                     const float* x, const float* mean, const float* a,
                                     const float* b, const float* d, size_t n, size_t c, size_t s,
                                     const BatchNormBackwardCoefs& coefs, float* sum_g,
                                     float* sum_gxc, float* dx, ThreadPool* pool = nullptr);

// BatchNormTrainForward with the activation followed by a max pooling over 2x2 windows with
// stride 2 and no padding (an odd last row / column is dropped, PyTorch's floor mode), for
// (n, c, h, w) data: writes only the pooled output (n, c, h / 2, w / 2) and its argmax (the
// index row * w + col inside the plane, as MaxPool2dForward), not the full-size
// act(x * scale + shift), whose planes go through a plane-sized scratch in L1. A channel's x is
// read from memory once. Bit-identical to BatchNormTrainForward(act) then MaxPool2dForward.
// Requires: h, w >= 2.
void BatchNormTrainForwardMaxPool2x2(const float* x, size_t n, size_t c, size_t h, size_t w,
                                     const BatchNormChannelStats& stats, BatchNormActivation act,
                                     float* pooled, int32_t* argmax, ThreadPool* pool = nullptr);

// The batch-norm training backward behind BatchNormTrainForwardMaxPool2x2: dy is the gradient
// at its pooled output `pooled` (both (n, c, h / 2, w / 2)), argmax its argmax. The gradient at
// the activation's output (dy at the argmax positions, 0 elsewhere) is masked by the
// activation's derivative at the pooled value (which is the activation's output there) and
// built one channel at a time in an L2-sized scratch (n * h * w floats) that
// BatchNormTrainBackward's two passes read, instead of being written full-size. Bit-identical to
// MaxPool2dBackward then BatchNormTrainBackward (act, act_y = the activation's output), sums,
// coefficients and dx (n, c, h, w). Requires: h, w >= 2; dx does not alias dy, pooled or argmax.
void BatchNormTrainBackwardMaxPool2x2(const float* dy, const float* pooled, const int32_t* argmax,
                                      BatchNormActivation act, const float* x, const float* mean,
                                      const float* a, const float* b, const float* d, size_t n,
                                      size_t c, size_t h, size_t w,
                                      const BatchNormBackwardCoefs& coefs, float* sum_g,
                                      float* sum_gxc, float* dx, ThreadPool* pool = nullptr);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_BATCH_NORM_KERNELS_H_
