// Weight initialization: the torch.nn.init schemes (constant, normal, uniform, Xavier/Glorot,
// Kaiming/He) with PyTorch's gain table, a spec parser ("kaiming_normal:fan_out:relu") and the
// fan computation for weight shapes.
#ifndef SIMDNET_LAYERS_INIT_H_
#define SIMDNET_LAYERS_INIT_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tensor/rng.h"
#include "tensor/shape.h"
#include "tensor/tensor.h"

namespace simdnet {

enum class InitKind {
  kConstant,        // every element = value
  kNormal,          // N(0, std^2) (small random, default std 0.01)
  kUniform,         // U(low, high)
  kXavierUniform,   // Glorot & Bengio 2010: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
  kXavierNormal,    // N(0, s^2), s = gain * sqrt(2 / (fan_in + fan_out))
  kKaimingUniform,  // He et al. 2015: U(-b, b), b = gain * sqrt(3 / fan)
  kKaimingNormal,   // N(0, s^2), s = gain / sqrt(fan)
};

// The nonlinearity that follows the layer; selects the gain as in
// torch.nn.init.calculate_gain (https://pytorch.org/docs/stable/nn.init.html):
//   linear (also conv, sigmoid): 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + a^2)).
enum class Nonlinearity { kLinear, kRelu, kLeakyRelu, kTanh, kSigmoid };

struct InitSpec {
  // Defaults match torch.nn.init.kaiming_uniform_'s own defaults (a=0, fan_in, leaky_relu).
  InitKind kind = InitKind::kKaimingUniform;
  float value = 0.0f;    // kConstant
  float std = 0.01f;     // kNormal
  float low = -0.05f;    // kUniform
  float high = 0.05f;    // kUniform
  float a = 0.0f;        // negative slope for Nonlinearity::kLeakyRelu
  bool fan_out = false;  // Kaiming: use fan_out instead of fan_in (PyTorch mode='fan_out')
  Nonlinearity nonlinearity = Nonlinearity::kLeakyRelu;  // Kaiming and Xavier gain
};

// Returns the init PyTorch's nn.Conv2d / nn.Linear reset_parameters() use for both weight and
// bias: kaiming_uniform with a = sqrt(5) (leaky_relu gain), i.e. U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)). For the bias, pass the WEIGHT's fan_in to InitTensor, as PyTorch does.
InitSpec PyTorchDefaultInit();

// Returns the gain of torch.nn.init.calculate_gain(nonlinearity, a).
double InitGain(Nonlinearity nonlinearity, double a);

// Returns (fan_in, fan_out) of a weight of shape (out, in, k...) as PyTorch's
// _calculate_fan_in_and_fan_out: fan_in = in * prod(k), fan_out = out * prod(k).
// InvalidArgument naming the shape if its rank is below 2.
absl::StatusOr<std::pair<int64_t, int64_t>> ComputeFans(const Shape& weight_shape);

// Fills *t (any shape) according to spec, drawing from rng (advances it by t->size()).
// fan_in / fan_out are the layer's fans (see ComputeFans); only Xavier and Kaiming read them.
// InvalidArgument naming the field if: a fan the scheme needs is < 1, std < 0, low > high, or a
// value is not finite.
absl::Status InitTensor(const InitSpec& spec, int64_t fan_in, int64_t fan_out, Rng& rng,
                        Tensor* t);

// Parses an init spec string: a kind, then ':'-separated arguments.
//   constant:<value>           normal[:<std>]            uniform[:<low>:<high>]
//   xavier_uniform[:<nonlin>]  xavier_normal[:<nonlin>]  (nonlinearity for the gain; default linear)
//   kaiming_uniform[:fan_in|fan_out][:<nonlin>][:a=<slope>]   (also kaiming_normal)
//   pytorch_default            (PyTorchDefaultInit())
// <nonlin> is one of linear, relu, leaky_relu, tanh, sigmoid. Kaiming defaults: fan_in,
// leaky_relu, a=0 (as torch.nn.init). InvalidArgument naming the bad token and the whole text.
absl::StatusOr<InitSpec> ParseInitSpec(absl::string_view text);

// Returns the canonical text form of spec, which ParseInitSpec maps back to an equal spec
// (for the fields the kind uses).
std::string FormatInitSpec(const InitSpec& spec);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_INIT_H_
