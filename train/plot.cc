// Line-chart rasterizer: layout, nice ticks, Bresenham lines with a 2-pixel brush, a 5x7
// bitmap font (hand-drawn for this project) and PNG encoding via stb_image_write.
#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "stb/stb_image_write.h"
#include "tensor/status_macros.h"
#include "tensor/atomic_file.h"

namespace simdnet {
namespace {

struct Glyph {
  char c;
  uint8_t rows[7];  // Top to bottom; bit 4 is the leftmost of 5 columns.
};

// ASCII glyphs, 5 columns x 7 rows. Lowercase letters sit in the lower 5 rows where possible
// (no descenders: g, p, q, y end on the baseline row).
constexpr Glyph kFont[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}},
    {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}},
    {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}},
    {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}},
    {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}},
    {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'A', {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'B', {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}},
    {'C', {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}},
    {'D', {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}},
    {'E', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}},
    {'F', {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}},
    {'G', {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}},
    {'H', {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}},
    {'I', {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'J', {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}},
    {'K', {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}},
    {'L', {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}},
    {'M', {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'N', {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}},
    {'O', {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'P', {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}},
    {'Q', {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}},
    {'R', {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}},
    {'S', {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}},
    {'T', {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'U', {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}},
    {'V', {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'W', {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}},
    {'X', {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}},
    {'Y', {0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04}},
    {'Z', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}},
    {'a', {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}},
    {'c', {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}},
    {'d', {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}},
    {'e', {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}},
    {'f', {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}},
    {'g', {0x00, 0x00, 0x0F, 0x11, 0x0F, 0x01, 0x0E}},
    {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}},
    {'j', {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}},
    {'l', {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}},
    {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'o', {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}},
    {'p', {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}},
    {'q', {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01}},
    {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'s', {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}},
    {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}},
    {'v', {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}},
    {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}},
    {'x', {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}},
    {'z', {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}},
    {' ', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}},
    {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}},
    {':', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}},
    {';', {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08}},
    {'/', {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}},
    {'(', {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}},
    {')', {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}},
    {'[', {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}},
    {']', {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}},
    {'_', {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}},
    {'=', {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}},
    {'!', {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}},
    {'?', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}},
    {'\'', {0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00}},
    {'"', {0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00}},
    {'#', {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}},
    {'*', {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}},
    {'<', {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}},
    {'>', {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}},
    {'|', {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
};

constexpr int kGlyphW = 5;
constexpr int kGlyphH = 7;
constexpr int kAdvance = 6;  // Glyph width plus a 1-pixel gap.

const Rgb kWhite{255, 255, 255};
const Rgb kBlack{0, 0, 0};
const Rgb kGrid{225, 225, 225};
const Rgb kAxisText{60, 60, 60};

// Fallback for characters without a glyph: a hollow box.
constexpr uint8_t kBoxRows[7] = {0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F};

// Returns a pixel coordinate for a double, clamped far outside any image (no UB on casts).
int ToPixel(double v) {
  if (!(v > -1e6)) return -1000000;
  if (!(v < 1e6)) return 1000000;
  return static_cast<int>(std::lround(v));
}

struct Rect {
  int x0, y0, x1, y1;  // Inclusive.
  bool Contains(int x, int y) const { return x >= x0 && x <= x1 && y >= y0 && y <= y1; }
};

void FillRect(RgbImage* img, Rect r, Rgb c) {
  for (int y = r.y0; y <= r.y1; ++y) {
    for (int x = r.x0; x <= r.x1; ++x) img->Set(x, y, c);
  }
}

// Draws a line with a 2x2 brush, clipped to `clip`.
void DrawLine(RgbImage* img, int xa, int ya, int xb, int yb, Rgb c, const Rect& clip) {
  const int dx = std::abs(xb - xa), sx = xa < xb ? 1 : -1;
  const int dy = -std::abs(yb - ya), sy = ya < yb ? 1 : -1;
  int err = dx + dy;
  // Bounded: endpoints are clamped by ToPixel, and segments leaving the clip rect stop early.
  for (int steps = 0; steps < 4000000; ++steps) {
    for (int oy = 0; oy < 2; ++oy) {
      for (int ox = 0; ox < 2; ++ox) {
        if (clip.Contains(xa + ox, ya + oy)) img->Set(xa + ox, ya + oy, c);
      }
    }
    if (xa == xb && ya == yb) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      xa += sx;
    }
    if (e2 <= dx) {
      err += dx;
      ya += sy;
    }
  }
}

