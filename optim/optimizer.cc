// Implementation of the Optimizer base class: group resolution, validation,
// chunked parallel updates and named state export/import (optim/optimizer.h).
#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "optim/spec_parser.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// Elements per parallel task. A multiple of 16 floats keeps every chunk 64-byte
// aligned when the parameter is; large enough that dispatch and task overhead
// are negligible.
constexpr size_t kChunk = 16384;

constexpr char kIterationsKey[] = "iterations";
constexpr char kStepSlot[] = "step";

bool IsNonNegativeInteger(double v) {
  return std::isfinite(v) && v >= 0 && v == std::floor(v) &&
         v <= 9007199254740992.0;  // 2^53
}

}  // namespace

absl::StatusOr<ParamGroup> ParseParamGroup(absl::string_view spec) {
  SIMDNET_ASSIGN_OR_RETURN(
      optim_internal::SpecArgs args,
      optim_internal::SpecArgs::Parse(spec, "parameter group spec"));
  if (args.name() != "group") {
    return absl::InvalidArgumentError(absl::StrCat(
        args.Context(), ": expected name 'group', got '", args.name(), "'"));
  }
  ParamGroup group;
  SIMDNET_RETURN_IF_ERROR(args.RequireKey("prefix"));
  SIMDNET_ASSIGN_OR_RETURN(group.prefix, args.GetString("prefix", ""));
  SIMDNET_ASSIGN_OR_RETURN(group.lr_scale, args.GetDouble("lr_scale", 1.0));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(group.lr_scale >= 0, "lr_scale", "must be >= 0"));
  if (args.Has("weight_decay")) {
    SIMDNET_ASSIGN_OR_RETURN(const double wd,
                             args.GetDouble("weight_decay", 0.0));
    SIMDNET_RETURN_IF_ERROR(
        args.Require(wd >= 0, "weight_decay", "must be >= 0"));
    group.weight_decay = wd;
  } else {
    SIMDNET_RETURN_IF_ERROR(
        args.GetDouble("weight_decay", 0.0).status());  // Marks it known.
  }
  SIMDNET_ASSIGN_OR_RETURN(group.frozen, args.GetBool("frozen", false));
  SIMDNET_RETURN_IF_ERROR(args.CheckNoUnknownKeys());
  return group;
}

absl::Status Optimizer::AddGroup(const ParamGroup& group) {
  if (!std::isfinite(group.lr_scale) || group.lr_scale < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameter group '", group.prefix,
        "': lr_scale must be finite and >= 0, got ", group.lr_scale));
  }
  if (group.weight_decay.has_value() &&
      (!std::isfinite(*group.weight_decay) || *group.weight_decay < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parameter group '", group.prefix,
        "': weight_decay must be finite and >= 0, got ", *group.weight_decay));
  }
  groups_.push_back(group);
  return absl::OkStatus();
}

const ParamGroup* Optimizer::FindGroup(absl::string_view name) const {
  for (const ParamGroup& g : groups_) {
    if (absl::StartsWith(name, g.prefix)) return &g;
  }
  return nullptr;
}

int64_t Optimizer::ParamSteps(absl::string_view name) const {
  auto it = state_.find(std::string(name));
  return it == state_.end() ? 0 : it->second.step;
}

absl::Status Optimizer::Step(absl::Span<const NamedParameter> params,
                             double lr) {
  return Step(params, lr, DefaultThreadPool());
}

absl::Status Optimizer::Step(absl::Span<const NamedParameter> params, double lr,
                             ThreadPool& pool) {
  if (!std::isfinite(lr) || lr < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        TypeName(), " step: learning rate must be finite and >= 0, got ", lr));
  }
  const std::vector<std::string> slot_names = SlotNames();

  // Pass 1: validate everything and resolve settings, so that an error changes
  // nothing.
  struct Work {
    Parameter* param;
    const std::string* name;
    Resolved settings;
  };
  std::vector<Work> work;
  std::set<absl::string_view> seen;
  for (const NamedParameter& np : params) {
    if (np.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(TypeName(), " step: a parameter has an empty name"));
    }
    if (!seen.insert(np.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          TypeName(), " step: parameter name '", np.name, "' appears twice"));
    }
    SIMDNET_CHECK(np.param != nullptr);
    Parameter& p = *np.param;
    const ParamGroup* group = FindGroup(np.name);
    if (p.frozen || (group != nullptr && group->frozen)) continue;
    if (p.grad.shape() != p.value.shape()) {
      return absl::InvalidArgumentError(absl::StrCat(
          TypeName(), " step: parameter '", np.name, "': grad shape ",
          p.grad.shape().ToString(), " differs from value shape ",
          p.value.shape().ToString()));
    }
    auto it = state_.find(np.name);
    if (it != state_.end()) {
      for (size_t s = 0; s < slot_names.size(); ++s) {
        if (it->second.slots[s].shape() != p.value.shape()) {
          return absl::InvalidArgumentError(absl::StrCat(
              TypeName(), " step: restored state '", np.name, "/",
              slot_names[s], "' has shape ",
              it->second.slots[s].shape().ToString(),
              " but the parameter has shape ", p.value.shape().ToString()));
        }
      }
    }
    Resolved settings;
    settings.lr = lr * (group != nullptr ? group->lr_scale : 1.0);
    if (group != nullptr && group->weight_decay.has_value()) {
      settings.weight_decay = *group->weight_decay;
    } else {
      settings.weight_decay = p.weight_decay ? weight_decay_ : 0.0;
    }
    work.push_back({&p, &np.name, settings});
  }

  // Pass 2: update (caches derived from parameter values become stale). States first, then
  // every parameter's chunks as the tasks of one parallel loop (a small network's dozen
  // parameters would otherwise be a dozen loops, most of them serial); elements are updated
  // independently, so the split does not change any result.
  NoteParametersChanged();
  struct Update {
    const Work* work;
    int64_t step;
    std::vector<float*> slots;
  };
  std::vector<Update> updates;
  updates.reserve(work.size());
  for (const Work& w : work) {
    ParamState& st = state_[*w.name];
    if (st.slots.size() != slot_names.size()) {
      st.slots.clear();
      for (size_t s = 0; s < slot_names.size(); ++s) {
        st.slots.emplace_back(w.param->value.shape());
        const float init = SlotInitialValue(s);
        if (init != 0.0f) st.slots.back().SetAll(init);
      }
    }
    ++st.step;
    std::vector<float*> slots;
    for (Tensor& t : st.slots) slots.push_back(t.data());
    updates.push_back({&w, st.step, std::move(slots)});
  }
  struct Chunk {
    size_t update, begin, end;
  };
  std::vector<Chunk> chunks;
  size_t total = 0;
  for (size_t u = 0; u < updates.size(); ++u) {
    const size_t n = static_cast<size_t>(updates[u].work->param->value.size());
    total += n;
    for (size_t begin = 0; begin < n; begin += kChunk) {
      chunks.push_back({u, begin, std::min(n, begin + kChunk)});
    }
  }
  const auto run = [&](uint64_t task, size_t /*thread*/) {
    const Chunk& c = chunks[static_cast<size_t>(task)];
    const Update& u = updates[c.update];
    UpdateRange(u.work->settings, u.step, u.work->param->grad.data(),
                u.work->param->value.data(), u.slots, c.begin, c.end);
  };
  if (total <= kChunk) {
    for (size_t t = 0; t < chunks.size(); ++t) run(t, 0);
  } else {
    pool.ParallelFor(chunks.size(), run);
  }
  ++iterations_;
  return absl::OkStatus();
}

