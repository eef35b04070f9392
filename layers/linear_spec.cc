// Registers Linear with the layer registry: the "linear" spec keyword and its printer.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/init.h"
#include "layers/layer_registry.h"
#include "layers/linear.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildLinear(LayerSpecContext& c) {
  LinearOptions o;
  o.bias = !c.args.Flag("nobias");
  SIMDNET_ASSIGN_OR_RETURN(auto winit, c.args.Init("init="));
  SIMDNET_ASSIGN_OR_RETURN(auto binit, c.args.Init("bias_init="));
  SIMDNET_ASSIGN_OR_RETURN(o.out_features, ReadSpecOutCount(c, "output feature count"));
  SIMDNET_RETURN_IF_ERROR(c.args.Finish("OUT|classes nobias init=SPEC bias_init=SPEC"));
  if (winit) o.weight_init = *winit;
  if (binit) o.bias_init = *binit;
  if (c.input.rank() != 1) {
    return c.Error(absl::StrCat("'linear' needs a flat input (F), got ", c.input.ToString(),
                                "; add 'flatten' or 'gap' before it"));
  }
  SIMDNET_RETURN_IF_ERROR(c.check_param_budget(static_cast<double>(o.out_features) *
                                               static_cast<double>(c.input.dim(0))));
  return c.Wrap(Linear::Create(o, c.input, c.rng));
}

absl::StatusOr<std::string> PrintLinear(const Layer& layer) {
  const LinearOptions& o = static_cast<const Linear&>(layer).options();
  std::vector<std::string> words = {"linear", absl::StrCat(o.out_features)};
  if (!o.bias) words.push_back("nobias");
  AppendInitWords(o.weight_init, o.bias, o.bias_init, &words);
  return absl::StrJoin(words, " ");
}

[[maybe_unused]] const bool kLinearRegistered =
    RegisterLayerSpec({"linear",
                       "linear OUT|classes [nobias] [init=SPEC] [bias_init=SPEC]\n"
                       "    Linear; \"classes\" means the num_classes passed to the builder",
                       SpecBody::kNone, "", BuildLinear});
[[maybe_unused]] const bool kLinearPrinter = RegisterSpecPrinter("linear", PrintLinear);

}  // namespace
}  // namespace simdnet
