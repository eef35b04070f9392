// Registers the activations with the layer registry: the relu, relu6, lrelu (leaky_relu), tanh
// and sigmoid spec keywords and their printers.
#include <string>

#include "absl/strings/str_cat.h"
#include "layers/activation.h"
#include "layers/layer_registry.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildActivation(LayerSpecContext& c) {
  ActivationOptions o;
  SIMDNET_ASSIGN_OR_RETURN(o.kind, ParseActivationKind(c.statement.keyword.text));
  if (o.kind == ActivationKind::kLeakyRelu) {
    if (const SpecToken* t = c.args.Positional()) {
      SIMDNET_ASSIGN_OR_RETURN(o.negative_slope, ParseSpecFloat(*t, t->text, "slope", c.err));
    }
  }
  SIMDNET_RETURN_IF_ERROR(c.args.Finish(
      o.kind == ActivationKind::kLeakyRelu ? "an optional negative slope" : "no options"));
  return c.Wrap(Activation::Create(o, c.input));
}

absl::StatusOr<std::string> PrintActivation(const Layer& layer) {
  const ActivationOptions& o = static_cast<const Activation&>(layer).options();
  if (o.kind == ActivationKind::kLeakyRelu) {
    return absl::StrCat("lrelu ", FormatSpecFloat(o.negative_slope));
  }
  return std::string(ActivationKindName(o.kind));
}

bool RegisterActivation(const char* keyword, const char* usage) {
  RegisterLayerSpec({keyword, usage, SpecBody::kNone, "", BuildActivation});
  return true;
}

[[maybe_unused]] const bool kRegistered =
    RegisterActivation("relu", "relu    ReLU, max(x, 0)") &&
    RegisterActivation("lrelu", "lrelu [SLOPE]\n    LeakyReLU (negative slope default 0.01)") &&
    RegisterActivation("leaky_relu", "leaky_relu [SLOPE]\n    a synonym of lrelu") &&
    RegisterActivation("tanh", "tanh    tanh(x)") &&
    RegisterActivation("sigmoid", "sigmoid    1 / (1 + exp(-x))") &&
    RegisterActivation("relu6", "relu6    ReLU6, min(max(x, 0), 6) (MobileNetV2)") &&
    RegisterSpecPrinter(ActivationKindName(ActivationKind::kRelu), PrintActivation) &&
    RegisterSpecPrinter(ActivationKindName(ActivationKind::kLeakyRelu), PrintActivation) &&
    RegisterSpecPrinter(ActivationKindName(ActivationKind::kTanh), PrintActivation) &&
    RegisterSpecPrinter(ActivationKindName(ActivationKind::kSigmoid), PrintActivation) &&
    RegisterSpecPrinter(ActivationKindName(ActivationKind::kRelu6), PrintActivation);

}  // namespace
}  // namespace simdnet
