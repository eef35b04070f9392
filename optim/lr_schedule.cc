// Closed-form learning-rate schedules and their spec parser
// (optim/lr_schedule.h).
#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "optim/spec_parser.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

using optim_internal::FormatSpecDouble;
using optim_internal::SpecArgs;

constexpr double kPi = 3.14159265358979323846;

// Upper bound on lengths given in positions, far beyond any run, so that
// position arithmetic (2 * step_size, t + warmup) cannot overflow.
constexpr int64_t kMaxPosition = 1000000000000000;

struct KindName {
  ScheduleKind kind;
  const char* name;
};
constexpr KindName kKindNames[] = {
    {ScheduleKind::kConstant, "constant"},
    {ScheduleKind::kStep, "step"},
    {ScheduleKind::kMultiStep, "multistep"},
    {ScheduleKind::kExponential, "exp"},
    {ScheduleKind::kInverseTime, "inv"},
    {ScheduleKind::kCosine, "cosine"},
    {ScheduleKind::kSgdr, "sgdr"},
    {ScheduleKind::kCyclic, "cyclic"},
    {ScheduleKind::kOneCycle, "onecycle"},
};

const char* KindToName(ScheduleKind kind) {
  for (const KindName& kn : kKindNames) {
    if (kn.kind == kind) return kn.name;
  }
  return "?";
}

// Returns m + (1 - m) * (1 + cos(pi * frac)) / 2: from 1 at frac = 0 down to m
// at frac = 1.
double CosineBetween(double frac, double min_factor) {
  return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(kPi * frac));
}

