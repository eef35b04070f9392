// Layer helpers shared by every layer.
#include "layers/layer.h"

namespace simdnet {

void Layer::ZeroGrad() {
  for (NamedParameter& p : Params()) p.param->grad.SetAll(0.0f);
}

int64_t Layer::NumParams() {
  int64_t n = 0;
  for (NamedParameter& p : Params()) n += p.param->value.size();
  return n;
}

}  // namespace simdnet
