// Pictures, CSV files and text tables of activation statistics (see the header).
#include "interpret/activation_stats_render.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "layers/activation.h"
#include "tensor/atomic_file.h"
#include "train/plot.h"

namespace simdnet {
namespace {

constexpr int kScale = 2;               // text scale everywhere (5x7 font -> 10x14 pixels)
constexpr int kLine = 9 * kScale;       // text line height
constexpr int kCharW = 6 * kScale;      // text advance per character
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kText{30, 30, 30};
constexpr Rgb kMuted{100, 100, 100};
constexpr Rgb kPanel{244, 244, 244};
constexpr Rgb kFrame{170, 170, 170};
constexpr Rgb kZeroLine{210, 40, 40};
constexpr Rgb kBar{60, 110, 180};
constexpr Rgb kClippedBar{20, 40, 90};
constexpr int kMaxWidth = 4096;
constexpr int kMaxHeight = 16384;

// Returns v with 3 significant digits ("0.627", "2.95e-07", "-1").
std::string Num(double v) { return absl::StrFormat("%.3g", v); }
std::string Percent(double f) { return absl::StrFormat("%.1f%%", 100.0 * f); }

void FillRect(Image* img, int x, int y, int w, int h, Rgb c) {
  for (int j = y; j < y + h; ++j) {
    for (int i = x; i < x + w; ++i) img->Set(i, j, c);
  }
}

void DrawFrame(Image* img, int x, int y, int w, int h, Rgb c) {
  for (int i = x; i < x + w; ++i) {
    img->Set(i, y, c);
    img->Set(i, y + h - 1, c);
  }
  for (int j = y; j < y + h; ++j) {
    img->Set(x, j, c);
    img->Set(x + w - 1, j, c);
  }
}

// Returns text cut to at most max_chars characters, ending in ".." when cut.
std::string Fit(absl::string_view text, int max_chars) {
  if (static_cast<int>(text.size()) <= max_chars) return std::string(text);
  if (max_chars <= 2) return std::string(text.substr(0, static_cast<size_t>(max_chars)));
  return absl::StrCat(text.substr(0, static_cast<size_t>(max_chars - 2)), "..");
}

// Draws s's histogram inside the box (x, y, w, h): bars scaled to the tallest bin, except that
// a bin more than 4x taller than every other is clipped at 1.25x the runner-up, drawn darker
// and labelled with its percentage (ReLU's spike of exact zeros would otherwise flatten the
// rest). A thin red line marks 0 when it lies inside the range.
void DrawHistogram(Image* img, int x, int y, int w, int h, const LayerActivationStats& s) {
  FillRect(img, x, y, w, h, kPanel);
  const int bins = static_cast<int>(s.histogram.size());
  int64_t total = 0, top = 0, second = 0;
  int top_bin = 0;
  for (int b = 0; b < bins; ++b) {
    const int64_t c = s.histogram[static_cast<size_t>(b)];
    total += c;
    if (c > top) {
      second = top;
      top = c;
      top_bin = b;
    } else if (c > second) {
      second = c;
    }
  }
  const bool clip = second > 0 && top > 4 * second;
  const double scale = clip ? 1.25 * static_cast<double>(second) : static_cast<double>(top);
  // Bars fill the inside of the 1-pixel frame, so that edge bins (tanh's spikes at +-1) show.
  const int inner_x = x + 1, inner_w = w - 2, inner_h = h - 2;
  if (bins > 0 && scale > 0.0) {
    for (int b = 0; b < bins; ++b) {
      const int64_t c = s.histogram[static_cast<size_t>(b)];
      if (c == 0) continue;
      const int x0 = inner_x + static_cast<int>(static_cast<int64_t>(b) * inner_w / bins);
      const int x1 = std::max(
          x0 + 1, inner_x + static_cast<int>(static_cast<int64_t>(b + 1) * inner_w / bins));
      const double frac = std::min(1.0, static_cast<double>(c) / scale);
      const int bh = std::max(1, static_cast<int>(std::lround(frac * inner_h)));
      const bool clipped = clip && b == top_bin;
      FillRect(img, x0, y + h - 1 - bh, x1 - x0, bh, clipped ? kClippedBar : kBar);
    }
    if (clip && total > 0) {
      const std::string label = Percent(static_cast<double>(top) / static_cast<double>(total));
      // Beside the clipped bar: right of it if the label fits there, else left of it.
      const int bx0 = inner_x + static_cast<int>(static_cast<int64_t>(top_bin) * inner_w / bins);
      const int bx1 = inner_x + static_cast<int>(static_cast<int64_t>(top_bin + 1) * inner_w / bins);
      const int tw = TextWidth(label, kScale);
      const int lx = bx1 + 4 + tw <= x + w - 2 ? bx1 + 4 : std::max(x + 2, bx0 - 4 - tw);
      DrawText(img, lx, y + 4, label, kClippedBar, kScale);
    }
  }
  // The zero line goes on top, dashed, so that it neither hides nor is hidden by the bars.
  if (s.hist_lo < 0.0 && s.hist_hi > 0.0) {
    const int zx =
        inner_x + static_cast<int>(std::lround(-s.hist_lo / (s.hist_hi - s.hist_lo) * inner_w));
    for (int j = y + 1; j < y + h - 1; j += 4) {
      img->Set(zx, j, kZeroLine);
      img->Set(zx, j + 1, kZeroLine);
    }
  }
  DrawFrame(img, x, y, w, h, kFrame);
}

// Draws the histogram range under a box of width w at (x, y): lo at the left, hi at the right.
void DrawRange(Image* img, int x, int y, int w, const LayerActivationStats& s) {
  const std::string lo = Num(s.hist_lo), hi = Num(s.hist_hi);
  DrawText(img, x, y, lo, kMuted, kScale);
  DrawText(img, x + w - TextWidth(hi, kScale), y, hi, kMuted, kScale);
}

absl::Status CheckSize(int64_t w, int64_t h, absl::string_view what) {
  if (w > kMaxWidth || h > kMaxHeight) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the image would be ", w, " x ", h,
                                                   " pixels, more than ", kMaxWidth, " x ",
                                                   kMaxHeight, "; pick fewer layers"));
  }
  return absl::OkStatus();
}

