// Imports a PyTorch state_dict saved as safetensors (tools/interop/torchvision_export.py, or
// `safetensors.torch.save_file(model.state_dict(), ...)`) into a simdnet model whose tensor
// names are PyTorch's (the torchvision presets: "layer1.0.conv1.weight", "features.0.bias").
#ifndef SIMDNET_TRAIN_TORCH_WEIGHTS_H_
#define SIMDNET_TRAIN_TORCH_WEIGHTS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "layers/model.h"
#include "train/safetensors.h"

namespace simdnet {

// Copies the tensors of `file` into every parameter and buffer of `model`, after checking ALL
// of them (so the model is unchanged on error). `source` names the file and `arch` the model
// (e.g. "resnet18") in messages. Rules:
// - if the file's metadata names an "arch" other than `arch`: InvalidArgument naming both;
// - every model tensor must be present (NotFound-style InvalidArgument "tensor 'X' (shape S) of
//   ARCH is missing"), F32 ("has dtype I64, expected F32"), of the model's shape (both shapes
//   named) and finite (the first non-finite element named);
// - every file tensor must belong to the model, except BatchNorm "P.num_batches_tracked"
//   counters (an integer scalar or 1-element tensor beside a model buffer "P.running_mean"),
//   which are checked and ignored.
// The first offending tensor in the model's order (then, for extras, in name order) is named.
absl::Status ImportStateDict(const SafetensorsContents& file, absl::string_view source,
                             absl::string_view arch, Model& model);

// Reads `path` with LoadSafetensors (the hardened parser) and runs ImportStateDict.
absl::Status LoadTorchWeights(absl::string_view path, absl::string_view arch, Model& model);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_TORCH_WEIGHTS_H_
