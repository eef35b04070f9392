// Tests of the learning-rate schedules: each closed form at chosen steps
// against hand-computed values, warm-up and per-epoch stepping, spec parsing,
// ToSpec round trips and every rejection.
#include "optim/lr_schedule.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

constexpr double kPi = 3.14159265358979323846;
constexpr double kTol = 1e-12;

LrSchedule Make(const std::string& spec) {
  auto s = MakeSchedule(spec);
  EXPECT_TRUE(s.ok()) << spec << ": " << s.status();
  return s.ok() ? *s : LrSchedule();
}

TEST(LrScheduleTest, ConstantIsOne) {
  const LrSchedule s = Make("constant");
  for (int64_t t : {0, 1, 1000}) EXPECT_EQ(s.Factor(t), 1.0);
  EXPECT_EQ(LrSchedule().LrAt(0.5, 77, 10), 0.5);
}

TEST(LrScheduleTest, StepDecay) {
  // PyTorch StepLR(step_size=3, gamma=0.5): 1 1 1 .5 .5 .5 .25
  const LrSchedule s = Make("step:step_size=3,gamma=0.5");
  const double expected[] = {1, 1, 1, 0.5, 0.5, 0.5, 0.25};
  for (int t = 0; t < 7; ++t) EXPECT_NEAR(s.Factor(t), expected[t], kTol) << t;
  EXPECT_NEAR(Make("step:step_size=30").Factor(95), 1e-3,
              kTol);  // Default gamma 0.1.
}

TEST(LrScheduleTest, MultiStep) {
  // PyTorch MultiStepLR(milestones=[2, 5], gamma=0.1): the factor drops AT each
  // milestone.
  const LrSchedule s = Make("multistep:milestones=2/5,gamma=0.1");
  const double expected[] = {1, 1, 0.1, 0.1, 0.1, 0.01, 0.01};
  for (int t = 0; t < 7; ++t) EXPECT_NEAR(s.Factor(t), expected[t], kTol) << t;
}

TEST(LrScheduleTest, Exponential) {
  const LrSchedule s = Make("exp:gamma=0.9");
  EXPECT_EQ(s.Factor(0), 1.0);
  EXPECT_NEAR(s.Factor(1), 0.9, kTol);
  EXPECT_NEAR(s.Factor(10), std::pow(0.9, 10), kTol);
}

TEST(LrScheduleTest, InverseTime) {
  // 1/t decay a0 / (1 + k t) with k = 0.5: 1, 2/3, 1/2, 1/6 at t = 10.
  const LrSchedule s = Make("inv:gamma=0.5");
  EXPECT_NEAR(s.Factor(0), 1.0, kTol);
  EXPECT_NEAR(s.Factor(1), 2.0 / 3.0, kTol);
  EXPECT_NEAR(s.Factor(2), 0.5, kTol);
  EXPECT_NEAR(s.Factor(10), 1.0 / 6.0, kTol);
  // darknet's INV policy with power 0.75: (1 + 1e-4 * 1000)^-0.75.
  EXPECT_NEAR(Make("inv:gamma=1e-4,power=0.75").Factor(1000),
              std::pow(1.1, -0.75), kTol);
}

TEST(LrScheduleTest, Cosine) {
  // T_max = 10, eta_min = 0.1 * base: 1 at 0, 0.55 at 5 (half way), 0.1 at and
  // after 10.
  const LrSchedule s = Make("cosine:t_max=10,min_factor=0.1");
  EXPECT_NEAR(s.Factor(0), 1.0, kTol);
  EXPECT_NEAR(s.Factor(5), 0.55, kTol);
  EXPECT_NEAR(s.Factor(2), 0.1 + 0.9 * 0.5 * (1 + std::cos(kPi * 0.2)), kTol);
  EXPECT_NEAR(s.Factor(10), 0.1, kTol);
  EXPECT_NEAR(s.Factor(25), 0.1, kTol);
}

TEST(LrScheduleTest, SgdrWarmRestarts) {
  // T_0 = 2, T_mult = 2: periods [0,2) [2,6) [6,14): restarts (factor 1) at 0,
  // 2, 6, 14.
  const LrSchedule s = Make("sgdr:t_0=2,t_mult=2");
  for (int64_t t : {0, 2, 6, 14}) EXPECT_NEAR(s.Factor(t), 1.0, kTol) << t;
  EXPECT_NEAR(s.Factor(1), 0.5,
              kTol);  // Half way through the first period of 2.
  EXPECT_NEAR(s.Factor(4), 0.5, kTol);   // Half way through [2, 6).
  EXPECT_NEAR(s.Factor(10), 0.5, kTol);  // Half way through [6, 14).
  EXPECT_NEAR(s.Factor(3), 0.5 * (1 + std::cos(kPi * 0.25)), kTol);
  // T_mult = 1: period T_0 forever.
  const LrSchedule p = Make("sgdr:t_0=4,min_factor=0.2");
  EXPECT_NEAR(p.Factor(4), 1.0, kTol);
  EXPECT_NEAR(p.Factor(6), 0.6, kTol);
  EXPECT_NEAR(p.Factor(102), 0.6, kTol);
  // Huge positions do not overflow the period arithmetic.
  const double f =
      Make("sgdr:t_0=3,t_mult=1000").Factor(int64_t{9000000000000000000});
  EXPECT_TRUE(f >= 0 && f <= 1) << f;
}

