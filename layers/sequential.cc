// Sequential container: shape-checked composition, forward/backward through the children and
// hierarchical names.
#include "layers/sequential.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "layers/batch_norm.h"
#include "layers/clamp_kernels.h"
#include "layers/conv2d.h"
#include "layers/pooling.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {

absl::StatusOr<std::unique_ptr<Sequential>> Sequential::Create(const Shape& in) {
  if (in.rank() == 0 || in.rank() >= Shape::kMaxRank || in.size() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("Sequential: input_shape ", in.ToString(),
                                                   " must have rank 1..", Shape::kMaxRank - 1,
                                                   " and at least one element"));
  }
  return std::unique_ptr<Sequential>(new Sequential(in));
}

absl::Status Sequential::Add(std::unique_ptr<Layer> layer, absl::string_view name_in) {
  if (layer == nullptr) return absl::InvalidArgumentError("Sequential::Add: null layer");
  std::string name = name_in.empty() ? absl::StrCat(children_.size()) : std::string(name_in);
  for (char c : name) {
    if (c == '.' || absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("Sequential::Add: child name '", name, "' must not contain '.' or spaces"));
    }
  }
  for (const Child& c : children_) {
    if (c.name == name) {
      return absl::InvalidArgumentError(
          absl::StrCat("Sequential::Add: child name '", name, "' is already used"));
    }
  }
  if (layer->InputShape() != output_shape_) {
    return absl::InvalidArgumentError(
        absl::StrCat("Sequential::Add: layer '", name, "' (", layer->Describe(),
                     ") expects input shape ", layer->InputShape().ToString(),
                     " but the previous output shape is ", output_shape_.ToString()));
  }
  layer->SetMode(mode_);
  output_shape_ = layer->OutputShape();
  if (!children_.empty()) {
    activations_.emplace_back();
    gradients_.emplace_back();
  }
  children_.push_back(Child{std::move(name), std::move(layer)});
  fused_.assign(children_.size(), BatchNormActivation::kNone);
  fused_pool_.assign(children_.size(), 0);
  folded_.resize(children_.size());
  return absl::OkStatus();
}

namespace {

// Returns whether `layer` is an activation that runs fused after a BatchNorm or a Conv2d (a ReLU
// or ReLU6 without hooks), with its kind in *act.
bool FusedActivation(const Layer& layer, BatchNormActivation* act) {
  if (layer.has_hooks()) return false;
  const std::string type = layer.TypeName();
  if (type == "relu") {
    *act = BatchNormActivation::kRelu;
    return true;
  }
  if (type == "relu6") {
    *act = BatchNormActivation::kRelu6;
    return true;
  }
  return false;
}

}  // namespace

BatchNorm* Sequential::FusableBatchNorm(size_t i, BatchNormActivation* act) {
  // The activation's output is kept for Backward: activations_[i + 1], or last_output_ (a
  // reference to the caller's tensor) when the activation is the last child.
  if (i + 2 > children_.size() || LayerTimerInstalled()) return nullptr;
  auto* bn = dynamic_cast<BatchNorm*>(children_[i].layer.get());
  if (bn == nullptr || bn->has_hooks()) return nullptr;
  if (!FusedActivation(*children_[i + 1].layer, act)) return nullptr;
  return bn;
}

Pool2d* Sequential::FusableMaxPool(size_t i, const BatchNorm& bn) {
  // Only the training forward has a fused kernel (eval mode folds or runs BatchNorm + ReLU).
  if (i + 3 > children_.size() || bn.mode() != Mode::kTrain ||
      dynamic_cast<const BatchNorm2d*>(&bn) == nullptr) {
    return nullptr;
  }
  auto* pool = dynamic_cast<Pool2d*>(children_[i + 2].layer.get());
  if (pool == nullptr || pool->has_hooks() || !pool->IsMaxPool2x2()) return nullptr;
  return pool;
}

Tensor& Sequential::OutputOf(size_t i) {
  return i + 1 == children_.size() ? last_output_ : activations_[i];
}

void Sequential::Unfuse(size_t i) {
  auto* bn = static_cast<BatchNorm*>(children_[i].layer.get());
  bn->RecomputeOutput(&activations_[i]);
  // The activation's Forward (without hooks) caches what its Backward reads.
  children_[i + 1].layer->Forward(activations_[i], &OutputOf(i + 1));
  fused_[i] = BatchNormActivation::kNone;
  fused_pool_[i] = 0;
}