absl::Status CheckExperiment(const InitExperimentResult& r, absl::string_view what) {
  if (r.settings.empty() || r.settings.front().layers.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the experiment result is empty"));
  }
  return absl::OkStatus();
}

bool Saturating(ActivationKind k) {
  return k == ActivationKind::kTanh || k == ActivationKind::kSigmoid;
}

std::string CsvField(absl::string_view s) {
  if (s.find_first_of(",\"\n\r") == absl::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string G9(double v) { return absl::StrFormat("%.9g", v); }

}  // namespace

absl::StatusOr<Image> RenderActivationHistogramRows(
    const std::vector<LayerActivationStats>& stats, absl::string_view title) {
  if (stats.empty()) {
    return absl::InvalidArgumentError("RenderActivationHistogramRows: no layers");
  }
  // Columns: labels (26 chars), histogram, numbers (24 chars).
  constexpr int kMargin = 20, kLabelChars = 26, kHistW = 520, kHistH = 84, kStatChars = 24;
  const int label_w = kLabelChars * kCharW;
  const int hist_x = kMargin + label_w + kMargin;
  const int stat_x = hist_x + kHistW + kMargin;
  const int width = stat_x + kStatChars * kCharW + kMargin;
  const int row_h = kHistH + kLine + 22;
  const int header_h = kMargin + 2 * kLine + 10;
  const int64_t height64 = header_h + static_cast<int64_t>(stats.size()) * row_h + kMargin;
  absl::Status size_ok = CheckSize(width, height64, "RenderActivationHistogramRows");
  if (!size_ok.ok()) return size_ok;
  const int height = static_cast<int>(height64);
  Image img = Image::Filled(width, height, kWhite);
  DrawText(&img, kMargin, kMargin, Fit(title, (width - 2 * kMargin) / kCharW), kText, kScale);
  DrawText(&img, kMargin, kMargin + kLine + 4,
           Fit("histogram of each layer's outputs; red dashes = 0; dark bar = clipped bin (its %)",
               (width - 2 * kMargin) / kCharW),
           kMuted, kScale);
  int y = header_h;
  for (const LayerActivationStats& s : stats) {
    DrawText(&img, kMargin, y + 4, Fit(s.name, kLabelChars), kText, kScale);
    DrawText(&img, kMargin, y + 4 + kLine + 4, Fit(s.description, kLabelChars), kMuted, kScale);
    DrawText(&img, kMargin, y + 4 + 2 * (kLine + 4), Fit(absl::StrCat("out ", s.shape.ToString()), kLabelChars),
             kMuted, kScale);
    DrawHistogram(&img, hist_x, y, kHistW, kHistH, s);
    DrawRange(&img, hist_x, y + kHistH + 4, kHistW, s);
    const std::vector<std::string> lines = {
        absl::StrCat("mean ", Num(s.mean)),
        absl::StrCat("std  ", Num(s.std)),
        absl::StrCat("zero ", Percent(s.fraction_zero)),
        absl::StrCat("min ", Num(s.min), " max ", Num(s.max)),
    };
    for (size_t i = 0; i < lines.size(); ++i) {
      DrawText(&img, stat_x, y + 4 + static_cast<int>(i) * (kLine + 4), Fit(lines[i], kStatChars),
               kText, kScale);
    }
    y += row_h;
  }
  return img;
}

absl::StatusOr<Image> RenderInitExperimentHistograms(const InitExperimentResult& result) {
  absl::Status ok = CheckExperiment(result, "RenderInitExperimentHistograms");
  if (!ok.ok()) return ok;
  constexpr int kMargin = 20, kPanelW = 160, kPanelH = 90, kGap = 20;
  const int layers = static_cast<int>(result.settings.front().layers.size());
  const int width = 2 * kMargin + layers * kPanelW + (layers - 1) * kGap;
  // Title line, panel, range line, four text lines, spacing.
  const int strip_h = (kLine + 8) + kPanelH + (kLine + 6) + 4 * (kLine + 3) + 26;
  const int header_h = kMargin + 2 * (kLine + 4) + 10;
  const int height = header_h + static_cast<int>(result.settings.size()) * strip_h + kMargin;
  absl::Status size_ok = CheckSize(width, height, "RenderInitExperimentHistograms");
  if (!size_ok.ok()) return size_ok;
  Image img = Image::Filled(width, height, kWhite);
  const InitExperimentOptions& o = result.options;
  DrawText(&img, kMargin, kMargin,
           absl::StrCat("Activations after each nonlinearity: ", o.layers, " layers x ", o.width,
                        " units, ", o.samples, " inputs N(0, 1), no bias (CS231n)"),
           kText, kScale);
  DrawText(&img, kMargin, kMargin + kLine + 4,
           absl::StrCat("one histogram range per setting; red dashes = 0; dark bar = clipped bin (its %); "
                        "sat = |a| > ", Num(o.saturation_threshold), ", zero = exactly 0"), kMuted,
           kScale);
  int y = header_h;
  for (const InitSettingResult& r : result.settings) {
    const LayerActivationStats& first = r.layers.front();
    DrawText(&img, kMargin, y,
             absl::StrCat(r.setting.name, "    (histograms over [", Num(first.hist_lo), ", ",
                          Num(first.hist_hi), "])"),
             kText, kScale);
    const int py = y + kLine + 8;
    for (int k = 0; k < layers && k < static_cast<int>(r.layers.size()); ++k) {
      const LayerActivationStats& s = r.layers[static_cast<size_t>(k)];
      const int px = kMargin + k * (kPanelW + kGap);
      DrawHistogram(&img, px, py, kPanelW, kPanelH, s);
      DrawRange(&img, px, py + kPanelH + 4, kPanelW, s);
      const double frac = Saturating(r.setting.activation)
                              ? r.fraction_saturated[static_cast<size_t>(k)]
                              : s.fraction_zero;
      const std::vector<std::string> lines = {
          absl::StrCat("layer ", k + 1),
          absl::StrCat("mean ", absl::StrFormat("%.2g", s.mean)),
          absl::StrCat("std ", Num(s.std)),
          absl::StrCat(Saturating(r.setting.activation) ? "sat " : "zero ", Percent(frac)),
      };
      int ty = py + kPanelH + kLine + 10;
      for (const std::string& line : lines) {
        DrawText(&img, px, ty, Fit(line, kPanelW / kCharW), kText, kScale);
        ty += kLine + 3;
      }
    }
    y += strip_h;
  }
  return img;
}

absl::StatusOr<std::string> RenderInitExperimentCurve(const InitExperimentResult& result,
                                                   bool plot_std) {
  absl::Status ok = CheckExperiment(result, "RenderInitExperimentCurve");
  if (!ok.ok()) return ok;
  std::vector<PlotSeries> series;
  for (const InitSettingResult& r : result.settings) {
    PlotSeries s;
    s.name = r.setting.name;
    for (size_t k = 0; k < r.layers.size(); ++k) {
      s.x.push_back(static_cast<double>(k + 1));
      s.y.push_back(plot_std ? r.layers[k].std : r.layers[k].mean);
    }
    series.push_back(std::move(s));
  }
  PlotOptions po;
  po.width = 960;
  po.height = 600;
  po.title = plot_std ? "std of the activations per layer (log scale)"
                      : "mean of the activations per layer";
  po.x_label = "layer";
  po.y_label = plot_std ? "std" : "mean";
  po.log_y = plot_std;
  return RenderLinePlotSvg(series, po);
}

std::string FormatActivationStatsCsv(const std::vector<LayerActivationStats>& stats) {
  std::string out = "layer,mean,std,fraction_zero,min,max\n";
  for (const LayerActivationStats& s : stats) {
    absl::StrAppend(&out, CsvField(s.name), ",", G9(s.mean), ",", G9(s.std), ",",
                    G9(s.fraction_zero), ",", G9(s.min), ",", G9(s.max), "\n");
  }
  return out;
}

std::string FormatInitExperimentCsv(const InitExperimentResult& result) {
  std::string out = "setting,layer,mean,std,fraction_zero,min,max,fraction_saturated\n";
  for (const InitSettingResult& r : result.settings) {
    for (size_t k = 0; k < r.layers.size(); ++k) {
      const LayerActivationStats& s = r.layers[k];
      absl::StrAppend(&out, CsvField(r.setting.name), ",", k + 1, ",", G9(s.mean), ",",
                      G9(s.std), ",", G9(s.fraction_zero), ",", G9(s.min), ",", G9(s.max), ",",
                      G9(r.fraction_saturated[k]), "\n");
    }
  }
  return out;
}

absl::Status WriteCsvFile(absl::string_view path, absl::string_view csv) {
  return WriteFileAtomically(path, csv);
}

std::string FormatActivationStatsTable(const std::vector<LayerActivationStats>& stats) {
  size_t name_w = 5, desc_w = 11, shape_w = 5;
  for (const LayerActivationStats& s : stats) {
    name_w = std::max(name_w, s.name.size());
    desc_w = std::max(desc_w, s.description.size());
    shape_w = std::max(shape_w, s.shape.ToString().size());
  }
  const int nw = static_cast<int>(name_w), dw = static_cast<int>(desc_w),
            sw = static_cast<int>(shape_w);
  std::string out = absl::StrFormat("%-*s  %-*s  %-*s  %11s %11s %7s %11s %11s\n", nw, "layer",
                                    dw, "description", sw, "shape", "mean", "std", "zero%",
                                    "min", "max");
  for (const LayerActivationStats& s : stats) {
    absl::StrAppend(&out, absl::StrFormat("%-*s  %-*s  %-*s  %11.4g %11.4g %6.1f%% %11.4g %11.4g\n",
                                          nw, s.name, dw, s.description, sw, s.shape.ToString(),
                                          s.mean, s.std, 100.0 * s.fraction_zero, s.min, s.max));
  }
  return out;
}

std::string FormatInitExperimentTable(const InitExperimentResult& result) {
  const InitExperimentOptions& o = result.options;
  std::string out = absl::StrCat(
      "std of the activations after each nonlinearity (", o.layers, " layers x ", o.width,
      " units, ", o.samples, " inputs N(0, 1), seed ", o.seed, ")\n");
  std::vector<int> widths;
  absl::StrAppend(&out, "layer");
  for (const InitSettingResult& r : result.settings) {
    widths.push_back(std::max(12, static_cast<int>(r.setting.name.size())));
    absl::StrAppend(&out, absl::StrFormat("  %*s", widths.back(), r.setting.name));
  }
  absl::StrAppend(&out, "\n");
  const size_t layers = result.settings.empty() ? 0 : result.settings.front().layers.size();
  for (size_t k = 0; k < layers; ++k) {
    absl::StrAppend(&out, absl::StrFormat("%5d", k + 1));
    for (size_t i = 0; i < result.settings.size(); ++i) {
      absl::StrAppend(&out,
                      absl::StrFormat("  %*.4g", widths[i], result.settings[i].layers[k].std));
    }
    absl::StrAppend(&out, "\n");
  }
  for (const InitSettingResult& r : result.settings) {
    if (r.layers.empty()) continue;
    double max_sat = 0.0, max_zero = 0.0;
    for (size_t k = 0; k < r.layers.size(); ++k) {
      max_sat = std::max(max_sat, r.fraction_saturated[k]);
      max_zero = std::max(max_zero, r.layers[k].fraction_zero);
    }
    const double s1 = r.layers.front().std, sl = r.layers.back().std;
    // Saturation means |a| near 1 only for tanh / sigmoid; ReLU's failure mode is exact zeros.
    const std::string extreme =
        Saturating(r.setting.activation)
            ? absl::StrFormat("saturated (|a| > %g) up to %.1f%%", o.saturation_threshold,
                              100.0 * max_sat)
            : absl::StrFormat("exact zeros up to %.1f%%", 100.0 * max_zero);
    absl::StrAppend(
        &out, absl::StrFormat("%-*s std layer 1 %.3g -> layer %d %.3g (x%.3g); %s\n",
                              widths.empty() ? 12 : *std::max_element(widths.begin(), widths.end()),
                              absl::StrCat(r.setting.name, ":"), s1, r.layers.size(), sl,
                              s1 > 0 ? sl / s1 : 0.0, extreme));
  }
  return out;
}

}  // namespace simdnet
