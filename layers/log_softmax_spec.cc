// Registers LogSoftmax with the layer registry: the "log_softmax" spec keyword and its printer.
#include <string>

#include "layers/layer_registry.h"
#include "layers/log_softmax.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

[[maybe_unused]] const bool kRegistered =
    RegisterLayerSpec(
        {"log_softmax",
         "log_softmax\n"
         "    LogSoftmax over the first per-sample axis (PyTorch dim=1): the network then\n"
         "    outputs log-probabilities for NllLoss; the softmax cross-entropy of its output\n"
         "    equals that of its input",
         SpecBody::kNone, "",
         [](LayerSpecContext& c) -> absl::StatusOr<std::unique_ptr<Layer>> {
           SIMDNET_RETURN_IF_ERROR(c.args.Finish("no options"));
           return c.Wrap(LogSoftmax::Create(c.input));
         }}) &&
    RegisterSpecPrinter("log_softmax", [](const Layer&) -> absl::StatusOr<std::string> {
      return std::string("log_softmax");
    });

}  // namespace
}  // namespace simdnet
