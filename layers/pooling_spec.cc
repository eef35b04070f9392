// Registers the pooling layers with the layer registry: the maxpool, avgpool, maxunpool and gap
// spec keywords and their printers.
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/layer_registry.h"
#include "layers/pooling.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

absl::StatusOr<std::unique_ptr<Layer>> BuildPool(LayerSpecContext& c) {
  SpecArgs& args = c.args;
  const std::string& kw = c.statement.keyword.text;
  const std::vector<SpecToken>& words = c.statement.args;
  Pool2dOptions o;
  o.kind = kw == "maxpool" ? PoolKind::kMax : PoolKind::kAvg;
  SIMDNET_ASSIGN_OR_RETURN(auto k, args.Pair("k", "kernel size", 1));
  SIMDNET_ASSIGN_OR_RETURN(auto st, args.Pair("s", "stride", 1));
  SIMDNET_ASSIGN_OR_RETURN(auto p, args.Pair("p", "padding", 0));
  SIMDNET_ASSIGN_OR_RETURN(auto d, args.Pair("d", "dilation", 1));
  if (o.kind == PoolKind::kAvg) o.count_include_pad = !args.Flag("exclude_pad");
  o.ceil_mode = args.Flag("ceil");
  // Dilation on avgpool and divisor= on maxpool parse here so Pool2d::Create can reject them
  // with a message naming the option.
  SIMDNET_ASSIGN_OR_RETURN(auto divisor, args.Int("divisor=", "divisor", 1, kSpecMaxWindow));
  if (divisor) o.divisor_override = *divisor;
  const int pads_i = args.Find("pad=");
  const bool same_upper = args.Flag("same"), same_lower = args.Flag("same_lower");
  const int name_i = o.kind == PoolKind::kMax ? args.Find("name=") : -1;
  SIMDNET_RETURN_IF_ERROR(args.Finish(
      o.kind == PoolKind::kMax ? "kK, sS, pP, dD, ceil, pad=T,L,B,R, same, same_lower, name=NAME"
                               : "kK, sS, pP, exclude_pad, ceil, divisor=N, pad=T,L,B,R, same, "
                                 "same_lower"));
  if (!k) return c.Error(absl::StrCat("'", kw, "' needs a kernel size, e.g. k2"));
  std::tie(o.kernel_h, o.kernel_w) = *k;
  if (st) std::tie(o.stride_h, o.stride_w) = *st;
  if (p) std::tie(o.pad_h, o.pad_w) = *p;
  if (d) std::tie(o.dilation_h, o.dilation_w) = *d;
  if (static_cast<int>(p.has_value()) + static_cast<int>(pads_i >= 0) +
          static_cast<int>(same_upper) + static_cast<int>(same_lower) >
      1) {
    return c.Error(absl::StrCat("'", kw, "' takes one of pP, pad=T,L,B,R, same and same_lower"));
  }
  if (same_upper) o.auto_pad = PoolAutoPad::kSameUpper;
  if (same_lower) o.auto_pad = PoolAutoPad::kSameLower;
  if (pads_i >= 0) {
    SIMDNET_ASSIGN_OR_RETURN(const auto v,
                             ParseSpecFourPads(words[static_cast<size_t>(pads_i)], c.err));
    o.pad_h = v[0];
    o.pad_w = v[1];
    o.pad_bottom = v[2];
    o.pad_right = v[3];
  }
  if (name_i < 0) return c.Wrap(Pool2d::Create(o, c.input));
  const SpecToken& name_token = words[static_cast<size_t>(name_i)];
  o.name = name_token.text.substr(5);
  bool ok = !o.name.empty();
  for (char ch : o.name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-');
  }
  if (!ok) return c.err.At(name_token, "maxpool names use letters, digits, '_' or '-'");
  if (c.named_layers.count(o.name) != 0) {
    return c.err.At(name_token, absl::StrCat("a maxpool is already named '", o.name, "'"));
  }
  absl::StatusOr<std::unique_ptr<Pool2d>> pool = Pool2d::Create(o, c.input);
  if (!pool.ok()) return c.Error(pool.status().message());
  c.named_layers[o.name] = pool->get();
  return std::unique_ptr<Layer>(std::move(pool).value());
}

