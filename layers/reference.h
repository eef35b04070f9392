// Double-precision reference forwards of the parameterized layers and losses (testonly), written
// as plain loops straight from the definitions, for gradient checks and kernel comparisons.
// All arrays are flattened row-major; shapes are given in the comments.
#ifndef SIMDNET_LAYERS_REFERENCE_H_
#define SIMDNET_LAYERS_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "layers/conv2d_kernels.h"
#include "layers/conv2d_reference.h"

namespace simdnet {
namespace reference {

// Returns y (n, out) = x (n, in) * w^T (w is (out, in)) + b (b empty = no bias).
inline std::vector<double> Linear(const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b, int64_t n, int64_t in,
                                  int64_t out) {
  std::vector<double> y(static_cast<size_t>(n * out));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t o = 0; o < out; ++o) {
      double s = b.empty() ? 0.0 : b[o];
      for (int64_t k = 0; k < in; ++k) s += x[i * in + k] * w[o * in + k];
      y[i * out + o] = s;
    }
  }
  return y;
}

struct ConvDims {
  int64_t n, c, h, w;     // input (n, c, h, w)
  int64_t out, kh, kw;    // weight (out, c / groups, kh, kw)
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
};

// Returns the cross-correlation y (n, out, oh, ow) of x with w, plus b (empty = no bias), with
// zero padding, stride, dilation and groups (as torch.nn.functional.conv2d); delegates to the
// kernels' own double reference (layers/conv2d_reference.h).
inline std::vector<double> Conv2d(const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b, const ConvDims& d) {
  Conv2dShape s;
  s.batch = static_cast<size_t>(d.n);
  s.in_channels = static_cast<size_t>(d.c);
  s.in_h = static_cast<size_t>(d.h);
  s.in_w = static_cast<size_t>(d.w);
  s.out_channels = static_cast<size_t>(d.out);
  s.kernel_h = static_cast<size_t>(d.kh);
  s.kernel_w = static_cast<size_t>(d.kw);
  s.stride_h = static_cast<size_t>(d.sh);
  s.stride_w = static_cast<size_t>(d.sw);
  s.pad_h = static_cast<size_t>(d.ph);
  s.pad_w = static_cast<size_t>(d.pw);
  s.dilation_h = static_cast<size_t>(d.dh);
  s.dilation_w = static_cast<size_t>(d.dw);
  s.groups = static_cast<size_t>(d.groups);
  std::vector<double> y(static_cast<size_t>(d.n * d.out * d.oh() * d.ow()));
  Conv2dForwardReference<double>(s, x.data(), w.data(), b.empty() ? nullptr : b.data(),
                                 /*relu=*/false, y.data());
  return y;
}

// Returns batch norm of x viewed as (n, c, s) (s = H*W for 2-D, 1 for 1-D) using the batch's
// mean and biased variance per channel: y = (x - mean) / sqrt(var + eps) * gamma + beta
// (gamma/beta empty = not affine).
inline std::vector<double> BatchNormTrain(const std::vector<double>& x,
                                          const std::vector<double>& gamma,
                                          const std::vector<double>& beta, int64_t n,
                                          int64_t c, int64_t s, double eps) {
  std::vector<double> y(x.size());
  const double m = static_cast<double>(n * s);
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0.0, var = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < s; ++j) mean += x[(i * c + ch) * s + j];
    }
    mean /= m;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < s; ++j) {
        const double dv = x[(i * c + ch) * s + j] - mean;
        var += dv * dv;
      }
    }
    var /= m;
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < s; ++j) {
        const size_t k = static_cast<size_t>((i * c + ch) * s + j);
        const double xhat = (x[k] - mean) * rstd;
        y[k] = gamma.empty() ? xhat : xhat * gamma[ch] + beta[ch];
      }
    }
  }
  return y;
}

// Returns batch norm with fixed statistics (evaluation mode).
inline std::vector<double> BatchNormEval(const std::vector<double>& x,
                                         const std::vector<double>& gamma,
                                         const std::vector<double>& beta,
                                         const std::vector<double>& mean,
                                         const std::vector<double>& var, int64_t n, int64_t c,
                                         int64_t s, double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const double rstd = 1.0 / std::sqrt(var[ch] + eps);
      for (int64_t j = 0; j < s; ++j) {
        const size_t k = static_cast<size_t>((i * c + ch) * s + j);
        const double xhat = (x[k] - mean[ch]) * rstd;
        y[k] = gamma.empty() ? xhat : xhat * gamma[ch] + beta[ch];
      }
    }
  }
  return y;
}

// Returns the mean over n rows of the cross-entropy of softmax(logits (n, k)) against labels,
// with label smoothing eps: target = (1 - eps) * onehot + eps / k.
inline double SoftmaxCrossEntropy(const std::vector<double>& logits,
                                  const std::vector<int64_t>& labels, int64_t n, int64_t k,
                                  double label_smoothing) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double* z = &logits[i * k];
    const double mx = *std::max_element(z, z + k);
    double se = 0.0;
    for (int64_t j = 0; j < k; ++j) se += std::exp(z[j] - mx);
    const double lse = mx + std::log(se);
    for (int64_t j = 0; j < k; ++j) {
      const double t = (1.0 - label_smoothing) * (j == labels[i] ? 1.0 : 0.0) +
                       label_smoothing / static_cast<double>(k);
      total += t * (lse - z[j]);
    }
  }
  return total / static_cast<double>(n);
}

// Returns the mean over n rows of the multiclass SVM (Weston-Watkins / CS231n) hinge loss:
// sum_{j != y} max(0, s_j - s_y + margin).
inline double MulticlassSvm(const std::vector<double>& scores,
                            const std::vector<int64_t>& labels, int64_t n, int64_t k,
                            double margin) {
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double sy = scores[i * k + labels[i]];
    for (int64_t j = 0; j < k; ++j) {
      if (j != labels[i]) total += std::max(0.0, scores[i * k + j] - sy + margin);
    }
  }
  return total / static_cast<double>(n);
}

// Returns sum((x - t)^2) / (number of elements), PyTorch's MSELoss(reduction='mean').
inline double MeanSquaredError(const std::vector<double>& x, const std::vector<double>& t) {
  double s = 0.0;
  for (size_t i = 0; i < x.size(); ++i) s += (x[i] - t[i]) * (x[i] - t[i]);
  return s / static_cast<double>(x.size());
}

}  // namespace reference
}  // namespace simdnet

#endif  // SIMDNET_LAYERS_REFERENCE_H_
