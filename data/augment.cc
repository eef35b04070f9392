// The augmentation steps, the pipeline and its spec parser. Geometric steps (crop, resized crop,
// rotation) are scalar gathers: their cost is the per-pixel address arithmetic, which Highway
// 1.0.3 cannot vectorize without gathers that are slower than scalar on AVX2. The per-pixel
// colour maps go through the SIMD kernels of data/augment_kernels.h.
#include "data/augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "data/augment_kernels.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Returns a uniform float in [lo, hi).
float UniformIn(Rng& rng, float lo, float hi) { return lo + (hi - lo) * rng.Uniform(); }

// Bilinear sample of one plane at (y, x) with zero outside [0, h) x [0, w).
float SampleZero(const float* plane, int64_t h, int64_t w, float y, float x) {
  const float fy = std::floor(y), fx = std::floor(x);
  const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  const float ay = y - fy, ax = x - fx;
  float acc = 0.0f;
  const int64_t ys[2] = {y0, y0 + 1};
  const int64_t xs[2] = {x0, x0 + 1};
  const float wy[2] = {1.0f - ay, ay};
  const float wx[2] = {1.0f - ax, ax};
  for (int i = 0; i < 2; ++i) {
    if (ys[i] < 0 || ys[i] >= h) continue;
    for (int j = 0; j < 2; ++j) {
      if (xs[j] < 0 || xs[j] >= w) continue;
      acc += wy[i] * wx[j] * plane[ys[i] * w + xs[j]];
    }
  }
  return acc;
}

class HorizontalFlip : public Augmentation {
 public:
  explicit HorizontalFlip(float p) : p_(p) {}
  void Apply(const ImageDims& d, Rng& rng, float* image, float*) const override {
    if (rng.Uniform() >= p_) return;
    for (int64_t row = 0; row < d.channels * d.height; ++row) {
      std::reverse(image + row * d.width, image + (row + 1) * d.width);
    }
  }
  std::string Spec() const override { return absl::StrCat("hflip=", p_); }

 private:
  float p_;
};

class RandomCrop : public Augmentation {
 public:
  explicit RandomCrop(int64_t padding) : padding_(padding) {}
  void Apply(const ImageDims& d, Rng& rng, float* image, float* scratch) const override {
    const int64_t span = 2 * padding_ + 1;
    const int64_t oy = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(span))) - padding_;
    const int64_t ox = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(span))) - padding_;
    if (oy == 0 && ox == 0) return;
    std::memcpy(scratch, image, static_cast<size_t>(d.size()) * sizeof(float));
    for (int64_t c = 0; c < d.channels; ++c) {
      const float* src = scratch + c * d.plane();
      float* dst = image + c * d.plane();
      for (int64_t y = 0; y < d.height; ++y) {
        const int64_t sy = y + oy;
        float* out_row = dst + y * d.width;
        if (sy < 0 || sy >= d.height) {
          std::fill(out_row, out_row + d.width, 0.0f);
          continue;
        }
        for (int64_t x = 0; x < d.width; ++x) {
          const int64_t sx = x + ox;
          out_row[x] = (sx >= 0 && sx < d.width) ? src[sy * d.width + sx] : 0.0f;
        }
      }
    }
  }
  std::string Spec() const override { return absl::StrCat("crop=", padding_); }

 private:
  int64_t padding_;
};

// One output coordinate of a 1-D bilinear resampling: source indices and the weight of i1.
struct Tap {
  int64_t i0, i1;
  float w;
};

// Returns the taps that resample the window [lo, lo + len) to `out` samples with pixel-centre
// alignment (align_corners = false), clamping at the window edges.
std::vector<Tap> Taps(int64_t out, int64_t lo, int64_t len) {
  std::vector<Tap> taps(static_cast<size_t>(out));
  const float scale = static_cast<float>(len) / static_cast<float>(out);
  const float hi = static_cast<float>(lo + len - 1);
  for (int64_t o = 0; o < out; ++o) {
    float f = static_cast<float>(lo) + (static_cast<float>(o) + 0.5f) * scale - 0.5f;
    f = std::min(std::max(f, static_cast<float>(lo)), hi);
    const int64_t i0 = static_cast<int64_t>(f);
    taps[o] = {i0, std::min(i0 + 1, lo + len - 1), f - static_cast<float>(i0)};
  }
  return taps;
}