size_t Sequential::FoldableConv(size_t i, Conv2d** conv, BatchNorm** bn,
                                BatchNormActivation* act) {
  const size_t k = children_.size();
  if (i + 1 >= k || LayerTimerInstalled()) return 1;
  auto* c = dynamic_cast<Conv2d*>(children_[i].layer.get());
  if (c == nullptr || c->has_hooks()) return 1;
  size_t next = i + 1;
  auto* b = dynamic_cast<BatchNorm2d*>(children_[next].layer.get());
  if (b != nullptr) {
    // Train mode normalizes with the batch's statistics: nothing to fold.
    if (b->has_hooks() || b->mode() != Mode::kEval) return 1;
    ++next;
  }
  *act = BatchNormActivation::kNone;
  if (next < k && FusedActivation(*children_[next].layer, act)) ++next;
  if (next == i + 1) return 1;
  *conv = c;
  *bn = b;
  return next - i;
}

void Sequential::ForwardFolded(size_t i, Conv2d& conv, const BatchNorm* bn,
                               BatchNormActivation act, const Tensor& x, Tensor* y) {
  const Conv2d& cconv = conv;  // the const accessors do not invalidate the cache
  const float* weight = cconv.weight().value.data();
  const float* bias = cconv.options().bias ? cconv.bias().value.data() : nullptr;
  if (bn != nullptr) {
    FoldedConv& f = folded_[i];
    const uint64_t version = ParameterVersion();
    if (f.version != version) {
      // w' = w * scale per output channel, b' = b * scale + shift: conv(x, w') + b' is
      // BatchNorm(conv(x, w) + b) in eval mode.
      const Tensor& w = cconv.weight().value;
      const int64_t out_channels = w.dim(0);
      const size_t per_channel = static_cast<size_t>(w.size() / out_channels);
      f.weight.EnsureShape(w.shape());
      f.bias.EnsureShape(Shape({out_channels}));
      std::vector<float> scale(static_cast<size_t>(out_channels));
      bn->EvalScaleShift(scale.data(), f.bias.data());  // shift into f.bias
      for (int64_t o = 0; o < out_channels; ++o) {
        const float s = scale[static_cast<size_t>(o)];
        const size_t offset = static_cast<size_t>(o) * per_channel;
        MulScalar(w.data() + offset, s, f.weight.data() + offset, per_channel);
        if (bias != nullptr) f.bias[o] += bias[o] * s;
      }
      f.version = version;
      ++folded_weight_computations_;
    }
    weight = f.weight.data();
    bias = f.bias.data();
  }
  conv.ForwardWith(x, weight, bias,
                   act == BatchNormActivation::kRelu ? ConvEpilogue::kRelu : ConvEpilogue::kNone,
                   y);
  if (act == BatchNormActivation::kRelu6) {
    // The ReLU6 layer's clamp, in place (the conv kernels have no clamp epilogue).
    ClampForward(y->data(), 0.0f, 6.0f, y->data(), static_cast<size_t>(y->size()),
                 &DefaultThreadPool());
  }
}

std::string Sequential::Describe() const {
  return absl::StrCat("Sequential(", children_.size(), " layers)");
}

