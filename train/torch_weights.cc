// State_dict import: validate every name, dtype, shape and value, then copy.
#include "train/torch_weights.h"

#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

struct Target {
  std::string name;
  Tensor* value;
};

}  // namespace

absl::Status ImportStateDict(const SafetensorsContents& file, absl::string_view source,
                             absl::string_view arch, Model& model) {
  auto meta_arch = file.metadata.find("arch");
  if (meta_arch != file.metadata.end() && meta_arch->second != arch) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": holds ", meta_arch->second, " weights (metadata arch) but the "
                     "model is ", arch, "; export the weights of --model=", arch,
                     " or pass --model=", meta_arch->second));
  }
  std::vector<Target> targets;
  for (NamedParameter& p : model.Params()) targets.push_back({p.name, &p.param->value});
  std::set<std::string> running_means;
  for (NamedBuffer& b : model.Buffers()) {
    targets.push_back({b.name, b.value});
    if (absl::EndsWith(b.name, ".running_mean")) {
      running_means.insert(b.name.substr(0, b.name.size() - std::strlen("running_mean")));
    }
  }
  std::set<std::string> used;
  for (const Target& t : targets) {
    auto it = file.tensors.find(t.name);
    if (it == file.tensors.end()) {
      auto as_int = file.int_tensors.find(t.name);
      if (as_int != file.int_tensors.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": tensor '", t.name, "' has dtype ",
            as_int->second.dtype == IntDType::kI64 ? "I64" : "I32", ", expected F32"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", t.name, "' (shape ", t.value->shape().ToString(),
                       ") of ", arch, " is missing from the file (weights of another "
                       "architecture or a different class count?)"));
    }
    if (it->second.shape() != t.value->shape()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", t.name, "' has shape ",
                       it->second.shape().ToString(), " but ", arch, " expects ",
                       t.value->shape().ToString()));
    }
    const float* data = it->second.data();
    for (int64_t i = 0; i < it->second.size(); ++i) {
      if (!std::isfinite(data[i])) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", t.name,
                                                       "' element ", i, " is ", data[i]));
      }
    }
    used.insert(t.name);
  }
  for (const auto& [name, tensor] : file.tensors) {
    if (used.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", name, "' (shape ", tensor.shape().ToString(),
                       ") is not part of ", arch));
    }
  }
  for (const auto& [name, tensor] : file.int_tensors) {
    const bool counter = absl::EndsWith(name, ".num_batches_tracked") &&
                         running_means.count(name.substr(
                             0, name.size() - std::strlen("num_batches_tracked"))) > 0;
    if (!counter) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", name, "' (an integer tensor) is not part of ", arch));
    }
    if (tensor.values.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", name, "' has ", tensor.values.size(),
                       " elements; a BatchNorm num_batches_tracked counter has 1"));
    }
  }
  for (const Target& t : targets) {
    const Tensor& src = file.tensors.at(t.name);
    std::memcpy(t.value->data(), src.data(), static_cast<size_t>(src.size()) * sizeof(float));
  }
  return absl::OkStatus();
}

absl::Status LoadTorchWeights(absl::string_view path, absl::string_view arch, Model& model) {
  SIMDNET_ASSIGN_OR_RETURN(SafetensorsContents file, LoadSafetensors(path));
  return ImportStateDict(file, path, arch, model);
}

}  // namespace simdnet
