// The saliency subcommand: load, compute the four maps, draw one row per image, print a table.
#include "interpret/saliency_command.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cmath>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "interpret/image.h"
#include "interpret/saliency.h"
#include "interpret/source.h"
#include "tensor/status_macros.h"
#include "train/plot.h"

namespace simdnet {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Returns the 99th percentile of |v| over v[0, n): the top of the color scale, so that a few
// extreme pixels do not wash out the rest (as the PAIR saliency library visualizes maps).
float Percentile99(const float* v, int64_t n) {
  std::vector<float> a(v, v + n);
  for (float& x : a) x = std::fabs(x);
  const size_t k = static_cast<size_t>(0.99 * static_cast<double>(n - 1));
  std::nth_element(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(k), a.end());
  return a[k];
}

// Returns g (n values) divided by its 99th percentile of |g| and clamped to [-1, 1].
std::vector<float> ClipAtPercentile99(const float* g, int64_t n) {
  const float top = Percentile99(g, n);
  std::vector<float> out(g, g + n);
  if (top > 0.0f) {
    for (float& x : out) x = std::clamp(x / top, -1.0f, 1.0f);
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RunSaliencyCommand(const SaliencyCommandOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out: none given");
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(options.checkpoint));
  SIMDNET_ASSIGN_OR_RETURN(PixelModel pm, loaded.Pixels());
  const Shape& in = pm.InputShape();
  if (in.rank() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.checkpoint, ": saliency needs an image model (C, H, W); input is ",
        in.ToString()));
  }
  SIMDNET_ASSIGN_OR_RETURN(ImageSelection sel,
                           SelectImages(loaded, options.data, nullptr, options.indices,
                                        options.files, /*default_count=*/8));
  std::string layer = options.layer;
  if (layer.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(layer, DefaultGradCamLayer(*loaded.model));
  }
  SmoothGradOptions sg;
  sg.samples = options.smoothgrad_samples;
  sg.sigma = options.smoothgrad_sigma;
  sg.seed = options.seed;

  const int64_t n = sel.pixels.dim(0);
  Tensor logits;
  SIMDNET_RETURN_IF_ERROR(pm.Forward(sel.pixels, &logits));
  SIMDNET_ASSIGN_OR_RETURN(std::vector<int64_t> classes,
                           ResolveClasses(options.classes, logits, "--class"));
  const Tensor probs = SoftmaxRows(logits);
  const std::vector<int64_t> predicted = ArgMaxRows(logits);

  Clock::time_point t0 = Clock::now();
  SIMDNET_ASSIGN_OR_RETURN(Tensor vanilla, VanillaSaliency(pm, sel.pixels, classes));
  const double t_vanilla = SecondsSince(t0);
  t0 = Clock::now();
  SIMDNET_ASSIGN_OR_RETURN(Tensor smooth, SmoothGrad(pm, sel.pixels, classes, sg));
  const double t_smooth = SecondsSince(t0);
  t0 = Clock::now();
  SIMDNET_ASSIGN_OR_RETURN(Tensor guided, GuidedBackprop(pm, sel.pixels, classes));
  const double t_guided = SecondsSince(t0);
  t0 = Clock::now();
  SIMDNET_ASSIGN_OR_RETURN(Tensor cam, GradCam(pm, sel.pixels, classes, layer, "--layer"));
  const double t_cam = SecondsSince(t0);

  // The picture: one row per image.
  const int64_t c = in.dim(0), h = in.dim(1), w = in.dim(2);
  const int64_t plane = h * w;
  const int scale = ScaleFor(std::max(h, w), 112);
  std::vector<Image> tiles;
  TileGridOptions grid;
  grid.cols = 5;
  grid.title = absl::StrCat("Saliency maps, Grad-CAM at ", layer);
  std::string table = absl::StrFormat("%-12s %-14s %-14s %8s %-14s\n", "image", "true",
                                       "explained", "p", "predicted");
  for (int64_t s = 0; s < n; ++s) {
    const int64_t k = classes[static_cast<size_t>(s)];
    const float p = probs[s * pm.num_classes() + k];
    const std::string label = sel.labels[static_cast<size_t>(s)] >= 0
                                  ? loaded.ClassName(sel.labels[static_cast<size_t>(s)])
                                  : std::string("-");
    absl::StrAppend(&table, absl::StrFormat("%-12s %-14s %-14s %8.4f %-14s\n",
                                            sel.names[static_cast<size_t>(s)], label,
                                            loaded.ClassName(k), p,
                                            loaded.ClassName(predicted[static_cast<size_t>(s)])));
    const float* img = sel.pixels.data() + s * c * plane;
    Image base = PixelsToImage(img, c, h, w, scale);
    tiles.push_back(base);
    const float* v = vanilla.data() + s * plane;
    tiles.push_back(HeatMapImage(v, h, w, 0.0f, Percentile99(v, plane), scale));
    const float* m = smooth.data() + s * plane;
    tiles.push_back(HeatMapImage(m, h, w, 0.0f, Percentile99(m, plane), scale));
    const std::vector<float> g = ClipAtPercentile99(guided.data() + s * c * plane, c * plane);
    tiles.push_back(c == 1 ? DivergingImage(g.data(), h, w, scale)
                           : StretchToImage(g.data(), c, h, w, scale));
    tiles.push_back(OverlayHeatMap(base, cam.data() + s * plane, h, w, 0.0f, 1.0f, 0.6f));
    grid.captions.push_back(absl::StrFormat("%s %s %.2f", sel.names[static_cast<size_t>(s)],
                                            loaded.ClassName(k), p));
    grid.captions.push_back("vanilla");
    grid.captions.push_back(
        absl::StrFormat("SmoothGrad %dx %.2g", sg.samples, static_cast<double>(sg.sigma)));
    grid.captions.push_back("guided BP");
    grid.captions.push_back("Grad-CAM");
  }
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(options.out_dir));
  const std::string png = (std::filesystem::path(options.out_dir) / "saliency.png").string();
  SIMDNET_RETURN_IF_ERROR(WritePng(png, ComposeGrid(tiles, grid)));

  std::string out = absl::StrCat("saliency of ", options.checkpoint, " for ", n,
                                 " images (score: the explained class's logit; Grad-CAM at ",
                                 layer, ")\n", table);
  absl::StrAppend(
      &out, absl::StrFormat("time: vanilla %.3f s, SmoothGrad (%d samples) %.3f s, guided %.3f "
                            "s, Grad-CAM %.3f s\n",
                            t_vanilla, sg.samples, t_smooth, t_guided, t_cam));
  if (options.throughput) {
    SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset held_out, LoadHeldOutImages(loaded, options.data));
    t0 = Clock::now();
    SIMDNET_ASSIGN_OR_RETURN(Tensor all, VanillaSaliencyForSource(pm, held_out, 256));
    const double sec = SecondsSince(t0);
    absl::StrAppend(&out, absl::StrFormat("vanilla saliency over %d held-out images (batches of "
                                          "256): %.2f s, %.0f images/s\n",
                                          held_out.size(), sec,
                                          static_cast<double>(held_out.size()) / sec));
  }
  absl::StrAppend(&out, "wrote ", png, "\n");
  return out;
}

}  // namespace simdnet