void Sequential::Forward(const Tensor& x, Tensor* y) {
  if (children_.empty()) {
    SIMDNET_CHECK(x.rank() == input_shape_.rank() + 1);
    y->EnsureShape(x.shape());
    Copy(x.data(), y->data(), static_cast<size_t>(x.size()), &DefaultThreadPool());
    return;
  }
  const size_t k = children_.size();
  fused_.assign(k, BatchNormActivation::kNone);
  fused_pool_.assign(k, 0);
  // Inside an InferenceScope each intermediate output comes from the pool and is let go as soon
  // as the next child has consumed it: outputs alternate between two slots, and the slot written
  // next holds an output already consumed. activations_ are not kept (and released if a training
  // Forward left them).
  TensorPool* pool = InferencePool();
  inference_forward_ = pool != nullptr;
  if (pool != nullptr) {
    for (Tensor& a : activations_) a = Tensor();
    last_output_ = Tensor();
  }
  Tensor pooled[2];
  int next_slot = 0;
  const int64_t n = x.dim(0);
  const auto output = [&](size_t i) -> Tensor* {  // where child i's output goes
    if (pool == nullptr) return &activations_[i];
    Tensor& slot = pooled[next_slot];
    next_slot ^= 1;
    slot = Tensor();  // its block may be reused right away
    slot = pool->Acquire(children_[i].layer->OutputShape().WithBatch(n));
    return &slot;
  };
  const Tensor* in = &x;
  size_t i = 0;
  while (i + 1 < k) {
    BatchNormActivation act = BatchNormActivation::kNone;
    Conv2d* conv = nullptr;
    BatchNorm* bn = nullptr;
    const size_t span = pool != nullptr ? FoldableConv(i, &conv, &bn, &act) : 1;
    if (span > 1) {
      // Conv2d [+ BatchNorm] [+ activation] as one convolution (inference only).
      const size_t end = i + span - 1;
      Tensor* out = end + 1 == k ? y : output(end);
      ForwardFolded(i, *conv, bn, act, *in, out);
      i += span;
      in = out;
      continue;
    }
    if (BatchNorm* fusable = FusableBatchNorm(i, &act)) {
      if (Pool2d* max_pool = FusableMaxPool(i, *fusable)) {
        // BatchNorm + activation + max pooling: only the pooled output (and the pooling's
        // indices) are written; the last child's output is read back as below.
        Tensor* out = i + 3 == k ? y : output(i + 2);
        fusable->ForwardActivationMaxPool2x2(*in, act, out, max_pool->ArgmaxForFusedForward(n));
        if (i + 3 == k && pool == nullptr) last_output_ = *y;
        fused_[i] = act;
        fused_pool_[i] = 1;
        i += 3;
        in = out;
        continue;
      }
      // BatchNorm + activation in one pass; the BatchNorm's own output (activations_[i]) is
      // skipped. An activation that is the last child writes y, which Backward reads back
      // through last_output_ (the caller keeps y until then, as it keeps every output).
      Tensor* out = i + 2 == k ? y : output(i + 1);
      fusable->ForwardActivation(*in, act, out);
      if (i + 2 == k && pool == nullptr) last_output_ = *y;
      fused_[i] = act;
      i += 2;
      in = out;
      continue;
    }
    Tensor* out = output(i);
    children_[i].layer->RunForward(*in, out);
    in = out;
    ++i;
  }
  if (i + 1 == k) children_[k - 1].layer->RunForward(*in, y);
}

void Sequential::Backward(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(!inference_forward_);  // an InferenceScope's Forward keeps nothing to go back
  if (children_.empty()) {
    dx->EnsureShape(dy.shape());
    Copy(dy.data(), dx->data(), static_cast<size_t>(dy.size()), &DefaultThreadPool());
    return;
  }
  BackwardChildren(children_.size(), dy, dx, 0);
}

void Sequential::BackwardBelowChild(size_t index, const Tensor& grad, Tensor* dx) {
  SIMDNET_CHECK(index < children_.size() && !inference_forward_);
  if (index == 0) {
    dx->EnsureShape(grad.shape());
    Copy(grad.data(), dx->data(), static_cast<size_t>(grad.size()), &DefaultThreadPool());
    return;
  }
  BackwardChildren(index, grad, dx, 0);
}

namespace {

// Returns whether Backward must run through `layer` for some parameter gradient.
bool LearnsAny(Layer& layer) {
  if (!layer.param_gradients()) return false;
  for (const NamedParameter& p : layer.Params()) {
    if (!p.param->frozen) return true;
  }
  return false;
}

}  // namespace

void Sequential::BackwardParamsOnly(const Tensor& dy, Tensor* dx) {
  SIMDNET_CHECK(!inference_forward_);
  const size_t k = children_.size();
  size_t first = 0;
  while (first < k && !LearnsAny(*children_[first].layer)) ++first;
  if (first == k) return;  // nothing learns: no backward pass at all
  BackwardChildren(k, dy, dx, first, /*params_only_at_stop=*/true);
}

