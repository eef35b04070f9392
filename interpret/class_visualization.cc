// Regularized gradient ascent on the pixels toward a class logit.
#include "interpret/class_visualization.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::Status OutOfRange(const char* flag, double value, const char* range) {
  return absl::InvalidArgumentError(absl::StrCat(flag, "=", value, ": must be ", range));
}

// Returns the logit of class classes[n] for every sample n of logits (N, K).
void ClassScores(const Tensor& logits, const std::vector<int64_t>& classes,
                 std::vector<float>* out) {
  out->resize(classes.size());
  for (size_t n = 0; n < classes.size(); ++n) {
    (*out)[n] = logits[static_cast<int64_t>(n) * logits.dim(1) + classes[n]];
  }
}

}  // namespace

absl::Status ValidateClassVisualizationOptions(const ClassVisualizationOptions& o) {
  if (o.steps < 1) return OutOfRange("--steps", static_cast<double>(o.steps), ">= 1");
  if (!(o.learning_rate > 0.0f) || !std::isfinite(o.learning_rate)) {
    return OutOfRange("--lr", o.learning_rate, "> 0");
  }
  if (o.jitter < 0) return OutOfRange("--jitter", static_cast<double>(o.jitter), ">= 0");
  if (!(o.decay >= 0.0f && o.decay < 1.0f)) return OutOfRange("--decay", o.decay, "in [0, 1)");
  if (o.blur_every < 0) {
    return OutOfRange("--blur_every", static_cast<double>(o.blur_every), ">= 0 (0: never)");
  }
  if (!(o.blur_sigma >= 0.0f && o.blur_sigma <= 16.0f)) {
    return OutOfRange("--blur_sigma", o.blur_sigma, "in [0, 16]");
  }
  if (!(o.contribution_percentile >= 0.0f && o.contribution_percentile < 100.0f)) {
    return OutOfRange("--clip_percentile", o.contribution_percentile, "in [0, 100)");
  }
  if (!(o.init_std >= 0.0f && o.init_std <= 1.0f)) {
    return OutOfRange("--init_std", o.init_std, "in [0, 1]");
  }
  if (!(o.center <= 1.0f)) return OutOfRange("--center", o.center, "< 0 (data mean) or in [0, 1]");
  if (o.snapshot_every < 0) {
    return OutOfRange("--snapshot_every", static_cast<double>(o.snapshot_every),
                      ">= 0 (0: none)");
  }
  return absl::OkStatus();
}

void GaussianBlurPlanes(Tensor* x, float sigma) {
  if (!(sigma > 0.0f)) return;
  SIMDNET_CHECK(x->rank() == 4);
  const int64_t planes = x->dim(0) * x->dim(1), h = x->dim(2), w = x->dim(3);
  const int64_t radius = static_cast<int64_t>(std::ceil(3.0f * sigma));
  std::vector<float> kernel(static_cast<size_t>(2 * radius + 1));
  float sum = 0.0f;
  for (int64_t i = -radius; i <= radius; ++i) {
    const float v = std::exp(-0.5f * static_cast<float>(i * i) / (sigma * sigma));
    kernel[static_cast<size_t>(i + radius)] = v;
    sum += v;
  }
  for (float& v : kernel) v /= sum;
  std::vector<float> tmp(static_cast<size_t>(h * w));
  for (int64_t p = 0; p < planes; ++p) {
    float* a = x->data() + p * h * w;
    for (int64_t y = 0; y < h; ++y) {  // rows: a -> tmp
      for (int64_t xx = 0; xx < w; ++xx) {
        float acc = 0.0f;
        for (int64_t i = -radius; i <= radius; ++i) {
          const int64_t c = std::clamp<int64_t>(xx + i, 0, w - 1);
          acc += kernel[static_cast<size_t>(i + radius)] * a[y * w + c];
        }
        tmp[static_cast<size_t>(y * w + xx)] = acc;
      }
    }
    for (int64_t y = 0; y < h; ++y) {  // columns: tmp -> a
      for (int64_t xx = 0; xx < w; ++xx) {
        float acc = 0.0f;
        for (int64_t i = -radius; i <= radius; ++i) {
          const int64_t r = std::clamp<int64_t>(y + i, 0, h - 1);
          acc += kernel[static_cast<size_t>(i + radius)] * tmp[static_cast<size_t>(r * w + xx)];
        }
        a[y * w + xx] = acc;
      }
    }
  }
}

