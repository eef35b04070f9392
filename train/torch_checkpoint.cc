// State_dict -> Checkpoint conversion and the foreign-checkpoint reader it installs.
#include "train/torch_checkpoint.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/imagenet_classes.h"
#include "data/imagenet_preprocess.h"
#include "layers/model_spec.h"
#include "layers/torchvision_specs.h"
#include "tensor/status_macros.h"
#include "train/torch_weights.h"

namespace simdnet {
namespace {

std::string& DefaultArch() {
  static auto* arch = new std::string();
  return *arch;
}

// The name of the final classifier weight of each architecture (its dim 0 is the class count).
const char* HeadWeightName(absl::string_view arch) {
  if (arch == "mobilenet_v2") return "classifier.1.weight";
  if (absl::string_view(arch).substr(0, 6) == "resnet") return "fc.weight";
  return "classifier.6.weight";  // alexnet, vgg*
}

std::optional<absl::StatusOr<Checkpoint>> ReadForeign(absl::string_view path,
                                                      const SafetensorsContents& c) {
  auto format = c.metadata.find("format");
  auto arch = c.metadata.find("arch");
  const bool ours = format != c.metadata.end() && format->second == kTorchStateDictFormat;
  if (format != c.metadata.end() && !ours) return std::nullopt;  // some other format
  std::string name;
  if (ours && arch != c.metadata.end()) name = arch->second;
  if (!DefaultArch().empty()) {
    if (!name.empty() && name != DefaultArch()) {
      return absl::StatusOr<Checkpoint>(absl::InvalidArgumentError(absl::StrCat(
          path, ": holds ", name, " weights (metadata arch) but --model=", DefaultArch())));
    }
    name = DefaultArch();
  }
  if (name.empty()) {
    return absl::StatusOr<Checkpoint>(absl::InvalidArgumentError(absl::StrCat(
        path, ": not a simdnet checkpoint (no metadata 'format'); if it is a torchvision "
        "state_dict, name its architecture with --weights=", path, " --model=ARCH (",
        absl::StrJoin(TorchvisionArchNames(), ", "),
        ") or export it with tools/interop/torchvision_export.py")));
  }
  return CheckpointFromStateDict(path, c, name);
}

[[maybe_unused]] const bool kInstalled = [] {
  SetForeignCheckpointReader(ReadForeign);
  return true;
}();

}  // namespace

void SetDefaultTorchArch(const std::string& arch) { DefaultArch() = arch; }

absl::StatusOr<Checkpoint> CheckpointFromStateDict(absl::string_view path,
                                                   const SafetensorsContents& file,
                                                   absl::string_view arch) {
  SIMDNET_ASSIGN_OR_RETURN(std::string spec, TorchvisionSpec(arch));
  int64_t classes = 1000;
  auto head = file.tensors.find(HeadWeightName(arch));
  if (head != file.tensors.end() && head->second.rank() == 2) classes = head->second.dim(0);
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Model> model,
                           ModelFromSpec(spec, std::nullopt, classes, /*seed=*/1,
                                         absl::StrCat("preset ", arch)));
  SIMDNET_RETURN_IF_ERROR(ImportStateDict(file, path, arch, *model));
  Checkpoint ck;
  ck.path = std::string(path);
  ck.info.model_spec = spec;
  ck.info.input_shape = model->InputShape();
  ck.info.num_classes = classes;
  if (classes == 1000) ck.info.class_names = ImageNetClassNames();
  ck.info.normalization = ImageNetNormalization(model->InputShape().dim(1));
  ck.info.extra["preprocess"] = "imagenet";
  ck.info.extra["arch"] = std::string(arch);
  for (const auto& [name, tensor] : file.tensors) ck.contents.tensors[name] = tensor;
  ck.contents.metadata = file.metadata;
  return ck;
}

}  // namespace simdnet
