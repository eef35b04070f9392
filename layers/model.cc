// Model: input validation, forward/backward helpers, freezing, head replacement and the
// summary table.
#include "layers/model.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "layers/linear.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

// Returns "12,345".
std::string WithThousands(int64_t v) {
  std::string digits = absl::StrCat(v < 0 ? -v : v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// Returns "1.23 MB" / "4.5 KB" / "12 B" (decimal units, as torchinfo).
std::string FormatBytes(double bytes) {
  if (bytes >= 1e6) return absl::StrFormat("%.2f MB", bytes / 1e6);
  if (bytes >= 1e3) return absl::StrFormat("%.1f KB", bytes / 1e3);
  return absl::StrFormat("%.0f B", bytes);
}

bool MatchesPrefix(const std::string& name, absl::string_view prefix) {
  if (prefix.empty() || name == prefix) return true;
  if (absl::EndsWith(prefix, ".")) return absl::StartsWith(name, prefix);
  return absl::StartsWith(name, prefix) && name.size() > prefix.size() &&
         name[prefix.size()] == '.';
}

struct SummaryRow {
  std::string name, description, shape, params, mult_adds;
};

// Returns the multiply-adds per sample of `layer` and everything below it.
int64_t SubtreeMultAdds(Layer& layer) {
  int64_t total = layer.ForwardMultAdds();
  for (NamedLayer& child : layer.Children()) total += SubtreeMultAdds(*child.layer);
  return total;
}

// Calls fn for every layer below `container` (paths prefixed by `prefix`), containers first.
void WalkChildren(Layer& container, const std::string& prefix, int depth,
                  const std::function<void(const std::string&, Layer&, int)>& fn) {
  for (NamedLayer& child : container.Children()) {
    const std::string path = prefix.empty() ? child.name : prefix + "." + child.name;
    fn(path, *child.layer, depth);
    WalkChildren(*child.layer, path, depth + 1, fn);
  }
}

}  // namespace

absl::StatusOr<std::string> Model::ToSpec() const {
  SIMDNET_ASSIGN_OR_RETURN(const std::string body, root_->ToSpec());
  std::string dims;
  for (int64_t d : InputShape().dims()) absl::StrAppend(&dims, dims.empty() ? "" : "x", d);
  return absl::StrCat("input ", dims, "\n", body, "\n");
}

absl::StatusOr<std::unique_ptr<Model>> Model::Create(std::unique_ptr<Sequential> root,
                                                     int64_t num_classes) {
  if (root == nullptr) return absl::InvalidArgumentError("Model: the root network is null");
  if (num_classes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Model: num_classes must be >= 1, got ", num_classes));
  }
  if (root->OutputShape() != Shape({num_classes})) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Model: the network's output shape ", root->OutputShape().ToString(),
        " does not match the class count: expected (", num_classes, ")"));
  }
  return std::unique_ptr<Model>(new Model(std::move(root), num_classes));
}

absl::Status Model::CheckInput(const Tensor& x) const {
  const Shape& in = InputShape();
  bool ok = x.rank() == in.rank() + 1 && x.dim(0) >= 1;
  for (int i = 0; ok && i < in.rank(); ++i) ok = x.dim(i + 1) == in.dim(i);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("Model: input batch has shape ",
                                                 x.shape().ToString(), "; expected (N, ",
                                                 in.ToString().substr(1), " with N >= 1"));
}

absl::Status Model::Forward(const Tensor& x, Tensor* logits) {
  SIMDNET_RETURN_IF_ERROR(CheckInput(x));
  root_->Forward(x, logits);
  last_batch_ = x.dim(0);
  return absl::OkStatus();
}

absl::Status Model::Predict(const Tensor& x, Tensor* logits) {
  SIMDNET_RETURN_IF_ERROR(CheckInput(x));
  InferenceScope scope(&inference_tensors_);
  root_->Forward(x, logits);
  last_batch_ = 0;  // nothing was kept for a backward pass
  return absl::OkStatus();
}

void Model::ForEachLayer(
    const std::function<void(const std::string& path, Layer& layer, int depth)>& fn) {
  WalkChildren(*root_, "", 0, fn);
}

