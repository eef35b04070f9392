// Registers BatchNorm1d / BatchNorm2d with the layer registry: the "bn" spec keyword (the
// variant follows the input rank) and their printer.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/batch_norm.h"
#include "layers/layer_registry.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildBatchNorm(LayerSpecContext& c) {
  SpecArgs& args = c.args;
  BatchNormOptions o;
  SIMDNET_ASSIGN_OR_RETURN(auto eps, args.Float("eps=", "eps"));
  SIMDNET_ASSIGN_OR_RETURN(auto momentum, args.Float("momentum=", "momentum"));
  if (eps) o.eps = *eps;
  if (momentum) o.momentum = *momentum;
  SIMDNET_ASSIGN_OR_RETURN(auto convention,
                           args.Choice("momentum_convention=", {"pytorch", "onnx"}));
  if (convention == 1) o.momentum_convention = BatchNormMomentum::kOnnx;
  SIMDNET_ASSIGN_OR_RETURN(auto var, args.Choice("var=", {"unbiased", "biased"}));
  if (var == 1) o.running_var = BatchNormRunningVar::kBiased;
  o.affine = !args.Flag("noaffine");
  SIMDNET_RETURN_IF_ERROR(args.Finish(
      "eps=E, momentum=M, momentum_convention=pytorch|onnx, var=unbiased|biased, noaffine"));
  if (c.input.rank() == 3) return c.Wrap(BatchNorm2d::Create(o, c.input));
  if (c.input.rank() == 1) return c.Wrap(BatchNorm1d::Create(o, c.input));
  return c.Error(
      absl::StrCat("bn needs an input of shape (C, H, W) or (F), got ", c.input.ToString()));
}

absl::StatusOr<std::string> PrintBatchNorm(const Layer& layer) {
  const BatchNormOptions& o = static_cast<const BatchNorm&>(layer).options();
  const BatchNormOptions defaults;
  std::vector<std::string> words = {"bn"};
  if (o.eps != defaults.eps) words.push_back(absl::StrCat("eps=", FormatSpecFloat(o.eps)));
  if (o.momentum != defaults.momentum) {
    words.push_back(absl::StrCat("momentum=", FormatSpecFloat(o.momentum)));
  }
  if (o.momentum_convention == BatchNormMomentum::kOnnx) {
    words.push_back("momentum_convention=onnx");
  }
  if (o.running_var == BatchNormRunningVar::kBiased) words.push_back("var=biased");
  if (!o.affine) words.push_back("noaffine");
  return absl::StrJoin(words, " ");
}

[[maybe_unused]] const bool kBatchNormRegistered = RegisterLayerSpec(
    {"bn",
     "bn [eps=E] [momentum=M] [momentum_convention=pytorch|onnx] [var=unbiased|biased]\n"
     "   [noaffine]\n"
     "    BatchNorm2d after (C, H, W), BatchNorm1d after (F)",
     SpecBody::kNone, "", BuildBatchNorm});
[[maybe_unused]] const bool kBatchNorm1dPrinter =
    RegisterSpecPrinter("batch_norm1d", PrintBatchNorm);
[[maybe_unused]] const bool kBatchNorm2dPrinter =
    RegisterSpecPrinter("batch_norm2d", PrintBatchNorm);

}  // namespace
}  // namespace simdnet
