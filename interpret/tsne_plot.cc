// Scatter plot rendering for 2-D embeddings: layout (title, square plot area with equal axis
// scales, legend on the right), discs drawn in a fixed pseudo-random order so no class is
// systematically painted over the others, and grid-picked thumbnails.
#include "interpret/tsne_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kFrame{190, 190, 190};
constexpr Rgb kText{30, 30, 30};

void FillRect(Image* image, int x0, int y0, int x1, int y1, Rgb c) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) image->Set(x, y, c);
}

void DrawRectOutline(Image* image, int x0, int y0, int x1, int y1, Rgb c, int thickness) {
  FillRect(image, x0, y0, x1, y0 + thickness, c);
  FillRect(image, x0, y1 - thickness, x1, y1, c);
  FillRect(image, x0, y0, x0 + thickness, y1, c);
  FillRect(image, x1 - thickness, y0, x1, y1, c);
}

void DrawDisc(Image* image, int cx, int cy, int r, Rgb c) {
  const int limit = r * r + r;  // Slightly rounder discs than r^2 at small radii.
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dx * dx + dy * dy <= limit) image->Set(cx + dx, cy + dy, c);
}

absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("RenderScatter: ", what));
}

}  // namespace

Rgb ClassColor(int64_t c) {
  SIMDNET_CHECK(c >= 0);
  static constexpr Rgb kPalette[10] = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kPalette[c % 10];
}