// Draws text rotated 90 degrees counter-clockwise, reading bottom to top, starting at the
// bottom-left corner (x, y).
void DrawTextVertical(RgbImage* img, int x, int y, absl::string_view text, Rgb color) {
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* rows = detail::GlyphRows(text[i]);
    if (rows == nullptr) rows = kBoxRows;
    for (int gy = 0; gy < kGlyphH; ++gy) {
      for (int gx = 0; gx < kGlyphW; ++gx) {
        if (rows[gy] & (0x10 >> gx)) {
          img->Set(x + gy, y - static_cast<int>(i) * kAdvance - gx, color);
        }
      }
    }
  }
}

// Formats a linear-axis tick with as many decimals as the step needs.
std::string FormatTick(double v, double step) {
  if (std::abs(v) < step * 1e-6) return "0";
  if (std::abs(v) >= 1e5 || step < 1e-4) return absl::StrFormat("%g", v);
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return absl::StrFormat("%.*f", decimals, v);
}

// Formats a log-axis tick m * 10^e (m in {1, 2, 5}).
std::string FormatLogTick(int m, int e) {
  if (e >= -3 && e <= 4) return absl::StrFormat("%g", m * std::pow(10.0, e));
  return absl::StrCat(m, "e", e);
}

struct Axis {
  double lo = 0, hi = 1;
  std::vector<double> ticks;  // In axis units (log10 for log axes).
  std::vector<std::string> labels;
};

Axis MakeLinearAxis(double lo, double hi, int max_ticks, bool integer_steps) {
  Axis a;
  a.ticks = NiceTicks(lo, hi, max_ticks, integer_steps);
  a.lo = a.ticks.front();
  a.hi = a.ticks.back();
  const double step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : 1.0;
  for (double t : a.ticks) a.labels.push_back(FormatTick(t, step));
  return a;
}

Axis MakeLogAxis(double lo_log, double hi_log) {
  Axis a;
  int e0 = static_cast<int>(std::floor(lo_log + 1e-9));
  int e1 = static_cast<int>(std::ceil(hi_log - 1e-9));
  if (e1 <= e0) e1 = e0 + 1;
  const int stride = std::max(1, (e1 - e0 + 7) / 8);
  e1 = e0 + (e1 - e0 + stride - 1) / stride * stride;
  // Up to two decades also get ticks at 2x and 5x, so short ranges have readable labels.
  const bool minor = e1 - e0 <= 2;
  for (int e = e0; e <= e1; e += stride) {
    for (int m : {1, 2, 5}) {
      if (m != 1 && (!minor || e == e1)) continue;
      a.ticks.push_back(e + std::log10(static_cast<double>(m)));
      a.labels.push_back(FormatLogTick(m, e));
    }
  }
  a.lo = e0;
  a.hi = e1;
  return a;
}

}  // namespace

namespace detail {
const uint8_t* GlyphRows(char c) {
  for (const Glyph& g : kFont) {
    if (g.c == c) return g.rows;
  }
  return nullptr;
}
}  // namespace detail

RgbImage RgbImage::Filled(int width, int height, Rgb fill) {
  SIMDNET_CHECK(width >= 0 && height >= 0);
  RgbImage img;
  img.width = width;
  img.height = height;
  img.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < img.pixels.size(); i += 3) {
    img.pixels[i] = fill.r;
    img.pixels[i + 1] = fill.g;
    img.pixels[i + 2] = fill.b;
  }
  return img;
}

void RgbImage::Set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

