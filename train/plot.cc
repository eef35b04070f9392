// SVG line charts (layout, nice ticks, legend).
#include "train/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {


const Rgb kGrid{225, 225, 225};
const Rgb kAxisText{60, 60, 60};


// Returns a pixel coordinate for a double, clamped far outside any image (no UB on casts).
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

// Whether a point is drawn: finite, and positive on a log axis.
bool Usable(const PlotOptions& options, double x, double y) {
  return std::isfinite(x) && std::isfinite(y) && (!options.log_y || y > 0);
}

// Maps y to axis units (log10 on a log axis).
double YMap(const PlotOptions& options, double y) { return options.log_y ? std::log10(y) : y; }

// The axes of a chart, shared by the raster and the SVG renderers.
struct ChartAxes {
  Axis x, y;
};

// Validates the options and series (errors name `who`) and computes both axes from the usable
// points.
absl::StatusOr<ChartAxes> PrepareChart(absl::string_view who, absl::Span<const PlotSeries> series,
                                       const PlotOptions& options) {
  if (options.width < 160 || options.width > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": width ", options.width, " is outside [160, 4096]"));
  }
  if (options.height < 120 || options.height > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": height ", options.height, " is outside [120, 4096]"));
  }
  for (const PlotSeries& s : series) {
    if (s.x.size() != s.y.size()) {
      return absl::InvalidArgumentError(absl::StrCat(who, ": series '", s.name, "' has ",
                                                     s.x.size(), " x values but ", s.y.size(),
                                                     " y values"));
    }
  }
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin;
  bool integer_x = true;  // Epochs and steps: ticks at whole numbers only.
  double ymin = xmin, ymax = -xmin;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!Usable(options, s.x[i], s.y[i])) continue;
      integer_x &= std::floor(s.x[i]) == s.x[i];
      xmin = std::min(xmin, s.x[i]);
      xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, YMap(options, s.y[i]));
      ymax = std::max(ymax, YMap(options, s.y[i]));
    }
  }
  if (!(xmin <= xmax)) {
    xmin = 0;
    xmax = 1;
    ymin = 0;
    ymax = options.log_y ? 0 : 1;
  }
  ChartAxes axes;
  axes.x = MakeLinearAxis(xmin, xmax, std::max(2, options.width / 90), integer_x);
  axes.y = options.log_y ? MakeLogAxis(ymin, ymax)
                         : MakeLinearAxis(ymin, ymax, std::max(2, options.height / 60),
                                          /*integer_steps=*/false);
  return axes;
}

}  // namespace

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

namespace {

std::string SvgColor(Rgb c) { return absl::StrFormat("#%02x%02x%02x", c.r, c.g, c.b); }

// Approximate advance of a 12 px sans-serif character, for layout only (the viewer draws text).
constexpr double kSvgCharWidth = 7.0;

}  // namespace

