// Checkpoint save/load on top of the safetensors format, with metadata validation.
#include "train/checkpoint.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "layers/model_spec.h"
#include "nlohmann/json.hpp"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

using json = nlohmann::json;

constexpr char kOptimizerPrefix[] = "optimizer/";

std::string Dump(const json& j) {
  // Replace invalid UTF-8 (e.g. odd folder names) instead of throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::Status MetaError(absl::string_view path, absl::string_view key, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(path, ": checkpoint metadata '", key, "': ", why));
}

absl::StatusOr<std::string> GetMeta(const SafetensorsContents& c, absl::string_view path,
                                    const std::string& key, bool required) {
  auto it = c.metadata.find(key);
  if (it == c.metadata.end()) {
    if (required) return MetaError(path, key, "missing");
    return std::string();
  }
  return it->second;
}

absl::StatusOr<json> ParseJsonMeta(absl::string_view path, const std::string& key,
                                   const std::string& text, json::value_t want) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return MetaError(path, key, "is not valid JSON");
  if (j.type() != want) {
    return MetaError(path, key,
                     want == json::value_t::array ? "is not a JSON array" : "is not a JSON object");
  }
  return j;
}

// Parses metadata `key` holding a JSON array of strings.
absl::StatusOr<std::vector<std::string>> ParseStringArrayMeta(absl::string_view path,
                                                              const std::string& key,
                                                              const std::string& text) {
  SIMDNET_ASSIGN_OR_RETURN(json j, ParseJsonMeta(path, key, text, json::value_t::array));
  std::vector<std::string> out;
  for (const json& v : j) {
    if (!v.is_string()) return MetaError(path, key, "holds a non-string");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// Parses metadata `key` holding a JSON object whose values are strings.
absl::StatusOr<std::map<std::string, std::string>> ParseStringObjectMeta(
    absl::string_view path, const std::string& key, const std::string& text) {
  SIMDNET_ASSIGN_OR_RETURN(json j, ParseJsonMeta(path, key, text, json::value_t::object));
  std::map<std::string, std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) return MetaError(path, key, "holds a non-string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

}  // namespace

std::string ShapeToText(const Shape& shape) { return absl::StrJoin(shape.dims(), ","); }

absl::StatusOr<Shape> ShapeFromText(absl::string_view text) {
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d) || d < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape '", text, "': expected positive integers separated by ','"));
    }
    dims.push_back(d);
  }
  return Shape::Create(dims);
}

absl::Status SaveCheckpoint(absl::string_view path, Model& model, const CheckpointInfo& info,
                            const Optimizer* optimizer) {
  SafetensorsContents c;
  json frozen = json::array();
  for (const NamedParameter& p : model.Params()) {
    c.tensors[p.name] = p.param->value;
    if (p.param->frozen) frozen.push_back(p.name);
  }
  for (const NamedBuffer& b : model.Buffers()) c.tensors[b.name] = *b.value;
  json rngs = json::object();
  for (const NamedRng& r : model.Rngs()) rngs[r.name] = r.rng->SaveState();

  c.metadata["format"] = kCheckpointFormat;
  c.metadata["format_version"] = absl::StrCat(kCheckpointVersion);
  c.metadata["model_spec"] = info.model_spec;
  c.metadata["input_shape"] = ShapeToText(info.input_shape);
  c.metadata["num_classes"] = absl::StrCat(info.num_classes);
  c.metadata["class_names"] = Dump(json(info.class_names));
  json norm = json::object();
  for (const auto& [k, v] : info.normalization.ToKeyValues()) norm[k] = v;
  c.metadata["normalization"] = Dump(norm);
  c.metadata["frozen"] = Dump(frozen);
  c.metadata["rng"] = Dump(rngs);
  c.metadata["trainer"] = info.trainer_json;
  c.metadata["schedule_spec"] = info.schedule_spec;
  for (const auto& [k, v] : info.extra) c.metadata[absl::StrCat("extra.", k)] = v;

  if (optimizer != nullptr) {
    OptimizerState state = optimizer->ExportState();
    c.metadata["optimizer_spec"] = info.optimizer_spec.empty() ? optimizer->ToSpec()
                                                               : info.optimizer_spec;
    c.metadata["optimizer_type"] = state.type;
    json scalars = json::object();
    for (const auto& [k, v] : state.scalars) scalars[k] = v;
    c.metadata["optimizer_scalars"] = Dump(scalars);
    for (auto& [k, t] : state.tensors) c.tensors[absl::StrCat(kOptimizerPrefix, k)] = t;
  }
  return SaveSafetensors(path, c);
}

