// HTML report renderer: curves are inline SVG, images base64 PNG data URIs; everything else is
// escaped text in a single file with inline CSS.
#include "train/report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/status_macros.h"
#include "tensor/atomic_file.h"
#include "train/progress.h"

namespace simdnet {
namespace {

constexpr char kCss[] = R"css(
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1100px;color:#222;padding:0 16px}
h1{font-size:1.6em;margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:4px;
margin-top:32px}.sub{color:#777;margin-top:4px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.card{border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:140px}
.card .v{font-size:1.5em;font-weight:600}.card .k{color:#666;font-size:.85em}
.plots img,.plots svg{max-width:100%;height:auto;border:1px solid #eee;margin:4px}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:4px 8px}
th{background:#f6f6f6}table.kv td:first-child{font-weight:600}
table.cm td{text-align:right;min-width:2.5em}table.cm th.rowh{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;text-align:center;font-size:.8em}
figure img{image-rendering:pixelated;border:1px solid #ccc}
.bad{color:#c0392b}.good{color:#1e8449}
pre{background:#f6f8fa;padding:12px;overflow-x:auto;font-size:.85em}
)css";

std::string Percent(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  return absl::StrFormat("%.2f%%", 100.0 * fraction);
}

std::string Number(double v, int digits = 4) {
  if (!std::isfinite(v)) return "n/a";
  return absl::StrFormat("%.*f", digits, v);
}

std::string DataUri(const std::string& png) {
  return absl::StrCat("data:image/png;base64,", absl::Base64Escape(png));
}

absl::StatusOr<std::string> ImgTag(const Image& img, absl::string_view alt,
                                   absl::string_view css_class = "") {
  SIMDNET_ASSIGN_OR_RETURN(std::string png, EncodePng(img));
  return absl::StrCat("<img", css_class.empty() ? "" : absl::StrCat(" class=\"", css_class, "\""),
                      " width=\"", img.width, "\" height=\"", img.height, "\" alt=\"",
                      HtmlEscape(alt), "\" src=\"", DataUri(png), "\">");
}

bool AnyFinite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

std::string ClassName(const ReportData& d, int64_t i) {
  if (i >= 0 && static_cast<size_t>(i) < d.class_names.size()) {
    return d.class_names[static_cast<size_t>(i)];
  }
  return absl::StrCat(i);
}

void AppendCards(const ReportData& d, std::string* out) {
  std::vector<std::pair<std::string, std::string>> cards;
  cards.push_back({"final test accuracy", Percent(d.final_test_accuracy)});
  cards.push_back({"final test loss", Number(d.final_test_loss)});
  if (!d.epochs.empty()) {
    const EpochRecord* best = nullptr;
    for (const EpochRecord& e : d.epochs) {
      if (std::isfinite(e.test_accuracy) &&
          (best == nullptr || e.test_accuracy > best->test_accuracy)) {
        best = &e;
      }
    }
    if (best != nullptr) {
      cards.push_back({absl::StrCat("best test accuracy (epoch ", best->epoch, ")"),
                       Percent(best->test_accuracy)});
    }
    cards.push_back({"epochs", absl::StrCat(d.epochs.size())});
    const double ips = d.epochs.back().images_per_second;
    if (std::isfinite(ips) && ips > 0) {
      cards.push_back({"images/s (last epoch)", absl::StrFormat("%.0f", ips)});
    }
  }
  cards.push_back({"wall time", std::isfinite(d.wall_time_seconds)
                                    ? FormatDuration(d.wall_time_seconds)
                                    : std::string("n/a")});
  absl::StrAppend(out, "<div class=\"cards\">\n");
  for (const auto& [k, v] : cards) {
    absl::StrAppend(out, "<div class=\"card\"><div class=\"v\">", HtmlEscape(v),
                    "</div><div class=\"k\">", HtmlEscape(k), "</div></div>\n");
  }
  absl::StrAppend(out, "</div>\n");
}

absl::Status AppendCurves(const ReportData& d, std::string* out) {
  if (d.epochs.empty() && d.iterations.empty()) return absl::OkStatus();
  absl::StrAppend(out, "<h2>Training curves</h2>\n<div class=\"plots\">\n");
  std::vector<double> x, tl, vl, ta, va, lr;
  for (const EpochRecord& e : d.epochs) {
    x.push_back(static_cast<double>(e.epoch));
    tl.push_back(e.train_loss);
    vl.push_back(e.test_loss);
    ta.push_back(100.0 * e.train_accuracy);
    va.push_back(100.0 * e.test_accuracy);
    lr.push_back(e.learning_rate);
  }
  PlotOptions o;
  o.width = 520;
  o.height = 340;
  o.x_label = "epoch";
  auto add_plot = [&](std::vector<PlotSeries> series, const PlotOptions& opt) -> absl::Status {
    series.erase(std::remove_if(series.begin(), series.end(),
                                [](const PlotSeries& s) { return !AnyFinite(s.y); }),
                 series.end());
    if (series.empty()) return absl::OkStatus();
    // Inline SVG: the viewer draws the text, and the page needs no image decoding.
    SIMDNET_ASSIGN_OR_RETURN(std::string svg, RenderLinePlotSvg(series, opt));
    absl::StrAppend(out, svg);
    return absl::OkStatus();
  };
  if (!d.epochs.empty()) {
    o.title = "Loss";
    o.y_label = "loss";
    SIMDNET_RETURN_IF_ERROR(add_plot({{"train", x, tl}, {"test", x, vl}}, o));
    o.title = "Accuracy";
    o.y_label = "accuracy (%)";
    SIMDNET_RETURN_IF_ERROR(add_plot({{"train", x, ta}, {"test", x, va}}, o));
    double lo = HUGE_VAL, hi = 0;
    for (double v : lr) {
      if (std::isfinite(v) && v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
    }
    o.title = "Learning rate";
    o.y_label = "learning rate";
    o.log_y = hi > 0 && hi / lo > 20;  // Decaying schedules read best on a log axis.
    SIMDNET_RETURN_IF_ERROR(add_plot({{"", x, lr}}, o));
    o.log_y = false;
  }
  if (!d.iterations.empty()) {
    std::vector<double> step, loss;
    for (const IterationRecord& r : d.iterations) {
      step.push_back(static_cast<double>(r.step));
      loss.push_back(r.loss);
    }
    o.title = "Training loss per iteration";
    o.x_label = "step";
    o.y_label = "loss";
    SIMDNET_RETURN_IF_ERROR(add_plot({{"", step, loss}}, o));
  }
  absl::StrAppend(out, "</div>\n");
  return absl::OkStatus();
}

// Beyond this many classes the table would be megabytes of HTML: draw a heatmap image and list
// per-class accuracy instead.
constexpr int64_t kMaxConfusionTableClasses = 60;

// Returns the shade of a confusion cell: green on the diagonal, red elsewhere, with opacity
// growing with the fraction of the row (0 for empty cells).
double CellAlpha(int64_t count, double row_fraction) {
  return count == 0 ? 0.0 : 0.08 + 0.82 * row_fraction;
}

// Renders the matrix as an image, one square block per cell, alpha-blended over white.
Image ConfusionHeatmap(const ConfusionMatrix& cm) {
  const int64_t n = cm.num_classes();
  const int cell = static_cast<int>(std::max<int64_t>(1, 800 / n));
  const int size = static_cast<int>(n) * cell;
  Image img = Image::Filled(size, size, Rgb{255, 255, 255});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t support = cm.support(i);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t c = cm.count(i, j);
      const double a =
          CellAlpha(c, support == 0 ? 0.0 : static_cast<double>(c) / static_cast<double>(support));
      const Rgb base = i == j ? Rgb{44, 160, 44} : Rgb{214, 39, 40};
      auto mix = [a](uint8_t v) {
        return static_cast<uint8_t>(std::lround(255.0 * (1.0 - a) + static_cast<double>(v) * a));
      };
      const Rgb px{mix(base.r), mix(base.g), mix(base.b)};
      for (int y = 0; y < cell; ++y) {
        for (int x = 0; x < cell; ++x) {
          img.Set(static_cast<int>(j) * cell + x, static_cast<int>(i) * cell + y, px);
        }
      }
    }
  }
  return img;
}

absl::Status AppendConfusion(const ReportData& d, std::string* out) {
  if (!d.confusion.has_value()) return absl::OkStatus();
  const ConfusionMatrix& cm = *d.confusion;
  const int64_t n = cm.num_classes();
  const std::vector<double> acc = cm.PerClassAccuracy();
  absl::StrAppend(out,
                  "<h2>Confusion matrix (test set)</h2>\n<p>Rows: true class; columns: "
                  "predicted class. Cell shade = fraction of the row. Overall accuracy ",
                  Percent(cm.accuracy()), " on ", cm.total(), " images.</p>\n");
  if (n > kMaxConfusionTableClasses) {
    SIMDNET_ASSIGN_OR_RETURN(std::string tag, ImgTag(ConfusionHeatmap(cm), "confusion matrix"));
    absl::StrAppend(out, "<figure>", tag, "</figure>\n<table class=\"kv\">\n",
                    "<tr><th>class</th><th>accuracy</th><th>images</th></tr>\n");
    for (int64_t i = 0; i < n; ++i) {
      absl::StrAppend(out, "<tr><td>", HtmlEscape(ClassName(d, i)), "</td><td>",
                      Percent(acc[static_cast<size_t>(i)]), "</td><td>", cm.support(i),
                      "</td></tr>\n");
    }
    absl::StrAppend(out, "</table>\n");
    return absl::OkStatus();
  }
  absl::StrAppend(out, "<table class=\"cm\">\n<tr><th>true \\ predicted</th>");
  for (int64_t j = 0; j < n; ++j) {
    absl::StrAppend(out, "<th>", HtmlEscape(ClassName(d, j)), "</th>");
  }
  absl::StrAppend(out, "<th>accuracy</th></tr>\n");
  for (int64_t i = 0; i < n; ++i) {
    const int64_t support = cm.support(i);
    absl::StrAppend(out, "<tr><th class=\"rowh\">", HtmlEscape(ClassName(d, i)), "</th>");
    for (int64_t j = 0; j < n; ++j) {
      const int64_t c = cm.count(i, j);
      const double frac =
          support == 0 ? 0.0 : static_cast<double>(c) / static_cast<double>(support);
      const char* rgb = i == j ? "44,160,44" : "214,39,40";
      absl::StrAppendFormat(out,
                            "<td style=\"background:rgba(%s,%.3f)\" title=\"true %s, predicted "
                            "%s: %d (%s)\">%d</td>",
                            rgb, CellAlpha(c, frac), HtmlEscape(ClassName(d, i)),
                            HtmlEscape(ClassName(d, j)), c, Percent(frac), c);
    }
    absl::StrAppend(out, "<td>", Percent(acc[static_cast<size_t>(i)]), "</td></tr>\n");
  }
  absl::StrAppend(out, "</table>\n");
  return absl::OkStatus();
}

absl::Status AppendExamples(const ReportData& d, std::string* out) {
  if (d.misclassified.empty()) return absl::OkStatus();
  const size_t shown = std::min<size_t>(d.misclassified.size(),
                                        static_cast<size_t>(std::max<int64_t>(0, d.max_examples)));
  absl::StrAppend(out, "<h2>Misclassified test images</h2>\n<p>Showing ", shown, " of ",
                  d.misclassified.size(), ".</p>\n<div class=\"grid\">\n");
  for (size_t k = 0; k < shown; ++k) {
    const ReportExample& e = d.misclassified[k];
    const int64_t h = e.image.rank() >= 2 ? e.image.dim(-2) : 1;
    const int scale = static_cast<int>(std::clamp<int64_t>(64 / std::max<int64_t>(1, h), 1, 8));
    auto img = TensorToImage(e.image, scale);
    if (!img.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("RenderHtmlReport: misclassified[", k, "]: ", img.status().message()));
    }
    const std::string caption =
        absl::StrCat("predicted ", ClassName(d, e.predicted_label),
                     std::isfinite(e.confidence) ? absl::StrFormat(" (%.0f%%)", 100 * e.confidence)
                                                 : std::string(),
                     " / true ", ClassName(d, e.true_label));
    SIMDNET_ASSIGN_OR_RETURN(std::string tag, ImgTag(*img, caption));
    absl::StrAppend(out, "<figure>", tag, "<figcaption><span class=\"bad\">",
                    HtmlEscape(ClassName(d, e.predicted_label)), "</span>",
                    std::isfinite(e.confidence) ? absl::StrFormat(" %.0f%%", 100 * e.confidence)
                                                : std::string(),
                    "<br><span class=\"good\">", HtmlEscape(ClassName(d, e.true_label)),
                    "</span></figcaption></figure>\n");
  }
  absl::StrAppend(out, "</div>\n");
  return absl::OkStatus();
}

absl::Status AppendFilters(const ReportData& d, std::string* out) {
  const Tensor& f = d.first_layer_filters;
  if (f.rank() == 1 && f.size() == 0) return absl::OkStatus();  // Default-constructed: none.
  const int64_t k = f.rank() == 4 ? std::max(f.dim(2), f.dim(3)) : 1;
  const int scale = static_cast<int>(std::clamp<int64_t>(40 / std::max<int64_t>(1, k), 1, 16));
  auto grid = FilterGrid(f, scale, 2);
  if (!grid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("RenderHtmlReport: first_layer_filters: ", grid.status().message()));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string tag, ImgTag(*grid, "first-layer filters"));
  absl::StrAppend(out, "<h2>First-layer filters</h2>\n<p>", f.dim(0), " filters of shape ",
                  HtmlEscape(Shape({f.dim(1), f.dim(2), f.dim(3)}).ToString()),
                  ", each tile min-max normalized.</p>\n<figure>", tag, "</figure>\n");
  return absl::OkStatus();
}

void AppendKeyValues(absl::string_view heading,
                     const std::vector<std::pair<std::string, std::string>>& kv, std::string* out) {
  if (kv.empty()) return;
  absl::StrAppend(out, "<h2>", HtmlEscape(heading), "</h2>\n<table class=\"kv\">\n");
  for (const auto& [k, v] : kv) {
    absl::StrAppend(out, "<tr><td>", HtmlEscape(k), "</td><td>", HtmlEscape(v), "</td></tr>\n");
  }
  absl::StrAppend(out, "</table>\n");
}

absl::Status Validate(const ReportData& d) {
  int64_t classes = -1;
  if (d.confusion.has_value()) {
    classes = d.confusion->num_classes();
    if (!d.class_names.empty() && static_cast<int64_t>(d.class_names.size()) != classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("RenderHtmlReport: class_names has ", d.class_names.size(),
                       " entries but the confusion matrix has ", classes, " classes"));
    }
  } else if (!d.class_names.empty()) {
    classes = static_cast<int64_t>(d.class_names.size());
  }
  for (size_t k = 0; k < d.misclassified.size(); ++k) {
    const ReportExample& e = d.misclassified[k];
    for (const auto& [what, v] :
         {std::pair<const char*, int64_t>{"true_label", e.true_label},
          std::pair<const char*, int64_t>{"predicted_label", e.predicted_label}}) {
      if (v < 0 || (classes >= 0 && v >= classes)) {
        return absl::InvalidArgumentError(
            absl::StrCat("RenderHtmlReport: misclassified[", k, "].", what, " = ", v,
                         " is outside [0, ", classes >= 0 ? absl::StrCat(classes) : "inf", ")"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Image> TensorToImage(const Tensor& image, int scale) {
  if (scale < 1 || scale > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("TensorToImage: scale ", scale, " is outside [1, 64]"));
  }
  int64_t c = 1, h = 0, w = 0;
  if (image.rank() == 2) {
    h = image.dim(0);
    w = image.dim(1);
  } else if (image.rank() == 3 && (image.dim(0) == 1 || image.dim(0) == 3)) {
    c = image.dim(0);
    h = image.dim(1);
    w = image.dim(2);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("TensorToImage: image shape ",
                                                   image.shape().ToString(),
                                                   " is not (H, W), (1, H, W) or (3, H, W)"));
  }
  if (h == 0 || w == 0 || h * scale > 8192 || w * scale > 8192) {
    return absl::InvalidArgumentError(absl::StrCat("TensorToImage: image shape ",
                                                   image.shape().ToString(), " at scale ", scale,
                                                   " is empty or too large"));
  }
  float lo = HUGE_VALF, hi = -HUGE_VALF;
  for (int64_t i = 0; i < image.size(); ++i) {
    if (std::isfinite(image[i])) lo = std::min(lo, image[i]), hi = std::max(hi, image[i]);
  }
  auto to_byte = [&](float v) -> uint8_t {
    if (!std::isfinite(v)) return 0;
    if (!(hi > lo)) return 128;
    return static_cast<uint8_t>(std::lround(255.0 * (v - lo) / (hi - lo)));
  };
  Image out = Image::Filled(static_cast<int>(w * scale), static_cast<int>(h * scale), Rgb{});
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      Rgb px;
      if (c == 1) {
        px.r = px.g = px.b = to_byte(image[y * w + x]);
      } else {
        px.r = to_byte(image[(0 * h + y) * w + x]);
        px.g = to_byte(image[(1 * h + y) * w + x]);
        px.b = to_byte(image[(2 * h + y) * w + x]);
      }
      for (int sy = 0; sy < scale; ++sy) {
        for (int sx = 0; sx < scale; ++sx) {
          out.Set(static_cast<int>(x * scale + sx), static_cast<int>(y * scale + sy), px);
        }
      }
    }
  }
  return out;
}

absl::StatusOr<Image> FilterGrid(const Tensor& filters, int scale, int pad) {
  if (filters.rank() != 4 || filters.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("FilterGrid: filters ",
                                                   filters.shape().ToString(),
                                                   " must be rank 4 (O, I, kh, kw), non-empty"));
  }
  if (scale < 1 || scale > 64 || pad < 0 || pad > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("FilterGrid: scale ", scale, " / pad ", pad, " outside [1, 64] / [0, 16]"));
  }
  const int64_t o = filters.dim(0), in = filters.dim(1), kh = filters.dim(2), kw = filters.dim(3);
  const bool rgb = in == 3;
  constexpr int64_t kMaxTiles = 256;
  // Tiles as (filter, channel) pairs; channel -1 = RGB tile of the whole filter.
  std::vector<std::pair<int64_t, int64_t>> tiles;
  int64_t cols;
  if (rgb || in == 1) {
    for (int64_t f = 0; f < o && static_cast<int64_t>(tiles.size()) < kMaxTiles; ++f) {
      tiles.push_back({f, rgb ? -1 : 0});
    }
    cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(tiles.size()))));
  } else {
    cols = std::min(in, kMaxTiles);
    for (int64_t f = 0; f < o; ++f) {
      if (static_cast<int64_t>(tiles.size()) + cols > kMaxTiles) break;
      for (int64_t c = 0; c < cols; ++c) tiles.push_back({f, c});
    }
  }
  const int64_t rows = (static_cast<int64_t>(tiles.size()) + cols - 1) / cols;
  const int64_t tw = kw * scale, th = kh * scale;
  const int64_t width = pad + cols * (tw + pad), height = pad + rows * (th + pad);
  if (width > 8192 || height > 8192) {
    return absl::InvalidArgumentError(
        absl::StrCat("FilterGrid: grid of ", width, "x", height, " pixels is too large"));
  }
  Image out =
      Image::Filled(static_cast<int>(width), static_cast<int>(height), Rgb{128, 128, 128});
  const int64_t plane = kh * kw;
  for (size_t t = 0; t < tiles.size(); ++t) {
    const auto [f, ch] = tiles[t];
    const float* base = filters.data() + (f * in + std::max<int64_t>(ch, 0)) * plane;
    const int64_t count = ch < 0 ? 3 * plane : plane;
    float lo = HUGE_VALF, hi = -HUGE_VALF;
    for (int64_t i = 0; i < count; ++i) {
      if (std::isfinite(base[i])) lo = std::min(lo, base[i]), hi = std::max(hi, base[i]);
    }
    auto to_byte = [&](float v) -> uint8_t {
      if (!std::isfinite(v)) return 0;
      if (!(hi > lo)) return 128;
      return static_cast<uint8_t>(std::lround(255.0 * (v - lo) / (hi - lo)));
    };
    const int64_t x0 = pad + (static_cast<int64_t>(t) % cols) * (tw + pad);
    const int64_t y0 = pad + (static_cast<int64_t>(t) / cols) * (th + pad);
    for (int64_t y = 0; y < kh; ++y) {
      for (int64_t x = 0; x < kw; ++x) {
        Rgb px;
        if (ch < 0) {
          px = Rgb{to_byte(base[y * kw + x]), to_byte(base[plane + y * kw + x]),
                   to_byte(base[2 * plane + y * kw + x])};
        } else {
          px.r = px.g = px.b = to_byte(base[y * kw + x]);
        }
        for (int sy = 0; sy < scale; ++sy) {
          for (int sx = 0; sx < scale; ++sx) {
            out.Set(static_cast<int>(x0 + x * scale + sx), static_cast<int>(y0 + y * scale + sy),
                    px);
          }
        }
      }
    }
  }
  return out;
}

absl::StatusOr<std::string> RenderHtmlReport(const ReportData& d) {
  SIMDNET_RETURN_IF_ERROR(Validate(d));
  std::string out;
  absl::StrAppend(&out,
                  "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<title>",
                  HtmlEscape(d.title), "</title>\n<style>", kCss, "</style>\n</head>\n<body>\n");
  absl::StrAppend(&out, "<h1>", HtmlEscape(d.title), "</h1>\n");
  if (!d.generated_at.empty()) {
    absl::StrAppend(&out, "<p class=\"sub\">Generated ", HtmlEscape(d.generated_at), "</p>\n");
  }
  AppendCards(d, &out);
  SIMDNET_RETURN_IF_ERROR(AppendCurves(d, &out));
  SIMDNET_RETURN_IF_ERROR(AppendConfusion(d, &out));
  SIMDNET_RETURN_IF_ERROR(AppendExamples(d, &out));
  SIMDNET_RETURN_IF_ERROR(AppendFilters(d, &out));
  if (!d.model_summary.empty()) {
    absl::StrAppend(&out, "<h2>Model</h2>\n<pre>", HtmlEscape(d.model_summary), "</pre>\n");
  }
  AppendKeyValues("Hyper-parameters", d.hyperparameters, &out);
  AppendKeyValues("Run", d.run_info, &out);
  absl::StrAppend(&out, "</body>\n</html>\n");
  return out;
}

absl::Status WriteHtmlReport(absl::string_view path, const ReportData& data) {
  SIMDNET_ASSIGN_OR_RETURN(std::string html, RenderHtmlReport(data));
  return WriteFileAtomically(path, html);
}

}  // namespace simdnet
