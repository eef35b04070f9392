// Hash-seeded weights: every tensor filled from a formula keyed by its name, which the Python
// exporter (tools/interop/torchvision_export.py) implements identically, so simdnet and PyTorch
// hold bit-identical weights for a logit-parity test without any weight file.
//
// Formula (keep in step with torchvision_export.py): h = FNV-1a 64 of the name (UTF-8 bytes);
// element i (row-major) draws z = splitmix64(h + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64),
// u = (z >> 11) * 2^-53, v = 2u - 1 in [-1, 1); the value, computed in double and rounded to
// float, is 0.1 v for "*running_mean", 1 + 0.25 (v + 1) for "*running_var",
// sqrt(6 / fan_in) v for rank >= 2 (fan_in = size / dim 0), 1 + 0.25 v for other "*weight",
// 2 v for the name "input", and 0.1 v otherwise (biases). The scales keep activations of the
// deep networks (ResNet-50, MobileNetV2) from vanishing or exploding, so the logits depend on
// the input.
#ifndef SIMDNET_TRAIN_HASH_WEIGHTS_H_
#define SIMDNET_TRAIN_HASH_WEIGHTS_H_

#include <cstdint>

#include "absl/strings/string_view.h"
#include "layers/model.h"
#include "tensor/tensor.h"

namespace simdnet {

// Returns v in [-1, 1) for element `index` of the tensor named `name` (see the header comment).
double HashUniform(absl::string_view name, uint64_t index);

// Overwrites every element of *t with the hash-seeded value for `name` and t's shape.
void FillHashSeeded(absl::string_view name, Tensor* t);

// Fills every parameter and buffer of `model` by its name (PyTorch's state_dict names).
void FillModelHashSeeded(Model& model);

// Overwrites *x, (N, C, H, W) with H >= 2, with the hash-seeded test batch of
// torchvision_export.py's hash_input: x = v + o + s * (2h / (H - 1) - 1) with
// v = HashUniform("input", i) (i the row-major index), o = HashUniform("input.offset", n C + c)
// and s = HashUniform("input.slope", n C + c): noise plus a per-image, per-channel offset and
// vertical ramp, so images still differ after global pooling.
void FillHashSeededInput(Tensor* x);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_HASH_WEIGHTS_H_