std::vector<std::string> Model::LayerNames() {
  std::vector<std::string> names;
  ForEachLayer([&](const std::string& path, Layer&, int) { names.push_back(path); });
  return names;
}

absl::Status Model::NotFoundLayer(absl::string_view name, absl::string_view why) {
  return absl::NotFoundError(absl::StrCat("Model: no layer named '", name, "'", why,
                                          " (layers: ", absl::StrJoin(LayerNames(), ", "),
                                          ")"));
}

absl::StatusOr<std::vector<Model::PathStep>> Model::ResolvePath(absl::string_view name) {
  if (name.empty()) return NotFoundLayer(name, "");
  std::vector<PathStep> steps;
  Layer* container = root_.get();
  for (absl::string_view part : absl::StrSplit(name, '.')) {
    std::vector<NamedLayer> children = container->Children();
    auto it = std::find_if(children.begin(), children.end(),
                           [&](const NamedLayer& c) { return c.name == part; });
    if (it == children.end()) return NotFoundLayer(name, "");
    steps.push_back({container, static_cast<size_t>(it - children.begin()), it->layer});
    container = it->layer;
  }
  return steps;
}

absl::StatusOr<Layer*> Model::FindLayer(absl::string_view name) {
  SIMDNET_ASSIGN_OR_RETURN(std::vector<PathStep> steps, ResolvePath(name));
  return steps.back().child;
}

absl::Status Model::ForwardWithOutputs(const Tensor& x, absl::Span<const std::string> names,
                                       Tensor* logits, std::vector<Tensor>* outputs) {
  std::vector<Layer*> layers;
  for (const std::string& name : names) {
    SIMDNET_ASSIGN_OR_RETURN(Layer * layer, FindLayer(name));
    layers.push_back(layer);
  }
  SIMDNET_RETURN_IF_ERROR(CheckInput(x));
  outputs->resize(names.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    Tensor* out = &(*outputs)[i];
    // A layer named twice gets one hook that fills every slot naming it.
    std::vector<Tensor*> slots;
    for (size_t j = 0; j < layers.size(); ++j) {
      if (layers[j] == layers[i]) slots.push_back(&(*outputs)[j]);
    }
    if (slots.front() != out) continue;
    layers[i]->set_forward_hook([slots](const Tensor& y) {
      for (Tensor* slot : slots) {
        slot->EnsureShape(y.shape());
        Copy(y.data(), slot->data(), static_cast<size_t>(y.size()), &DefaultThreadPool());
      }
    });
  }
  root_->Forward(x, logits);
  last_batch_ = x.dim(0);
  for (Layer* layer : layers) layer->set_forward_hook(nullptr);
  return absl::OkStatus();
}

absl::Status Model::InputGradient(const Tensor& dlogits, Tensor* dx) {
  if (last_batch_ == 0) {
    return absl::FailedPreconditionError(
        "Model::InputGradient: no Forward has run yet (Predict keeps nothing to differentiate)");
  }
  if (dlogits.shape() != Shape({last_batch_, num_classes_})) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Model::InputGradient: the logit gradient has shape ", dlogits.shape().ToString(),
        "; the last Forward produced (", last_batch_, ", ", num_classes_, ")"));
  }
  const bool previous = root_->param_gradients();
  root_->SetParamGradients(false);
  root_->Backward(dlogits, dx);
  root_->SetParamGradients(previous);
  return absl::OkStatus();
}