// Checks every option `kind` uses; errors read "<context>: invalid
// <key>=<value>: <rule>".
absl::Status Validate(const LrScheduleOptions& o, const std::string& context) {
  auto require = [&](bool ok, const char* key, const std::string& value,
                     const char* rule) -> absl::Status {
    if (ok) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": invalid ", key, "=", value, ": ", rule));
  };
  auto d = [](double v) { return FormatSpecDouble(v); };
  auto i = [](int64_t v) { return absl::StrCat(v); };
  SIMDNET_RETURN_IF_ERROR(require(o.warmup >= 0 && o.warmup <= kMaxPosition,
                                  "warmup", i(o.warmup),
                                  "must be in [0, 1e15]"));
  const bool step_ok = o.step_size >= 1 && o.step_size <= kMaxPosition;
  const bool unit_factor = o.min_factor >= 0 && o.min_factor <= 1;
  switch (o.kind) {
    case ScheduleKind::kConstant:
      break;
    case ScheduleKind::kStep:
      SIMDNET_RETURN_IF_ERROR(require(step_ok, "step_size", i(o.step_size),
                                      "must be in [1, 1e15]"));
      SIMDNET_RETURN_IF_ERROR(
          require(o.gamma > 0, "gamma", d(o.gamma), "must be > 0"));
      break;
    case ScheduleKind::kMultiStep:
      SIMDNET_RETURN_IF_ERROR(
          require(o.gamma > 0, "gamma", d(o.gamma), "must be > 0"));
      SIMDNET_RETURN_IF_ERROR(require(!o.milestones.empty(), "milestones", "",
                                      "must not be empty"));
      for (size_t k = 0; k < o.milestones.size(); ++k) {
        const bool ok = o.milestones[k] >= 1 &&
                        (k == 0 || o.milestones[k] > o.milestones[k - 1]);
        SIMDNET_RETURN_IF_ERROR(
            require(ok, "milestones", absl::StrJoin(o.milestones, "/"),
                    "must be strictly increasing integers >= 1"));
      }
      break;
    case ScheduleKind::kExponential:
      SIMDNET_RETURN_IF_ERROR(
          require(o.gamma > 0, "gamma", d(o.gamma), "must be > 0"));
      break;
    case ScheduleKind::kInverseTime:
      SIMDNET_RETURN_IF_ERROR(
          require(o.gamma >= 0, "gamma", d(o.gamma), "must be >= 0"));
      SIMDNET_RETURN_IF_ERROR(
          require(o.power > 0, "power", d(o.power), "must be > 0"));
      break;
    case ScheduleKind::kCosine:
      SIMDNET_RETURN_IF_ERROR(require(o.t_max >= 1 && o.t_max <= kMaxPosition,
                                      "t_max", i(o.t_max),
                                      "must be in [1, 1e15]"));
      SIMDNET_RETURN_IF_ERROR(require(unit_factor, "min_factor",
                                      d(o.min_factor), "must be in [0, 1]"));
      break;
    case ScheduleKind::kSgdr:
      SIMDNET_RETURN_IF_ERROR(require(o.t_0 >= 1 && o.t_0 <= kMaxPosition,
                                      "t_0", i(o.t_0), "must be in [1, 1e15]"));
      SIMDNET_RETURN_IF_ERROR(
          require(o.t_mult >= 1, "t_mult", i(o.t_mult), "must be >= 1"));
      SIMDNET_RETURN_IF_ERROR(require(unit_factor, "min_factor",
                                      d(o.min_factor), "must be in [0, 1]"));
      break;
    case ScheduleKind::kCyclic:
      SIMDNET_RETURN_IF_ERROR(require(step_ok, "step_size", i(o.step_size),
                                      "must be in [1, 1e15]"));
      SIMDNET_RETURN_IF_ERROR(require(unit_factor, "min_factor",
                                      d(o.min_factor), "must be in [0, 1]"));
      break;
    case ScheduleKind::kOneCycle:
      SIMDNET_RETURN_IF_ERROR(
          require(o.total_steps >= 2 && o.total_steps <= kMaxPosition,
                  "total_steps", i(o.total_steps), "must be in [2, 1e15]"));
      SIMDNET_RETURN_IF_ERROR(require(o.pct_start > 0 && o.pct_start < 1,
                                      "pct_start", d(o.pct_start),
                                      "must be in (0, 1)"));
      SIMDNET_RETURN_IF_ERROR(
          require(o.pct_start * static_cast<double>(o.total_steps) > 1.0,
                  "pct_start", d(o.pct_start),
                  "pct_start * total_steps must be > 1 (a warm-up phase of "
                  "at least one step)"));
      SIMDNET_RETURN_IF_ERROR(require(o.div_factor >= 1, "div_factor",
                                      d(o.div_factor), "must be >= 1"));
      SIMDNET_RETURN_IF_ERROR(require(o.final_div_factor >= 1,
                                      "final_div_factor", d(o.final_div_factor),
                                      "must be >= 1"));
      break;
  }
  return absl::OkStatus();
}

}  // namespace

double StepDecayFactor(int64_t t, int64_t step_size, double gamma) {
  return std::pow(gamma, static_cast<double>(t / step_size));
}

double MultiStepFactor(int64_t t, absl::Span<const int64_t> milestones,
                       double gamma) {
  const auto passed =
      std::upper_bound(milestones.begin(), milestones.end(), t) -
      milestones.begin();
  return std::pow(gamma, static_cast<double>(passed));
}

double ExponentialFactor(int64_t t, double gamma) {
  return std::pow(gamma, static_cast<double>(t));
}

double InverseTimeFactor(int64_t t, double gamma, double power) {
  return std::pow(1.0 + gamma * static_cast<double>(t), -power);
}

double CosineFactor(int64_t t, int64_t t_max, double min_factor) {
  if (t >= t_max) return min_factor;
  return CosineBetween(static_cast<double>(t) / static_cast<double>(t_max),
                       min_factor);
}

