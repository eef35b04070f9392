// Naive pooling reference (max with argmax, average; forward and backward) templated on the
// arithmetic type T, the ground truth for pool2d_kernels tests.
#ifndef SIMDNET_LAYERS_POOL2D_REFERENCE_H_
#define SIMDNET_LAYERS_POOL2D_REFERENCE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "layers/pool2d_kernels.h"

namespace simdnet {

// Computes y = max over each window in T and argmax = index ih * in_w + iw of the first maximum
// in (row, column) scan order (argmax may be null). Windows are clipped to the input.
template <typename T>
void MaxPool2dForwardReference(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  const size_t oh_n = s.out_h(), ow_n = s.out_w();
  for (size_t plane = 0; plane < s.batch * s.channels; ++plane) {
    const T* xp = x + plane * s.in_h * s.in_w;
    for (size_t oh = 0; oh < oh_n; ++oh) {
      for (size_t ow = 0; ow < ow_n; ++ow) {
        bool found = false;
        T best = T(0);
        int32_t best_i = 0;
        for (size_t r = 0; r < s.kernel_h; ++r) {
          const long ih = static_cast<long>(oh * s.stride_h + r) - static_cast<long>(s.pad_h);
          if (ih < 0 || ih >= static_cast<long>(s.in_h)) continue;
          for (size_t t = 0; t < s.kernel_w; ++t) {
            const long iw = static_cast<long>(ow * s.stride_w + t) - static_cast<long>(s.pad_w);
            if (iw < 0 || iw >= static_cast<long>(s.in_w)) continue;
            const T v = xp[ih * static_cast<long>(s.in_w) + iw];
            if (!found || v > best) {
              found = true;
              best = v;
              best_i = static_cast<int32_t>(ih * static_cast<long>(s.in_w) + iw);
            }
          }
        }
        const size_t o = (plane * oh_n + oh) * ow_n + ow;
        y[o] = best;
        if (argmax != nullptr) argmax[o] = best_i;
      }
    }
  }
}

// Returns the divisor of output (oh, ow): kernel area when count_include_pad (windows never
// extend past the padded input with floor-mode output sizes), else the in-input cell count.
inline size_t AvgPoolDivisor(const Pool2dShape& s, size_t oh, size_t ow, bool count_include_pad) {
  if (count_include_pad) return s.kernel_h * s.kernel_w;
  const long h0 = static_cast<long>(oh * s.stride_h) - static_cast<long>(s.pad_h);
  const long w0 = static_cast<long>(ow * s.stride_w) - static_cast<long>(s.pad_w);
  const long h1 = std::min(h0 + static_cast<long>(s.kernel_h), static_cast<long>(s.in_h));
  const long w1 = std::min(w0 + static_cast<long>(s.kernel_w), static_cast<long>(s.in_w));
  return static_cast<size_t>((h1 - std::max(h0, 0L)) * (w1 - std::max(w0, 0L)));
}

// Computes y = mean over each window in T (divisor per AvgPoolDivisor).
template <typename T>
void AvgPool2dForwardReference(const Pool2dShape& s, const T* x, T* y, bool count_include_pad) {
  const size_t oh_n = s.out_h(), ow_n = s.out_w();
  for (size_t plane = 0; plane < s.batch * s.channels; ++plane) {
    const T* xp = x + plane * s.in_h * s.in_w;
    for (size_t oh = 0; oh < oh_n; ++oh) {
      for (size_t ow = 0; ow < ow_n; ++ow) {
        T sum = 0;
        for (size_t r = 0; r < s.kernel_h; ++r) {
          const long ih = static_cast<long>(oh * s.stride_h + r) - static_cast<long>(s.pad_h);
          if (ih < 0 || ih >= static_cast<long>(s.in_h)) continue;
          for (size_t t = 0; t < s.kernel_w; ++t) {
            const long iw = static_cast<long>(ow * s.stride_w + t) - static_cast<long>(s.pad_w);
            if (iw < 0 || iw >= static_cast<long>(s.in_w)) continue;
            sum += xp[ih * static_cast<long>(s.in_w) + iw];
          }
        }
        y[(plane * oh_n + oh) * ow_n + ow] =
            sum / static_cast<T>(AvgPoolDivisor(s, oh, ow, count_include_pad));
      }
    }
  }
}

// Computes dx (overwritten) = dy scattered to argmax positions, in T.
template <typename T>
void MaxPool2dBackwardReference(const Pool2dShape& s, const T* dy, const int32_t* argmax,
                                T* dx) {
  const size_t hw = s.in_h * s.in_w, p = s.out_h() * s.out_w();
  std::fill(dx, dx + s.batch * s.channels * hw, T(0));
  for (size_t plane = 0; plane < s.batch * s.channels; ++plane) {
    for (size_t i = 0; i < p; ++i) dx[plane * hw + argmax[plane * p + i]] += dy[plane * p + i];
  }
}

// Computes dx (overwritten) = each dy / divisor added over its window, in T.
template <typename T>
void AvgPool2dBackwardReference(const Pool2dShape& s, const T* dy, T* dx,
                                bool count_include_pad) {
  const size_t hw = s.in_h * s.in_w, oh_n = s.out_h(), ow_n = s.out_w();
  std::fill(dx, dx + s.batch * s.channels * hw, T(0));
  for (size_t plane = 0; plane < s.batch * s.channels; ++plane) {
    for (size_t oh = 0; oh < oh_n; ++oh) {
      for (size_t ow = 0; ow < ow_n; ++ow) {
        const T g = dy[(plane * oh_n + oh) * ow_n + ow] /
                    static_cast<T>(AvgPoolDivisor(s, oh, ow, count_include_pad));
        for (size_t r = 0; r < s.kernel_h; ++r) {
          const long ih = static_cast<long>(oh * s.stride_h + r) - static_cast<long>(s.pad_h);
          if (ih < 0 || ih >= static_cast<long>(s.in_h)) continue;
          for (size_t t = 0; t < s.kernel_w; ++t) {
            const long iw = static_cast<long>(ow * s.stride_w + t) - static_cast<long>(s.pad_w);
            if (iw < 0 || iw >= static_cast<long>(s.in_w)) continue;
            dx[plane * hw + ih * static_cast<long>(s.in_w) + iw] += g;
          }
        }
      }
    }
  }
}

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_POOL2D_REFERENCE_H_
