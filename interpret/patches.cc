// Receptive fields, top-K activations over a data set, deconvnet / guided projections.
#include "interpret/patches.h"

#include <algorithm>
#include <queue>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/conv2d.h"
#include "layers/pooling.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

std::string ChildPath(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : absl::StrCat(prefix, ".", name);
}

// Applies a window (kernel k, stride s, padding p, dilation d) along one axis.
void ApplyWindow(int64_t k, int64_t s, int64_t p, int64_t d, int64_t* size, int64_t* stride,
                 int64_t* offset) {
  *size += d * (k - 1) * *stride;
  *offset -= p * *stride;
  *stride *= s;
}

class FieldWalker {
 public:
  explicit FieldWalker(const Shape& input) : input_(input) {}

  // Applies the whole of `layer` (at `path`) to *rf.
  absl::Status Apply(Layer& layer, const std::string& path, ReceptiveField* rf) {
    const std::string type = layer.TypeName();
    if (type == "conv2d") {
      const Conv2d& conv = static_cast<Conv2d&>(layer);
      const Conv2dOptions& o = conv.options();
      // The leading pads (top, left) shift the field; they differ from pad_h / pad_w for
      // asymmetric or SAME padding.
      ApplyWindow(o.kernel_h, o.stride_h, conv.resolved_pads().top, o.dilation_h, &rf->size_h,
                  &rf->stride_h, &rf->offset_h);
      ApplyWindow(o.kernel_w, o.stride_w, conv.resolved_pads().left, o.dilation_w, &rf->size_w,
                  &rf->stride_w, &rf->offset_w);
      return absl::OkStatus();
    }
    if (type == "maxpool2d" || type == "avgpool2d") {
      const Pool2dOptions& o = static_cast<Pool2d&>(layer).options();
      // options() holds the resolved leading pads (SAME / asymmetric) and the dilation (1 for
      // average pooling).
      ApplyWindow(o.kernel_h, o.stride_h, o.pad_h, o.dilation_h, &rf->size_h, &rf->stride_h,
                  &rf->offset_h);
      ApplyWindow(o.kernel_w, o.stride_w, o.pad_w, o.dilation_w, &rf->size_w, &rf->stride_w,
                  &rf->offset_w);
      return absl::OkStatus();
    }
    if (type == "residual") {
      // The main branch is the larger field; the shortcut (identity or a strided 1x1
      // projection) only sees a sub-field with the same stride.
      ReceptiveField main = *rf, shortcut = *rf;
      for (const NamedLayer& c : layer.Children()) {
        ReceptiveField* target = c.name == "shortcut" ? &shortcut : &main;
        SIMDNET_RETURN_IF_ERROR(Apply(*c.layer, ChildPath(path, c.name), target));
      }
      *rf = main.size_h * main.size_w >= shortcut.size_h * shortcut.size_w ? main : shortcut;
      return absl::OkStatus();
    }
    if (!layer.Children().empty()) {  // sequential containers
      for (const NamedLayer& c : layer.Children()) {
        SIMDNET_RETURN_IF_ERROR(Apply(*c.layer, ChildPath(path, c.name), rf));
      }
      return absl::OkStatus();
    }
    if (type == "global_avgpool2d" || type == "flatten" || type == "linear") {
      // Every later unit sees the whole image.
      if (input_.rank() == 3) {
        rf->size_h = input_.dim(1);
        rf->size_w = input_.dim(2);
      }
      rf->offset_h = rf->offset_w = 0;
      return absl::OkStatus();
    }
    if (layer.InputShape() == layer.OutputShape()) return absl::OkStatus();  // elementwise
    return absl::InvalidArgumentError(absl::StrCat(
        "--layer: cannot follow the receptive field through ", path, " (", layer.Describe(),
        "): unknown layer type '", type, "' changes the shape ", layer.InputShape().ToString(),
        " -> ", layer.OutputShape().ToString()));
  }

  // Walks the children of `container` (at `prefix`) up to and including `target`; returns
  // whether the target was inside.
  absl::StatusOr<bool> WalkTo(Layer& container, const std::string& prefix,
                              const std::string& target, ReceptiveField* rf) {
    const bool residual = container.TypeName() == "residual";
    for (const NamedLayer& c : container.Children()) {
      const std::string path = ChildPath(prefix, c.name);
      const bool inside = absl::StartsWith(target, path + ".");
      if (path == target) {
        SIMDNET_RETURN_IF_ERROR(Apply(*c.layer, path, rf));
        return true;
      }
      if (inside) return WalkTo(*c.layer, path, target, rf);
      // In a residual block, a layer of the main branch comes after only the main children
      // before it; the shortcut is never on the way to a main-branch layer.
      if (residual && c.name == "shortcut") continue;
      if (residual && absl::StartsWith(target, ChildPath(prefix, "shortcut"))) continue;
      SIMDNET_RETURN_IF_ERROR(Apply(*c.layer, path, rf));
    }
    return false;
  }

