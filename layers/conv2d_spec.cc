// Registers Conv2d with the layer registry: the "conv" spec keyword and its printer.
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/conv2d.h"
#include "layers/init.h"
#include "layers/layer_registry.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildConv(LayerSpecContext& c) {
  SpecArgs& args = c.args;
  Conv2dOptions o;
  SIMDNET_ASSIGN_OR_RETURN(auto k, args.Pair("k", "kernel size", 1));
  SIMDNET_ASSIGN_OR_RETURN(auto st, args.Pair("s", "stride", 1));
  SIMDNET_ASSIGN_OR_RETURN(auto p, args.Pair("p", "padding", 0));
  // The padding forms of maxpool / avgpool: pad=T,L,B,R, same, same_lower.
  const int pads_i = args.Find("pad=");
  const bool same_upper = args.Flag("same"), same_lower = args.Flag("same_lower");
  SIMDNET_ASSIGN_OR_RETURN(auto d, args.Pair("d", "dilation", 1));
  SIMDNET_ASSIGN_OR_RETURN(auto g, args.Pair("g", "groups", 1));
  o.bias = !args.Flag("nobias");
  SIMDNET_ASSIGN_OR_RETURN(auto winit, args.Init("init="));
  SIMDNET_ASSIGN_OR_RETURN(auto binit, args.Init("bias_init="));
  SIMDNET_ASSIGN_OR_RETURN(o.out_channels, ReadSpecOutCount(c, "output channel count"));
  SIMDNET_RETURN_IF_ERROR(
      args.Finish("OUT kK sS pP pad=T,L,B,R same same_lower dD gG nobias init=SPEC "
                  "bias_init=SPEC"));
  if (!k) return c.Error("'conv' needs a kernel size, e.g. k3");
  std::tie(o.kernel_h, o.kernel_w) = *k;
  if (st) std::tie(o.stride_h, o.stride_w) = *st;
  if (p) std::tie(o.pad_h, o.pad_w) = *p;
  if (static_cast<int>(p.has_value()) + static_cast<int>(pads_i >= 0) +
          static_cast<int>(same_upper) + static_cast<int>(same_lower) >
      1) {
    return c.Error("'conv' takes one of pP, pad=T,L,B,R, same and same_lower");
  }
  if (same_upper) o.padding = Conv2dPadding::kSameUpper;
  if (same_lower) o.padding = Conv2dPadding::kSameLower;
  if (pads_i >= 0) {
    SIMDNET_ASSIGN_OR_RETURN(
        const auto v, ParseSpecFourPads(args.statement().args[static_cast<size_t>(pads_i)], c.err));
    o.pads = Conv2dPads{v[0], v[1], v[2], v[3]};
  }
  if (d) std::tie(o.dilation_h, o.dilation_w) = *d;
  if (g) {
    if (g->first != g->second) return c.Error("groups is a single number");
    o.groups = g->first;
  }
  if (winit) o.weight_init = *winit;
  if (binit) o.bias_init = *binit;
  const double in_channels = c.input.rank() == 3 ? static_cast<double>(c.input.dim(0)) : 1.0;
  SIMDNET_RETURN_IF_ERROR(c.check_param_budget(
      static_cast<double>(o.out_channels) * in_channels / static_cast<double>(o.groups) *
      static_cast<double>(o.kernel_h) * static_cast<double>(o.kernel_w)));
  return c.Wrap(Conv2d::Create(o, c.input, c.rng));
}

absl::StatusOr<std::string> PrintConv(const Layer& layer) {
  const Conv2dOptions& o = static_cast<const Conv2d&>(layer).options();
  std::vector<std::string> words = {"conv", absl::StrCat(o.out_channels),
                                    FormatSpecPair("k", o.kernel_h, o.kernel_w)};
  if (o.stride_h != 1 || o.stride_w != 1) {
    words.push_back(FormatSpecPair("s", o.stride_h, o.stride_w));
  }
  if (o.padding == Conv2dPadding::kSameUpper) {
    words.push_back("same");
  } else if (o.padding == Conv2dPadding::kSameLower) {
    words.push_back("same_lower");
  } else if (o.pads.has_value()) {
    words.push_back(absl::StrCat("pad=", o.pads->top, ",", o.pads->left, ",", o.pads->bottom, ",",
                                 o.pads->right));
  } else if (o.pad_h != 0 || o.pad_w != 0) {
    words.push_back(FormatSpecPair("p", o.pad_h, o.pad_w));
  }
  if (o.dilation_h != 1 || o.dilation_w != 1) {
    words.push_back(FormatSpecPair("d", o.dilation_h, o.dilation_w));
  }
  if (o.groups != 1) words.push_back(absl::StrCat("g", o.groups));
  if (!o.bias) words.push_back("nobias");
  AppendInitWords(o.weight_init, o.bias, o.bias_init, &words);
  return absl::StrJoin(words, " ");
}

[[maybe_unused]] const bool kConvRegistered = RegisterLayerSpec(
    {"conv",
     "conv OUT kK [sS] [pP | pad=T,L,B,R | same | same_lower] [dD] [gG] [nobias] [init=SPEC]\n"
     "     [bias_init=SPEC]\n"
     "    Conv2d; K, S, P, D are \"N\" or \"HxW\" (e.g. k3, k3x5, s2, p1); pad=T,L,B,R pads top,\n"
     "    left, bottom, right (e.g. pad=0,0,1,1); same keeps OH = ceil(H / S) (ONNX SAME_UPPER:\n"
     "    the odd row / column at the bottom / right; same_lower: at the top / left; any\n"
     "    stride); defaults s1 p0 d1 g1; SPEC as ParseInitSpec (layers/init.h)",
     SpecBody::kNone, "", BuildConv});
[[maybe_unused]] const bool kConvPrinter = RegisterSpecPrinter("conv2d", PrintConv);

}  // namespace
}  // namespace simdnet
