// Spec-string factory for optimizers (optim/make_optimizer.h).
#include "optim/make_optimizer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
#include "optim/spec_parser.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

using optim_internal::SpecArgs;

// Range checks shared by the optimizers, reported with the spec's key and
// value.
absl::Status CheckLr(const SpecArgs& args, double lr) {
  return args.Require(lr >= 0, "lr", "must be >= 0");
}
absl::Status CheckUnitInterval(const SpecArgs& args, const char* key,
                               double v) {
  return args.Require(v >= 0 && v < 1, key, "must be in [0, 1)");
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeSgd(SpecArgs& args) {
  SgdOptions o;
  SIMDNET_ASSIGN_OR_RETURN(o.lr, args.GetDouble("lr", o.lr));
  SIMDNET_RETURN_IF_ERROR(CheckLr(args, o.lr));
  SIMDNET_ASSIGN_OR_RETURN(o.momentum, args.GetDouble("momentum", o.momentum));
  SIMDNET_RETURN_IF_ERROR(CheckUnitInterval(args, "momentum", o.momentum));
  SIMDNET_ASSIGN_OR_RETURN(const std::string form,
                           args.GetString("form", "classic"));
  if (form == "classic") {
    o.form = MomentumForm::kClassic;
  } else if (form == "pytorch") {
    o.form = MomentumForm::kPyTorch;
  } else if (form == "averaged") {
    o.form = MomentumForm::kAveraged;
  } else {
    return args.Require(false, "form", "expected classic, pytorch or averaged");
  }
  SIMDNET_ASSIGN_OR_RETURN(o.nesterov, args.GetBool("nesterov", false));
  SIMDNET_RETURN_IF_ERROR(args.Require(!o.nesterov || o.momentum > 0,
                                       "nesterov", "requires momentum > 0"));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(!o.nesterov || o.form != MomentumForm::kAveraged, "nesterov",
                   "is not defined for form=averaged"));
  SIMDNET_ASSIGN_OR_RETURN(o.weight_decay, args.GetDouble("weight_decay", 0.0));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(o.weight_decay >= 0, "weight_decay", "must be >= 0"));
  SIMDNET_ASSIGN_OR_RETURN(o.decoupled_weight_decay,
                           args.GetBool("decoupled", false));
  SIMDNET_RETURN_IF_ERROR(args.CheckNoUnknownKeys());
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Sgd> sgd, Sgd::Create(o));
  return std::unique_ptr<Optimizer>(std::move(sgd));
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeAdam(SpecArgs& args,
                                                    bool decoupled) {
  AdamOptions o;
  o.decoupled_weight_decay = decoupled;
  SIMDNET_ASSIGN_OR_RETURN(o.lr, args.GetDouble("lr", o.lr));
  SIMDNET_RETURN_IF_ERROR(CheckLr(args, o.lr));
  SIMDNET_ASSIGN_OR_RETURN(const std::vector<double> betas,
                           args.GetDoubleList("betas", {o.beta1, o.beta2}));
  SIMDNET_RETURN_IF_ERROR(args.Require(betas.size() == 2, "betas",
                                       "expected two values beta1/beta2"));
  SIMDNET_RETURN_IF_ERROR(args.Require(
      betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1, "betas",
      "each beta must be in [0, 1)"));
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  SIMDNET_ASSIGN_OR_RETURN(o.eps, args.GetDouble("eps", o.eps));
  SIMDNET_RETURN_IF_ERROR(args.Require(o.eps > 0, "eps", "must be > 0"));
  SIMDNET_ASSIGN_OR_RETURN(
      o.weight_decay, args.GetDouble("weight_decay", decoupled ? 0.01 : 0.0));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(o.weight_decay >= 0, "weight_decay", "must be >= 0"));
  SIMDNET_RETURN_IF_ERROR(args.CheckNoUnknownKeys());
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Adam> adam, Adam::Create(o));
  return std::unique_ptr<Optimizer>(std::move(adam));
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeRmsprop(SpecArgs& args) {
  RmspropOptions o;
  SIMDNET_ASSIGN_OR_RETURN(o.lr, args.GetDouble("lr", o.lr));
  SIMDNET_RETURN_IF_ERROR(CheckLr(args, o.lr));
  SIMDNET_ASSIGN_OR_RETURN(o.alpha, args.GetDouble("alpha", o.alpha));
  SIMDNET_RETURN_IF_ERROR(CheckUnitInterval(args, "alpha", o.alpha));
  SIMDNET_ASSIGN_OR_RETURN(o.eps, args.GetDouble("eps", o.eps));
  SIMDNET_RETURN_IF_ERROR(args.Require(o.eps > 0, "eps", "must be > 0"));
  SIMDNET_ASSIGN_OR_RETURN(o.momentum, args.GetDouble("momentum", o.momentum));
  SIMDNET_RETURN_IF_ERROR(CheckUnitInterval(args, "momentum", o.momentum));
  SIMDNET_ASSIGN_OR_RETURN(o.weight_decay, args.GetDouble("weight_decay", 0.0));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(o.weight_decay >= 0, "weight_decay", "must be >= 0"));
  SIMDNET_ASSIGN_OR_RETURN(o.decoupled_weight_decay,
                           args.GetBool("decoupled", false));
  SIMDNET_RETURN_IF_ERROR(args.CheckNoUnknownKeys());
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Rmsprop> rmsprop,
                           Rmsprop::Create(o));
  return std::unique_ptr<Optimizer>(std::move(rmsprop));
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeAdagrad(SpecArgs& args) {
  AdagradOptions o;
  SIMDNET_ASSIGN_OR_RETURN(o.lr, args.GetDouble("lr", o.lr));
  SIMDNET_RETURN_IF_ERROR(CheckLr(args, o.lr));
  SIMDNET_ASSIGN_OR_RETURN(o.lr_decay, args.GetDouble("lr_decay", o.lr_decay));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(o.lr_decay >= 0, "lr_decay", "must be >= 0"));
  SIMDNET_ASSIGN_OR_RETURN(
      o.initial_accumulator_value,
      args.GetDouble("initial_accumulator_value", o.initial_accumulator_value));
  SIMDNET_RETURN_IF_ERROR(args.Require(o.initial_accumulator_value >= 0,
                                       "initial_accumulator_value",
                                       "must be >= 0"));
  SIMDNET_ASSIGN_OR_RETURN(o.eps, args.GetDouble("eps", o.eps));
  SIMDNET_RETURN_IF_ERROR(args.Require(o.eps > 0, "eps", "must be > 0"));
  SIMDNET_ASSIGN_OR_RETURN(o.weight_decay, args.GetDouble("weight_decay", 0.0));
  SIMDNET_RETURN_IF_ERROR(
      args.Require(o.weight_decay >= 0, "weight_decay", "must be >= 0"));
  SIMDNET_RETURN_IF_ERROR(args.CheckNoUnknownKeys());
  SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Adagrad> adagrad,
                           Adagrad::Create(o));
  return std::unique_ptr<Optimizer>(std::move(adagrad));
}

}  // namespace

std::vector<std::string> OptimizerNames() {
  return {"adagrad", "adam", "adamw", "rmsprop", "sgd"};
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(
    absl::string_view spec) {
  SIMDNET_ASSIGN_OR_RETURN(SpecArgs args,
                           SpecArgs::Parse(spec, "optimizer spec"));
  if (args.name() == "sgd") return MakeSgd(args);
  if (args.name() == "adam") return MakeAdam(args, /*decoupled=*/false);
  if (args.name() == "adamw") return MakeAdam(args, /*decoupled=*/true);
  if (args.name() == "rmsprop") return MakeRmsprop(args);
  if (args.name() == "adagrad") return MakeAdagrad(args);
  return absl::InvalidArgumentError(
      absl::StrCat(args.Context(), ": unknown optimizer '", args.name(),
                   "' (known: ", absl::StrJoin(OptimizerNames(), ", "), ")"));
}

}  // namespace simdnet
