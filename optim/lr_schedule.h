// Learning-rate schedules as pure functions of the step:
//   lr = base_lr * Factor(t)
// where t is the schedule position: the optimizer's iteration count, or the
// epoch index when stepping per epoch. A linear warm-up can be put in front of
// any of them.
//
// Spec grammar (optim/spec_parser.h): name[:key=value{,key=value}].
// Keys every schedule takes:
//   per=iter|epoch  t = iteration (default), or iteration / iters_per_epoch
//   warmup=W        W >= 0 positions of linear warm-up: Factor(t) =
//                   (t + 1) / W * F(0) for t < W, then F(t - W); the schedule
//                   starts after the warm-up (llm.c schedulers.h; Goyal et al.
//                   2017, "Accurate, Large Minibatch SGD", gradual warm-up)
// Schedules F(t); keys marked * are required:
//   constant
//     1
//   step:step_size*=S,gamma=0.1                               (PyTorch StepLR)
//     gamma^floor(t / S)
//   multistep:milestones*=m1/m2/...,gamma=0.1            (PyTorch MultiStepLR)
//     gamma^(number of milestones <= t)
//   exp:gamma*=g                                       (PyTorch ExponentialLR)
//     g^t
//   inv:gamma*=g,power=1         (CS231n "1/t decay"; darknet's INV policy)
//     (1 + g * t)^-power
//   cosine:t_max*=T,min_factor=0
//     m + (1 - m) * (1 + cos(pi * t / T)) / 2 for t < T, m after
//     (Loshchilov & Hutter 2017; PyTorch CosineAnnealingLR closed form with
//     eta_min = m * base_lr)
//   sgdr:t_0*=T0,t_mult=1,min_factor=0
//     the cosine above restarted over periods T0, T0 * t_mult, ...
//     (Loshchilov & Hutter 2017, "SGDR: Stochastic Gradient Descent with Warm
//     Restarts"; PyTorch CosineAnnealingWarmRestarts)
//   cyclic:step_size*=S,min_factor=0.1,mode=triangular|triangular2
//     c = floor(1 + t / 2S), x = |t / S - 2c + 1|,
//     m + (1 - m) * max(0, 1 - x) * (1, or 2^-(c-1) for triangular2)
//     (Smith 2017, "Cyclical Learning Rates for Training Neural Networks";
//     PyTorch CyclicLR with base_lr = m * lr, max_lr = lr, step_size_up =
//     step_size_down = S)
//   onecycle:total_steps*=N,pct_start=0.3,div_factor=25,
//            final_div_factor=1e4,anneal=cos|linear
//     from 1 / div_factor up to 1 at position pct_start * N - 1, then down to
//     1 / (div_factor * final_div_factor) at N - 1, held after (Smith & Topin
//     2018, "Super-Convergence"; PyTorch OneCycleLR, two phases)
// Examples: "cosine:t_max=100,warmup=5", "step:step_size=30,per=epoch",
// "onecycle:total_steps=1000", "sgdr:t_0=10,t_mult=2,per=epoch".
#ifndef SIMDNET_OPTIM_LR_SCHEDULE_H_
#define SIMDNET_OPTIM_LR_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace simdnet {

// Closed-form factors F(t) of each schedule (see the table above). Each
// requires t >= 0 and the parameter ranges MakeSchedule enforces.
double StepDecayFactor(int64_t t, int64_t step_size, double gamma);
// Requires: milestones strictly increasing.
double MultiStepFactor(int64_t t, absl::Span<const int64_t> milestones,
                       double gamma);
double ExponentialFactor(int64_t t, double gamma);
double InverseTimeFactor(int64_t t, double gamma, double power);
double CosineFactor(int64_t t, int64_t t_max, double min_factor);
double SgdrFactor(int64_t t, int64_t t_0, int64_t t_mult, double min_factor);
double CyclicFactor(int64_t t, int64_t step_size, double min_factor,
                    bool triangular2);
double OneCycleFactor(int64_t t, int64_t total_steps, double pct_start,
                      double div_factor, double final_div_factor,
                      bool cosine_anneal);

enum class ScheduleKind {
  kConstant,
  kStep,
  kMultiStep,
  kExponential,
  kInverseTime,
  kCosine,
  kSgdr,
  kCyclic,
  kOneCycle,
};

enum class ScheduleUnit { kIteration, kEpoch };

// All options of all schedules; only those of `kind` are used.
struct LrScheduleOptions {
  ScheduleKind kind = ScheduleKind::kConstant;
  ScheduleUnit unit = ScheduleUnit::kIteration;
  int64_t warmup = 0;
  int64_t step_size = 1;            // step, cyclic
  std::vector<int64_t> milestones;  // multistep
  double gamma = 0.1;               // step, multistep, exp, inv
  double power = 1.0;               // inv
  int64_t t_max = 1;                // cosine
  int64_t t_0 = 1;                  // sgdr
  int64_t t_mult = 1;               // sgdr
  double min_factor = 0.0;          // cosine, sgdr, cyclic
  bool triangular2 = false;         // cyclic
  int64_t total_steps = 2;          // onecycle
  double pct_start = 0.3;           // onecycle
  double div_factor = 25.0;         // onecycle
  double final_div_factor = 1e4;    // onecycle
  bool cosine_anneal = true;        // onecycle
};

class LrSchedule {
 public:
  // Returns the constant schedule.
  LrSchedule() = default;
  // Returns a schedule; InvalidArgument naming the option and value if an
  // option is out of the range MakeSchedule enforces (see MakeSchedule).
  static absl::StatusOr<LrSchedule> Create(const LrScheduleOptions& options);

  // Returns the multiplier of the base lr at schedule position t (warm-up
  // included). Requires: t >= 0.
  double Factor(int64_t t) const;
  // Returns the schedule position of an iteration: the iteration itself, or
  // iteration / iterations_per_epoch when stepping per epoch.
  // Requires: iteration >= 0, iterations_per_epoch >= 1.
  int64_t Position(int64_t iteration, int64_t iterations_per_epoch) const;
  // Returns base_lr * Factor(Position(iteration, iterations_per_epoch)).
  double LrAt(double base_lr, int64_t iteration,
              int64_t iterations_per_epoch) const;

  // Returns a spec MakeSchedule parses back into an identical schedule.
  std::string ToSpec() const;
  const LrScheduleOptions& options() const { return options_; }

 private:
  explicit LrSchedule(const LrScheduleOptions& options) : options_(options) {}
  double MainFactor(int64_t t) const;
  LrScheduleOptions options_;
};

// Returns the schedule described by `spec` (grammar and keys at the top of this
// file). InvalidArgument naming the spec and token for an unknown name (listing
// the known ones), an unknown or missing key, an unparsable value, or a value
// out of range, naming key and value: step_size, t_max, t_0 in [1, 1e15],
// total_steps in [2, 1e15] with pct_start * total_steps > 1; warmup in [0,
// 1e15]; t_mult >= 1; gamma > 0 (inv: >= 0); power > 0; min_factor in [0, 1];
// milestones strictly increasing positive integers; pct_start in (0, 1);
// div_factor, final_div_factor >= 1.
absl::StatusOr<LrSchedule> MakeSchedule(absl::string_view spec);

// Returns the names MakeSchedule accepts.
std::vector<std::string> ScheduleNames();

}  // namespace simdnet

#endif  // SIMDNET_OPTIM_LR_SCHEDULE_H_
