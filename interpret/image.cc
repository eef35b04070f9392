// Rendering helpers for interpretation pictures: color maps, overlays, stretches and grids.
#include "interpret/image.h"

#include <algorithm>
#include <cmath>

#include "tensor/status_macros.h"

namespace simdnet {
namespace {

uint8_t ToByte(float v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
}

// Fills the scale x scale block of image pixel (x, y).
void Block(Image* image, int64_t x, int64_t y, int scale, Rgb c) {
  for (int dy = 0; dy < scale; ++dy) {
    for (int dx = 0; dx < scale; ++dx) {
      image->Set(static_cast<int>(x * scale + dx), static_cast<int>(y * scale + dy), c);
    }
  }
}

// Returns (v - lo) / (hi - lo) clamped to [0, 1]; 0 when hi <= lo or v is not finite.
float Normalized(float v, float lo, float hi) {
  if (!(hi > lo) || !std::isfinite(v)) return 0.0f;
  return std::clamp((v - lo) / (hi - lo), 0.0f, 1.0f);
}

}  // namespace

Image PixelsToImage(const float* chw, int64_t c, int64_t h, int64_t w, int scale) {
  SIMDNET_CHECK((c == 1 || c == 3) && h >= 1 && w >= 1 && scale >= 1);
  Image image = Image::Filled(static_cast<int>(w * scale), static_cast<int>(h * scale), {});
  const int64_t plane = h * w;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t k = y * w + x;
      Rgb p;
      p.r = ToByte(chw[k]);
      p.g = c == 3 ? ToByte(chw[plane + k]) : p.r;
      p.b = c == 3 ? ToByte(chw[2 * plane + k]) : p.r;
      Block(&image, x, y, scale, p);
    }
  }
  return image;
}

Rgb HeatColor(float t) {
  // Piecewise-linear through inferno-like anchors.
  static constexpr float kAnchors[][3] = {{0, 0, 4},     {40, 11, 84},   {101, 21, 110},
                                          {159, 42, 99}, {212, 72, 66},  {245, 125, 21},
                                          {250, 193, 39}, {252, 255, 164}};
  constexpr int kLast = 7;
  t = std::isfinite(t) ? std::clamp(t, 0.0f, 1.0f) : 0.0f;
  const float pos = t * kLast;
  const int i = std::min(static_cast<int>(pos), kLast - 1);
  const float f = pos - static_cast<float>(i);
  auto mix = [&](int ch) {
    return static_cast<uint8_t>(
        std::lround(kAnchors[i][ch] + f * (kAnchors[i + 1][ch] - kAnchors[i][ch])));
  };
  return Rgb{mix(0), mix(1), mix(2)};
}

Image HeatMapImage(const float* map, int64_t h, int64_t w, float lo, float hi, int scale) {
  SIMDNET_CHECK(h >= 1 && w >= 1 && scale >= 1);
  Image image = Image::Filled(static_cast<int>(w * scale), static_cast<int>(h * scale), {});
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      Block(&image, x, y, scale, HeatColor(Normalized(map[y * w + x], lo, hi)));
    }
  }
  return image;
}

Image OverlayHeatMap(const Image& base, const float* map, int64_t h, int64_t w, float lo,
                        float hi, float alpha) {
  SIMDNET_CHECK(h >= 1 && w >= 1 && base.width % w == 0 && base.height % h == 0 &&
                base.width / w == base.height / h && base.width >= w);
  const int scale = static_cast<int>(base.width / w);
  Image out = base;
  for (int y = 0; y < base.height; ++y) {
    for (int x = 0; x < base.width; ++x) {
      const float t = Normalized(map[(y / scale) * w + x / scale], lo, hi);
      const Rgb b = base.Get(x, y);
      const float gray = 0.299f * b.r + 0.587f * b.g + 0.114f * b.b;
      const Rgb heat = HeatColor(t);
      const float a = alpha * t;
      out.Set(x, y,
              Rgb{static_cast<uint8_t>(std::lround((1 - a) * gray + a * heat.r)),
                  static_cast<uint8_t>(std::lround((1 - a) * gray + a * heat.g)),
                  static_cast<uint8_t>(std::lround((1 - a) * gray + a * heat.b))});
    }
  }
  return out;
}

Image StretchToImage(const float* chw, int64_t c, int64_t h, int64_t w, int scale) {
  SIMDNET_CHECK((c == 1 || c == 3) && h >= 1 && w >= 1 && scale >= 1);
  const int64_t n = c * h * w;
  float lo = chw[0], hi = chw[0];
  for (int64_t i = 1; i < n; ++i) {
    lo = std::min(lo, chw[i]);
    hi = std::max(hi, chw[i]);
  }
  std::vector<float> stretched(static_cast<size_t>(n), 0.5f);
  if (hi > lo) {
    for (int64_t i = 0; i < n; ++i) stretched[static_cast<size_t>(i)] = (chw[i] - lo) / (hi - lo);
  }
  return PixelsToImage(stretched.data(), c, h, w, scale);
}

