// Naive convolution reference (forward, backward-data, backward-weights + bias) templated on the
// arithmetic type T (double in tests), with the per-output sum of |terms| that scales the
// rounding-error bound of the fast kernels.
#ifndef SIMDNET_LAYERS_CONV2D_REFERENCE_H_
#define SIMDNET_LAYERS_CONV2D_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "layers/conv2d_kernels.h"

namespace simdnet {

// Calls fn(ci, ih, iw, ki, r, s, oh, ow) for every (input, weight, output) triple of group g that
// contributes a product (padding taps skipped): ci, ki are absolute channel indices.
template <typename Fn>
void ForEachConvTap(const Conv2dShape& s, size_t g, Fn fn) {
  const size_t cg = s.in_channels / s.groups, kg = s.out_channels / s.groups;
  const size_t oh_n = s.out_h(), ow_n = s.out_w();
  for (size_t k = g * kg; k < (g + 1) * kg; ++k) {
    for (size_t c = g * cg; c < (g + 1) * cg; ++c) {
      for (size_t r = 0; r < s.kernel_h; ++r) {
        for (size_t q = 0; q < s.kernel_w; ++q) {
          for (size_t oh = 0; oh < oh_n; ++oh) {
            const long ih = static_cast<long>(oh * s.stride_h + r * s.dilation_h) -
                            static_cast<long>(s.pad_h);
            if (ih < 0 || ih >= static_cast<long>(s.in_h)) continue;
            for (size_t ow = 0; ow < ow_n; ++ow) {
              const long iw = static_cast<long>(ow * s.stride_w + q * s.dilation_w) -
                              static_cast<long>(s.pad_w);
              if (iw < 0 || iw >= static_cast<long>(s.in_w)) continue;
              fn(c, static_cast<size_t>(ih), static_cast<size_t>(iw), k, r, q, oh, ow);
            }
          }
        }
      }
    }
  }
}

// Computes y = act(conv(x, w) + bias) in T; y is (batch, out_channels, out_h, out_w).
// bias may be null. abs_terms (may be null) gets sum |x * w| + |bias| per output, before act.
template <typename T>
void Conv2dForwardReference(const Conv2dShape& s, const T* x, const T* w, const T* bias,
                            bool relu, T* y, T* abs_terms = nullptr) {
  const size_t cg = s.in_channels / s.groups;
  const size_t p = s.out_h() * s.out_w(), hw = s.in_h * s.in_w;
  const size_t y_size = s.batch * s.out_channels * p;
  std::vector<T> abs_sum(y_size, T(0));
  std::fill(y, y + y_size, T(0));
  for (size_t n = 0; n < s.batch; ++n) {
    for (size_t g = 0; g < s.groups; ++g) {
      ForEachConvTap(s, g, [&](size_t c, size_t ih, size_t iw, size_t k, size_t r, size_t q,
                               size_t oh, size_t ow) {
        const T term = x[(n * s.in_channels + c) * hw + ih * s.in_w + iw] *
                       w[((k * cg + (c - g * cg)) * s.kernel_h + r) * s.kernel_w + q];
        const size_t o = (n * s.out_channels + k) * p + oh * s.out_w() + ow;
        y[o] += term;
        abs_sum[o] += std::abs(term);
      });
    }
  }
  for (size_t i = 0; i < y_size; ++i) {
    const size_t k = (i / p) % s.out_channels;
    if (bias != nullptr) {
      y[i] += bias[k];
      abs_sum[i] += std::abs(bias[k]);
    }
    if (relu) y[i] = std::max(y[i], T(0));
    if (abs_terms != nullptr) abs_terms[i] = abs_sum[i];
  }
}

// Computes dx (batch, in_channels, in_h, in_w) = d loss / d x given dy, in T (overwritten).
// abs_terms (may be null) gets sum |dy * w| per dx element.
template <typename T>
void Conv2dBackwardDataReference(const Conv2dShape& s, const T* dy, const T* w, T* dx,
                                 T* abs_terms = nullptr) {
  const size_t cg = s.in_channels / s.groups;
  const size_t p = s.out_h() * s.out_w(), hw = s.in_h * s.in_w;
  const size_t x_size = s.batch * s.in_channels * hw;
  std::fill(dx, dx + x_size, T(0));
  if (abs_terms != nullptr) std::fill(abs_terms, abs_terms + x_size, T(0));
  for (size_t n = 0; n < s.batch; ++n) {
    for (size_t g = 0; g < s.groups; ++g) {
      ForEachConvTap(s, g, [&](size_t c, size_t ih, size_t iw, size_t k, size_t r, size_t q,
                               size_t oh, size_t ow) {
        const T term = dy[(n * s.out_channels + k) * p + oh * s.out_w() + ow] *
                       w[((k * cg + (c - g * cg)) * s.kernel_h + r) * s.kernel_w + q];
        const size_t i = (n * s.in_channels + c) * hw + ih * s.in_w + iw;
        dx[i] += term;
        if (abs_terms != nullptr) abs_terms[i] += std::abs(term);
      });
    }
  }
}

// Computes dw (out_channels, in_channels / groups, kernel_h, kernel_w) and dbias (out_channels;
// may be null) = gradients given x and dy, in T (overwritten, not accumulated). abs_dw /
// abs_dbias (may be null) get the sums of |terms|.
template <typename T>
void Conv2dBackwardWeightsReference(const Conv2dShape& s, const T* x, const T* dy, T* dw,
                                    T* dbias, T* abs_dw = nullptr, T* abs_dbias = nullptr) {
  const size_t cg = s.in_channels / s.groups;
  const size_t p = s.out_h() * s.out_w(), hw = s.in_h * s.in_w;
  const size_t w_size = s.out_channels * cg * s.kernel_h * s.kernel_w;
  std::fill(dw, dw + w_size, T(0));
  if (abs_dw != nullptr) std::fill(abs_dw, abs_dw + w_size, T(0));
  for (size_t n = 0; n < s.batch; ++n) {
    for (size_t g = 0; g < s.groups; ++g) {
      ForEachConvTap(s, g, [&](size_t c, size_t ih, size_t iw, size_t k, size_t r, size_t q,
                               size_t oh, size_t ow) {
        const T term = dy[(n * s.out_channels + k) * p + oh * s.out_w() + ow] *
                       x[(n * s.in_channels + c) * hw + ih * s.in_w + iw];
        const size_t i = ((k * cg + (c - g * cg)) * s.kernel_h + r) * s.kernel_w + q;
        dw[i] += term;
        if (abs_dw != nullptr) abs_dw[i] += std::abs(term);
      });
    }
  }
  if (dbias != nullptr) {
    for (size_t k = 0; k < s.out_channels; ++k) {
      T sum = 0, abs_sum = 0;
      for (size_t n = 0; n < s.batch; ++n) {
        for (size_t i = 0; i < p; ++i) {
          const T v = dy[(n * s.out_channels + k) * p + i];
          sum += v;
          abs_sum += std::abs(v);
        }
      }
      dbias[k] = sum;
      if (abs_dbias != nullptr) abs_dbias[k] = abs_sum;
    }
  }
}

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_CONV2D_REFERENCE_H_