absl::StatusOr<Image> RenderScatter(const std::vector<float>& xy,
                                       const std::vector<int32_t>& labels,
                                       const std::vector<std::string>& class_names,
                                       const ScatterOptions& options) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (static_cast<int64_t>(xy.size()) != 2 * n) {
    return Invalid(
        absl::StrCat("xy has ", xy.size(), " values, expected 2 * labels.size() = ", 2 * n));
  }
  if (n == 0) return Invalid("no points (labels is empty)");
  if (options.width < 200 || options.width > 4096) {
    return Invalid(absl::StrCat("width must be in [200, 4096], got ", options.width));
  }
  if (options.height < 200 || options.height > 4096) {
    return Invalid(absl::StrCat("height must be in [200, 4096], got ", options.height));
  }
  if (options.point_radius < 1 || options.point_radius > 20) {
    return Invalid(absl::StrCat("point_radius must be in [1, 20], got ", options.point_radius));
  }
  int64_t num_classes = static_cast<int64_t>(class_names.size());
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(xy[2 * i]) || !std::isfinite(xy[2 * i + 1])) {
      return Invalid(absl::StrCat("xy of point ", i, " is not finite"));
    }
    if (labels[i] < 0 || (!class_names.empty() && labels[i] >= num_classes)) {
      return Invalid(
          absl::StrCat("label of point ", i, " is ", labels[i], ", expected [0, ",
                       class_names.empty() ? std::string("inf") : absl::StrCat(num_classes), ")"));
    }
  }
  if (class_names.empty()) num_classes = *std::max_element(labels.begin(), labels.end()) + 1;
  const bool thumbs = !options.thumbnails.empty();
  if (thumbs) {
    if (options.thumb_channels != 1 && options.thumb_channels != 3) {
      return Invalid(absl::StrCat("thumb_channels must be 1 or 3, got ", options.thumb_channels));
    }
    if (options.thumb_height < 1 || options.thumb_height > 256 || options.thumb_width < 1 ||
        options.thumb_width > 256) {
      return Invalid(absl::StrCat("thumb_height and thumb_width must be in [1, 256], got ",
                                  options.thumb_height, " x ", options.thumb_width));
    }
    const int64_t want = n * options.thumb_channels * options.thumb_height * options.thumb_width;
    if (static_cast<int64_t>(options.thumbnails.size()) != want) {
      return Invalid(absl::StrCat("thumbnails has ", options.thumbnails.size(),
                                  " bytes, expected n * channels * height * width = ", want));
    }
    if (options.thumbnail_scale < 1 || options.thumbnail_scale > 8) {
      return Invalid(
          absl::StrCat("thumbnail_scale must be in [1, 8], got ", options.thumbnail_scale));
    }
    if (options.max_thumbnails < 0) {
      return Invalid(absl::StrCat("max_thumbnails must be >= 0, got ", options.max_thumbnails));
    }
  }

  Image image = Image::Filled(options.width, options.height, kWhite);
  constexpr int kMargin = 20;
  constexpr int kLegendScale = 2;
  int top = kMargin;
  if (!options.title.empty()) {
    // The largest of scales 3, 2, 1 at which the title fits (long titles are clipped at 1).
    int title_scale = 3;
    while (title_scale > 1 && TextWidth(options.title, title_scale) > options.width - 2 * kMargin)
      --title_scale;
    const int tw = TextWidth(options.title, title_scale);
    DrawText(&image, std::max(kMargin, (options.width - tw) / 2), kMargin, options.title, kText,
             title_scale);
    top += 7 * title_scale + kMargin;
  }
  // Legend column on the right: a swatch disc and the class name per row.
  std::vector<std::string> names(static_cast<size_t>(num_classes));
  int legend_text_w = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    names[c] = class_names.empty() ? absl::StrCat("class ", c) : class_names[c];
    legend_text_w = std::max(legend_text_w, TextWidth(names[c], kLegendScale));
  }
  constexpr int kRow = 26, kSwatch = 7, kPad = 12;
  const int legend_w = std::min(options.width / 3, kPad + 2 * kSwatch + 10 + legend_text_w + kPad);
  const int legend_x0 = options.width - kMargin - legend_w;
  const int plot_x0 = kMargin, plot_y0 = top;
  const int plot_x1 = legend_x0 - kMargin, plot_y1 = options.height - kMargin;
  DrawRectOutline(&image, plot_x0, plot_y0, plot_x1, plot_y1, kFrame, 1);

  // Equal scales on both axes, data centered, a margin of 4% of the plot side plus the disc.
  float min_x = xy[0], max_x = xy[0], min_y = xy[1], max_y = xy[1];
  for (int64_t i = 1; i < n; ++i) {
    min_x = std::min(min_x, xy[2 * i]);
    max_x = std::max(max_x, xy[2 * i]);
    min_y = std::min(min_y, xy[2 * i + 1]);
    max_y = std::max(max_y, xy[2 * i + 1]);
  }
  const double inner_w = (plot_x1 - plot_x0) * 0.92 - 2 * options.point_radius;
  const double inner_h = (plot_y1 - plot_y0) * 0.92 - 2 * options.point_radius;
  const double range_x = std::max<double>(max_x - min_x, 1e-12);
  const double range_y = std::max<double>(max_y - min_y, 1e-12);
  const double scale = std::min(inner_w / range_x, inner_h / range_y);
  const double mid_x = 0.5 * (double{min_x} + max_x), mid_y = 0.5 * (double{min_y} + max_y);
  const double center_px = 0.5 * (plot_x0 + plot_x1), center_py = 0.5 * (plot_y0 + plot_y1);
  std::vector<int> px(static_cast<size_t>(n)), py(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    px[i] = static_cast<int>(std::lround(center_px + (xy[2 * i] - mid_x) * scale));
    py[i] = static_cast<int>(std::lround(center_py - (xy[2 * i + 1] - mid_y) * scale));
  }
  // A fixed pseudo-random drawing order (multiplicative hash of the index).
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [](int64_t a, int64_t b) {
    const uint32_t ha = static_cast<uint32_t>(a) * 2654435761u;
    const uint32_t hb = static_cast<uint32_t>(b) * 2654435761u;
    return ha != hb ? ha < hb : a < b;
  });
  for (int64_t i : order)
    DrawDisc(&image, px[i], py[i], options.point_radius, ClassColor(labels[i]));

  if (thumbs && options.max_thumbnails > 0) {
    constexpr int kBorder = 2;
    const int tw = static_cast<int>(options.thumb_width) * options.thumbnail_scale + 2 * kBorder;
    const int th = static_cast<int>(options.thumb_height) * options.thumbnail_scale + 2 * kBorder;
    // Cells twice a thumbnail's size; only points within the central half of a cell qualify,
    // so each thumbnail stays inside its cell and no two overlap.
    const int cell_w = 2 * tw, cell_h = 2 * th;
    const int cols = std::max(1, (plot_x1 - plot_x0) / cell_w);
    const int rows = std::max(1, (plot_y1 - plot_y0) / cell_h);
    std::vector<int64_t> best(static_cast<size_t>(cols * rows), -1);
    std::vector<int64_t> best_d2(best.size(), std::numeric_limits<int64_t>::max());
    for (int64_t i = 0; i < n; ++i) {
      const int cx = (px[i] - plot_x0) / cell_w, cy = (py[i] - plot_y0) / cell_h;
      if (px[i] < plot_x0 || py[i] < plot_y0 || cx >= cols || cy >= rows) continue;
      const int ccx = plot_x0 + cx * cell_w + cell_w / 2, ccy = plot_y0 + cy * cell_h + cell_h / 2;
      const int64_t dx = px[i] - ccx, dy = py[i] - ccy;
      if (std::abs(dx) > tw / 2 || std::abs(dy) > th / 2) continue;
      const int64_t d2 = dx * dx + dy * dy;
      const size_t cell = static_cast<size_t>(cy * cols + cx);
      if (d2 < best_d2[cell]) {
        best_d2[cell] = d2;
        best[cell] = i;
      }
    }
    std::vector<int64_t> chosen;
    for (int64_t i : best)
      if (i >= 0) chosen.push_back(i);
    if (static_cast<int64_t>(chosen.size()) > options.max_thumbnails) {
      std::vector<int64_t> subset;
      for (int64_t j = 0; j < options.max_thumbnails; ++j)
        subset.push_back(chosen[j * chosen.size() / options.max_thumbnails]);
      chosen.swap(subset);
    }
    const int64_t ch = options.thumb_channels, h = options.thumb_height, w = options.thumb_width;
    const int s = options.thumbnail_scale;
    for (int64_t i : chosen) {
      const int x0 = px[i] - tw / 2, y0 = py[i] - th / 2;
      FillRect(&image, x0, y0, x0 + tw, y0 + th, ClassColor(labels[i]));
      const uint8_t* img = &options.thumbnails[i * ch * h * w];
      for (int64_t r = 0; r < h; ++r) {
        for (int64_t c = 0; c < w; ++c) {
          Rgb color;
          if (ch == 1) {
            color = Rgb{img[r * w + c], img[r * w + c], img[r * w + c]};
          } else {
            color = Rgb{img[r * w + c], img[h * w + r * w + c], img[2 * h * w + r * w + c]};
          }
          const int bx = x0 + kBorder + static_cast<int>(c) * s;
          const int by = y0 + kBorder + static_cast<int>(r) * s;
          FillRect(&image, bx, by, bx + s, by + s, color);
        }
      }
    }
  }

  // Legend last, on top of everything.
  const int legend_h = kPad * 2 + static_cast<int>(num_classes) * kRow - (kRow - 7 * kLegendScale);
  FillRect(&image, legend_x0, plot_y0, legend_x0 + legend_w, plot_y0 + legend_h, kWhite);
  DrawRectOutline(&image, legend_x0, plot_y0, legend_x0 + legend_w, plot_y0 + legend_h, kFrame, 1);
  for (int64_t c = 0; c < num_classes; ++c) {
    const int row_y = plot_y0 + kPad + static_cast<int>(c) * kRow;
    DrawDisc(&image, legend_x0 + kPad + kSwatch, row_y + 7 * kLegendScale / 2, kSwatch,
             ClassColor(c));
    DrawText(&image, legend_x0 + kPad + 2 * kSwatch + 10, row_y, names[c], kText, kLegendScale);
  }
  return image;
}

absl::Status WriteScatterPng(absl::string_view path, const std::vector<float>& xy,
                             const std::vector<int32_t>& labels,
                             const std::vector<std::string>& class_names,
                             const ScatterOptions& options) {
  SIMDNET_ASSIGN_OR_RETURN(Image image, RenderScatter(xy, labels, class_names, options));
  return WritePng(path, image);
}

}  // namespace simdnet