class RandomResizedCrop : public Augmentation {
 public:
  RandomResizedCrop(float smin, float smax, float rmin, float rmax)
      : smin_(smin), smax_(smax), rmin_(rmin), rmax_(rmax) {}

  void Apply(const ImageDims& d, Rng& rng, float* image, float* scratch) const override {
    const double area = static_cast<double>(d.plane());
    int64_t ch = 0, cw = 0, y0 = 0, x0 = 0;
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; ++attempt) {
      const double target = area * UniformIn(rng, smin_, smax_);
      const double log_ratio = UniformIn(rng, std::log(rmin_), std::log(rmax_));
      const double ratio = std::exp(log_ratio);
      cw = static_cast<int64_t>(std::llround(std::sqrt(target * ratio)));
      ch = static_cast<int64_t>(std::llround(std::sqrt(target / ratio)));
      if (cw > 0 && cw <= d.width && ch > 0 && ch <= d.height) {
        y0 = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(d.height - ch + 1)));
        x0 = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(d.width - cw + 1)));
        found = true;
      }
    }
    if (!found) {  // central crop at the closest allowed aspect ratio
      const double in_ratio = static_cast<double>(d.width) / static_cast<double>(d.height);
      cw = d.width;
      ch = d.height;
      if (in_ratio < rmin_) {
        ch = std::max<int64_t>(1, std::llround(static_cast<double>(cw) / rmin_));
      } else if (in_ratio > rmax_) {
        cw = std::max<int64_t>(1, std::llround(static_cast<double>(ch) * rmax_));
      }
      ch = std::min(ch, d.height);
      cw = std::min(cw, d.width);
      y0 = (d.height - ch) / 2;
      x0 = (d.width - cw) / 2;
    }
    std::memcpy(scratch, image, static_cast<size_t>(d.size()) * sizeof(float));
    // Separable bilinear resampling: the source rows/columns and weights depend only on the
    // output row or column, so they are computed once per image instead of once per pixel
    // (about 3x faster at 224x224 than per-pixel clamped sampling).
    const std::vector<Tap> ty = Taps(d.height, y0, ch);
    const std::vector<Tap> tx = Taps(d.width, x0, cw);
    for (int64_t c = 0; c < d.channels; ++c) {
      const float* src = scratch + c * d.plane();
      float* dst = image + c * d.plane();
      for (int64_t y = 0; y < d.height; ++y) {
        const float* r0 = src + ty[y].i0 * d.width;
        const float* r1 = src + ty[y].i1 * d.width;
        const float wy = ty[y].w;
        float* out = dst + y * d.width;
        for (int64_t x = 0; x < d.width; ++x) {
          const Tap& t = tx[x];
          const float top = r0[t.i0] * (1.0f - t.w) + r0[t.i1] * t.w;
          const float bottom = r1[t.i0] * (1.0f - t.w) + r1[t.i1] * t.w;
          out[x] = top * (1.0f - wy) + bottom * wy;
        }
      }
    }
  }
  std::string Spec() const override {
    return absl::StrCat("rrc=", smin_, ":", smax_, ":", rmin_, ":", rmax_);
  }

 private:
  float smin_, smax_, rmin_, rmax_;
};

class Rotation : public Augmentation {
 public:
  explicit Rotation(float max_degrees) : max_degrees_(max_degrees) {}
  void Apply(const ImageDims& d, Rng& rng, float* image, float* scratch) const override {
    const float degrees = UniformIn(rng, -max_degrees_, max_degrees_);
    if (degrees == 0.0f) return;
    const double rad = degrees * kPi / 180.0;
    const float cs = static_cast<float>(std::cos(rad)), sn = static_cast<float>(std::sin(rad));
    const float cy = 0.5f * static_cast<float>(d.height - 1);
    const float cx = 0.5f * static_cast<float>(d.width - 1);
    std::memcpy(scratch, image, static_cast<size_t>(d.size()) * sizeof(float));
    for (int64_t c = 0; c < d.channels; ++c) {
      const float* src = scratch + c * d.plane();
      float* dst = image + c * d.plane();
      for (int64_t y = 0; y < d.height; ++y) {
        const float dy = static_cast<float>(y) - cy;
        for (int64_t x = 0; x < d.width; ++x) {
          const float dx = static_cast<float>(x) - cx;
          // Inverse mapping: rotate the output coordinate by -angle to find its source.
          const float src_x = cs * dx + sn * dy + cx;
          const float src_y = -sn * dx + cs * dy + cy;
          dst[y * d.width + x] = SampleZero(src, d.height, d.width, src_y, src_x);
        }
      }
    }
  }
  std::string Spec() const override { return absl::StrCat("rotate=", max_degrees_); }