// Pool2d::options() holds resolved strides and pads, written out explicitly (the input shape
// is fixed, so "same" and its explicit pads build the same layer).
absl::StatusOr<std::string> PrintPool(const Layer& layer) {
  const Pool2dOptions& o = static_cast<const Pool2d&>(layer).options();
  const bool max = o.kind == PoolKind::kMax;
  std::vector<std::string> words = {max ? "maxpool" : "avgpool",
                                    FormatSpecPair("k", o.kernel_h, o.kernel_w)};
  if (o.stride_h != o.kernel_h || o.stride_w != o.kernel_w) {
    words.push_back(FormatSpecPair("s", o.stride_h, o.stride_w));
  }
  const int64_t bottom = o.pad_bottom.value_or(o.pad_h), right = o.pad_right.value_or(o.pad_w);
  if (bottom != o.pad_h || right != o.pad_w) {
    words.push_back(absl::StrCat("pad=", o.pad_h, ",", o.pad_w, ",", bottom, ",", right));
  } else if (o.pad_h != 0 || o.pad_w != 0) {
    words.push_back(FormatSpecPair("p", o.pad_h, o.pad_w));
  }
  if (o.dilation_h != 1 || o.dilation_w != 1) {
    words.push_back(FormatSpecPair("d", o.dilation_h, o.dilation_w));
  }
  if (o.ceil_mode) words.push_back("ceil");
  if (!max && !o.count_include_pad) words.push_back("exclude_pad");
  if (!max && o.divisor_override > 0) {
    words.push_back(absl::StrCat("divisor=", o.divisor_override));
  }
  if (max && !o.name.empty()) words.push_back(absl::StrCat("name=", o.name));
  return absl::StrJoin(words, " ");
}

absl::StatusOr<std::unique_ptr<Layer>> BuildUnpool(LayerSpecContext& c) {
  const SpecToken* t = c.args.Positional();
  SIMDNET_RETURN_IF_ERROR(c.args.Finish("the NAME of an earlier 'maxpool ... name=NAME'"));
  if (t == nullptr) {
    return c.Error("'maxunpool' needs the NAME of an earlier 'maxpool ... name=NAME'");
  }
  const auto it = c.named_layers.find(t->text);
  const Pool2d* pool =
      it == c.named_layers.end() ? nullptr : dynamic_cast<const Pool2d*>(it->second);
  if (pool == nullptr) {
    return c.err.At(*t, "no earlier 'maxpool ... name=" + t->text.substr(0, 40) + "'");
  }
  return c.Wrap(MaxUnpool2d::Create(pool, c.input));
}

absl::StatusOr<std::string> PrintUnpool(const Layer& layer) {
  const Pool2d& pool = static_cast<const MaxUnpool2d&>(layer).pool();
  if (pool.options().name.empty()) {
    return absl::FailedPreconditionError(
        "maxunpool2d: its max pooling layer has no name (set Pool2dOptions::name) so a spec "
        "cannot refer to it");
  }
  return absl::StrCat("maxunpool ", pool.options().name);
}

[[maybe_unused]] const bool kRegistered =
    RegisterLayerSpec(
        {"maxpool",
         "maxpool kK [sS] [pP | pad=T,L,B,R | same | same_lower] [dD] [ceil] [name=NAME]\n"
         "    max pooling (stride defaults to the kernel); pad=, same and same_lower as for\n"
         "    conv (same: out = ceil(in / S)); ceil is PyTorch's ceil_mode (a last window\n"
         "    starting in the bottom / right padding is dropped)",
         SpecBody::kNone, "", BuildPool}) &&
    RegisterLayerSpec(
        {"avgpool",
         "avgpool kK [sS] [pP | pad=T,L,B,R | same | same_lower] [exclude_pad] [ceil]\n"
         "        [divisor=N]\n"
         "    average pooling; exclude_pad is PyTorch's count_include_pad=False, divisor=N its\n"
         "    divisor_override",
         SpecBody::kNone, "", BuildPool}) &&
    RegisterLayerSpec(
        {"maxunpool",
         "maxunpool NAME\n"
         "    max unpooling (PyTorch's MaxUnpool2d to the pool's input size) at the argmax\n"
         "    positions of the earlier \"maxpool ... name=NAME\"",
         SpecBody::kNone, "", BuildUnpool}) &&
    RegisterLayerSpec({"gap", "gap    global average pooling (C, H, W) -> (C)", SpecBody::kNone, "",
                       [](LayerSpecContext& c) -> absl::StatusOr<std::unique_ptr<Layer>> {
                         SIMDNET_RETURN_IF_ERROR(c.args.Finish("no options"));
                         return c.Wrap(GlobalAvgPool2d::Create(c.input));
                       }}) &&
    RegisterSpecPrinter("maxpool2d", PrintPool) && RegisterSpecPrinter("avgpool2d", PrintPool) &&
    RegisterSpecPrinter("maxunpool2d", PrintUnpool) &&
    RegisterSpecPrinter("global_avgpool2d", [](const Layer&) -> absl::StatusOr<std::string> {
      return std::string("gap");
    });

}  // namespace
}  // namespace simdnet