OptimizerState Optimizer::ExportState() const {
  OptimizerState out;
  out.type = TypeName();
  out.scalars[kIterationsKey] = static_cast<double>(iterations_);
  const std::vector<std::string> slot_names = SlotNames();
  for (const auto& [name, st] : state_) {
    out.scalars[absl::StrCat(name, "/", kStepSlot)] =
        static_cast<double>(st.step);
    for (size_t s = 0; s < st.slots.size(); ++s) {
      out.tensors[absl::StrCat(name, "/", slot_names[s])] = st.slots[s].Clone();
    }
  }
  return out;
}

absl::Status Optimizer::ImportState(const OptimizerState& state) {
  if (state.type != TypeName()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "optimizer state: type '", state.type, "' cannot be restored into a '",
        TypeName(), "' optimizer"));
  }
  const std::vector<std::string> slot_names = SlotNames();
  std::map<std::string, ParamState> fresh;
  std::map<std::string, std::vector<bool>>
      have;  // Which slots each parameter provided.
  for (const auto& [key, tensor] : state.tensors) {
    const size_t slash = key.rfind('/');
    const std::string name =
        slash == std::string::npos ? "" : key.substr(0, slash);
    const std::string slot =
        slash == std::string::npos ? key : key.substr(slash + 1);
    const auto slot_it = std::find(slot_names.begin(), slot_names.end(), slot);
    if (name.empty() || slot_it == slot_names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "optimizer state: tensor key '", key,
          "' is not '<parameter>/<slot>' with a slot of '", TypeName(), "'"));
    }
    ParamState& st = fresh[name];
    st.slots.resize(slot_names.size());
    have[name].resize(slot_names.size(), false);
    const size_t index = static_cast<size_t>(slot_it - slot_names.begin());
    st.slots[index] = tensor.Clone();
    have[name][index] = true;
  }
  bool have_iterations = false;
  int64_t iterations = 0;
  std::set<std::string> with_step;
  for (const auto& [key, value] : state.scalars) {
    if (!IsNonNegativeInteger(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state: scalar '", key, "' = ", value,
                       " is not a non-negative integer"));
    }
    if (key == kIterationsKey) {
      have_iterations = true;
      iterations = static_cast<int64_t>(value);
      continue;
    }
    const size_t slash = key.rfind('/');
    if (slash == std::string::npos || slash == 0 ||
        key.substr(slash + 1) != kStepSlot) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state: unknown scalar key '", key, "'"));
    }
    const std::string name = key.substr(0, slash);
    ParamState& st = fresh[name];
    st.step = static_cast<int64_t>(value);
    with_step.insert(name);
  }
  if (!have_iterations) {
    return absl::InvalidArgumentError(
        "optimizer state: missing scalar 'iterations'");
  }
  for (auto& [name, st] : fresh) {
    if (with_step.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state: parameter '", name,
                       "' has no scalar '", name, "/step'"));
    }
    st.slots.resize(slot_names.size());
    have[name].resize(slot_names.size(), false);
    for (size_t s = 0; s < slot_names.size(); ++s) {
      if (!have[name][s]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "optimizer state: parameter '", name, "' is missing tensor '", name,
            "/", slot_names[s], "'"));
      }
      if (st.slots[s].shape() != st.slots[0].shape()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "optimizer state: '", name, "/", slot_names[s], "' has shape ",
            st.slots[s].shape().ToString(), " but '", name, "/", slot_names[0],
            "' has shape ", st.slots[0].shape().ToString()));
      }
    }
  }
  state_ = std::move(fresh);
  iterations_ = iterations;
  return absl::OkStatus();
}

}  // namespace simdnet
