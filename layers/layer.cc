// Layer helpers shared by every layer.
#include "layers/layer.h"

#include <atomic>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "layers/layer_registry.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

std::atomic<LayerTimer*> g_layer_timer{nullptr};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void SetLayerTimer(LayerTimer* timer) { g_layer_timer.store(timer); }

namespace {
thread_local TensorPool* t_inference_pool = nullptr;
}  // namespace

InferenceScope::InferenceScope(TensorPool* pool) : previous_(t_inference_pool) {
  t_inference_pool = pool;
}

InferenceScope::~InferenceScope() { t_inference_pool = previous_; }

TensorPool* InferencePool() { return t_inference_pool; }

bool LayerTimerInstalled() { return g_layer_timer.load(std::memory_order_relaxed) != nullptr; }

namespace {
std::atomic<uint64_t> g_parameter_version{1};
}  // namespace

uint64_t ParameterVersion() { return g_parameter_version.load(std::memory_order_acquire); }

void NoteParametersChanged() { g_parameter_version.fetch_add(1, std::memory_order_acq_rel); }

absl::StatusOr<std::string> Layer::ToSpec() const {
  const SpecPrinter* printer = FindSpecPrinter(TypeName());
  if (printer == nullptr) {
    return absl::UnimplementedError(
        absl::StrCat("no spec printer for layer type '", TypeName(), "' (", Describe(),
                     "): link its <layer>_spec library (layers/layer_registry.h)"));
  }
  return (*printer)(*this);
}

void Layer::RunForward(const Tensor& x, Tensor* y) {
  LayerTimer* timer = g_layer_timer.load(std::memory_order_relaxed);
  const double start = timer != nullptr ? Now() : 0.0;
  Forward(x, y);
  if (timer != nullptr) timer->Record(*this, /*backward=*/false, x.dim(0), Now() - start);
  if (forward_hook_) forward_hook_(*y);
}

void Layer::RunBackward(const Tensor& dy, Tensor* dx) { TimedBackward(dy, dx, false); }

void Layer::RunBackwardParamsOnly(const Tensor& dy, Tensor* dx) { TimedBackward(dy, dx, true); }

void Layer::TimedBackward(const Tensor& dy, Tensor* dx, bool params_only) {
  LayerTimer* timer = g_layer_timer.load(std::memory_order_relaxed);
  const double start = timer != nullptr ? Now() : 0.0;
  if (params_only) {
    BackwardParamsOnly(dy, dx);
  } else {
    Backward(dy, dx);
  }
  if (timer != nullptr) timer->Record(*this, /*backward=*/true, dy.dim(0), Now() - start);
  if (backward_hook_) backward_hook_(dy, dx);
}

void Layer::ZeroGrad() {
  // Split over the pool: vgg-small's 3136 -> 128 weight gradient alone is 1.6 MB.
  for (NamedParameter& p : Params()) {
    Tensor& g = p.param->grad;
    Fill(g.data(), static_cast<size_t>(g.size()), 0.0f, &DefaultThreadPool());
  }
}

void Layer::BackwardBelowChild(size_t index, const Tensor& grad, Tensor* dx) {
  SIMDNET_CHECK(false && "BackwardBelowChild called on a layer without children");
}

void Layer::SetParamGradients(bool on) {
  param_gradients_ = on;
  for (NamedLayer& child : Children()) child.layer->SetParamGradients(on);
}

int64_t Layer::NumParams() {
  int64_t n = 0;
  for (NamedParameter& p : Params()) n += p.param->value.size();
  return n;
}

}  // namespace simdnet
