// PyTorch state_dicts as simdnet checkpoints: a torchvision state_dict saved as safetensors
// (tools/interop/torchvision_export.py) becomes a Checkpoint of the matching torchvision preset
// (layers/torchvision_specs.h) with ImageNet normalization and class names, so every command
// that takes --checkpoint (eval, predict, finetune, the interpretation commands) takes it too.
// Linking //train:torch_checkpoint installs the reader (train/checkpoint.h) at start-up.
#ifndef SIMDNET_TRAIN_TORCH_CHECKPOINT_H_
#define SIMDNET_TRAIN_TORCH_CHECKPOINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "train/checkpoint.h"
#include "train/safetensors.h"

namespace simdnet {

// Metadata "format" that tools/interop/torchvision_export.py writes (with "arch").
inline constexpr char kTorchStateDictFormat[] = "torchvision-state-dict";

// Builds the Checkpoint of torchvision architecture `arch` from `file` (a state_dict): the
// preset's spec, input (3, 224, 224), the class count of the file's head (1000: ImageNet's
// names), ImageNet mean/std, extra "preprocess" = "imagenet" and "arch" = arch. Every tensor
// is checked by ImportStateDict (train/torch_weights.h) on a model built from the spec; its
// errors name `path` and the first missing, extra or mismatched tensor. NotFound listing the
// architectures for an unknown arch.
absl::StatusOr<Checkpoint> CheckpointFromStateDict(absl::string_view path,
                                                   const SafetensorsContents& file,
                                                   absl::string_view arch);

// Sets the architecture assumed for state_dict files whose metadata names none (the CLI's
// --weights=FILE --model=ARCH); empty: such files are refused with a message saying how to
// name it.
void SetDefaultTorchArch(const std::string& arch);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_TORCH_CHECKPOINT_H_
