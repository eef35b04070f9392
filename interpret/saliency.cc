// Vanilla gradients, SmoothGrad, guided backpropagation and Grad-CAM on a PixelModel.
#include "interpret/saliency.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "layers/layer.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// Installs backward hooks and removes them when it goes out of scope, so that a model never
// keeps an interpretation hook after the call that needed it (errors included).
class ScopedBackwardHooks {
 public:
  ScopedBackwardHooks() = default;
  ScopedBackwardHooks(const ScopedBackwardHooks&) = delete;
  ScopedBackwardHooks& operator=(const ScopedBackwardHooks&) = delete;
  ~ScopedBackwardHooks() {
    for (Layer* layer : layers_) layer->set_backward_hook(nullptr);
  }
  void Install(Layer* layer, Layer::BackwardHook hook) {
    layer->set_backward_hook(std::move(hook));
    layers_.push_back(layer);
  }

 private:
  std::vector<Layer*> layers_;
};

absl::Status CheckImageBatch(PixelModel& model, const Tensor& pixels) {
  SIMDNET_RETURN_IF_ERROR(model.model().CheckInput(pixels));
  if (pixels.rank() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "saliency needs image batches (N, C, H, W); the model takes ", pixels.shape().ToString()));
  }
  return absl::OkStatus();
}

absl::Status CheckClasses(absl::Span<const int64_t> classes, int64_t n, int64_t k) {
  if (static_cast<int64_t>(classes.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(classes.size(), " classes given for ", n, " images"));
  }
  for (size_t i = 0; i < classes.size(); ++i) {
    if (classes[i] < 0 || classes[i] >= k) {
      return absl::InvalidArgumentError(absl::StrCat("class ", classes[i], " of image ", i,
                                                     " must be in [0, ", k, ")"));
    }
  }
  return absl::OkStatus();
}

Tensor OneHot(absl::Span<const int64_t> classes, int64_t k) {
  Tensor t(Shape({static_cast<int64_t>(classes.size()), k}));
  t.SetAll(0.0f);
  for (size_t i = 0; i < classes.size(); ++i) t[static_cast<int64_t>(i) * k + classes[i]] = 1.0f;
  return t;
}

// Bilinear resize of one (h, w) map to (oh, ow), half-pixel centers (PyTorch
// align_corners=False): src = (dst + 0.5) * in / out - 0.5, clamped below at 0.
void ResizeBilinear(const float* in, int64_t h, int64_t w, float* out, int64_t oh, int64_t ow) {
  auto coord = [](int64_t dst, int64_t in_size, int64_t out_size, int64_t* i0, int64_t* i1,
                  float* frac) {
    float src = (static_cast<float>(dst) + 0.5f) * static_cast<float>(in_size) /
                    static_cast<float>(out_size) -
                0.5f;
    src = std::max(src, 0.0f);
    *i0 = std::min(static_cast<int64_t>(src), in_size - 1);
    *i1 = std::min(*i0 + 1, in_size - 1);
    *frac = src - static_cast<float>(*i0);
  };
  for (int64_t y = 0; y < oh; ++y) {
    int64_t y0, y1;
    float fy;
    coord(y, h, oh, &y0, &y1, &fy);
    for (int64_t x = 0; x < ow; ++x) {
      int64_t x0, x1;
      float fx;
      coord(x, w, ow, &x0, &x1, &fx);
      const float top = in[y0 * w + x0] * (1.0f - fx) + in[y0 * w + x1] * fx;
      const float bottom = in[y1 * w + x0] * (1.0f - fx) + in[y1 * w + x1] * fx;
      out[y * ow + x] = top * (1.0f - fy) + bottom * fy;
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<int64_t>> ResolveClasses(absl::Span<const int64_t> requested,
                                                    const Tensor& logits, absl::string_view flag) {
  SIMDNET_CHECK(logits.rank() == 2);
  const int64_t n = logits.dim(0), k = logits.dim(1);
  for (const int64_t c : requested) {
    if (c < 0 || c >= k) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, "=", c, ": must be in [0, ", k, ")"));
    }
  }
  if (requested.empty()) return ArgMaxRows(logits);
  if (requested.size() == 1) return std::vector<int64_t>(static_cast<size_t>(n), requested[0]);
  if (static_cast<int64_t>(requested.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", requested.size(),
                                                   " classes for ", n,
                                                   " images (give none, one, or one per image)"));
  }
  return std::vector<int64_t>(requested.begin(), requested.end());
}