absl::Status Model::InputGradientFrom(absl::string_view name, const Tensor& grad, Tensor* dx) {
  SIMDNET_ASSIGN_OR_RETURN(std::vector<PathStep> steps, ResolvePath(name));
  if (last_batch_ == 0) {
    return absl::FailedPreconditionError("Model::InputGradientFrom: no Forward has run yet");
  }
  Layer& target = *steps.back().child;
  const Shape& out = target.OutputShape();
  bool ok = grad.rank() == out.rank() + 1 && grad.dim(0) == last_batch_;
  for (int i = 0; ok && i < out.rank(); ++i) ok = grad.dim(i + 1) == out.dim(i);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Model::InputGradientFrom: the gradient at '", name, "' has shape ",
        grad.shape().ToString(), "; the layer's output is (", last_batch_, ", ",
        out.ToString().substr(1)));
  }
  const bool previous = root_->param_gradients();
  root_->SetParamGradients(false);
  // Ping-pong between two buffers, writing the last step straight into dx.
  Tensor* bufs[2] = {&grad_a_, &grad_b_};
  int next = 0;
  Tensor* cur = bufs[next];
  target.RunBackward(grad, cur);
  for (size_t i = steps.size(); i-- > 0;) {
    Tensor* dst = i == 0 ? dx : bufs[next ^= 1];
    steps[i].container->BackwardBelowChild(steps[i].index, *cur, dst);
    cur = dst;
  }
  root_->SetParamGradients(previous);
  return absl::OkStatus();
}

void Model::Backward(const Tensor& dlogits, Tensor* dx) {
  SIMDNET_CHECK(dlogits.rank() == 2 && dlogits.dim(1) == num_classes_);
  if (dx != nullptr) {
    root_->Backward(dlogits, dx);
  } else {
    root_->BackwardParamsOnly(dlogits, &unused_dx_);
  }
}

absl::StatusOr<float> Model::ForwardBackward(const Tensor& x, const LossFunction& loss,
                                             Tensor* logits, Tensor* dx) {
  Tensor* z = logits != nullptr ? logits : &logits_;
  SIMDNET_RETURN_IF_ERROR(Forward(x, z));
  dlogits_.EnsureShape(z->shape());
  SIMDNET_ASSIGN_OR_RETURN(const float value, loss(*z, &dlogits_));
  if (dlogits_.shape() != z->shape()) {
    return absl::InternalError(absl::StrCat("Model::ForwardBackward: the loss wrote a gradient of ",
                                            "shape ", dlogits_.shape().ToString(),
                                            " for logits of shape ", z->shape().ToString()));
  }
  Backward(dlogits_, dx);
  return value;
}

int64_t Model::ParameterCount() { return root_->NumParams(); }

int64_t Model::ForwardMultAdds() { return SubtreeMultAdds(*root_); }

int64_t Model::TrainableParameterCount() {
  int64_t n = 0;
  for (const NamedParameter& p : Params()) {
    if (!p.param->frozen) n += p.param->value.size();
  }
  return n;
}

absl::StatusOr<int64_t> Model::SetFrozen(absl::string_view prefix, bool frozen) {
  int64_t matched = 0;
  for (NamedParameter& p : Params()) {
    if (!MatchesPrefix(p.name, prefix)) continue;
    p.param->frozen = frozen;
    ++matched;
  }
  if (matched == 0) {
    return absl::NotFoundError(absl::StrCat("Model::", frozen ? "Freeze" : "Unfreeze",
                                            ": no parameter name matches the prefix '", prefix,
                                            "'"));
  }
  return matched;
}

absl::StatusOr<int64_t> Model::Freeze(absl::string_view prefix) {
  return SetFrozen(prefix, true);
}

absl::StatusOr<int64_t> Model::Unfreeze(absl::string_view prefix) {
  return SetFrozen(prefix, false);
}

std::string Model::HeadName() {
  const std::vector<NamedParameter> params = Params();
  if (params.empty()) return "";
  const std::string& last = params.back().name;
  const size_t dot = last.rfind('.');
  return dot == std::string::npos ? std::string() : last.substr(0, dot);
}

absl::StatusOr<int64_t> Model::FreezeList(absl::string_view spec) {
  int64_t frozen = 0;
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("freeze list '", spec, "': empty item (prefixes separated by commas)"));
    }
    if (item == "backbone") {
      const std::string head = HeadName();
      for (NamedParameter& p : Params()) {
        if (head.empty() || MatchesPrefix(p.name, head)) continue;
        p.param->frozen = true;
        ++frozen;
      }
      continue;
    }
    absl::StatusOr<int64_t> n = Freeze(item);
    if (!n.ok()) {
      std::vector<std::string> top;
      for (const NamedLayer& c : root_->Children()) top.push_back(c.name);
      return absl::NotFoundError(absl::StrCat(
          "freeze: no parameter name starts with '", item, "' (top-level layers: ",
          absl::StrJoin(top, ", "), "; 'backbone' freezes all but the head '", HeadName(),
          "')"));
    }
    frozen += *n;
  }
  return frozen;
}

