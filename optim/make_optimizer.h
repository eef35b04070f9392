// Creates optimizers by name from a spec string given on the CLI or in a
// config file.
//
// Spec grammar (optim/spec_parser.h): name[:key=value{,key=value}]; lists
// use '/'. Names, keys and defaults:
//   sgd      lr=0.01 momentum=0 form=classic|pytorch|averaged nesterov=0|1
//            weight_decay=0 decoupled=0|1              (formulas: optim/sgd.h)
//   adam     lr=1e-3 betas=0.9/0.999 eps=1e-8 weight_decay=0
//                                                     (formulas: optim/adam.h)
//   adamw    as adam, decoupled weight decay, weight_decay=0.01 by default
//   rmsprop  lr=0.01 alpha=0.99 eps=1e-8 momentum=0 weight_decay=0
//            decoupled=0|1                         (formulas: optim/rmsprop.h)
//   adagrad  lr=0.01 lr_decay=0 initial_accumulator_value=0 eps=1e-10
//            weight_decay=0                        (formulas: optim/adagrad.h)
// Ranges: lr, lr_decay, initial_accumulator_value >= 0; momentum, alpha and
// each beta in [0, 1); eps > 0; weight_decay >= 0; nesterov=1 needs momentum > 0 and form != averaged.
// Examples: "sgd:lr=0.1,momentum=0.9,nesterov=1,weight_decay=5e-4",
// "adam:lr=1e-3,betas=0.9/0.999", "adamw:lr=3e-4,weight_decay=0.05",
// "rmsprop:lr=1e-3,alpha=0.9", "adagrad:lr=0.01,lr_decay=1e-4".
#ifndef SIMDNET_OPTIM_MAKE_OPTIMIZER_H_
#define SIMDNET_OPTIM_MAKE_OPTIMIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "optim/optimizer.h"

namespace simdnet {

// Returns the optimizer described by `spec`. InvalidArgument naming the spec
// and the offending token for an unknown name (listing the known ones), an
// unknown key (listing the known keys), a value that does not parse, or a value
// out of range (negative lr, momentum >= 1, betas outside [0, 1), eps <= 0,
// nesterov without momentum, ...), naming the key and value.
absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(
    absl::string_view spec);

// Returns the names MakeOptimizer accepts: {"adagrad", "adam", "adamw",
// "rmsprop", "sgd"}.
std::vector<std::string> OptimizerNames();

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_MAKE_OPTIMIZER_H_