absl::StatusOr<std::string> RenderLinePlotSvg(absl::Span<const PlotSeries> series,
                                              const PlotOptions& options) {
  SIMDNET_ASSIGN_OR_RETURN(const ChartAxes axes,
                           PrepareChart("RenderLinePlotSvg", series, options));
  const Axis& xa = axes.x;
  const Axis& ya = axes.y;
  double label_w = 0;
  for (const std::string& l : ya.labels) label_w = std::max(label_w, l.size() * kSvgCharWidth);
  const double left = 10 + (options.y_label.empty() ? 0 : 18) + label_w + 8;
  const double top = options.title.empty() ? 12 : 34;
  const double bottom = 26 + (options.x_label.empty() ? 0 : 18);
  const double right = 16;
  const double x0 = left, y0 = top, x1 = options.width - right, y1 = options.height - bottom;
  if (x1 - x0 < 40 || y1 - y0 < 40) {
    return absl::InvalidArgumentError(absl::StrCat("RenderLinePlotSvg: ", options.width, "x",
                                                   options.height, " leaves no room for the plot"));
  }
  auto px = [&](double x) { return x0 + (x - xa.lo) / (xa.hi - xa.lo) * (x1 - x0); };
  auto py = [&](double y) { return y1 - (y - ya.lo) / (ya.hi - ya.lo) * (y1 - y0); };
  auto num = [](double v) { return absl::StrFormat("%.1f", v); };

  std::string out = absl::StrFormat(
      "<svg width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n",
      options.width, options.height, options.width, options.height);
  if (!options.title.empty()) {
    absl::StrAppend(&out, "<title>", HtmlEscape(options.title), "</title>\n");
  }
  absl::StrAppend(&out, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
  // Grid, ticks and tick labels.
  for (size_t i = 0; i < xa.ticks.size(); ++i) {
    const std::string x = num(px(xa.ticks[i]));
    absl::StrAppend(&out, "<line x1=\"", x, "\" y1=\"", num(y0), "\" x2=\"", x, "\" y2=\"",
                    num(y1 + 4), "\" stroke=\"", SvgColor(kGrid), "\"/>\n");
    absl::StrAppend(&out, "<text x=\"", x, "\" y=\"", num(y1 + 17),
                    "\" text-anchor=\"middle\" fill=\"", SvgColor(kAxisText), "\">",
                    HtmlEscape(xa.labels[i]), "</text>\n");
  }
  for (size_t i = 0; i < ya.ticks.size(); ++i) {
    const std::string y = num(py(ya.ticks[i]));
    absl::StrAppend(&out, "<line x1=\"", num(x0 - 4), "\" y1=\"", y, "\" x2=\"", num(x1),
                    "\" y2=\"", y, "\" stroke=\"", SvgColor(kGrid), "\"/>\n");
    absl::StrAppend(&out, "<text x=\"", num(x0 - 8), "\" y=\"", y,
                    "\" text-anchor=\"end\" dominant-baseline=\"middle\" fill=\"",
                    SvgColor(kAxisText), "\">", HtmlEscape(ya.labels[i]), "</text>\n");
  }
  // Axes, title and axis labels.
  absl::StrAppend(&out, "<polyline points=\"", num(x0), ",", num(y0), " ", num(x0), ",", num(y1),
                  " ", num(x1), ",", num(y1), "\" fill=\"none\" stroke=\"#000000\"/>\n");
  if (!options.title.empty()) {
    absl::StrAppend(&out, "<text x=\"", num(options.width / 2.0),
                    "\" y=\"20\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">",
                    HtmlEscape(options.title), "</text>\n");
  }
  if (!options.x_label.empty()) {
    absl::StrAppend(&out, "<text x=\"", num((x0 + x1) / 2), "\" y=\"", num(options.height - 8.0),
                    "\" text-anchor=\"middle\">", HtmlEscape(options.x_label), "</text>\n");
  }
  if (!options.y_label.empty()) {
    const std::string cy = num((y0 + y1) / 2);
    absl::StrAppend(&out, "<text x=\"16\" y=\"", cy, "\" text-anchor=\"middle\" ",
                    "transform=\"rotate(-90 16 ", cy, ")\">", HtmlEscape(options.y_label),
                    "</text>\n");
  }
  // Curves: one polyline per run of usable points; an isolated point is a small square.
  for (size_t si = 0; si < series.size(); ++si) {
    const PlotSeries& s = series[si];
    const std::string color = SvgColor(SeriesColor(si));
    std::vector<std::pair<double, double>> run;  // pixel coordinates
    auto flush = [&]() {
      if (run.size() == 1) {
        absl::StrAppend(&out, "<rect x=\"", num(run[0].first - 2), "\" y=\"",
                        num(run[0].second - 2), "\" width=\"4\" height=\"4\" fill=\"", color,
                        "\"/>\n");
      } else if (run.size() > 1) {
        std::string points;
        for (const auto& [x, y] : run) {
          absl::StrAppend(&points, points.empty() ? "" : " ", num(x), ",", num(y));
        }
        absl::StrAppend(&out, "<polyline points=\"", points, "\" fill=\"none\" stroke=\"", color,
                        "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n");
      }
      run.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!Usable(options, s.x[i], s.y[i])) {
        flush();
        continue;
      }
      run.emplace_back(px(s.x[i]), py(YMap(options, s.y[i])));
    }
    flush();
  }
  // Legend, top right inside the plot area.
  size_t entries = 0, longest = 0;
  for (const PlotSeries& s : series) {
    if (s.name.empty()) continue;
    ++entries;
    longest = std::max(longest, s.name.size());
  }
  if (entries > 0) {
    const double box_w = longest * kSvgCharWidth + 34, row_h = 16;
    const double bx = x1 - 6 - box_w, by = y0 + 6;
    absl::StrAppend(&out, "<rect x=\"", num(bx), "\" y=\"", num(by), "\" width=\"", num(box_w),
                    "\" height=\"", num(entries * row_h + 6),
                    "\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"", SvgColor(kAxisText),
                    "\"/>\n");
    size_t row = 0;
    for (size_t si = 0; si < series.size(); ++si) {
      if (series[si].name.empty()) continue;
      const double y = by + 3 + row * row_h + row_h / 2;
      absl::StrAppend(&out, "<line x1=\"", num(bx + 6), "\" y1=\"", num(y), "\" x2=\"",
                      num(bx + 24), "\" y2=\"", num(y), "\" stroke=\"", SvgColor(SeriesColor(si)),
                      "\" stroke-width=\"3\"/>\n");
      absl::StrAppend(&out, "<text x=\"", num(bx + 30), "\" y=\"", num(y),
                      "\" dominant-baseline=\"middle\">", HtmlEscape(series[si].name), "</text>\n");
      ++row;
    }
  }
  absl::StrAppend(&out, "</svg>\n");
  return out;
}

absl::Status WriteSvgFile(absl::string_view path, std::string svg) {
  if (svg.rfind("<svg ", 0) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteSvgFile: '", path, "': the text does not start with '<svg '"));
  }
  // A standalone SVG file needs the namespace that HTML5 implies for inline <svg>.
  svg.insert(4, " xmlns=\"http://www.w3.org/2000/svg\"");
  return WriteFileAtomically(path, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg);
}

absl::Status WriteLinePlotSvg(absl::string_view path, absl::Span<const PlotSeries> series,
                              const PlotOptions& options) {
  SIMDNET_ASSIGN_OR_RETURN(std::string svg, RenderLinePlotSvg(series, options));
  return WriteSvgFile(path, std::move(svg));
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace simdnet