 private:
  float max_degrees_;
};

// 3x4 row-major affine colour matrix helpers.
using Mat34 = std::array<float, 12>;

Mat34 Identity34() { return {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}; }

// Returns a * b where a is a 3x3 linear map (given as 3x4 with zero offset ignored) and b 3x4.
Mat34 Compose(const std::array<float, 9>& a, const Mat34& b) {
  Mat34 out{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 4; ++c) {
      float acc = 0.0f;
      for (int k = 0; k < 3; ++k) acc += a[3 * r + k] * b[4 * k + c];
      out[4 * r + c] = acc;
    }
  }
  return out;
}

// ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
constexpr float kLuma[3] = {0.299f, 0.587f, 0.114f};

class ColorJitter : public Augmentation {
 public:
  ColorJitter(float b, float c, float s, float h) : b_(b), c_(c), s_(s), h_(h) {}

  void Apply(const ImageDims& d, Rng& rng, float* image, float*) const override {
    // Always draw all four factors so the stream layout does not depend on the configuration.
    const float bf = UniformIn(rng, 1.0f - b_, 1.0f + b_);
    const float cf = UniformIn(rng, 1.0f - c_, 1.0f + c_);
    const float sf = UniformIn(rng, 1.0f - s_, 1.0f + s_);
    const float hf = UniformIn(rng, -h_, h_);
    const size_t plane = static_cast<size_t>(d.plane());
    if (d.channels != 3) {
      // Grey (or other) images: brightness then contrast against the per-channel mean.
      for (int64_t c = 0; c < d.channels; ++c) {
        float* x = image + c * d.plane();
        double sum = 0.0;
        for (size_t p = 0; p < plane; ++p) sum += x[p];
        const float mean = static_cast<float>(sum / static_cast<double>(plane)) * bf;
        AffineClamp(x, x, plane, bf * cf, (1.0f - cf) * mean, 0.0f, 1.0f);
      }
      return;
    }
    double mu[3] = {0, 0, 0};
    for (int c = 0; c < 3; ++c) {
      const float* x = image + c * plane;
      for (size_t p = 0; p < plane; ++p) mu[c] += x[p];
      mu[c] /= static_cast<double>(plane);
    }
    // Brightness: scale everything.
    Mat34 m = Identity34();
    for (float& v : m) v *= bf;
    // Contrast: blend with the mean grey of the brightness-adjusted image.
    float grey = 0.0f;
    for (int r = 0; r < 3; ++r) {
      const float channel_mean = m[4 * r] * static_cast<float>(mu[0]) +
                                 m[4 * r + 1] * static_cast<float>(mu[1]) +
                                 m[4 * r + 2] * static_cast<float>(mu[2]) + m[4 * r + 3];
      grey += kLuma[r] * channel_mean;
    }
    for (float& v : m) v *= cf;
    for (int r = 0; r < 3; ++r) m[4 * r + 3] += (1.0f - cf) * grey;
    // Saturation: blend each pixel with its own grey value.
    std::array<float, 9> sat{};
    for (int r = 0; r < 3; ++r) {
      for (int k = 0; k < 3; ++k) sat[3 * r + k] = (r == k ? sf : 0.0f) + (1.0f - sf) * kLuma[k];
    }
    m = Compose(sat, m);
    // Hue: rotate the (I, Q) chroma plane of YIQ by 2*pi*hf.
    if (hf != 0.0f) {
      const float ang = static_cast<float>(2.0 * kPi * hf);
      const float cs = std::cos(ang), sn = std::sin(ang);
      const std::array<float, 9> to_yiq = {0.299f, 0.587f,  0.114f,  0.596f, -0.274f,
                                           -0.322f, 0.211f, -0.523f, 0.312f};
      const std::array<float, 9> from_yiq = {1.0f, 0.956f,  0.621f,  1.0f,  -0.272f,
                                             -0.647f, 1.0f, -1.106f, 1.703f};
      const std::array<float, 9> rot = {1, 0, 0, 0, cs, -sn, 0, sn, cs};
      m = Compose(from_yiq, Compose(rot, Compose(to_yiq, m)));
    }
    ColorMatrix3Clamp(image, image, plane, m.data(), 0.0f, 1.0f);
  }
  std::string Spec() const override {
    return absl::StrCat("jitter=", b_, ":", c_, ":", s_, ":", h_);
  }