TEST(LrScheduleTest, CyclicTriangular) {
  // step_size 2, min 0.25: 0.25 0.625 1 0.625 0.25 0.625 1 ...
  const LrSchedule s = Make("cyclic:step_size=2,min_factor=0.25");
  const double expected[] = {0.25, 0.625, 1, 0.625, 0.25, 0.625, 1};
  for (int t = 0; t < 7; ++t) EXPECT_NEAR(s.Factor(t), expected[t], kTol) << t;
  // triangular2 halves the amplitude each cycle: peak 1 at t=2, then 0.25 +
  // 0.75/2 at t=6.
  const LrSchedule h =
      Make("cyclic:step_size=2,min_factor=0.25,mode=triangular2");
  EXPECT_NEAR(h.Factor(2), 1.0, kTol);
  EXPECT_NEAR(h.Factor(6), 0.25 + 0.375, kTol);
  EXPECT_NEAR(h.Factor(10), 0.25 + 0.1875, kTol);
}

TEST(LrScheduleTest, OneCycle) {
  // PyTorch OneCycleLR(total_steps=10, pct_start=0.3, div_factor=25,
  // final_div_factor=1e4), relative to max_lr: phase 1 ends at step 2 (0.3*10 -
  // 1), phase 2 at step 9.
  const LrSchedule s = Make("onecycle:total_steps=10");
  const double initial = 1.0 / 25, final_factor = initial / 1e4;
  EXPECT_NEAR(s.Factor(0), initial, kTol);
  EXPECT_NEAR(s.Factor(1),
              1.0 + (initial - 1.0) / 2 * (std::cos(kPi * 0.5) + 1), kTol);
  EXPECT_NEAR(s.Factor(2), 1.0, kTol);
  EXPECT_NEAR(s.Factor(9), final_factor, kTol);
  EXPECT_NEAR(s.Factor(50), final_factor, kTol);  // Held after the end.
  const double pct = (5.0 - 2.0) / 7.0;
  EXPECT_NEAR(s.Factor(5),
              final_factor + (1 - final_factor) / 2 * (std::cos(kPi * pct) + 1),
              kTol);
  const LrSchedule lin =
      Make("onecycle:total_steps=10,anneal=linear,div_factor=10");
  EXPECT_NEAR(lin.Factor(1), 0.1 + 0.9 * 0.5, kTol);
}

TEST(LrScheduleTest, WarmupPrecedesAnySchedule) {
  // Warm-up of 4: (t+1)/4 * F(0) for t < 4, then the schedule from its start.
  const LrSchedule s = Make("cosine:t_max=10,warmup=4");
  EXPECT_NEAR(s.Factor(0), 0.25, kTol);
  EXPECT_NEAR(s.Factor(3), 1.0, kTol);
  EXPECT_NEAR(s.Factor(4), 1.0, kTol);
  EXPECT_NEAR(s.Factor(9), 0.5, kTol);  // Cosine position 5 of 10.
  EXPECT_NEAR(s.Factor(14), 0.0, kTol);
  const LrSchedule c = Make("cyclic:step_size=2,min_factor=0.5,warmup=2");
  EXPECT_NEAR(c.Factor(0), 0.25, kTol);  // 1/2 of F(0) = 0.5.
  EXPECT_NEAR(c.Factor(2), 0.5, kTol);
  EXPECT_NEAR(c.Factor(4), 1.0, kTol);
}

TEST(LrScheduleTest, PerEpochSteppingUsesTheEpochIndex) {
  const LrSchedule s = Make("step:step_size=2,gamma=0.1,per=epoch");
  // 100 iterations per epoch: iterations 0..199 are epochs 0-1, 200.. epoch 2.
  EXPECT_EQ(s.Position(199, 100), 1);
  EXPECT_EQ(s.Position(200, 100), 2);
  EXPECT_NEAR(s.LrAt(0.5, 199, 100), 0.5, kTol);
  EXPECT_NEAR(s.LrAt(0.5, 200, 100), 0.05, kTol);
  const LrSchedule it = Make("step:step_size=2,gamma=0.1");
  EXPECT_EQ(it.Position(199, 100), 199);
  EXPECT_NEAR(it.LrAt(0.5, 3, 100), 0.05, kTol);
}

TEST(LrScheduleTest, FreeFunctionsMatchTheSchedules) {
  EXPECT_EQ(StepDecayFactor(7, 3, 0.5),
            Make("step:step_size=3,gamma=0.5").Factor(7));
  const std::vector<int64_t> ms = {3, 8};
  EXPECT_EQ(MultiStepFactor(8, ms, 0.5), 0.25);
  EXPECT_EQ(MultiStepFactor(7, ms, 0.5), 0.5);
  EXPECT_EQ(ExponentialFactor(3, 0.5), 0.125);
  EXPECT_EQ(InverseTimeFactor(3, 1.0, 2.0), 1.0 / 16);
  EXPECT_EQ(CosineFactor(0, 5, 0.3), 1.0);
  EXPECT_EQ(SgdrFactor(5, 5, 1, 0.0), 1.0);
  EXPECT_EQ(CyclicFactor(0, 4, 0.5, false), 0.5);
  EXPECT_NEAR(OneCycleFactor(9, 10, 0.3, 25, 1e4, true), 1.0 / 25 / 1e4, kTol);
}

