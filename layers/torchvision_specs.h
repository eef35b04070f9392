// The torchvision 0.14 ImageNet classifiers as model specs (layers/model_spec.h): alexnet,
// vgg11, vgg11_bn, vgg16, vgg16_bn, resnet18, resnet34, resnet50 and mobilenet_v2, with
// torchvision's module structure and parameter / buffer names ("layer1.0.downsample.0.weight",
// "features.1.conv.0.0.weight"), 3x224x224 input and a `classes`-way head, so a torchvision
// state_dict loads by name (train/torch_weights.h) and a fine-tuned model keeps them.
#ifndef SIMDNET_LAYERS_TORCHVISION_SPECS_H_
#define SIMDNET_LAYERS_TORCHVISION_SPECS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

// Returns the architecture names, in the order above.
std::vector<std::string> TorchvisionArchNames();

// Returns whether `name` is one of TorchvisionArchNames().
bool IsTorchvisionArch(absl::string_view name);

// Returns the spec text of `arch`. The text uses "name=" on leaves to give them torchvision's
// names, "shortcut downsample" on residual blocks, "adaptive_avgpool HxW" and "relu6".
// NotFound listing the architectures for any other name.
absl::StatusOr<std::string> TorchvisionSpec(absl::string_view arch);

}  // namespace simdnet

#endif  // SIMDNET_LAYERS_TORCHVISION_SPECS_H_