 private:
  Shape input_;
};

// Orders activations best first: larger activation, then lower image index.
bool Better(const TopActivation& a, const TopActivation& b) {
  if (a.activation != b.activation) return a.activation > b.activation;
  return a.image < b.image;
}

// Installs a ReLU rule as backward hooks on every "relu" layer and removes them on destruction.
class ReluRuleHooks {
 public:
  ReluRuleHooks(Model& model, ProjectionRule rule) {
    if (rule == ProjectionRule::kGradient) return;
    model.ForEachLayer([&](const std::string&, Layer& layer, int) {
      if (layer.TypeName() != "relu") return;
      relus_.push_back(&layer);
      if (rule == ProjectionRule::kDeconvnet) {
        // The deconvnet passes the positive part of the signal from above, whatever the
        // forward activation was (Zeiler & Fergus 2014, section 2.1 "Rectification").
        layer.set_backward_hook([](const Tensor& dy, Tensor* dx) {
          for (int64_t i = 0; i < dx->size(); ++i) (*dx)[i] = std::max(dy[i], 0.0f);
        });
      } else {
        // Guided backpropagation: the normal ReLU gradient, then only its positive part.
        layer.set_backward_hook([](const Tensor&, Tensor* dx) {
          for (int64_t i = 0; i < dx->size(); ++i) (*dx)[i] = std::max((*dx)[i], 0.0f);
        });
      }
    });
  }
  ~ReluRuleHooks() {
    for (Layer* l : relus_) l->set_backward_hook(nullptr);
  }
  ReluRuleHooks(const ReluRuleHooks&) = delete;
  ReluRuleHooks& operator=(const ReluRuleHooks&) = delete;

 private:
  std::vector<Layer*> relus_;
};

}  // namespace

absl::StatusOr<ReceptiveField> ReceptiveFieldOf(Model& model, absl::string_view name) {
  absl::StatusOr<Layer*> layer = model.FindLayer(name);
  if (!layer.ok()) {
    return absl::NotFoundError(absl::StrCat("--layer=", name, ": ", layer.status().message()));
  }
  FieldWalker walker(model.InputShape());
  ReceptiveField rf;
  SIMDNET_ASSIGN_OR_RETURN(bool found, walker.WalkTo(model.root(), "", std::string(name), &rf));
  SIMDNET_CHECK(found);
  return rf;
}

PatchBox FullPatchBox(const ReceptiveField& rf, int64_t y, int64_t x) {
  PatchBox b;
  b.y0 = rf.offset_h + y * rf.stride_h;
  b.x0 = rf.offset_w + x * rf.stride_w;
  b.y1 = b.y0 + rf.size_h;
  b.x1 = b.x0 + rf.size_w;
  return b;
}

PatchBox PatchBoxAt(const ReceptiveField& rf, int64_t y, int64_t x, int64_t input_h,
                    int64_t input_w) {
  PatchBox b = FullPatchBox(rf, y, x);
  b.y0 = std::clamp<int64_t>(b.y0, 0, input_h);
  b.y1 = std::clamp<int64_t>(b.y1, 0, input_h);
  b.x0 = std::clamp<int64_t>(b.x0, 0, input_w);
  b.x1 = std::clamp<int64_t>(b.x1, 0, input_w);
  return b;
}