 private:
  float b_, c_, s_, h_;
};

class Cutout : public Augmentation {
 public:
  Cutout(int64_t size, float p) : size_(size), p_(p) {}
  void Apply(const ImageDims& d, Rng& rng, float* image, float*) const override {
    const float u = rng.Uniform();
    const int64_t cy = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(d.height)));
    const int64_t cx = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(d.width)));
    if (u >= p_) return;
    const int64_t y_lo = std::max<int64_t>(0, cy - size_ / 2);
    const int64_t y_hi = std::min<int64_t>(d.height, cy - size_ / 2 + size_);
    const int64_t x_lo = std::max<int64_t>(0, cx - size_ / 2);
    const int64_t x_hi = std::min<int64_t>(d.width, cx - size_ / 2 + size_);
    for (int64_t c = 0; c < d.channels; ++c) {
      for (int64_t y = y_lo; y < y_hi; ++y) {
        float* row = image + c * d.plane() + y * d.width;
        std::fill(row + x_lo, row + x_hi, 0.0f);
      }
    }
  }
  std::string Spec() const override { return absl::StrCat("cutout=", size_, ":", p_); }

 private:
  int64_t size_;
  float p_;
};

absl::StatusOr<std::vector<float>> ParseArgs(absl::string_view token, absl::string_view args,
                                             size_t min_count, size_t max_count) {
  std::vector<float> out;
  if (!args.empty()) {
    for (absl::string_view a : absl::StrSplit(args, ':')) {
      float v;
      if (!absl::SimpleAtof(a, &v) || !std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("augment spec token '", token, "': bad number '", a, "'"));
      }
      out.push_back(v);
    }
  }
  if (out.size() < min_count || out.size() > max_count) {
    return absl::InvalidArgumentError(absl::StrCat("augment spec token '", token, "': expected ",
                                                   min_count == max_count ? "" : "between ",
                                                   min_count,
                                                   min_count == max_count
                                                       ? ""
                                                       : absl::StrCat(" and ", max_count),
                                                   " numbers separated by ':', got ", out.size()));
  }
  return out;
}

absl::Status RangeError(absl::string_view token, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("augment spec token '", token, "': ", what));
}

bool IsInteger(float v) { return v == std::floor(v); }

}  // namespace

std::unique_ptr<Augmentation> MakeHorizontalFlip(float p) {
  SIMDNET_CHECK(p >= 0.0f && p <= 1.0f);
  return std::make_unique<HorizontalFlip>(p);
}

std::unique_ptr<Augmentation> MakeRandomCrop(int64_t padding) {
  SIMDNET_CHECK(padding >= 0);
  return std::make_unique<RandomCrop>(padding);
}

std::unique_ptr<Augmentation> MakeRandomResizedCrop(float scale_min, float scale_max,
                                                    float ratio_min, float ratio_max) {
  SIMDNET_CHECK(scale_min > 0.0f && scale_min <= scale_max && scale_max <= 1.0f);
  SIMDNET_CHECK(ratio_min > 0.0f && ratio_min <= ratio_max);
  return std::make_unique<RandomResizedCrop>(scale_min, scale_max, ratio_min, ratio_max);
}

std::unique_ptr<Augmentation> MakeRotation(float max_degrees) {
  SIMDNET_CHECK(max_degrees >= 0.0f && max_degrees <= 180.0f);
  return std::make_unique<Rotation>(max_degrees);
}

std::unique_ptr<Augmentation> MakeColorJitter(float brightness, float contrast, float saturation,
                                              float hue) {
  SIMDNET_CHECK(brightness >= 0.0f && brightness <= 1.0f);
  SIMDNET_CHECK(contrast >= 0.0f && contrast <= 1.0f);
  SIMDNET_CHECK(saturation >= 0.0f && saturation <= 1.0f);
  SIMDNET_CHECK(hue >= 0.0f && hue <= 0.5f);
  return std::make_unique<ColorJitter>(brightness, contrast, saturation, hue);
}