namespace {

ForeignCheckpointReader& ForeignReader() {
  static auto* reader = new ForeignCheckpointReader();
  return *reader;
}

}  // namespace

void SetForeignCheckpointReader(ForeignCheckpointReader reader) {
  ForeignReader() = std::move(reader);
}

absl::StatusOr<Checkpoint> ReadCheckpoint(absl::string_view path) {
  Checkpoint ck;
  ck.path = std::string(path);
  SIMDNET_ASSIGN_OR_RETURN(ck.contents, LoadSafetensors(path));
  const SafetensorsContents& c = ck.contents;
  auto format_it = c.metadata.find("format");
  if ((format_it == c.metadata.end() || format_it->second != kCheckpointFormat) &&
      ForeignReader()) {
    std::optional<absl::StatusOr<Checkpoint>> foreign = ForeignReader()(path, c);
    if (foreign.has_value()) return *std::move(foreign);
  }

  SIMDNET_ASSIGN_OR_RETURN(std::string format, GetMeta(c, path, "format", true));
  if (format != kCheckpointFormat) {
    return MetaError(path, "format",
                     absl::StrCat("is '", format.substr(0, 64), "', expected '",
                                  kCheckpointFormat, "'"));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string version, GetMeta(c, path, "format_version", true));
  if (version != absl::StrCat(kCheckpointVersion)) {
    return MetaError(path, "format_version",
                     absl::StrCat("version '", version.substr(0, 16),
                                  "' is not supported (this build reads ", kCheckpointVersion,
                                  ")"));
  }
  CheckpointInfo& info = ck.info;
  SIMDNET_ASSIGN_OR_RETURN(info.model_spec, GetMeta(c, path, "model_spec", true));
  SIMDNET_ASSIGN_OR_RETURN(std::string shape_text, GetMeta(c, path, "input_shape", true));
  auto shape = ShapeFromText(shape_text);
  if (!shape.ok()) return MetaError(path, "input_shape", shape.status().message());
  info.input_shape = *shape;
  SIMDNET_ASSIGN_OR_RETURN(std::string classes_text, GetMeta(c, path, "num_classes", true));
  if (!absl::SimpleAtoi(classes_text, &info.num_classes) || info.num_classes < 1 ||
      info.num_classes > 1000000) {
    return MetaError(path, "num_classes", "must be an integer in [1, 1000000]");
  }

  SIMDNET_ASSIGN_OR_RETURN(std::string names_text, GetMeta(c, path, "class_names", false));
  if (!names_text.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(info.class_names,
                             ParseStringArrayMeta(path, "class_names", names_text));
    if (!info.class_names.empty() &&
        static_cast<int64_t>(info.class_names.size()) != info.num_classes) {
      return MetaError(path, "class_names",
                       absl::StrCat("has ", info.class_names.size(), " names but num_classes is ",
                                    info.num_classes));
    }
  }

  SIMDNET_ASSIGN_OR_RETURN(std::string norm_text, GetMeta(c, path, "normalization", false));
  if (!norm_text.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(auto kv, ParseStringObjectMeta(path, "normalization", norm_text));
    if (!kv.empty()) {
      auto n = Normalization::FromKeyValues(kv);
      if (!n.ok()) return MetaError(path, "normalization", n.status().message());
      info.normalization = *n;
    }
  }

  SIMDNET_ASSIGN_OR_RETURN(std::string frozen_text, GetMeta(c, path, "frozen", false));
  if (!frozen_text.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(ck.frozen, ParseStringArrayMeta(path, "frozen", frozen_text));
  }
  SIMDNET_ASSIGN_OR_RETURN(std::string rng_text, GetMeta(c, path, "rng", false));
  if (!rng_text.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(ck.rng_states, ParseStringObjectMeta(path, "rng", rng_text));
  }
  SIMDNET_ASSIGN_OR_RETURN(info.trainer_json, GetMeta(c, path, "trainer", false));
  if (info.trainer_json.empty()) info.trainer_json = "{}";
  SIMDNET_ASSIGN_OR_RETURN(info.schedule_spec, GetMeta(c, path, "schedule_spec", false));
  for (const auto& [k, v] : c.metadata) {
    if (absl::StartsWith(k, "extra.")) info.extra[k.substr(6)] = v;
  }

  SIMDNET_ASSIGN_OR_RETURN(info.optimizer_spec, GetMeta(c, path, "optimizer_spec", false));
  if (!info.optimizer_spec.empty()) {
    OptimizerState state;
    SIMDNET_ASSIGN_OR_RETURN(state.type, GetMeta(c, path, "optimizer_type", true));
    SIMDNET_ASSIGN_OR_RETURN(std::string scalars_text,
                             GetMeta(c, path, "optimizer_scalars", true));
    SIMDNET_ASSIGN_OR_RETURN(json scalars, ParseJsonMeta(path, "optimizer_scalars", scalars_text,
                                                         json::value_t::object));
    for (auto it = scalars.begin(); it != scalars.end(); ++it) {
      if (!it.value().is_number()) {
        return MetaError(path, "optimizer_scalars",
                         absl::StrCat("value of '", it.key(), "' is not a number"));
      }
      state.scalars[it.key()] = it.value().get<double>();
    }
    for (const auto& [name, t] : c.tensors) {
      if (absl::StartsWith(name, kOptimizerPrefix)) {
        state.tensors[name.substr(sizeof(kOptimizerPrefix) - 1)] = t;
      }
    }
    ck.optimizer_state = std::move(state);
  }
  return ck;
}