Image DivergingImage(const float* values, int64_t h, int64_t w, int scale) {
  SIMDNET_CHECK(h >= 1 && w >= 1 && scale >= 1);
  float m = 0.0f;
  for (int64_t i = 0; i < h * w; ++i) m = std::max(m, std::fabs(values[i]));
  Image image = Image::Filled(static_cast<int>(w * scale), static_cast<int>(h * scale), {});
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const float v = values[y * w + x];
      const float t = m > 0.0f ? std::clamp(std::fabs(v) / m, 0.0f, 1.0f) : 0.0f;
      // Positive: white to red (178, 24, 43); negative: white to blue (33, 102, 172).
      const Rgb far = v >= 0 ? Rgb{178, 24, 43} : Rgb{33, 102, 172};
      auto mix = [&](uint8_t to) {
        return static_cast<uint8_t>(std::lround(255.0f + t * (static_cast<float>(to) - 255.0f)));
      };
      Block(&image, x, y, scale, Rgb{mix(far.r), mix(far.g), mix(far.b)});
    }
  }
  return image;
}

Image ComposeGrid(const std::vector<Image>& tiles, const TileGridOptions& o) {
  SIMDNET_CHECK(o.cols >= 1 && o.text_scale >= 1 && o.gap >= 0);
  int cell_w = 0, cell_h = 0;
  for (const Image& t : tiles) {
    cell_w = std::max(cell_w, t.width);
    cell_h = std::max(cell_h, t.height);
  }
  const int n = static_cast<int>(tiles.size());
  const int cols = std::max(1, std::min(o.cols, n));
  const int rows = n == 0 ? 0 : (n + cols - 1) / cols;
  const int line_h = 8 * o.text_scale + 2;
  const int caption_h = o.captions.empty() ? 0 : line_h + 2;
  int label_w = 0;
  for (const std::string& l : o.row_labels) {
    label_w = std::max(label_w, TextWidth(l, o.text_scale) + o.gap);
  }
  const int title_scale = o.text_scale + 1;
  const int title_h = o.title.empty() ? 0 : 8 * title_scale + o.gap;
  int width = o.gap + label_w + cols * (cell_w + o.gap);
  width = std::max(width, 2 * o.gap + TextWidth(o.title, title_scale));
  const int height = o.gap + title_h + rows * (cell_h + caption_h + o.gap);
  Image out = Image::Filled(width, std::max(height, 1), o.background);
  if (!o.title.empty()) DrawText(&out, o.gap, o.gap, o.title, o.text, title_scale);
  for (int i = 0; i < n; ++i) {
    const int r = i / cols, c = i % cols;
    const int x0 = o.gap + label_w + c * (cell_w + o.gap);
    const int y0 = o.gap + title_h + r * (cell_h + caption_h + o.gap);
    const Image& t = tiles[static_cast<size_t>(i)];
    const int ox = x0 + (cell_w - t.width) / 2, oy = y0 + (cell_h - t.height) / 2;
    for (int y = 0; y < t.height; ++y) {
      for (int x = 0; x < t.width; ++x) out.Set(ox + x, oy + y, t.Get(x, y));
    }
    if (static_cast<size_t>(i) < o.captions.size()) {
      std::string caption = o.captions[static_cast<size_t>(i)];
      while (!caption.empty() && TextWidth(caption, o.text_scale) > cell_w + o.gap - 2) {
        caption.pop_back();
      }
      const int tx = x0 + (cell_w - TextWidth(caption, o.text_scale)) / 2;
      DrawText(&out, tx, y0 + cell_h + 3, caption, o.text, o.text_scale);
    }
    if (c == 0 && static_cast<size_t>(r) < o.row_labels.size()) {
      DrawText(&out, o.gap, y0 + (cell_h - 7 * o.text_scale) / 2,
               o.row_labels[static_cast<size_t>(r)], o.text, o.text_scale);
    }
  }
  return out;
}

Image Upscale(const Image& image, int scale) {
  SIMDNET_CHECK(scale >= 1);
  Image out = Image::Filled(image.width * scale, image.height * scale, {});
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) out.Set(x, y, image.Get(x / scale, y / scale));
  }
  return out;
}

int ScaleFor(int64_t size, int64_t min_size) {
  if (size <= 0 || size >= min_size) return 1;
  return static_cast<int>((min_size + size - 1) / size);
}

}  // namespace simdnet