void Sequential::BackwardChildren(size_t index, const Tensor& grad, Tensor* dx, size_t stop,
                                  bool params_only_at_stop) {
  // Child stop runs on its own: it cannot be an activation that ran fused with the BatchNorm
  // below.
  SIMDNET_CHECK(stop < index && index <= children_.size() &&
                (stop == 0 || fused_[stop - 1] == BatchNormActivation::kNone) &&
                (stop < 2 || !fused_pool_[stop - 2]));
  // gradients_[i - 1] holds the gradient at child i's input (= child i-1's output); child 0's
  // goes to dx.
  const auto input_grad = [&](size_t i) { return i == 0 ? dx : &gradients_[i - 1]; };
  const Tensor* g = &grad;
  for (size_t i = index; i-- > stop;) {
    if (i >= stop + 2 && fused_pool_[i - 2]) {
      // Child i is a max pooling that ran fused with the BatchNorm and activation before it.
      auto* bn = static_cast<BatchNorm*>(children_[i - 2].layer.get());
      Layer& pool = *children_[i].layer;
      if (!LayerTimerInstalled() && !bn->has_hooks() && !children_[i - 1].layer->has_hooks() &&
          !pool.has_hooks()) {
        bn->BackwardActivationMaxPool2x2(OutputOf(i), static_cast<Pool2d&>(pool).indices().data(),
                                         fused_[i - 2], *g, input_grad(i - 2));
        i -= 2;
        g = input_grad(i);
        continue;
      }
      // Hooks or a timer installed since the fused Forward: the three run on their own (the
      // pooling's indices and output are those its Forward would have left).
      Unfuse(i - 2);
    }
    if (i >= stop + 1 && fused_[i - 1] != BatchNormActivation::kNone && fused_pool_[i - 1]) {
      // Starting at the activation of a fused BatchNorm + activation + pooling
      // (BackwardBelowChild): its input and output were not written.
      Unfuse(i - 1);
    }
    if (i >= stop + 1 && fused_[i - 1] != BatchNormActivation::kNone) {
      // Child i is an activation that ran fused with the BatchNorm before it.
      auto* bn = static_cast<BatchNorm*>(children_[i - 1].layer.get());
      Layer& act = *children_[i].layer;
      if (!LayerTimerInstalled() && !bn->has_hooks() && !act.has_hooks()) {
        bn->BackwardActivation(OutputOf(i), fused_[i - 1], *g, input_grad(i - 1));
        g = input_grad(--i);
        continue;
      }
      // Hooks or a timer installed since the fused Forward: run the two on their own.
      Unfuse(i - 1);
    }
    if (params_only_at_stop && i == stop) {
      children_[i].layer->RunBackwardParamsOnly(*g, input_grad(i));
      return;
    }
    children_[i].layer->RunBackward(*g, input_grad(i));
    g = input_grad(i);
  }
}

std::vector<NamedLayer> Sequential::Children() {
  std::vector<NamedLayer> out;
  out.reserve(children_.size());
  for (Child& c : children_) out.push_back({c.name, c.layer.get()});
  return out;
}

std::vector<NamedParameter> Sequential::Params() {
  NoteParametersChanged();  // the caller may write them
  std::vector<NamedParameter> out;
  for (Child& c : children_) {
    for (NamedParameter& p : c.layer->Params()) {
      out.push_back({absl::StrCat(c.name, ".", p.name), p.param});
    }
  }
  return out;
}

std::vector<NamedBuffer> Sequential::Buffers() {
  NoteParametersChanged();  // the caller may write them
  std::vector<NamedBuffer> out;
  for (Child& c : children_) {
    for (NamedBuffer& b : c.layer->Buffers()) {
      out.push_back({absl::StrCat(c.name, ".", b.name), b.value});
    }
  }
  return out;
}

std::vector<NamedRng> Sequential::Rngs() {
  std::vector<NamedRng> out;
  for (Child& c : children_) {
    for (NamedRng& r : c.layer->Rngs()) out.push_back({absl::StrCat(c.name, ".", r.name), r.rng});
  }
  return out;
}

void Sequential::SetMode(Mode mode) {
  mode_ = mode;
  for (Child& c : children_) c.layer->SetMode(mode);
}

absl::Status Sequential::ReplaceLastLeaf(
    const std::function<absl::StatusOr<std::unique_ptr<Layer>>(Layer& old)>& make) {
  if (children_.empty()) {
    return absl::FailedPreconditionError("Sequential::ReplaceLastLeaf: the container is empty");
  }
  Child& last = children_.back();
  if (auto* inner = dynamic_cast<Sequential*>(last.layer.get())) {
    SIMDNET_RETURN_IF_ERROR(inner->ReplaceLastLeaf(make));
  } else {
    SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Layer> replacement, make(*last.layer));
    if (replacement == nullptr || replacement->InputShape() != last.layer->InputShape()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Sequential::ReplaceLastLeaf: the replacement of '", last.name,
                       "' must take input shape ", last.layer->InputShape().ToString()));
    }
    replacement->SetMode(mode_);
    last.layer = std::move(replacement);
    fused_.assign(children_.size(), BatchNormActivation::kNone);
    fused_pool_.assign(children_.size(), 0);
    folded_.back() = FoldedConv();
  }
  output_shape_ = last.layer->OutputShape();
  return absl::OkStatus();
}

}  // namespace simdnet
