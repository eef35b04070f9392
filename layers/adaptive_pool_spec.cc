// Registers AdaptiveAvgPool2d with the layer registry: "adaptive_avgpool N | HxW" and its
// printer.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "layers/adaptive_pool.h"
#include "layers/layer_registry.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildAdaptive(LayerSpecContext& c) {
  const SpecToken* size = c.args.Positional();
  if (size == nullptr) return c.Error("'adaptive_avgpool' needs an output size N or HxW");
  SIMDNET_RETURN_IF_ERROR(c.args.Finish("the output size N or HxW"));
  const std::vector<std::string> parts = absl::StrSplit(size->text, 'x');
  if (parts.size() > 2) return c.err.At(*size, "output size must be N or HxW");
  AdaptiveAvgPool2dOptions o;
  SIMDNET_ASSIGN_OR_RETURN(o.out_h, ParseSpecInt(*size, parts[0], "output height", 1,
                                                 kSpecMaxSize, c.err));
  o.out_w = o.out_h;
  if (parts.size() == 2) {
    SIMDNET_ASSIGN_OR_RETURN(o.out_w, ParseSpecInt(*size, parts[1], "output width", 1,
                                                   kSpecMaxSize, c.err));
  }
  return c.Wrap(AdaptiveAvgPool2d::Create(o, c.input));
}

[[maybe_unused]] const bool kRegistered =
    RegisterLayerSpec({"adaptive_avgpool",
                       "adaptive_avgpool N|HxW\n"
                       "    average pooling to a fixed output size (PyTorch's\n"
                       "    AdaptiveAvgPool2d; torchvision's VGG / AlexNet heads)",
                       SpecBody::kNone, "", BuildAdaptive}) &&
    RegisterSpecPrinter("adaptive_avgpool2d", [](const Layer& l) -> absl::StatusOr<std::string> {
      const auto& pool = static_cast<const AdaptiveAvgPool2d&>(l);
      return absl::StrCat("adaptive_avgpool ", pool.options().out_h, "x", pool.options().out_w);
    });

}  // namespace
}  // namespace simdnet