absl::Status ClassScoreGradient(PixelModel& model, const Tensor& pixels,
                                absl::Span<const int64_t> classes, Tensor* gradient,
                                Tensor* logits) {
  Tensor local_logits;
  Tensor* z = logits != nullptr ? logits : &local_logits;
  SIMDNET_RETURN_IF_ERROR(model.Forward(pixels, z));
  SIMDNET_RETURN_IF_ERROR(CheckClasses(classes, pixels.dim(0), model.num_classes()));
  return model.InputGradient(OneHot(classes, model.num_classes()), gradient);
}

Tensor MaxAbsOverChannels(const Tensor& gradient) {
  SIMDNET_CHECK(gradient.rank() == 4);
  const int64_t n = gradient.dim(0), c = gradient.dim(1);
  const int64_t plane = gradient.dim(2) * gradient.dim(3);
  Tensor out(Shape({n, gradient.dim(2), gradient.dim(3)}));
  for (int64_t s = 0; s < n; ++s) {
    float* o = out.data() + s * plane;
    const float* g = gradient.data() + s * c * plane;
    for (int64_t k = 0; k < plane; ++k) o[k] = std::fabs(g[k]);
    for (int64_t ch = 1; ch < c; ++ch) {
      for (int64_t k = 0; k < plane; ++k) o[k] = std::max(o[k], std::fabs(g[ch * plane + k]));
    }
  }
  return out;
}

absl::StatusOr<Tensor> VanillaSaliency(PixelModel& model, const Tensor& pixels,
                                       absl::Span<const int64_t> classes) {
  SIMDNET_RETURN_IF_ERROR(CheckImageBatch(model, pixels));
  Tensor gradient;
  SIMDNET_RETURN_IF_ERROR(ClassScoreGradient(model, pixels, classes, &gradient));
  return MaxAbsOverChannels(gradient);
}

