// Registers Dropout with the layer registry: the "dropout" spec keyword and its printer.
#include <string>

#include "absl/strings/str_cat.h"
#include "layers/dropout.h"
#include "layers/layer_registry.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildDropout(LayerSpecContext& c) {
  DropoutOptions o;
  if (const SpecToken* t = c.args.Positional()) {
    SIMDNET_ASSIGN_OR_RETURN(o.drop_rate, ParseSpecFloat(*t, t->text, "drop rate", c.err));
  }
  SIMDNET_RETURN_IF_ERROR(c.args.Finish("an optional drop rate"));
  return c.Wrap(Dropout::Create(o, c.input, c.rng));
}

[[maybe_unused]] const bool kRegistered =
    RegisterLayerSpec({"dropout", "dropout [P]    drop probability P (default 0.5)",
                       SpecBody::kNone, "", BuildDropout}) &&
    RegisterSpecPrinter("dropout", [](const Layer& layer) -> absl::StatusOr<std::string> {
      return absl::StrCat("dropout ",
                          FormatSpecFloat(static_cast<const Dropout&>(layer).options().drop_rate));
    });

}  // namespace
}  // namespace simdnet
