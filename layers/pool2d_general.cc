// Scalar pooling kernels for asymmetric padding, dilation, ceil mode and divisor_override.
#include "layers/pool2d_general.h"

#include <algorithm>
#include <limits>

namespace simdnet {
namespace {

// The taps of one axis of the window starting at `start` (negative inside the leading pad):
// taps [first, last) read the input, `padded` of them lie inside the padded extent.
struct Taps {
  long first = 0;   // first tap index r (or t) inside the input
  long last = 0;    // one past the last tap index inside the input
  long padded = 0;  // taps inside [-pad_begin, in + pad_end)
};

Taps TapsOf(long start, size_t kernel, size_t dilation, size_t in, size_t pad_end) {
  const long k = static_cast<long>(kernel), d = static_cast<long>(dilation);
  const long n = static_cast<long>(in);
  Taps t;
  t.first = start >= 0 ? 0 : (-start + d - 1) / d;
  t.last = start >= n ? 0 : std::min(k, (n - 1 - start) / d + 1);
  t.last = std::max(t.last, t.first);
  const long end = n + static_cast<long>(pad_end);  // start is >= -pad_begin by contract
  t.padded = std::min(k, (end - 1 - start) / d + 1);
  return t;
}

long StartOf(size_t o, size_t stride, size_t pad_begin) {
  return static_cast<long>(o * stride) - static_cast<long>(pad_begin);
}

size_t Divisor(const Taps& th, const Taps& tw, bool count_include_pad, int64_t divisor_override) {
  if (divisor_override > 0) return static_cast<size_t>(divisor_override);
  if (count_include_pad) return static_cast<size_t>(th.padded * tw.padded);
  return static_cast<size_t>((th.last - th.first) * (tw.last - tw.first));
}

}  // namespace

void MaxPool2dForwardGeneral(const Pool2dGeometry& g, const float* x, float* y, int32_t* argmax) {
  const long in_w = static_cast<long>(g.in_w);
  const long dh = static_cast<long>(g.dilation_h), dw = static_cast<long>(g.dilation_w);
  for (size_t plane = 0; plane < g.batch * g.channels; ++plane) {
    const float* xp = x + plane * g.in_h * g.in_w;
    for (size_t oh = 0; oh < g.out_h; ++oh) {
      const long h0 = StartOf(oh, g.stride_h, g.pad_top);
      const Taps th = TapsOf(h0, g.kernel_h, g.dilation_h, g.in_h, g.pad_bottom);
      for (size_t ow = 0; ow < g.out_w; ++ow) {
        const long w0 = StartOf(ow, g.stride_w, g.pad_left);
        const Taps tw = TapsOf(w0, g.kernel_w, g.dilation_w, g.in_w, g.pad_right);
        float best = -std::numeric_limits<float>::infinity();
        int32_t best_i = -1;
        for (long r = th.first; r < th.last; ++r) {
          for (long t = tw.first; t < tw.last; ++t) {
            const long i = (h0 + r * dh) * in_w + w0 + t * dw;
            if (best_i < 0 || xp[i] > best) {
              best = xp[i];
              best_i = static_cast<int32_t>(i);
            }
          }
        }
        const size_t o = (plane * g.out_h + oh) * g.out_w + ow;
        y[o] = best;
        if (argmax != nullptr) argmax[o] = best_i;
      }
    }
  }
}

void MaxPool2dBackwardGeneral(const Pool2dGeometry& g, const float* dy, const int32_t* argmax,
                              float* dx) {
  const size_t hw = g.in_h * g.in_w, p = g.out_h * g.out_w;
  std::fill(dx, dx + g.batch * g.channels * hw, 0.0f);
  for (size_t plane = 0; plane < g.batch * g.channels; ++plane) {
    for (size_t i = 0; i < p; ++i) {
      const int32_t a = argmax[plane * p + i];
      if (a >= 0) dx[plane * hw + static_cast<size_t>(a)] += dy[plane * p + i];
    }
  }
}

void AvgPool2dForwardGeneral(const Pool2dGeometry& g, const float* x, float* y,
                             bool count_include_pad, int64_t divisor_override) {
  const long in_w = static_cast<long>(g.in_w);
  for (size_t plane = 0; plane < g.batch * g.channels; ++plane) {
    const float* xp = x + plane * g.in_h * g.in_w;
    for (size_t oh = 0; oh < g.out_h; ++oh) {
      const long h0 = StartOf(oh, g.stride_h, g.pad_top);
      const Taps th = TapsOf(h0, g.kernel_h, 1, g.in_h, g.pad_bottom);
      for (size_t ow = 0; ow < g.out_w; ++ow) {
        const long w0 = StartOf(ow, g.stride_w, g.pad_left);
        const Taps tw = TapsOf(w0, g.kernel_w, 1, g.in_w, g.pad_right);
        float sum = 0.0f;
        for (long r = th.first; r < th.last; ++r) {
          for (long t = tw.first; t < tw.last; ++t) sum += xp[(h0 + r) * in_w + w0 + t];
        }
        y[(plane * g.out_h + oh) * g.out_w + ow] =
            sum / static_cast<float>(Divisor(th, tw, count_include_pad, divisor_override));
      }
    }
  }
}

void AvgPool2dBackwardGeneral(const Pool2dGeometry& g, const float* dy, float* dx,
                              bool count_include_pad, int64_t divisor_override) {
  const long in_w = static_cast<long>(g.in_w);
  const size_t hw = g.in_h * g.in_w;
  std::fill(dx, dx + g.batch * g.channels * hw, 0.0f);
  for (size_t plane = 0; plane < g.batch * g.channels; ++plane) {
    float* dxp = dx + plane * hw;
    for (size_t oh = 0; oh < g.out_h; ++oh) {
      const long h0 = StartOf(oh, g.stride_h, g.pad_top);
      const Taps th = TapsOf(h0, g.kernel_h, 1, g.in_h, g.pad_bottom);
      for (size_t ow = 0; ow < g.out_w; ++ow) {
        const long w0 = StartOf(ow, g.stride_w, g.pad_left);
        const Taps tw = TapsOf(w0, g.kernel_w, 1, g.in_w, g.pad_right);
        const float v = dy[(plane * g.out_h + oh) * g.out_w + ow] /
                        static_cast<float>(Divisor(th, tw, count_include_pad, divisor_override));
        for (long r = th.first; r < th.last; ++r) {
          for (long t = tw.first; t < tw.last; ++t) dxp[(h0 + r) * in_w + w0 + t] += v;
        }
      }
    }
  }
}

void MaxUnpool2dForward(size_t planes, size_t in_plane, size_t out_plane, const int32_t* indices,
                        const float* x, float* y) {
  std::fill(y, y + planes * out_plane, 0.0f);
  for (size_t p = 0; p < planes; ++p) {
    for (size_t i = 0; i < in_plane; ++i) {
      const int32_t a = indices[p * in_plane + i];
      if (a >= 0) y[p * out_plane + static_cast<size_t>(a)] = x[p * in_plane + i];
    }
  }
}

void MaxUnpool2dBackward(size_t planes, size_t in_plane, size_t out_plane, const int32_t* indices,
                         const float* dy, float* dx) {
  for (size_t p = 0; p < planes; ++p) {
    for (size_t i = 0; i < in_plane; ++i) {
      const int32_t a = indices[p * in_plane + i];
      dx[p * in_plane + i] = a >= 0 ? dy[p * out_plane + static_cast<size_t>(a)] : 0.0f;
    }
  }
}

}  // namespace simdnet