absl::StatusOr<Tensor> SmoothGrad(PixelModel& model, const Tensor& pixels,
                                  absl::Span<const int64_t> classes,
                                  const SmoothGradOptions& options) {
  if (options.samples < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--smoothgrad_samples=", options.samples, ": must be >= 1"));
  }
  if (!(options.sigma >= 0.0f) || !std::isfinite(options.sigma)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--smoothgrad_sigma=", options.sigma, ": must be a finite value >= 0"));
  }
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch_size=", options.batch_size, ": must be >= 1"));
  }
  SIMDNET_RETURN_IF_ERROR(CheckImageBatch(model, pixels));
  const int64_t n = pixels.dim(0);
  SIMDNET_RETURN_IF_ERROR(CheckClasses(classes, n, model.num_classes()));
  const int64_t per = pixels.size() / n;
  // Noise scale per image: sigma * (max - min) of that image (Smilkov et al., section 3).
  std::vector<float> scale(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* p = pixels.data() + i * per;
    const auto [lo, hi] = std::minmax_element(p, p + per);
    scale[static_cast<size_t>(i)] = options.sigma * (*hi - *lo);
  }
  // Sums in double: with sigma = 0 the mean of identical gradients is then exactly the gradient.
  std::vector<double> sum(static_cast<size_t>(pixels.size()), 0.0);
  const int64_t rows = n * options.samples;
  const Rng base(options.seed);
  std::vector<int64_t> row_classes;
  Tensor batch, gradient;
  for (int64_t begin = 0; begin < rows; begin += options.batch_size) {
    const int64_t b = std::min(options.batch_size, rows - begin);
    std::vector<int64_t> dims(pixels.shape().dims().begin(), pixels.shape().dims().end());
    dims[0] = b;
    batch.EnsureShape(Shape(absl::MakeConstSpan(dims)));
    row_classes.resize(static_cast<size_t>(b));
    for (int64_t r = 0; r < b; ++r) {
      const int64_t row = begin + r;
      const int64_t image = row / options.samples;
      float* dst = batch.data() + r * per;
      std::copy(pixels.data() + image * per, pixels.data() + (image + 1) * per, dst);
      const float s = scale[static_cast<size_t>(image)];
      if (s > 0.0f) {
        std::vector<float> noise(static_cast<size_t>(per));
        Rng rng = base.Split(static_cast<uint64_t>(row));
        rng.FillNormal(noise.data(), noise.size(), 0.0f, s);
        for (int64_t k = 0; k < per; ++k) dst[k] += noise[static_cast<size_t>(k)];
      }
      row_classes[static_cast<size_t>(r)] = classes[static_cast<size_t>(image)];
    }
    SIMDNET_RETURN_IF_ERROR(ClassScoreGradient(model, batch, row_classes, &gradient));
    for (int64_t r = 0; r < b; ++r) {
      const int64_t image = (begin + r) / options.samples;
      double* acc = sum.data() + image * per;
      const float* g = gradient.data() + r * per;
      for (int64_t k = 0; k < per; ++k) acc[k] += g[k];
    }
  }
  Tensor mean(pixels.shape());
  const double inv = 1.0 / static_cast<double>(options.samples);
  for (int64_t k = 0; k < pixels.size(); ++k) {
    mean[k] = static_cast<float>(sum[static_cast<size_t>(k)] * inv);
  }
  return MaxAbsOverChannels(mean);
}

absl::StatusOr<Tensor> GuidedBackprop(PixelModel& model, const Tensor& pixels,
                                      absl::Span<const int64_t> classes) {
  SIMDNET_RETURN_IF_ERROR(CheckImageBatch(model, pixels));
  ScopedBackwardHooks hooks;
  model.model().ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (layer.TypeName() != "relu") return;
    hooks.Install(&layer, [](const Tensor&, Tensor* dx) {
      float* d = dx->data();
      for (int64_t k = 0; k < dx->size(); ++k) d[k] = std::max(d[k], 0.0f);
    });
  });
  Tensor gradient;
  SIMDNET_RETURN_IF_ERROR(ClassScoreGradient(model, pixels, classes, &gradient));
  return gradient;
}

absl::StatusOr<std::string> DefaultGradCamLayer(Model& model) {
  std::string best_leaf, best_any;
  model.ForEachLayer([&](const std::string& path, Layer& layer, int) {
    const Shape& s = layer.OutputShape();
    if (s.rank() != 3 || s.dim(1) <= 1 || s.dim(2) <= 1) return;
    best_any = path;
    const std::string type = layer.TypeName();
    if (layer.Children().empty() && type.find("pool") == std::string::npos) best_leaf = path;
  });
  if (!best_leaf.empty()) return best_leaf;
  if (!best_any.empty()) return best_any;
  return absl::NotFoundError(
      "no layer has a spatial output (C, H, W) with H, W > 1 for Grad-CAM");
}

