// Optimizer: the interface every simdnet optimizer implements, with
// per-parameter-group settings (learning-rate scale, weight decay, frozen)
// selected by parameter-name prefix, and optimizer state keyed by parameter
// NAME so it can be checkpointed and resumed bit-identically.
//
// Usage per iteration: compute gradients, optionally clip them (optim/clip.h),
// take the learning rate from a schedule (optim/lr_schedule.h), then
// Step(params, lr).
//
// Thread safety: an Optimizer is not thread-safe (one call at a time); Step
// itself parallelizes over the pool it is given.
#ifndef SIMDNET_OPTIM_OPTIMIZER_H_
#define SIMDNET_OPTIM_OPTIMIZER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "layers/layer.h"
#include "tensor/tensor.h"
#include "tensor/thread_pool.h"

namespace simdnet {

// Settings for the parameters whose name starts with `prefix` (the empty prefix
// matches every parameter). Groups are matched in the order they were added;
// the first match wins, and a parameter matching no group uses the defaults:
// lr_scale 1, the optimizer's weight decay if the parameter's weight_decay flag
// is set (else 0), and the parameter's own frozen flag.
struct ParamGroup {
  std::string prefix;
  // The group's learning rate is lr * lr_scale (e.g. 0.1 for a pretrained
  // backbone).
  double lr_scale = 1.0;
  // When set, overrides the weight decay for the group, regardless of the
  // parameter's flag.
  std::optional<double> weight_decay;
  // Frozen groups are never updated (a parameter's own frozen flag also freezes
  // it).
  bool frozen = false;
};

// Parses a group spec
// "group:prefix=<p>[,lr_scale=<x>][,weight_decay=<x>][,frozen=0|1]", e.g.
// "group:prefix=features.,lr_scale=0.1,frozen=1". `prefix` is required (it may
// not contain ':' ',' or '='); lr_scale must be >= 0 and weight_decay >= 0.
// InvalidArgument naming the key and value.
absl::StatusOr<ParamGroup> ParseParamGroup(absl::string_view spec);

// A snapshot of an optimizer's state: tensors keyed "<parameter name>/<slot>"
// (e.g. "features.0.weight/momentum"), scalars keyed "iterations" and
// "<parameter name>/step". The checkpoint writer stores it; ImportState
// restores it exactly.
struct OptimizerState {
  std::string
      type;  // TypeName() of the optimizer that exported it, e.g. "adam".
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Returns the registry name, e.g. "sgd", "adam", "adamw", "rmsprop",
  // "adagrad".
  virtual std::string TypeName() const = 0;
  // Returns a spec that MakeOptimizer (optim/make_optimizer.h) turns into an
  // equivalent optimizer (hyper-parameters only; groups and state are not part
  // of it).
  virtual std::string ToSpec() const = 0;

  // Returns the base learning rate from the spec (the lr schedules multiply).
  double base_lr() const { return base_lr_; }
  // Returns the weight decay applied to parameters with the weight_decay flag.
  double weight_decay() const { return weight_decay_; }

  // Appends a parameter group (see ParamGroup for the matching rule).
  // InvalidArgument if lr_scale or weight_decay is negative or not finite.
  absl::Status AddGroup(const ParamGroup& group);
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // Updates every non-frozen parameter once from its gradient with learning
  // rate `lr` (times its group's lr_scale), creating state for parameters seen
  // for the first time (zero, or SlotInitialValue()). Work is split into fixed-size chunks run on
  // `pool`; the result does not depend on the thread count. Returns
  // InvalidArgument (and changes nothing) if lr is negative or not finite, a
  // name is empty or repeated, a grad's shape differs from its value's, or
  // restored state for a parameter has a different shape than the parameter.
  absl::Status Step(absl::Span<const NamedParameter> params, double lr,
                    ThreadPool& pool);
  // Same, on DefaultThreadPool().
  absl::Status Step(absl::Span<const NamedParameter> params, double lr);

  // Returns the number of successful Step calls (the position a schedule is
  // evaluated at).
  int64_t iterations() const { return iterations_; }
  // Returns how many times the named parameter was updated (0 if never).
  int64_t ParamSteps(absl::string_view name) const;

  // Returns a deep copy of the state (later steps do not change the snapshot).
  OptimizerState ExportState() const;
  // Replaces the state with a deep copy of `state`. InvalidArgument naming the
  // key if the type differs from TypeName(), a tensor key is not
  // "<name>/<slot>" with a known slot, a parameter lacks one of its slots or
  // its "/step" scalar, slot shapes of a parameter differ, a step or
  // "iterations" is not a non-negative integer, or a scalar key is unknown.
  // Shapes against the actual parameters are checked by the next Step. On error
  // the old state is kept.
  absl::Status ImportState(const OptimizerState& state);

 protected:
  Optimizer(double base_lr, double weight_decay)
      : base_lr_(base_lr), weight_decay_(weight_decay) {}

  // Per-parameter settings resolved from the groups for one Step.
  struct Resolved {
    double lr;            // lr * lr_scale
    double weight_decay;  // 0 when the parameter gets no decay
  };

  // Returns the names of the per-parameter state tensors, each shaped like the
  // parameter (e.g. {"momentum"}; empty for vanilla SGD).
  virtual std::vector<std::string> SlotNames() const = 0;

  // Returns the value every element of slot `slot` (an index into SlotNames())
  // starts at when a parameter is seen for the first time (0 unless overridden,
  // e.g. Adagrad's initial_accumulator_value).
  virtual float SlotInitialValue(size_t /*slot*/) const { return 0.0f; }

  // Applies one update to elements [begin, end) of a parameter. `step` is the
  // parameter's update count including this one (1 on the first update).
  // slots[i] holds the SlotNames()[i] buffer. Must be element-wise: called
  // concurrently on disjoint ranges of the same parameter.
  virtual void UpdateRange(const Resolved& settings, int64_t step,
                           const float* grad, float* value,
                           const std::vector<float*>& slots, size_t begin,
                           size_t end) const = 0;

 private:
  struct ParamState {
    std::vector<Tensor> slots;
    int64_t step = 0;
  };

  const ParamGroup* FindGroup(absl::string_view name) const;

  double base_lr_;
  double weight_decay_;
  std::vector<ParamGroup> groups_;
  std::map<std::string, ParamState> state_;
  int64_t iterations_ = 0;
};

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_OPTIMIZER_H_