std::unique_ptr<Augmentation> MakeCutout(int64_t size, float p) {
  SIMDNET_CHECK(size >= 1 && p >= 0.0f && p <= 1.0f);
  return std::make_unique<Cutout>(size, p);
}

Augmenter& Augmenter::Add(std::unique_ptr<Augmentation> step) {
  SIMDNET_CHECK(step != nullptr);
  steps_.push_back(std::move(step));
  return *this;
}

void Augmenter::Apply(const ImageDims& dims, Rng& rng, float* image, float* scratch) const {
  for (const auto& step : steps_) step->Apply(dims, rng, image, scratch);
}

std::string Augmenter::Spec() const {
  std::string out;
  for (size_t i = 0; i < steps_.size(); ++i) absl::StrAppend(&out, i ? "," : "", steps_[i]->Spec());
  return out;
}

absl::StatusOr<Augmenter> ParseAugmentSpec(absl::string_view spec) {
  Augmenter aug;
  for (absl::string_view raw : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    const absl::string_view token = absl::StripAsciiWhitespace(raw);
    const size_t eq = token.find('=');
    const absl::string_view name = token.substr(0, eq);
    const absl::string_view args = eq == absl::string_view::npos ? "" : token.substr(eq + 1);
    if (name == "hflip") {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<float> a, ParseArgs(token, args, 0, 1));
      const float p = a.empty() ? 0.5f : a[0];
      if (!(p >= 0 && p <= 1)) return RangeError(token, "probability must be in [0, 1]");
      aug.Add(MakeHorizontalFlip(p));
    } else if (name == "crop") {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<float> a, ParseArgs(token, args, 1, 1));
      if (!(a[0] >= 0 && a[0] <= 4096 && IsInteger(a[0]))) {
        return RangeError(token, "padding must be an integer in [0, 4096]");
      }
      aug.Add(MakeRandomCrop(static_cast<int64_t>(a[0])));
    } else if (name == "rrc") {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<float> a, ParseArgs(token, args, 0, 4));
      if (!a.empty() && a.size() != 4) return RangeError(token, "expected smin:smax:rmin:rmax");
      if (a.empty()) a = {0.08f, 1.0f, 3.0f / 4.0f, 4.0f / 3.0f};
      if (!(a[0] > 0 && a[0] <= a[1] && a[1] <= 1)) {
        return RangeError(token, "scale range must satisfy 0 < smin <= smax <= 1");
      }
      if (!(a[2] > 0 && a[2] <= a[3] && a[3] <= 100)) {
        return RangeError(token, "ratio range must satisfy 0 < rmin <= rmax <= 100");
      }
      aug.Add(MakeRandomResizedCrop(a[0], a[1], a[2], a[3]));
    } else if (name == "rotate") {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<float> a, ParseArgs(token, args, 1, 1));
      if (!(a[0] >= 0 && a[0] <= 180)) return RangeError(token, "degrees must be in [0, 180]");
      aug.Add(MakeRotation(a[0]));
    } else if (name == "jitter") {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<float> a, ParseArgs(token, args, 4, 4));
      for (int k = 0; k < 3; ++k) {
        if (!(a[k] >= 0 && a[k] <= 1)) {
          return RangeError(token, "brightness, contrast and saturation must be in [0, 1]");
        }
      }
      if (!(a[3] >= 0 && a[3] <= 0.5f)) return RangeError(token, "hue must be in [0, 0.5]");
      aug.Add(MakeColorJitter(a[0], a[1], a[2], a[3]));
    } else if (name == "cutout") {
      SIMDNET_ASSIGN_OR_RETURN(std::vector<float> a, ParseArgs(token, args, 1, 2));
      if (!(a[0] >= 1 && a[0] <= 4096 && IsInteger(a[0]))) {
        return RangeError(token, "size must be an integer in [1, 4096]");
      }
      const float p = a.size() > 1 ? a[1] : 1.0f;
      if (!(p >= 0 && p <= 1)) return RangeError(token, "probability must be in [0, 1]");
      aug.Add(MakeCutout(static_cast<int64_t>(a[0]), p));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "augment spec: unknown step '", name,
          "' (expected hflip, crop, rrc, rotate, jitter or cutout) in token '", token, "'"));
    }
  }
  return aug;
}

Rng SampleRng(uint64_t seed, uint64_t epoch, uint64_t index) {
  return Rng(seed, epoch).Split(index);
}

}  // namespace simdnet