double SgdrFactor(int64_t t, int64_t t_0, int64_t t_mult, double min_factor) {
  int64_t t_cur = t;
  double period = static_cast<double>(t_0);
  if (t_mult == 1) {
    t_cur = t % t_0;
  } else {
    // Subtract whole periods T0, T0*m, T0*m^2, ... (fewer than 64 iterations);
    // once the next period would overflow int64 it is certainly longer than
    // what is left of t.
    int64_t p = t_0;
    while (t_cur >= p) {
      t_cur -= p;
      if (p > std::numeric_limits<int64_t>::max() / t_mult) {
        period = static_cast<double>(p) * static_cast<double>(t_mult);
        break;
      }
      p *= t_mult;
      period = static_cast<double>(p);
    }
  }
  return CosineBetween(static_cast<double>(t_cur) / period, min_factor);
}

double CyclicFactor(int64_t t, int64_t step_size, double min_factor,
                    bool triangular2) {
  const int64_t cycle = 1 + t / (2 * step_size);
  const double x =
      std::abs(static_cast<double>(t) / static_cast<double>(step_size) -
               2.0 * cycle + 1.0);
  double amplitude = std::max(0.0, 1.0 - x);
  if (triangular2) amplitude /= std::pow(2.0, static_cast<double>(cycle - 1));
  return min_factor + (1.0 - min_factor) * amplitude;
}

double OneCycleFactor(int64_t t, int64_t total_steps, double pct_start,
                      double div_factor, double final_div_factor,
                      bool cosine_anneal) {
  const double initial = 1.0 / div_factor;
  const double final_factor = initial / final_div_factor;
  const double end1 = pct_start * static_cast<double>(total_steps) - 1.0;
  const double end2 = static_cast<double>(total_steps) - 1.0;
  const double step = std::min(static_cast<double>(t), end2);
  auto anneal = [&](double start, double end, double pct) {
    if (cosine_anneal)
      return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1.0);
    return (end - start) * pct + start;
  };
  if (step <= end1) return anneal(initial, 1.0, step / end1);
  return anneal(1.0, final_factor, (step - end1) / (end2 - end1));
}

absl::StatusOr<LrSchedule> LrSchedule::Create(
    const LrScheduleOptions& options) {
  SIMDNET_RETURN_IF_ERROR(Validate(
      options, absl::StrCat("lr schedule '", KindToName(options.kind), "'")));
  return LrSchedule(options);
}

double LrSchedule::MainFactor(int64_t t) const {
  const LrScheduleOptions& o = options_;
  switch (o.kind) {
    case ScheduleKind::kConstant:
      return 1.0;
    case ScheduleKind::kStep:
      return StepDecayFactor(t, o.step_size, o.gamma);
    case ScheduleKind::kMultiStep:
      return MultiStepFactor(t, o.milestones, o.gamma);
    case ScheduleKind::kExponential:
      return ExponentialFactor(t, o.gamma);
    case ScheduleKind::kInverseTime:
      return InverseTimeFactor(t, o.gamma, o.power);
    case ScheduleKind::kCosine:
      return CosineFactor(t, o.t_max, o.min_factor);
    case ScheduleKind::kSgdr:
      return SgdrFactor(t, o.t_0, o.t_mult, o.min_factor);
    case ScheduleKind::kCyclic:
      return CyclicFactor(t, o.step_size, o.min_factor, o.triangular2);
    case ScheduleKind::kOneCycle:
      return OneCycleFactor(t, o.total_steps, o.pct_start, o.div_factor,
                            o.final_div_factor, o.cosine_anneal);
  }
  return 1.0;
}

double LrSchedule::Factor(int64_t t) const {
  SIMDNET_CHECK(t >= 0);
  const int64_t w = options_.warmup;
  if (t < w) {
    return static_cast<double>(t + 1) / static_cast<double>(w) * MainFactor(0);
  }
  return MainFactor(t - w);
}

int64_t LrSchedule::Position(int64_t iteration,
                             int64_t iterations_per_epoch) const {
  SIMDNET_CHECK(iteration >= 0 && iterations_per_epoch >= 1);
  if (options_.unit == ScheduleUnit::kEpoch)
    return iteration / iterations_per_epoch;
  return iteration;
}

