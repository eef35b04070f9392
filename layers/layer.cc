// Layer helpers shared by every layer.
#include "layers/layer.h"

#include "tensor/status_macros.h"

namespace simdnet {

void Layer::ZeroGrad() {
  for (NamedParameter& p : Params()) p.param->grad.SetAll(0.0f);
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