TEST(LrScheduleTest, ToSpecRoundTrips) {
  for (const char* spec :
       {"constant", "step:step_size=30,gamma=0.1,per=epoch",
        "multistep:milestones=30/60/90", "exp:gamma=0.95",
        "inv:gamma=1e-4,power=0.75",
        "cosine:t_max=100,warmup=5,min_factor=0.01",
        "sgdr:t_0=10,t_mult=2,per=epoch",
        "cyclic:step_size=2000,min_factor=0.1,mode=triangular2",
        "onecycle:total_steps=1000,pct_start=0.25,div_factor=10,final_div_"
        "factor=100,anneal=linear"}) {
    const LrSchedule a = Make(spec);
    const LrSchedule b = Make(a.ToSpec());
    EXPECT_EQ(a.ToSpec(), b.ToSpec());
    for (int64_t t : {0, 1, 7, 64, 999, 5000})
      EXPECT_EQ(a.Factor(t), b.Factor(t)) << spec;
  }
}

TEST(LrScheduleTest, CreateValidatesOptions) {
  LrScheduleOptions o;
  o.kind = ScheduleKind::kCosine;
  o.t_max = 0;
  const auto s = LrSchedule::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("t_max=0"));
  o.t_max = 10;
  EXPECT_TRUE(LrSchedule::Create(o).ok());
}

TEST(LrScheduleTest, RejectsBadSpecsNamingKeyAndValue) {
  const struct {
    const char* spec;
    std::vector<const char*> expected;
  } cases[] = {
      {"", {"expected a name"}},
      {"linear", {"unknown schedule 'linear'", "cosine"}},
      {"cosine", {"missing required key 't_max'"}},
      {"cosine:t_max=0", {"t_max=0", "[1, 1e15]"}},
      {"cosine:t_max=-5", {"t_max=-5"}},
      {"cosine:t_max=1.5", {"t_max=1.5", "integer"}},
      {"cosine:t_max=10,min_factor=1.5", {"min_factor=1.5", "[0, 1]"}},
      {"cosine:t_max=10,eta_min=0", {"unknown key 'eta_min'", "min_factor"}},
      {"cosine:t_max=10,warmup=-1", {"warmup=-1"}},
      {"cosine:t_max=10,per=batch", {"per=batch", "iter or epoch"}},
      {"step", {"missing required key 'step_size'"}},
      {"step:step_size=0", {"step_size=0"}},
      {"step:step_size=10,gamma=0", {"gamma=0", "> 0"}},
      {"step:step_size=10,gamma=-0.5", {"gamma=-0.5"}},
      {"multistep", {"missing required key 'milestones'"}},
      {"multistep:milestones=30/20",
       {"milestones=30/20", "strictly increasing"}},
      {"multistep:milestones=30/30", {"milestones=30/30"}},
      {"multistep:milestones=0/10", {"milestones=0/10"}},
      {"multistep:milestones=2.5", {"milestones=2.5", "integers"}},
      {"exp", {"missing required key 'gamma'"}},
      {"exp:gamma=0", {"gamma=0"}},
      {"inv:gamma=-1", {"gamma=-1", ">= 0"}},
      {"inv:gamma=1,power=0", {"power=0", "> 0"}},
      {"sgdr:t_0=0", {"t_0=0"}},
      {"sgdr:t_0=10,t_mult=0", {"t_mult=0", ">= 1"}},
      {"cyclic", {"missing required key 'step_size'"}},
      {"cyclic:step_size=10,mode=exp_range",
       {"mode=exp_range", "triangular or triangular2"}},
      {"cyclic:step_size=10,min_factor=-0.1", {"min_factor=-0.1"}},
      {"onecycle", {"missing required key 'total_steps'"}},
      {"onecycle:total_steps=1", {"total_steps=1", "[2, 1e15]"}},
      {"onecycle:total_steps=100,pct_start=1", {"pct_start=1", "(0, 1)"}},
      {"onecycle:total_steps=3,pct_start=0.3", {"pct_start=0.3", "> 1"}},
      {"onecycle:total_steps=100,div_factor=0.5", {"div_factor=0.5", ">= 1"}},
      {"onecycle:total_steps=100,anneal=exp", {"anneal=exp", "cos or linear"}},
  };
  for (const auto& c : cases) {
    const auto s = MakeSchedule(c.spec);
    ASSERT_FALSE(s.ok()) << c.spec;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(s.status().message());
    EXPECT_THAT(message,
                HasSubstr(std::string("lr schedule spec '") + c.spec + "'"));
    for (const char* e : c.expected)
      EXPECT_THAT(message, HasSubstr(e)) << c.spec;
  }
}

}  // namespace
}  // namespace simdnet