double LrSchedule::LrAt(double base_lr, int64_t iteration,
                        int64_t iterations_per_epoch) const {
  return base_lr * Factor(Position(iteration, iterations_per_epoch));
}

std::string LrSchedule::ToSpec() const {
  const LrScheduleOptions& o = options_;
  std::string spec =
      absl::StrCat(KindToName(o.kind),
                   ":per=", o.unit == ScheduleUnit::kEpoch ? "epoch" : "iter",
                   ",warmup=", o.warmup);
  switch (o.kind) {
    case ScheduleKind::kConstant:
      break;
    case ScheduleKind::kStep:
      absl::StrAppend(&spec, ",step_size=", o.step_size,
                      ",gamma=", FormatSpecDouble(o.gamma));
      break;
    case ScheduleKind::kMultiStep:
      absl::StrAppend(&spec, ",milestones=", absl::StrJoin(o.milestones, "/"),
                      ",gamma=", FormatSpecDouble(o.gamma));
      break;
    case ScheduleKind::kExponential:
      absl::StrAppend(&spec, ",gamma=", FormatSpecDouble(o.gamma));
      break;
    case ScheduleKind::kInverseTime:
      absl::StrAppend(&spec, ",gamma=", FormatSpecDouble(o.gamma),
                      ",power=", FormatSpecDouble(o.power));
      break;
    case ScheduleKind::kCosine:
      absl::StrAppend(&spec, ",t_max=", o.t_max,
                      ",min_factor=", FormatSpecDouble(o.min_factor));
      break;
    case ScheduleKind::kSgdr:
      absl::StrAppend(&spec, ",t_0=", o.t_0, ",t_mult=", o.t_mult,
                      ",min_factor=", FormatSpecDouble(o.min_factor));
      break;
    case ScheduleKind::kCyclic:
      absl::StrAppend(&spec, ",step_size=", o.step_size,
                      ",min_factor=", FormatSpecDouble(o.min_factor),
                      ",mode=", o.triangular2 ? "triangular2" : "triangular");
      break;
    case ScheduleKind::kOneCycle:
      absl::StrAppend(
          &spec, ",total_steps=", o.total_steps,
          ",pct_start=", FormatSpecDouble(o.pct_start),
          ",div_factor=", FormatSpecDouble(o.div_factor),
          ",final_div_factor=", FormatSpecDouble(o.final_div_factor),
          ",anneal=", o.cosine_anneal ? "cos" : "linear");
      break;
  }
  return spec;
}

std::vector<std::string> ScheduleNames() {
  std::vector<std::string> names;
  for (const KindName& kn : kKindNames) names.push_back(kn.name);
  return names;
}

