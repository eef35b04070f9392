// Registers Residual with the layer registry: "residual { ... } [shortcut { ... }]" and its
// printer.
#include <string>

#include "absl/strings/str_cat.h"
#include "layers/layer_registry.h"
#include "layers/residual.h"
#include "layers/sequential.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildResidual(LayerSpecContext& c) {
  const SpecStatement& s = c.statement;
  if (!s.args.empty()) return c.err.At(s.args[0], "'residual' takes no options before '{'");
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Sequential> main, c.build_body(s.body, c.input));
  std::unique_ptr<Sequential> shortcut;
  std::string shortcut_name = "shortcut";
  if (s.has_second) {
    if (s.second_args.size() > 1) {
      return c.err.At(s.second_args[1], "'shortcut' takes at most one NAME before '{'");
    }
    if (!s.second_args.empty()) shortcut_name = s.second_args[0].text;
    SIMDNET_ASSIGN_OR_RETURN(shortcut, c.build_body(s.second_body, c.input));
  }
  absl::StatusOr<std::unique_ptr<Residual>> residual =
      Residual::Create(std::move(main), std::move(shortcut), shortcut_name);
  if (!residual.ok() && !s.second_args.empty()) {
    return c.err.At(s.second_args[0], residual.status().message());
  }
  return c.Wrap(std::move(residual));
}

absl::StatusOr<std::string> PrintResidual(const Layer& layer) {
  const Residual& r = static_cast<const Residual&>(layer);
  SIMDNET_ASSIGN_OR_RETURN(const std::string main, r.main().ToSpec());
  std::string out = absl::StrCat("residual {\n", IndentSpec(main), "}");
  if (r.shortcut() != nullptr) {
    SIMDNET_ASSIGN_OR_RETURN(const std::string shortcut, r.shortcut()->ToSpec());
    absl::StrAppend(&out, " shortcut",
                    r.shortcut_name() == "shortcut" ? "" : " " + r.shortcut_name(), " {\n",
                    IndentSpec(shortcut), "}");
  }
  return out;
}

[[maybe_unused]] const bool kRegistered =
    RegisterLayerSpec(
        {"residual",
         "residual { ... } [shortcut [NAME] { ... }]\n"
         "    y = main(x) + shortcut(x); identity shortcut when omitted; NAME\n"
         "    prefixes the shortcut's parameters (default \"shortcut\"; torchvision:\n"
         "    downsample)",
         SpecBody::kOneAndOptionalSecond, "shortcut", BuildResidual}) &&
    RegisterSpecPrinter("residual", PrintResidual);

}  // namespace
}  // namespace simdnet
