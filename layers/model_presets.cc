// The built-in model presets and the loading of spec text from a preset name or a file.
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "layers/model_spec.h"
#include "tensor/atomic_file.h"
#include "layers/torchvision_specs.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// LeNet-5 (LeCun et al., Proc. IEEE 1998) as usually re-implemented today: ReLU and max
// pooling instead of scaled tanh and subsampling; 28x28 input padded by 2 as the original 32x32.
constexpr char kLeNet5[] = R"(# LeNet-5 (LeCun et al. 1998) with ReLU and max pooling
input 1x28x28
block features {
  conv 6 k5 p2; relu; maxpool k2
  conv 16 k5; relu; maxpool k2
}
block classifier {
  flatten
  linear 120; relu
  linear 84; relu
  linear classes
}
)";

// A small VGG-style network (Simonyan & Zisserman 2015): two conv-BN-ReLU pairs per stage,
// sized to train on Fashion-MNIST in minutes on two cores. Convs before BN have no bias (BN's
// shift makes it redundant), as torchvision's VGG-BN.
constexpr char kVggSmall[] = R"(# VGG-style: (conv-bn-relu) x2, pool, (conv-bn-relu) x2, pool, MLP head
input 1x28x28
block features {
  conv 32 k3 p1 nobias; bn; relu
  conv 32 k3 p1 nobias; bn; relu
  maxpool k2
  conv 64 k3 p1 nobias; bn; relu
  conv 64 k3 p1 nobias; bn; relu
  maxpool k2
}
block classifier {
  flatten
  linear 128; relu
  dropout 0.5
  linear classes
}
)";

// A CIFAR-style ResNet (He et al., CVPR 2016, section 4.2) with one basic block per stage
// (ResNet-8): 16, 32, 64 channels, stride-2 stages with 1x1 projection shortcuts (option B).
constexpr char kResNetSmall[] = R"(# CIFAR-style ResNet-8: 3 stages of one basic block
input 3x32x32
block stem { conv 16 k3 p1 nobias; bn; relu }
block stage1 {
  residual { conv 16 k3 p1 nobias; bn; relu; conv 16 k3 p1 nobias; bn }
  relu
}
block stage2 {
  residual { conv 32 k3 s2 p1 nobias; bn; relu; conv 32 k3 p1 nobias; bn }
  shortcut { conv 32 k1 s2 nobias; bn }
  relu
}
block stage3 {
  residual { conv 64 k3 s2 p1 nobias; bn; relu; conv 64 k3 p1 nobias; bn }
  shortcut { conv 64 k1 s2 nobias; bn }
  relu
}
block head { gap; linear classes }
)";

const std::map<std::string, const char*>& Presets() {
  static const auto* presets = new std::map<std::string, const char*>{
      {"lenet5", kLeNet5}, {"vgg-small", kVggSmall}, {"resnet-small", kResNetSmall}};
  return *presets;
}

}  // namespace

std::vector<std::string> PresetNames() {
  std::vector<std::string> names;
  for (const auto& [name, text] : Presets()) names.push_back(name);
  return names;
}

absl::StatusOr<std::string> PresetSpec(absl::string_view name) {
  if (IsTorchvisionArch(name)) return TorchvisionSpec(name);
  auto it = Presets().find(std::string(name));
  if (it == Presets().end()) {
    return absl::NotFoundError(absl::StrCat("no preset named '", name, "' (presets: ",
                                            absl::StrJoin(PresetNames(), ", "), ", ",
                                            absl::StrJoin(TorchvisionArchNames(), ", "), ")"));
  }
  return std::string(it->second);
}

absl::StatusOr<std::string> LoadModelSpecText(absl::string_view name_or_path) {
  absl::StatusOr<std::string> preset = PresetSpec(name_or_path);
  if (preset.ok()) return preset;
  absl::StatusOr<std::string> text = ReadFile(name_or_path, kMaxModelSpecBytes);
  if (text.ok() || absl::IsResourceExhausted(text.status())) return text;
  return absl::NotFoundError(absl::StrCat("model spec '", name_or_path, "' is neither a preset (",
                                          absl::StrJoin(PresetNames(), ", "),
                                          ") nor a readable file (", text.status().message(),
                                          ")"));
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(absl::string_view name_or_path,
                                                 const std::optional<Shape>& input_shape,
                                                 int64_t num_classes, uint64_t seed) {
  SIMDNET_ASSIGN_OR_RETURN(const std::string text, LoadModelSpecText(name_or_path));
  const bool is_preset = PresetSpec(name_or_path).ok();
  return ModelFromSpec(text, input_shape, num_classes, seed,
                       is_preset ? absl::StrCat("preset ", name_or_path)
                                 : std::string(name_or_path));
}

}  // namespace simdnet