void RollPlanes(Tensor* x, const std::vector<int64_t>& dy, const std::vector<int64_t>& dx) {
  SIMDNET_CHECK(x->rank() == 4);
  const int64_t n = x->dim(0), c = x->dim(1), h = x->dim(2), w = x->dim(3);
  SIMDNET_CHECK(static_cast<int64_t>(dy.size()) == n && static_cast<int64_t>(dx.size()) == n);
  std::vector<float> tmp(static_cast<size_t>(h * w));
  for (int64_t s = 0; s < n; ++s) {
    const int64_t sy = ((dy[static_cast<size_t>(s)] % h) + h) % h;
    const int64_t sx = ((dx[static_cast<size_t>(s)] % w) + w) % w;
    if (sy == 0 && sx == 0) continue;
    for (int64_t k = 0; k < c; ++k) {
      float* a = x->data() + (s * c + k) * h * w;
      for (int64_t y = 0; y < h; ++y) {
        for (int64_t xx = 0; xx < w; ++xx) {
          tmp[static_cast<size_t>(((y + sy) % h) * w + (xx + sx) % w)] = a[y * w + xx];
        }
      }
      std::copy(tmp.begin(), tmp.end(), a);
    }
  }
}

absl::StatusOr<std::vector<ClassVisualization>> VisualizeClasses(
    PixelModel& model, const std::vector<int64_t>& classes,
    const ClassVisualizationOptions& options) {
  SIMDNET_RETURN_IF_ERROR(ValidateClassVisualizationOptions(options));
  const Shape in = model.InputShape();
  if (in.rank() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("class visualization needs an image model, input is ", in.ToString()));
  }
  if (classes.empty()) return absl::InvalidArgumentError("--class: no class given");
  for (int64_t k : classes) {
    if (k < 0 || k >= model.num_classes()) {
      return absl::InvalidArgumentError(absl::StrCat("--class=", k, ": must be in [0, ",
                                                     model.num_classes(), ") or 'all'"));
    }
  }
  const int64_t n = static_cast<int64_t>(classes.size());
  const int64_t c = in.dim(0), h = in.dim(1), w = in.dim(2), per = c * h * w, plane = h * w;
  // The centre the regularizers pull toward: the data mean the checkpoint normalizes with (per
  // channel or per pixel), else mid gray.
  std::vector<float> center(static_cast<size_t>(per), 0.5f);
  const Normalization& norm = model.normalization();
  if (norm.kind == Normalization::Kind::kPerChannel) {
    for (int64_t i = 0; i < per; ++i) center[static_cast<size_t>(i)] = norm.mean[static_cast<size_t>(i / plane)];
  } else if (norm.kind == Normalization::Kind::kMeanImage) {
    center = norm.mean;
  }
  if (options.center >= 0.0f) center.assign(center.size(), options.center);
  std::vector<float> lo(center.size()), hi(center.size());
  for (size_t i = 0; i < center.size(); ++i) {
    lo[i] = -center[i];
    hi[i] = 1.0f - center[i];
  }
  std::vector<Rng> rngs;
  for (int64_t k : classes) rngs.emplace_back(options.seed, static_cast<uint64_t>(k));

  Tensor z(Shape({n, c, h, w})), x(z.shape()), g, logits;
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t i = 0; i < per; ++i) {
      z[s * per + i] = std::clamp(options.init_std * rngs[static_cast<size_t>(s)].Normal(),
                                  lo[static_cast<size_t>(i)], hi[static_cast<size_t>(i)]);
    }
  }
  std::vector<ClassVisualization> out(static_cast<size_t>(n));
  auto to_pixels = [&](const Tensor& zz, int64_t s) {
    Tensor img(Shape({c, h, w}));
    for (int64_t i = 0; i < per; ++i) img[i] = zz[s * per + i] + center[static_cast<size_t>(i)];
    return img;
  };
  auto snapshot = [&](int64_t step) {
    for (int64_t s = 0; s < n; ++s) {
      out[static_cast<size_t>(s)].snapshots.push_back(to_pixels(z, s));
      out[static_cast<size_t>(s)].snapshot_steps.push_back(step);
    }
  };
  auto score_now = [&](std::vector<float>* scores) -> absl::Status {
    for (int64_t i = 0; i < z.size(); ++i) x[i] = z[i] + center[static_cast<size_t>(i % per)];
    SIMDNET_RETURN_IF_ERROR(model.Forward(x, &logits));
    ClassScores(logits, classes, scores);
    return absl::OkStatus();
  };
  std::vector<float> scores;
  SIMDNET_RETURN_IF_ERROR(score_now(&scores));
  for (int64_t s = 0; s < n; ++s) {
    out[static_cast<size_t>(s)].class_index = classes[static_cast<size_t>(s)];
    out[static_cast<size_t>(s)].initial_score = scores[static_cast<size_t>(s)];
  }
  if (options.snapshot_every > 0) snapshot(0);

  Tensor dlogits(Shape({n, model.num_classes()}));
  dlogits.SetAll(0.0f);
  for (int64_t s = 0; s < n; ++s) dlogits[s * model.num_classes() + classes[static_cast<size_t>(s)]] = 1.0f;
  std::vector<int64_t> dy(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
  std::vector<int64_t> ndy(dy.size()), ndx(dx.size());
  std::vector<float> contribution(static_cast<size_t>(plane)), sorted;
  const uint64_t span = static_cast<uint64_t>(2 * options.jitter + 1);
  for (int64_t step = 1; step <= options.steps; ++step) {
    for (size_t s = 0; s < rngs.size(); ++s) {
      dy[s] = static_cast<int64_t>(rngs[s].UniformInt(span)) - options.jitter;
      dx[s] = static_cast<int64_t>(rngs[s].UniformInt(span)) - options.jitter;
      ndy[s] = -dy[s];
      ndx[s] = -dx[s];
    }
    RollPlanes(&z, dy, dx);
    SIMDNET_RETURN_IF_ERROR(score_now(&scores));
    SIMDNET_RETURN_IF_ERROR(model.InputGradient(dlogits, &g));
    for (int64_t s = 0; s < n; ++s) {
      out[static_cast<size_t>(s)].scores.push_back(scores[static_cast<size_t>(s)]);
      double mean_abs = 0.0;
      for (int64_t i = 0; i < per; ++i) mean_abs += std::fabs(g[s * per + i]);
      // Normalized step: every image moves by about lr per pixel whatever its gradient scale.
      const float step_scale =
          options.learning_rate / static_cast<float>(mean_abs / static_cast<double>(per) + 1e-8);
      for (int64_t i = 0; i < per; ++i) z[s * per + i] += step_scale * g[s * per + i];
    }
    RollPlanes(&z, ndy, ndx);
    RollPlanes(&g, ndy, ndx);
    if (options.decay > 0.0f) {
      const float keep = 1.0f - options.decay;
      for (int64_t i = 0; i < z.size(); ++i) z[i] *= keep;
    }
    if (options.blur_every > 0 && step % options.blur_every == 0) {
      GaussianBlurPlanes(&z, options.blur_sigma);
    }
    if (options.contribution_percentile > 0.0f) {
      // Yosinski et al.'s "clipping pixels with small contribution": |z * g| summed over
      // channels approximates how much a pixel adds to the logit (first-order, relative to gray).
      for (int64_t s = 0; s < n; ++s) {
        std::fill(contribution.begin(), contribution.end(), 0.0f);
        for (int64_t k = 0; k < c; ++k) {
          for (int64_t i = 0; i < plane; ++i) {
            const int64_t at = s * per + k * plane + i;
            contribution[static_cast<size_t>(i)] += std::fabs(z[at] * g[at]);
          }
        }
        sorted = contribution;
        const size_t q = static_cast<size_t>(options.contribution_percentile / 100.0f *
                                             static_cast<float>(plane));
        std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(q),
                         sorted.end());
        const float threshold = sorted[q];
        for (int64_t i = 0; i < plane; ++i) {
          if (contribution[static_cast<size_t>(i)] < threshold) {
            for (int64_t k = 0; k < c; ++k) z[s * per + k * plane + i] = 0.0f;
          }
        }
      }
    }
    for (int64_t i = 0; i < z.size(); ++i) {
      z[i] = std::clamp(z[i], lo[static_cast<size_t>(i % per)], hi[static_cast<size_t>(i % per)]);
    }
    if (options.snapshot_every > 0 &&
        (step % options.snapshot_every == 0 || step == options.steps)) {
      snapshot(step);
    }
  }
  SIMDNET_RETURN_IF_ERROR(score_now(&scores));
  for (int64_t s = 0; s < n; ++s) {
    ClassVisualization& v = out[static_cast<size_t>(s)];
    v.final_score = scores[static_cast<size_t>(s)];
    v.image = to_pixels(z, s);
  }
  return out;
}

}  // namespace simdnet