absl::StatusOr<LrSchedule> MakeSchedule(absl::string_view spec) {
  SIMDNET_ASSIGN_OR_RETURN(SpecArgs args,
                           SpecArgs::Parse(spec, "lr schedule spec"));
  LrScheduleOptions o;
  bool found = false;
  for (const KindName& kn : kKindNames) {
    if (args.name() == kn.name) {
      o.kind = kn.kind;
      found = true;
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(
        absl::StrCat(args.Context(), ": unknown schedule '", args.name(),
                     "' (known: ", absl::StrJoin(ScheduleNames(), ", "), ")"));
  }
  SIMDNET_ASSIGN_OR_RETURN(const std::string per,
                           args.GetString("per", "iter"));
  if (per == "iter") {
    o.unit = ScheduleUnit::kIteration;
  } else if (per == "epoch") {
    o.unit = ScheduleUnit::kEpoch;
  } else {
    return args.Require(false, "per", "expected iter or epoch");
  }
  SIMDNET_ASSIGN_OR_RETURN(o.warmup, args.GetInt("warmup", 0));
  switch (o.kind) {
    case ScheduleKind::kConstant:
      break;
    case ScheduleKind::kStep: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("step_size"));
      SIMDNET_ASSIGN_OR_RETURN(o.step_size, args.GetInt("step_size", 1));
      SIMDNET_ASSIGN_OR_RETURN(o.gamma, args.GetDouble("gamma", 0.1));
      break;
    }
    case ScheduleKind::kMultiStep: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("milestones"));
      SIMDNET_ASSIGN_OR_RETURN(const std::vector<double> ms,
                               args.GetDoubleList("milestones", {}));
      for (double m : ms) {
        SIMDNET_RETURN_IF_ERROR(
            args.Require(m == std::floor(m) && m >= 1 && m < 9.0e18,
                         "milestones", "must be integers >= 1"));
        o.milestones.push_back(static_cast<int64_t>(m));
      }
      SIMDNET_ASSIGN_OR_RETURN(o.gamma, args.GetDouble("gamma", 0.1));
      break;
    }
    case ScheduleKind::kExponential:
    case ScheduleKind::kInverseTime: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("gamma"));
      SIMDNET_ASSIGN_OR_RETURN(o.gamma, args.GetDouble("gamma", 0.1));
      if (o.kind == ScheduleKind::kInverseTime) {
        SIMDNET_ASSIGN_OR_RETURN(o.power, args.GetDouble("power", 1.0));
      }
      break;
    }
    case ScheduleKind::kCosine: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("t_max"));
      SIMDNET_ASSIGN_OR_RETURN(o.t_max, args.GetInt("t_max", 1));
      SIMDNET_ASSIGN_OR_RETURN(o.min_factor, args.GetDouble("min_factor", 0.0));
      break;
    }
    case ScheduleKind::kSgdr: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("t_0"));
      SIMDNET_ASSIGN_OR_RETURN(o.t_0, args.GetInt("t_0", 1));
      SIMDNET_ASSIGN_OR_RETURN(o.t_mult, args.GetInt("t_mult", 1));
      SIMDNET_ASSIGN_OR_RETURN(o.min_factor, args.GetDouble("min_factor", 0.0));
      break;
    }
    case ScheduleKind::kCyclic: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("step_size"));
      SIMDNET_ASSIGN_OR_RETURN(o.step_size, args.GetInt("step_size", 1));
      SIMDNET_ASSIGN_OR_RETURN(o.min_factor, args.GetDouble("min_factor", 0.1));
      SIMDNET_ASSIGN_OR_RETURN(const std::string mode,
                               args.GetString("mode", "triangular"));
      SIMDNET_RETURN_IF_ERROR(
          args.Require(mode == "triangular" || mode == "triangular2", "mode",
                       "expected triangular or triangular2"));
      o.triangular2 = mode == "triangular2";
      break;
    }
    case ScheduleKind::kOneCycle: {
      SIMDNET_RETURN_IF_ERROR(args.RequireKey("total_steps"));
      SIMDNET_ASSIGN_OR_RETURN(o.total_steps, args.GetInt("total_steps", 2));
      SIMDNET_ASSIGN_OR_RETURN(o.pct_start, args.GetDouble("pct_start", 0.3));
      SIMDNET_ASSIGN_OR_RETURN(o.div_factor,
                               args.GetDouble("div_factor", 25.0));
      SIMDNET_ASSIGN_OR_RETURN(o.final_div_factor,
                               args.GetDouble("final_div_factor", 1e4));
      SIMDNET_ASSIGN_OR_RETURN(const std::string anneal,
                               args.GetString("anneal", "cos"));
      SIMDNET_RETURN_IF_ERROR(
          args.Require(anneal == "cos" || anneal == "linear", "anneal",
                       "expected cos or linear"));
      o.cosine_anneal = anneal == "cos";
      break;
    }
  }
  SIMDNET_RETURN_IF_ERROR(args.CheckNoUnknownKeys());
  SIMDNET_RETURN_IF_ERROR(Validate(o, args.Context()));
  return LrSchedule::Create(o);
}

}  // namespace simdnet