Rgb RgbImage::Get(int x, int y) const {
  SIMDNET_CHECK(x >= 0 && y >= 0 && x < width && y < height);
  const uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * 3];
  return Rgb{p[0], p[1], p[2]};
}

absl::StatusOr<std::string> EncodePng(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError(absl::StrCat("EncodePng: image ", image.width, "x",
                                                   image.height, " with ", image.pixels.size(),
                                                   " bytes is empty or inconsistent"));
  }
  std::string out;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data),
                                           static_cast<size_t>(size));
  };
  if (stbi_write_png_to_func(sink, &out, image.width, image.height, 3, image.pixels.data(),
                             image.width * 3) == 0) {
    return absl::InternalError(absl::StrCat("EncodePng: stb_image_write failed for a ", image.width,
                                            "x", image.height, " image"));
  }
  return out;
}

absl::Status WritePng(absl::string_view path, const RgbImage& image) {
  SIMDNET_ASSIGN_OR_RETURN(std::string png, EncodePng(image));
  return WriteFileAtomically(path, png);
}

int TextWidth(absl::string_view text, int scale) {
  if (text.empty()) return 0;
  return (static_cast<int>(text.size()) * kAdvance - 1) * scale;
}

void DrawText(RgbImage* image, int x, int y, absl::string_view text, Rgb color, int scale) {
  SIMDNET_CHECK(scale >= 1);
  for (size_t i = 0; i < text.size(); ++i) {
    const uint8_t* rows = detail::GlyphRows(text[i]);
    if (rows == nullptr) rows = kBoxRows;
    const int cx = x + static_cast<int>(i) * kAdvance * scale;
    for (int gy = 0; gy < kGlyphH; ++gy) {
      for (int gx = 0; gx < kGlyphW; ++gx) {
        if (!(rows[gy] & (0x10 >> gx))) continue;
        for (int sy = 0; sy < scale; ++sy) {
          for (int sx = 0; sx < scale; ++sx) {
            image->Set(cx + gx * scale + sx, y + gy * scale + sy, color);
          }
        }
      }
    }
  }
}

std::vector<double> NiceTicks(double lo, double hi, int max_ticks, bool integer_steps) {
  SIMDNET_CHECK(max_ticks >= 2);
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo <= 1e-12 * std::max(1.0, std::abs(lo))) {
    const double d = integer_steps ? 1.0 : lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / max_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  if (integer_steps) step = std::max(step, 1.0);
  const double start = std::floor(lo / step + 1e-9) * step;
  const double end = std::ceil(hi / step - 1e-9) * step;
  const int n = std::min(1000, static_cast<int>(std::lround((end - start) / step)));
  std::vector<double> ticks;
  for (int i = 0; i <= n; ++i) {
    const double t = start + i * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.size() < 2) ticks.push_back(start + step);
  return ticks;
}

Rgb SeriesColor(size_t i) {
  // A colorblind-aware categorical palette (matplotlib "tab10" order of hues).
  static constexpr Rgb kPalette[8] = {{31, 119, 180},  {255, 127, 14},  {44, 160, 44},
                                      {214, 39, 40},   {148, 103, 189}, {140, 86, 75},
                                      {227, 119, 194}, {127, 127, 127}};
  return kPalette[i % 8];
}