absl::StatusOr<Tensor> GradCam(PixelModel& model, const Tensor& pixels,
                               absl::Span<const int64_t> classes, const std::string& layer,
                               absl::string_view flag) {
  absl::StatusOr<Layer*> found = model.model().FindLayer(layer);
  if (!found.ok()) {
    return absl::Status(found.status().code(),
                        absl::StrCat(flag, "=", layer, ": ", found.status().message()));
  }
  const Shape out_shape = (*found)->OutputShape();
  if (out_shape.rank() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, "=", layer, ": Grad-CAM needs a layer with a (C, H, W) output; this "
                     "one gives ", out_shape.ToString()));
  }
  SIMDNET_RETURN_IF_ERROR(CheckImageBatch(model, pixels));
  const int64_t n = pixels.dim(0);
  SIMDNET_RETURN_IF_ERROR(CheckClasses(classes, n, model.num_classes()));
  Tensor logits, dpixels, dactivation;
  std::vector<Tensor> outputs;
  SIMDNET_RETURN_IF_ERROR(model.ForwardWithOutputs(pixels, {layer}, &logits, &outputs));
  {
    ScopedBackwardHooks hooks;
    hooks.Install(*found, [&dactivation](const Tensor& dy, Tensor*) { dactivation = dy.Clone(); });
    SIMDNET_RETURN_IF_ERROR(
        model.InputGradient(OneHot(classes, model.num_classes()), &dpixels));
  }
  SIMDNET_CHECK(dactivation.size() == outputs[0].size());
  const int64_t c = out_shape.dim(0), h = out_shape.dim(1), w = out_shape.dim(2);
  const int64_t plane = h * w;
  const int64_t oh = pixels.dim(2), ow = pixels.dim(3);
  Tensor cams(Shape({n, oh, ow}));
  std::vector<float> cam(static_cast<size_t>(plane));
  for (int64_t s = 0; s < n; ++s) {
    std::fill(cam.begin(), cam.end(), 0.0f);
    const float* a = outputs[0].data() + s * c * plane;
    const float* g = dactivation.data() + s * c * plane;
    for (int64_t ch = 0; ch < c; ++ch) {
      double mean = 0.0;
      for (int64_t k = 0; k < plane; ++k) mean += g[ch * plane + k];
      const float weight = static_cast<float>(mean / static_cast<double>(plane));
      for (int64_t k = 0; k < plane; ++k) cam[static_cast<size_t>(k)] += weight * a[ch * plane + k];
    }
    for (float& v : cam) v = std::max(v, 0.0f);
    float* out = cams.data() + s * oh * ow;
    ResizeBilinear(cam.data(), h, w, out, oh, ow);
    const float peak = *std::max_element(out, out + oh * ow);
    for (int64_t k = 0; k < oh * ow; ++k) out[k] = peak > 0.0f ? out[k] / peak : 0.0f;
  }
  return cams;
}

absl::StatusOr<Tensor> VanillaSaliencyForSource(PixelModel& model, const SampleSource& data,
                                                int64_t batch_size) {
  if (batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch_size=", batch_size, ": must be >= 1"));
  }
  const Shape s = data.sample_shape();
  if (s != model.InputShape() || s.rank() != 3) {
    return absl::InvalidArgumentError(absl::StrCat("the data has samples of shape ", s.ToString(),
                                                   " but the model takes images of shape ",
                                                   model.InputShape().ToString()));
  }
  const int64_t total = data.size();
  const int64_t plane = s.dim(1) * s.dim(2);
  Tensor maps(Shape({std::max<int64_t>(total, 1), s.dim(1), s.dim(2)}));
  Tensor logits, gradient;
  std::vector<int64_t> indices;
  for (int64_t begin = 0; begin < total; begin += batch_size) {
    const int64_t b = std::min(batch_size, total - begin);
    indices.resize(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) indices[static_cast<size_t>(i)] = begin + i;
    SIMDNET_ASSIGN_OR_RETURN(Tensor pixels, GatherPixels(data, indices));
    SIMDNET_RETURN_IF_ERROR(model.Forward(pixels, &logits));
    SIMDNET_RETURN_IF_ERROR(
        model.InputGradient(OneHot(ArgMaxRows(logits), model.num_classes()), &gradient));
    const Tensor m = MaxAbsOverChannels(gradient);
    std::copy(m.data(), m.data() + m.size(), maps.data() + begin * plane);
  }
  return maps;
}

}  // namespace simdnet