absl::Status CheckFiniteTensors(const Checkpoint& ckpt) {
  for (const auto& [name, t] : ckpt.contents.tensors) {
    for (int64_t i = 0; i < t.size(); ++i) {
      if (!std::isfinite(t[i])) {
        return absl::FailedPreconditionError(absl::StrCat(
            ckpt.path, ": tensor '", name, "' holds a non-finite value (", t[i], " at element ",
            i, "); refusing to train or evaluate with it (the run diverged before this "
            "checkpoint was written; use an earlier one)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LoadModelState(const Checkpoint& ckpt, Model& model, bool allow_non_finite) {
  if (!allow_non_finite) SIMDNET_RETURN_IF_ERROR(CheckFiniteTensors(ckpt));
  std::set<std::string> used;
  auto copy = [&](const std::string& name, Tensor* dst) -> absl::Status {
    auto it = ckpt.contents.tensors.find(name);
    if (it == ckpt.contents.tensors.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(ckpt.path, ": tensor '", name, "' of the model is missing"));
    }
    if (it->second.shape() != dst->shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          ckpt.path, ": tensor '", name, "' has shape ", it->second.shape().ToString(),
          " but the model expects ", dst->shape().ToString()));
    }
    used.insert(name);
    return dst->CopyFrom(it->second);
  };
  std::set<std::string> frozen(ckpt.frozen.begin(), ckpt.frozen.end());
  for (const NamedParameter& p : model.Params()) {
    SIMDNET_RETURN_IF_ERROR(copy(p.name, &p.param->value));
    p.param->frozen = frozen.count(p.name) > 0;
  }
  for (const NamedBuffer& b : model.Buffers()) SIMDNET_RETURN_IF_ERROR(copy(b.name, b.value));
  for (const auto& [name, t] : ckpt.contents.tensors) {
    if (absl::StartsWith(name, kOptimizerPrefix)) continue;
    if (used.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(ckpt.path, ": tensor '", name, "' does not belong to the model"));
    }
  }
  for (const NamedRng& r : model.Rngs()) {
    auto it = ckpt.rng_states.find(r.name);
    if (it == ckpt.rng_states.end()) continue;  // a fresh stream is fine for inference
    SIMDNET_ASSIGN_OR_RETURN(*r.rng, Rng::LoadState(it->second));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> LoadMatchingWeights(const Checkpoint& ckpt,
                                                             Model& model) {
  SIMDNET_RETURN_IF_ERROR(CheckFiniteTensors(ckpt));
  std::vector<std::string> copied;
  auto try_copy = [&](const std::string& name, Tensor* dst) -> absl::Status {
    auto it = ckpt.contents.tensors.find(name);
    if (it == ckpt.contents.tensors.end() || it->second.shape() != dst->shape()) {
      return absl::OkStatus();
    }
    copied.push_back(name);
    return dst->CopyFrom(it->second);
  };
  for (const NamedParameter& p : model.Params()) {
    SIMDNET_RETURN_IF_ERROR(try_copy(p.name, &p.param->value));
  }
  for (const NamedBuffer& b : model.Buffers()) SIMDNET_RETURN_IF_ERROR(try_copy(b.name, b.value));
  return copied;
}

absl::StatusOr<std::unique_ptr<Model>> ModelFromCheckpoint(const Checkpoint& ckpt) {
  auto model = ModelFromSpec(ckpt.info.model_spec, ckpt.info.input_shape, ckpt.info.num_classes,
                             /*seed=*/0, absl::StrCat(ckpt.path, " (model_spec)"));
  if (!model.ok()) return model.status();
  SIMDNET_RETURN_IF_ERROR(LoadModelState(ckpt, **model));
  return std::move(model).value();
}

}  // namespace simdnet