absl::StatusOr<RgbImage> RenderLinePlot(absl::Span<const PlotSeries> series,
                                        const PlotOptions& options) {
  if (options.width < 160 || options.width > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("RenderLinePlot: width ", options.width, " is outside [160, 4096]"));
  }
  if (options.height < 120 || options.height > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("RenderLinePlot: height ", options.height, " is outside [120, 4096]"));
  }
  for (const PlotSeries& s : series) {
    if (s.x.size() != s.y.size()) {
      return absl::InvalidArgumentError(absl::StrCat("RenderLinePlot: series '", s.name, "' has ",
                                                     s.x.size(), " x values but ", s.y.size(),
                                                     " y values"));
    }
  }
  // Data ranges over usable points.
  auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!options.log_y || y > 0);
  };
  auto ymap = [&](double y) { return options.log_y ? std::log10(y) : y; };
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  bool integer_x = true;  // Epochs and steps: ticks at whole numbers only.
  double ymin = xmin, ymax = -xmin;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      integer_x &= std::floor(s.x[i]) == s.x[i];
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, ymap(s.y[i]));
      ymax = std::max(ymax, ymap(s.y[i]));
    }
  }
  if (!(xmin <= xmax)) {
    xmin = 0;
    xmax = 1;
    ymin = 0;
    ymax = options.log_y ? 0 : 1;
  }
  const Axis xa = MakeLinearAxis(xmin, xmax, std::max(2, options.width / 90), integer_x);
  const Axis ya = options.log_y ? MakeLogAxis(ymin, ymax)
                                : MakeLinearAxis(ymin, ymax, std::max(2, options.height / 60),
                                                 /*integer_steps=*/false);

  // Layout.
  int label_w = 0;
  for (const std::string& l : ya.labels) label_w = std::max(label_w, TextWidth(l));
  const int left = 8 + (options.y_label.empty() ? 0 : kGlyphH + 8) + label_w + 8;
  const int top = options.title.empty() ? 12 : 2 * kGlyphH + 16;
  const int bottom = 6 + kGlyphH + 8 + (options.x_label.empty() ? 0 : kGlyphH + 8) + 4;
  const int right = 16;
  const Rect plot{left, top, options.width - right - 1, options.height - bottom - 1};
  const int pw = plot.x1 - plot.x0, ph = plot.y1 - plot.y0;
  if (pw < 40 || ph < 40) {
    return absl::InvalidArgumentError(absl::StrCat("RenderLinePlot: ", options.width, "x",
                                                   options.height, " leaves no room for the plot"));
  }
  auto px = [&](double x) { return plot.x0 + (x - xa.lo) / (xa.hi - xa.lo) * pw; };
  auto py = [&](double y) { return plot.y1 - (y - ya.lo) / (ya.hi - ya.lo) * ph; };

  RgbImage img = RgbImage::Filled(options.width, options.height, kWhite);
  // Grid and tick labels.
  for (size_t i = 0; i < xa.ticks.size(); ++i) {
    const int x = ToPixel(px(xa.ticks[i]));
    for (int y = plot.y0; y <= plot.y1; ++y) img.Set(x, y, kGrid);
    for (int y = plot.y1 + 1; y <= plot.y1 + 4; ++y) img.Set(x, y, kBlack);
    DrawText(&img, x - TextWidth(xa.labels[i]) / 2, plot.y1 + 8, xa.labels[i], kAxisText);
  }
  for (size_t i = 0; i < ya.ticks.size(); ++i) {
    const int y = ToPixel(py(ya.ticks[i]));
    for (int x = plot.x0; x <= plot.x1; ++x) img.Set(x, y, kGrid);
    for (int x = plot.x0 - 4; x < plot.x0; ++x) img.Set(x, y, kBlack);
    DrawText(&img, plot.x0 - 8 - TextWidth(ya.labels[i]), y - kGlyphH / 2, ya.labels[i], kAxisText);
  }
  // Axes.
  for (int x = plot.x0; x <= plot.x1; ++x) img.Set(x, plot.y1, kBlack);
  for (int y = plot.y0; y <= plot.y1; ++y) img.Set(plot.x0, y, kBlack);
  // Labels and title.
  if (!options.title.empty()) {
    DrawText(&img, (options.width - TextWidth(options.title, 2)) / 2, 6, options.title, kBlack, 2);
  }
  if (!options.x_label.empty()) {
    DrawText(&img, plot.x0 + (pw - TextWidth(options.x_label)) / 2, plot.y1 + 8 + kGlyphH + 8,
             options.x_label, kBlack);
  }
  if (!options.y_label.empty()) {
    DrawTextVertical(&img, 8, plot.y0 + (ph + TextWidth(options.y_label)) / 2, options.y_label,
                     kBlack);
  }
  // Curves.
  for (size_t si = 0; si < series.size(); ++si) {
    const PlotSeries& s = series[si];
    const Rgb color = SeriesColor(si);
    bool have_prev = false;
    int prev_x = 0, prev_y = 0;
    size_t usable_count = 0;
    for (size_t i = 0; i < s.x.size(); ++i) usable_count += usable(s.x[i], s.y[i]);
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        have_prev = false;
        continue;
      }
      const int x = ToPixel(px(s.x[i])), y = ToPixel(py(ymap(s.y[i])));
      if (have_prev) {
        DrawLine(&img, prev_x, prev_y, x, y, color, plot);
      } else if (usable_count == 1 || i + 1 == s.x.size() || !usable(s.x[i + 1], s.y[i + 1])) {
        // An isolated point: a 4x4 marker so it is visible.
        for (int oy = -1; oy <= 2; ++oy) {
          for (int ox = -1; ox <= 2; ++ox) {
            if (plot.Contains(x + ox, y + oy)) img.Set(x + ox, y + oy, color);
          }
        }
      }
      have_prev = true;
      prev_x = x;
      prev_y = y;
    }
  }
  // Legend (top-right inside the plot area).
  int entries = 0, text_w = 0;
  for (const PlotSeries& s : series) {
    if (s.name.empty()) continue;
    ++entries;
    text_w = std::max(text_w, TextWidth(s.name));
  }
  if (entries > 0) {
    const int row_h = kGlyphH + 5;
    const int box_w = text_w + 30, box_h = entries * row_h + 5;
    // Put the legend in the plot corner that hides the fewest curve pixels (top-right first).
    const Rect corners[4] = {{plot.x1 - 6 - box_w, plot.y0 + 6, plot.x1 - 6, plot.y0 + 6 + box_h},
                             {plot.x1 - 6 - box_w, plot.y1 - 6 - box_h, plot.x1 - 6, plot.y1 - 6},
                             {plot.x0 + 6, plot.y0 + 6, plot.x0 + 6 + box_w, plot.y0 + 6 + box_h},
                             {plot.x0 + 6, plot.y1 - 6 - box_h, plot.x0 + 6 + box_w, plot.y1 - 6}};
    Rect box = corners[0];
    int64_t best_hidden = std::numeric_limits<int64_t>::max();
    for (const Rect& r : corners) {
      int64_t hidden = 0;
      for (int y = std::max(0, r.y0); y <= std::min(img.height - 1, r.y1); ++y) {
        for (int x = std::max(0, r.x0); x <= std::min(img.width - 1, r.x1); ++x) {
          const Rgb c = img.Get(x, y);
          hidden += c != kWhite && c != kGrid && c != kBlack && c != kAxisText;
        }
      }
      if (hidden < best_hidden) {
        best_hidden = hidden;
        box = r;
      }
    }
    FillRect(&img, box, kWhite);
    for (int x = box.x0; x <= box.x1; ++x) {
      img.Set(x, box.y0, kAxisText);
      img.Set(x, box.y1, kAxisText);
    }
    for (int y = box.y0; y <= box.y1; ++y) {
      img.Set(box.x0, y, kAxisText);
      img.Set(box.x1, y, kAxisText);
    }
    int row = 0;
    for (size_t si = 0; si < series.size(); ++si) {
      if (series[si].name.empty()) continue;
      const int y = box.y0 + 5 + row * row_h;
      const Rect sample{box.x0 + 5, y + 2, box.x0 + 21, y + 4};
      FillRect(&img, sample, SeriesColor(si));
      DrawText(&img, box.x0 + 27, y, series[si].name, kBlack);
      ++row;
    }
  }
  return img;
}

absl::Status WriteLinePlotPng(absl::string_view path, absl::Span<const PlotSeries> series,
                              const PlotOptions& options) {
  SIMDNET_ASSIGN_OR_RETURN(RgbImage img, RenderLinePlot(series, options));
  return WritePng(path, img);
}

}  // namespace simdnet
