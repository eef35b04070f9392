// Registers Flatten with the layer registry: the "flatten" spec keyword and its printer.
#include <string>

#include "layers/flatten.h"
#include "layers/layer_registry.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

[[maybe_unused]] const bool kRegistered =
    RegisterLayerSpec({"flatten", "flatten    (...) -> (prod)", SpecBody::kNone, "",
                       [](LayerSpecContext& c) -> absl::StatusOr<std::unique_ptr<Layer>> {
                         SIMDNET_RETURN_IF_ERROR(c.args.Finish("no options"));
                         return c.Wrap(Flatten::Create(c.input));
                       }}) &&
    RegisterSpecPrinter("flatten", [](const Layer&) -> absl::StatusOr<std::string> {
      return std::string("flatten");
    });

}  // namespace
}  // namespace simdnet
