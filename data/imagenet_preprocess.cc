// ImageNet preprocessing: Pillow's bilinear resampling (libImaging/Resample.c, reimplemented
// from its description: precompute_coeffs, normalize_coeffs_8bpc, ImagingResampleHorizontal /
// Vertical_8bpc) and torchvision's CenterCrop.
#include "data/imagenet_preprocess.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed-point weights

struct Coeffs {
  int64_t ksize = 0;
  std::vector<int64_t> bounds;  // per output: xmin, count
  std::vector<int32_t> k;       // per output: ksize fixed-point weights
};

double Triangle(double x) {
  if (x < 0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Weights of output pixels [0, out) over input [0, in), Pillow's precompute_coeffs with the
// bilinear filter (support 1) and normalize_coeffs_8bpc.
Coeffs PrecomputeCoeffs(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  Coeffs c;
  c.ksize = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(static_cast<size_t>(out) * 2);
  c.k.assign(static_cast<size_t>(out * c.ksize), 0);
  std::vector<double> k(static_cast<size_t>(c.ksize));
  const double ss = 1.0 / filterscale;
  for (int64_t xx = 0; xx < out; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    int64_t xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int64_t xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in) xmax = in;
    xmax -= xmin;
    double ww = 0.0;
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = Triangle((static_cast<double>(x + xmin) - center + 0.5) * ss);
      k[static_cast<size_t>(x)] = w;
      ww += w;
    }
    for (int64_t x = 0; x < xmax; ++x) {
      double v = ww != 0.0 ? k[static_cast<size_t>(x)] / ww : k[static_cast<size_t>(x)];
      v *= static_cast<double>(1 << kPrecisionBits);
      c.k[static_cast<size_t>(xx * c.ksize + x)] =
          static_cast<int32_t>(v < 0 ? v - 0.5 : v + 0.5);
    }
    c.bounds[static_cast<size_t>(xx) * 2] = xmin;
    c.bounds[static_cast<size_t>(xx) * 2 + 1] = xmax;
  }
  return c;
}

uint8_t Clip8(int64_t v) {
  v >>= kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Resamples interleaved (h, w, ch) bytes along one axis.
std::vector<uint8_t> ResampleAxis(const std::vector<uint8_t>& src, int64_t h, int64_t w,
                                  int64_t ch, int64_t out, bool horizontal) {
  const Coeffs c = PrecomputeCoeffs(horizontal ? w : h, out);
  const int64_t oh = horizontal ? h : out, ow = horizontal ? out : w;
  std::vector<uint8_t> dst(static_cast<size_t>(oh * ow * ch));
  for (int64_t y = 0; y < oh; ++y) {
    for (int64_t x = 0; x < ow; ++x) {
      const int64_t o = horizontal ? x : y;
      const int64_t xmin = c.bounds[static_cast<size_t>(o) * 2];
      const int64_t count = c.bounds[static_cast<size_t>(o) * 2 + 1];
      const int32_t* k = &c.k[static_cast<size_t>(o * c.ksize)];
      for (int64_t b = 0; b < ch; ++b) {
        int64_t acc = int64_t{1} << (kPrecisionBits - 1);
        for (int64_t i = 0; i < count; ++i) {
          const int64_t sy = horizontal ? y : xmin + i, sx = horizontal ? xmin + i : x;
          acc += static_cast<int64_t>(src[static_cast<size_t>((sy * w + sx) * ch + b)]) * k[i];
        }
        dst[static_cast<size_t>((y * ow + x) * ch + b)] = Clip8(acc);
      }
    }
  }
  return dst;
}

// Python's round() of x / 2 for an integer x >= 0: half to even.
int64_t RoundHalfToEven(int64_t twice) {
  const int64_t q = twice / 2;
  if (twice % 2 == 0) return q;
  return q % 2 == 0 ? q : q + 1;
}

}  // namespace

Normalization ImageNetNormalization(int64_t crop) {
  Normalization n;
  n.kind = Normalization::Kind::kPerChannel;
  n.channels = 3;
  n.height = crop;
  n.width = crop;
  n.mean = {0.485f, 0.456f, 0.406f};
  n.stddev = {0.229f, 0.224f, 0.225f};
  return n;
}

absl::StatusOr<std::vector<uint8_t>> ResizeShortSideAndCenterCrop(const DecodedImage& image,
                                                                  int64_t resize, int64_t crop) {
  if (crop < 1 || resize < crop || resize > 32768) {
    return absl::InvalidArgumentError(absl::StrCat("ImageNet preprocessing: resize ", resize,
                                                   " / crop ", crop,
                                                   ": need 1 <= crop <= resize <= 32768"));
  }
  const int64_t h = image.height, w = image.width, ch = image.channels;
  if (h < 1 || w < 1 || ch < 1 ||
      static_cast<int64_t>(image.pixels.size()) != h * w * ch) {
    return absl::InvalidArgumentError("ImageNet preprocessing: empty or malformed image");
  }
  // torchvision 0.14 _compute_resized_output_size: the long side is truncated.
  int64_t oh, ow;
  if (w <= h) {
    ow = resize;
    oh = static_cast<int64_t>(static_cast<double>(resize) * static_cast<double>(h) /
                              static_cast<double>(w));
  } else {
    oh = resize;
    ow = static_cast<int64_t>(static_cast<double>(resize) * static_cast<double>(w) /
                              static_cast<double>(h));
  }
  std::vector<uint8_t> pixels = image.pixels;
  int64_t cur_w = w;
  if (ow != w) {
    pixels = ResampleAxis(pixels, h, w, ch, ow, /*horizontal=*/true);
    cur_w = ow;
  }
  if (oh != h) pixels = ResampleAxis(pixels, h, cur_w, ch, oh, /*horizontal=*/false);
  const int64_t top = RoundHalfToEven(oh - crop), left = RoundHalfToEven(ow - crop);
  std::vector<uint8_t> out(static_cast<size_t>(ch * crop * crop));
  for (int64_t b = 0; b < ch; ++b) {
    for (int64_t y = 0; y < crop; ++y) {
      for (int64_t x = 0; x < crop; ++x) {
        out[static_cast<size_t>((b * crop + y) * crop + x)] =
            pixels[static_cast<size_t>(((top + y) * ow + left + x) * ch + b)];
      }
    }
  }
  return out;
}

std::function<absl::StatusOr<std::vector<uint8_t>>(const DecodedImage&)> ImageNetFolderPreprocess(
    int64_t crop) {
  return [crop](const DecodedImage& image) {
    return ResizeShortSideAndCenterCrop(image, crop * 256 / 224, crop);
  };
}

absl::StatusOr<std::vector<float>> LoadImageNetImage(const std::string& path, int64_t resize,
                                                     int64_t crop) {
  ImageFolderOptions fo;  // 3 channels; the size limits of image folders
  fo.height = fo.width = crop;
  fo.preprocess = [resize, crop](const DecodedImage& image) {
    return ResizeShortSideAndCenterCrop(image, resize, crop);
  };
  SIMDNET_ASSIGN_OR_RETURN(std::vector<uint8_t> planar, LoadImageFile(path, fo));
  std::vector<float> out(planar.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(planar[i]) / 255.0f;
  return out;
}

}  // namespace simdnet