absl::StatusOr<std::vector<std::vector<TopActivation>>> FindTopActivations(
    PixelModel& model, const SampleSource& data, const TopActivationOptions& options) {
  absl::StatusOr<Layer*> layer = model.model().FindLayer(options.layer);
  if (!layer.ok()) {
    return absl::NotFoundError(
        absl::StrCat("--layer=", options.layer, ": ", layer.status().message()));
  }
  const Shape out = (*layer)->OutputShape();
  if (out.rank() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--layer=", options.layer, ": output ", out.ToString(),
        " is not a (C, H, W) feature map; pick a conv, batch-norm, ReLU or pooling layer"));
  }
  const int64_t channels = out.dim(0), plane = out.dim(1) * out.dim(2);
  if (options.channels.empty()) {
    return absl::InvalidArgumentError("--layer_channels: no channel given");
  }
  for (int64_t c : options.channels) {
    if (c < 0 || c >= channels) {
      return absl::InvalidArgumentError(absl::StrCat("--layer_channels: channel ", c,
                                                     " is out of range: ", options.layer,
                                                     " has channels [0, ", channels, ")"));
    }
  }
  if (options.k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--k=", options.k, ": must be >= 1"));
  }
  if (options.batch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--batch=", options.batch, ": must be >= 1"));
  }
  if (options.num_images < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples=", options.num_images, ": must be >= 0 (0: all)"));
  }
  const int64_t n = options.num_images == 0 ? data.size()
                                             : std::min(options.num_images, data.size());
  if (n < 1) return absl::InvalidArgumentError("the data set has no images");

  // One min-heap per channel whose top is the worst of the kept K.
  auto worse_on_top = [](const TopActivation& a, const TopActivation& b) { return Better(a, b); };
  using Heap =
      std::priority_queue<TopActivation, std::vector<TopActivation>, decltype(worse_on_top)>;
  std::vector<Heap> heaps(options.channels.size(), Heap(worse_on_top));
  const std::vector<std::string> names = {options.layer};
  Tensor logits;
  std::vector<Tensor> outputs;
  std::vector<int64_t> indices;
  std::vector<int32_t> labels;
  for (int64_t begin = 0; begin < n; begin += options.batch) {
    const int64_t end = std::min(n, begin + options.batch);
    indices.clear();
    for (int64_t i = begin; i < end; ++i) indices.push_back(i);
    SIMDNET_ASSIGN_OR_RETURN(Tensor pixels, GatherPixels(data, indices, &labels));
    SIMDNET_RETURN_IF_ERROR(model.ForwardWithOutputs(pixels, names, &logits, &outputs));
    const Tensor& act = outputs[0];
    for (int64_t s = 0; s < end - begin; ++s) {
      for (size_t j = 0; j < options.channels.size(); ++j) {
        const float* a = act.data() + (s * channels + options.channels[j]) * plane;
        const int64_t best = std::max_element(a, a + plane) - a;
        TopActivation t;
        t.image = begin + s;
        t.label = labels[static_cast<size_t>(s)];
        t.activation = a[best];
        t.y = best / out.dim(2);
        t.x = best % out.dim(2);
        Heap& h = heaps[j];
        if (static_cast<int64_t>(h.size()) < options.k) {
          h.push(t);
        } else if (Better(t, h.top())) {
          h.pop();
          h.push(t);
        }
      }
    }
  }
  std::vector<std::vector<TopActivation>> result(options.channels.size());
  for (size_t j = 0; j < heaps.size(); ++j) {
    while (!heaps[j].empty()) {
      result[j].push_back(heaps[j].top());
      heaps[j].pop();
    }
    std::reverse(result[j].begin(), result[j].end());
  }
  return result;
}

absl::StatusOr<Tensor> ProjectActivations(PixelModel& model, absl::string_view layer,
                                          const Tensor& pixels,
                                          const std::vector<int64_t>& channels,
                                          const std::vector<int64_t>& ys,
                                          const std::vector<int64_t>& xs, ProjectionRule rule) {
  SIMDNET_ASSIGN_OR_RETURN(Layer * target, model.model().FindLayer(layer));
  const Shape out = target->OutputShape();
  SIMDNET_CHECK(out.rank() == 3);
  const int64_t n = pixels.dim(0);
  SIMDNET_CHECK(static_cast<int64_t>(channels.size()) == n &&
                static_cast<int64_t>(ys.size()) == n && static_cast<int64_t>(xs.size()) == n);
  Tensor logits;
  SIMDNET_RETURN_IF_ERROR(model.Forward(pixels, &logits));
  Tensor grad(Shape({n, out.dim(0), out.dim(1), out.dim(2)}));
  grad.SetAll(0.0f);
  for (int64_t s = 0; s < n; ++s) {
    const size_t i = static_cast<size_t>(s);
    SIMDNET_CHECK(channels[i] >= 0 && channels[i] < out.dim(0) && ys[i] >= 0 &&
                  ys[i] < out.dim(1) && xs[i] >= 0 && xs[i] < out.dim(2));
    grad[((s * out.dim(0) + channels[i]) * out.dim(1) + ys[i]) * out.dim(2) + xs[i]] = 1.0f;
  }
  ReluRuleHooks hooks(model.model(), rule);
  Tensor dpixels;
  SIMDNET_RETURN_IF_ERROR(model.InputGradientFrom(layer, grad, &dpixels));
  return dpixels;
}

}  // namespace simdnet