absl::Status Model::ReplaceHead(int64_t num_classes, Rng& rng) {
  if (num_classes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("Model::ReplaceHead: num_classes must be >= 1, got ", num_classes));
  }
  SIMDNET_RETURN_IF_ERROR(root_->ReplaceLastLeaf(
      [&](Layer& old) -> absl::StatusOr<std::unique_ptr<Layer>> {
        auto* linear = dynamic_cast<Linear*>(&old);
        if (linear == nullptr) {
          return absl::FailedPreconditionError(
              absl::StrCat("Model::ReplaceHead: the last layer is ", old.Describe(),
                           ", not a Linear classifier"));
        }
        LinearOptions options = linear->options();
        options.out_features = num_classes;
        SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Linear> head,
                                 Linear::Create(options, linear->InputShape(), rng));
        return std::unique_ptr<Layer>(std::move(head));
      }));
  num_classes_ = num_classes;
  logits_ = Tensor();
  dlogits_ = Tensor();
  return absl::OkStatus();
}

std::string Model::Summary() {
  std::vector<SummaryRow> rows;
  ForEachLayer([&](const std::string& path, Layer& layer, int depth) {
    rows.push_back({std::string(static_cast<size_t>(2 * depth), ' ') + path, layer.Describe(),
                    layer.OutputShape().ToString(), WithThousands(layer.NumParams()),
                    WithThousands(SubtreeMultAdds(layer))});
  });
  const int64_t mult_adds = ForwardMultAdds();
  SummaryRow header{"Layer", "Description", "Output shape", "Param #", "Mult-adds"};
  size_t w_name = header.name.size(), w_desc = header.description.size(),
         w_shape = header.shape.size(), w_params = header.params.size(),
         w_macs = header.mult_adds.size();
  for (const SummaryRow& r : rows) {
    w_name = std::max(w_name, r.name.size());
    w_desc = std::max(w_desc, r.description.size());
    w_shape = std::max(w_shape, r.shape.size());
    w_params = std::max(w_params, r.params.size());
    w_macs = std::max(w_macs, r.mult_adds.size());
  }
  const size_t width = w_name + w_desc + w_shape + w_params + w_macs + 8;
  const std::string rule(width, '='), thin(width, '-');
  auto format_row = [&](const SummaryRow& r) {
    return absl::StrFormat("%-*s  %-*s  %-*s  %*s  %*s\n", static_cast<int>(w_name), r.name,
                           static_cast<int>(w_desc), r.description, static_cast<int>(w_shape),
                           r.shape, static_cast<int>(w_params), r.params,
                           static_cast<int>(w_macs), r.mult_adds);
  };
  std::string out = rule + "\n" + format_row(header) + rule + "\n";
  for (const SummaryRow& r : rows) out += format_row(r);
  const int64_t total = ParameterCount();
  const int64_t trainable = TrainableParameterCount();
  int64_t buffers = 0;
  for (const NamedBuffer& b : Buffers()) buffers += b.value->size();
  absl::StrAppend(&out, rule, "\n", "Input shape (per sample): ", InputShape().ToString(),
                  "   classes: ", num_classes_, "\n", "Total params: ", WithThousands(total),
                  "\n", "Trainable params: ", WithThousands(trainable), "\n",
                  "Frozen params: ", WithThousands(total - trainable), "\n",
                  "Forward mult-adds per sample: ", WithThousands(mult_adds), "\n",
                  "Buffer scalars (not trained): ", WithThousands(buffers), "\n",
                  "Parameter memory: ", FormatBytes(static_cast<double>(total) * 4.0), "\n",
                  thin, "\n");
  return out;
}

}  // namespace simdnet
