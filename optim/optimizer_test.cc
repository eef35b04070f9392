// Trajectory, parameter-group, frozen-parameter and state save/restore tests of
// the optimizers (SGD forms, Adam, AdamW, RMSProp) against hand-computed values
// and a double reference written from the documented formulas.
#include "optim/optimizer.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/layer.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/make_optimizer.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
#include "tensor/tensor.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

// A named parameter owned by the test.
struct OwnedParam {
  std::string name;
  Parameter p;
};

OwnedParam MakeParam(const std::string& name, const std::vector<float>& values,
                     bool weight_decay = true, bool frozen = false) {
  OwnedParam op;
  op.name = name;
  const Shape shape({static_cast<int64_t>(values.size())});
  op.p.value = Tensor(shape);
  op.p.grad = Tensor(shape);
  for (size_t i = 0; i < values.size(); ++i)
    op.p.value[static_cast<int64_t>(i)] = values[i];
  op.p.weight_decay = weight_decay;
  op.p.frozen = frozen;
  return op;
}

std::vector<NamedParameter> Named(std::vector<OwnedParam>& params) {
  std::vector<NamedParameter> out;
  for (OwnedParam& op : params) out.push_back({op.name, &op.p});
  return out;
}

std::unique_ptr<Optimizer> Make(const std::string& spec) {
  auto opt = MakeOptimizer(spec);
  EXPECT_TRUE(opt.ok()) << spec << ": " << opt.status();
  return std::move(opt).value();
}

// Runs `steps` updates of a single 1-element parameter x0 with a constant
// gradient g.
std::vector<double> ConstantGradTrajectory(const std::string& spec, float x0,
                                           float g, int steps, double lr) {
  std::unique_ptr<Optimizer> opt = Make(spec);
  std::vector<OwnedParam> params = {
      MakeParam("x", {x0}, /*weight_decay=*/false)};
  ThreadPool pool(1);
  std::vector<double> xs;
  for (int s = 0; s < steps; ++s) {
    params[0].p.grad[0] = g;
    EXPECT_TRUE(opt->Step(Named(params), lr, pool).ok());
    xs.push_back(params[0].p.value[0]);
  }
  return xs;
}

// Hand-computed: x0 = 1, g = 1, lr = 0.1, mu = 0.9.
TEST(SgdTest, VanillaMatchesHandComputed) {
  // x += -lr * g: 0.9, 0.8, 0.7.
  EXPECT_TRUE(test::AllNear(ConstantGradTrajectory("sgd:lr=0.1", 1, 1, 3, 0.1),
                            std::vector<double>{0.9, 0.8, 0.7}, 1e-6, 0));
}

TEST(SgdTest, ClassicMomentumMatchesHandComputed) {
  // v = 0.9 v - 0.1: -0.1, -0.19, -0.271; x += v: 0.9, 0.71, 0.439.
  EXPECT_TRUE(test::AllNear(
      ConstantGradTrajectory("sgd:lr=0.1,momentum=0.9", 1, 1, 3, 0.1),
      std::vector<double>{0.9, 0.71, 0.439}, 1e-6, 0));
  // PyTorch form: v = 0.9 v + 1: 1, 1.9, 2.71; x -= 0.1 v: same trajectory.
  EXPECT_TRUE(
      test::AllNear(ConstantGradTrajectory(
                        "sgd:lr=0.1,momentum=0.9,form=pytorch", 1, 1, 3, 0.1),
                    std::vector<double>{0.9, 0.71, 0.439}, 1e-6, 0));
}

TEST(SgdTest, NesterovMatchesHandComputed) {
  // Classic (CS231n): v1 = -0.1, x1 = 1 - 0.9*0 + 1.9*(-0.1) = 0.81;
  // v2 = -0.19, x2 = 0.81 - 0.9*(-0.1) + 1.9*(-0.19) = 0.539.
  EXPECT_TRUE(
      test::AllNear(ConstantGradTrajectory("sgd:lr=0.1,momentum=0.9,nesterov=1",
                                           1, 1, 2, 0.1),
                    std::vector<double>{0.81, 0.539}, 1e-6, 0));
  // PyTorch nesterov=True: v1 = 1, x1 = 1 - 0.1*(1 + 0.9) = 0.81; v2 = 1.9,
  // x2 = 0.81 - 0.1*(1 + 1.71) = 0.539.
  EXPECT_TRUE(test::AllNear(
      ConstantGradTrajectory("sgd:lr=0.1,momentum=0.9,nesterov=1,form=pytorch",
                             1, 1, 2, 0.1),
      std::vector<double>{0.81, 0.539}, 1e-6, 0));
}

TEST(SgdTest, AveragedMomentumMatchesHandComputed) {
  // v = 0.9 v + 0.1 g: 0.1, 0.19; x -= 0.1 v: 0.99, 0.971.
  EXPECT_TRUE(
      test::AllNear(ConstantGradTrajectory(
                        "sgd:lr=0.1,momentum=0.9,form=averaged", 1, 1, 2, 0.1),
                    std::vector<double>{0.99, 0.971}, 1e-6, 0));
}

TEST(AdamTest, ConstantGradientMovesByLrPerStep) {
  // With a constant gradient, m_hat = g and v_hat = g^2 at every step, so x
  // moves by lr * g / (|g| + eps) = lr (Kingma & Ba 2015, section 2.1).
  EXPECT_TRUE(test::AllNear(ConstantGradTrajectory("adam:lr=0.1", 1, 3, 3, 0.1),
                            std::vector<double>{0.9, 0.8, 0.7}, 1e-6, 0));
}

TEST(AdamWTest, DecoupledDecayMatchesHandComputed) {
  // x0 = 2, g = 0 with weight_decay flag set: AdamW only decays, x *= 1 - lr*wd
  // = 0.99; Adam (coupled) turns the decay into a gradient 0.5*2 = 1 and moves
  // by lr = 0.1.
  std::unique_ptr<Optimizer> adamw = Make("adamw:lr=0.1,weight_decay=0.1");
  std::unique_ptr<Optimizer> adam = Make("adam:lr=0.1,weight_decay=0.5");
  std::vector<OwnedParam> a = {MakeParam("w", {2.0f})};
  std::vector<OwnedParam> b = {MakeParam("w", {2.0f})};
  ASSERT_TRUE(adamw->Step(Named(a), 0.1).ok());
  ASSERT_TRUE(adam->Step(Named(b), 0.1).ok());
  EXPECT_NEAR(a[0].p.value[0], 1.98, 1e-6);
  EXPECT_NEAR(b[0].p.value[0], 1.9, 1e-6);
}

// A double reference of every optimizer, written directly from the formulas in
// the headers.
struct RefConfig {
  std::string spec;
  std::string type;  // sgd | adam | rmsprop | adagrad
  double momentum = 0;
  std::string form = "classic";
  bool nesterov = false;
  double wd = 0;
  bool decoupled = false;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, alpha = 0.99;
  double lr_decay = 0, init_acc = 0;  // Adagrad.
};

struct RefState {
  std::vector<double> x, v, m, sq, buf;
  int t = 0;
};

void RefStep(const RefConfig& c, double lr, const std::vector<double>& g,
             RefState* s) {
  ++s->t;
  for (size_t i = 0; i < s->x.size(); ++i) {
    const double x_old = s->x[i];
    const double gp = g[i] + (c.decoupled ? 0.0 : c.wd * x_old);
    const double base = c.decoupled ? x_old * (1 - lr * c.wd) : x_old;
    if (c.type == "sgd") {
      if (c.momentum == 0) {
        s->x[i] = base - lr * gp;
      } else if (c.form == "classic") {
        const double v_prev = s->v[i];
        s->v[i] = c.momentum * v_prev - lr * gp;
        s->x[i] = c.nesterov
                      ? base - c.momentum * v_prev + (1 + c.momentum) * s->v[i]
                      : base + s->v[i];
      } else if (c.form == "pytorch") {
        s->v[i] = c.momentum * s->v[i] + gp;
        s->x[i] =
            base - lr * (c.nesterov ? gp + c.momentum * s->v[i] : s->v[i]);
      } else {  // averaged
        s->v[i] = c.momentum * s->v[i] + (1 - c.momentum) * gp;
        s->x[i] = base - lr * s->v[i];
      }
    } else if (c.type == "adam") {
      s->m[i] = c.beta1 * s->m[i] + (1 - c.beta1) * gp;
      s->v[i] = c.beta2 * s->v[i] + (1 - c.beta2) * gp * gp;
      const double m_hat = s->m[i] / (1 - std::pow(c.beta1, s->t));
      const double v_hat = s->v[i] / (1 - std::pow(c.beta2, s->t));
      s->x[i] = base - lr * m_hat / (std::sqrt(v_hat) + c.eps);
    } else if (c.type == "adagrad") {
      if (s->t == 1) s->sq[i] = c.init_acc;
      const double clr = lr / (1 + (s->t - 1) * c.lr_decay);
      s->sq[i] += gp * gp;
      s->x[i] = base - clr * gp / (std::sqrt(s->sq[i]) + c.eps);
    } else {  // rmsprop
      s->sq[i] = c.alpha * s->sq[i] + (1 - c.alpha) * gp * gp;
      const double u = gp / (std::sqrt(s->sq[i]) + c.eps);
      if (c.momentum > 0) {
        s->buf[i] = c.momentum * s->buf[i] + u;
        s->x[i] = base - lr * s->buf[i];
      } else {
        s->x[i] = base - lr * u;
      }
    }
  }
}

std::vector<RefConfig> AllConfigs() {
  std::vector<RefConfig> cs;
  auto add = [&](RefConfig c) { cs.push_back(c); };
  add({"sgd:lr=0.1", "sgd"});
  add({"sgd:lr=0.1,weight_decay=0.05", "sgd", 0, "classic", false, 0.05});
  add({"sgd:lr=0.1,weight_decay=0.05,decoupled=1", "sgd", 0, "classic", false,
       0.05, true});
  add({"sgd:lr=0.1,momentum=0.9", "sgd", 0.9});
  add({"sgd:lr=0.1,momentum=0.9,nesterov=1,weight_decay=5e-3", "sgd", 0.9,
       "classic", true, 5e-3});
  add({"sgd:lr=0.1,momentum=0.9,form=pytorch", "sgd", 0.9, "pytorch"});
  add(
      {"sgd:lr=0.1,momentum=0.9,form=pytorch,nesterov=1,weight_decay=5e-3,"
       "decoupled=1",
       "sgd", 0.9, "pytorch", true, 5e-3, true});
  add({"sgd:lr=0.1,momentum=0.8,form=averaged,weight_decay=0.01", "sgd", 0.8,
       "averaged", false, 0.01});
  add({"adam:lr=0.01", "adam"});
  RefConfig adam_wd{"adam:lr=0.01,weight_decay=0.1,betas=0.8/0.99,eps=1e-6",
                    "adam"};
  adam_wd.wd = 0.1;
  adam_wd.beta1 = 0.8;
  adam_wd.beta2 = 0.99;
  adam_wd.eps = 1e-6;
  add(adam_wd);
  RefConfig adamw{"adamw:lr=0.01,weight_decay=0.1", "adam"};
  adamw.wd = 0.1;
  adamw.decoupled = true;
  add(adamw);
  add({"rmsprop:lr=0.01", "rmsprop"});
  RefConfig rms{"rmsprop:lr=0.01,momentum=0.9,alpha=0.9,weight_decay=0.01",
                "rmsprop", 0.9};
  rms.alpha = 0.9;
  rms.wd = 0.01;
  add(rms);
  RefConfig rms_dec = rms;
  rms_dec.spec =
      "rmsprop:lr=0.01,momentum=0.9,alpha=0.9,weight_decay=0.01,decoupled=1";
  rms_dec.decoupled = true;
  add(rms_dec);
  RefConfig adagrad{"adagrad:lr=0.1", "adagrad"};
  adagrad.eps = 1e-10;
  add(adagrad);
  RefConfig adagrad_all{
      "adagrad:lr=0.1,lr_decay=0.05,initial_accumulator_value=0.1,eps=1e-6,"
      "weight_decay=0.01",
      "adagrad"};
  adagrad_all.lr_decay = 0.05;
  adagrad_all.init_acc = 0.1;
  adagrad_all.eps = 1e-6;
  adagrad_all.wd = 0.01;
  add(adagrad_all);
  return cs;
}

// Several steps on the quadratic f(x) = 0.5 sum h_i (x_i - c_i)^2, with a
// learning rate that changes every step (which separates the classic and
// PyTorch momentum forms), match the double reference.
TEST(OptimizerTest, TrajectoriesMatchDoubleReference) {
  constexpr size_t kN = 37;
  constexpr int kSteps = 8;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> unif(-1.0f, 1.0f);
  std::vector<double> h(kN), c(kN);
  std::vector<float> x0(kN);
  for (size_t i = 0; i < kN; ++i) {
    h[i] = 1.25 + 0.75 * unif(gen);
    c[i] = unif(gen);
    x0[i] = 2.0f * unif(gen);
  }
  ThreadPool pool(2);
  for (const RefConfig& cfg : AllConfigs()) {
    SCOPED_TRACE(cfg.spec);
    std::unique_ptr<Optimizer> opt = Make(cfg.spec);
    std::vector<OwnedParam> params = {MakeParam("w", x0)};
    RefState ref;
    ref.x.assign(x0.begin(), x0.end());
    ref.v.assign(kN, 0);
    ref.m.assign(kN, 0);
    ref.sq.assign(kN, 0);
    ref.buf.assign(kN, 0);
    for (int s = 0; s < kSteps; ++s) {
      const double lr = opt->base_lr() * (1.0 - 0.1 * s);
      std::vector<double> g_ref(kN);
      for (size_t i = 0; i < kN; ++i) {
        params[0].p.grad[i] =
            static_cast<float>(h[i] * (params[0].p.value[i] - c[i]));
        g_ref[i] = h[i] * (ref.x[i] - c[i]);
      }
      ASSERT_TRUE(opt->Step(Named(params), lr, pool).ok());
      RefStep(cfg, lr, g_ref, &ref);
    }
    EXPECT_TRUE(
        test::AllNear(params[0].p.value.data(), ref.x.data(), kN, 2e-5, 2e-5));
    EXPECT_EQ(opt->iterations(), kSteps);
    EXPECT_EQ(opt->ParamSteps("w"), kSteps);
  }
}

TEST(SgdTest, ClassicAndPyTorchFormsDifferWhenLrChanges) {
  // Constant lr: identical trajectories (checked above). lr halved at step 2:
  // the classic velocity still carries the old lr. x0 = 1, g = 1, mu = 0.9, lr
  // = 0.1 then 0.05: classic: v = -0.1, x = 0.9; v = -0.09 - 0.05 = -0.14, x =
  // 0.76. pytorch: v = 1, x = 0.9; v = 1.9, x = 0.9 - 0.05 * 1.9 = 0.805.
  for (const auto& [form, expected] :
       std::vector<std::pair<std::string, double>>{{"classic", 0.76},
                                                   {"pytorch", 0.805}}) {
    std::unique_ptr<Optimizer> opt =
        Make("sgd:lr=0.1,momentum=0.9,form=" + form);
    std::vector<OwnedParam> params = {MakeParam("x", {1.0f})};
    params[0].p.grad[0] = 1.0f;
    ASSERT_TRUE(opt->Step(Named(params), 0.1).ok());
    ASSERT_TRUE(opt->Step(Named(params), 0.05).ok());
    EXPECT_NEAR(params[0].p.value[0], expected, 1e-6) << form;
  }
}

TEST(OptimizerTest, NoWeightDecayOnParamsWithoutTheFlag) {
  std::unique_ptr<Optimizer> opt = Make("sgd:lr=0.1,weight_decay=0.5");
  std::vector<OwnedParam> params = {
      MakeParam("layer.weight", {1.0f}),
      MakeParam("layer.bias", {1.0f}, /*weight_decay=*/false)};
  ASSERT_TRUE(opt->Step(Named(params), 0.1).ok());
  EXPECT_NEAR(params[0].p.value[0], 1.0 - 0.1 * 0.5, 1e-7);  // Decayed.
  EXPECT_EQ(params[1].p.value[0], 1.0f);  // Zero gradient, no decay.
}

TEST(OptimizerTest, GroupsSelectedByPrefixSetLrScaleAndDecay) {
  std::unique_ptr<Optimizer> opt = Make("sgd:lr=0.1,weight_decay=0.5");
  ASSERT_TRUE(opt->AddGroup({"backbone.", 0.1, std::nullopt, false}).ok());
  ASSERT_TRUE(opt->AddGroup({"head.bias", 1.0, 0.25, false}).ok());
  ASSERT_TRUE(opt->AddGroup({"head.", 2.0, 0.0, false}).ok());
  std::vector<OwnedParam> params = {
      MakeParam("backbone.0.weight", {1.0f}), MakeParam("head.weight", {1.0f}),
      MakeParam("head.bias", {1.0f}, /*weight_decay=*/false),
      MakeParam("other", {1.0f})};
  for (OwnedParam& p : params) p.p.grad[0] = 1.0f;
  ASSERT_TRUE(opt->Step(Named(params), 0.1).ok());
  // backbone: lr 0.01, decay 0.5 from the flag: 1 - 0.01 * (1 + 0.5).
  EXPECT_NEAR(params[0].p.value[0], 1.0 - 0.01 * 1.5, 1e-7);
  // head.weight: lr 0.2, decay overridden to 0: 1 - 0.2.
  EXPECT_NEAR(params[1].p.value[0], 0.8, 1e-7);
  // head.bias: first matching group wins (decay 0.25 despite the flag): 1 - 0.1
  // * 1.25.
  EXPECT_NEAR(params[2].p.value[0], 1.0 - 0.125, 1e-7);
  // other: defaults.
  EXPECT_NEAR(params[3].p.value[0], 1.0 - 0.1 * 1.5, 1e-7);
}

TEST(OptimizerTest, FrozenParamsAndGroupsNeverChange) {
  for (const RefConfig& cfg : AllConfigs()) {
    SCOPED_TRACE(cfg.spec);
    std::unique_ptr<Optimizer> opt = Make(cfg.spec);
    ASSERT_TRUE(opt->AddGroup({"frozen_group.", 1.0, std::nullopt, true}).ok());
    std::vector<OwnedParam> params = {
        MakeParam("frozen_flag", {0.5f, -0.25f}, true, true),
        MakeParam("frozen_group.w", {0.75f, 1.5f}),
        MakeParam("live", {0.5f, 0.5f})};
    for (int s = 0; s < 3; ++s) {
      for (OwnedParam& p : params) p.p.grad.SetAll(1.0f);
      ASSERT_TRUE(opt->Step(Named(params), 0.1).ok());
    }
    EXPECT_EQ(params[0].p.value[0], 0.5f);
    EXPECT_EQ(params[0].p.value[1], -0.25f);
    EXPECT_EQ(params[1].p.value[0], 0.75f);
    EXPECT_EQ(params[1].p.value[1], 1.5f);
    EXPECT_NE(params[2].p.value[0], 0.5f);
    EXPECT_EQ(opt->ParamSteps("frozen_flag"), 0);
    EXPECT_EQ(opt->ParamSteps("frozen_group.w"), 0);
    EXPECT_EQ(opt->ParamSteps("live"), 3);
    // Frozen parameters have no state to save.
    const OptimizerState state = opt->ExportState();
    for (const auto& [key, tensor] : state.tensors)
      EXPECT_EQ(key.rfind("live/", 0), 0u) << key;
  }
}

// Parameters big enough to be split into several parallel chunks, plus small
// ones.
std::vector<OwnedParam> ResumeParams() {
  std::mt19937 gen(3);
  std::uniform_real_distribution<float> unif(-1.0f, 1.0f);
  std::vector<OwnedParam> params;
  for (const auto& [name, n] : std::vector<std::pair<std::string, size_t>>{
           {"conv.weight", 40000}, {"conv.bias", 7}, {"fc.weight", 129}}) {
    std::vector<float> v(n);
    for (float& x : v) x = unif(gen);
    params.push_back(
        MakeParam(name, v, name.find("bias") == std::string::npos));
  }
  return params;
}

// Sets a deterministic, step-dependent gradient (a quadratic pull towards 0.3).
void SetGrads(std::vector<OwnedParam>& params, int step) {
  for (OwnedParam& op : params) {
    for (int64_t i = 0; i < op.p.value.size(); ++i) {
      op.p.grad[i] = 0.7f * (op.p.value[i] - 0.3f) +
                     0.01f * static_cast<float>((i + step) % 5);
    }
  }
}

bool BitwiseEqual(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  return std::memcmp(a.data(), b.data(),
                     sizeof(float) * static_cast<size_t>(a.size())) == 0;
}

TEST(OptimizerStateTest, ResumedRunIsBitIdenticalToUninterruptedRun) {
  constexpr int kBefore = 3, kAfter = 4;
  for (const RefConfig& cfg : AllConfigs()) {
    SCOPED_TRACE(cfg.spec);
    ThreadPool pool(2);
    // Uninterrupted.
    std::unique_ptr<Optimizer> a = Make(cfg.spec);
    std::vector<OwnedParam> pa = ResumeParams();
    for (int s = 0; s < kBefore + kAfter; ++s) {
      SetGrads(pa, s);
      ASSERT_TRUE(a->Step(Named(pa), a->base_lr() / (1 + s), pool).ok());
    }
    // Interrupted after kBefore steps: state and parameters saved, restored
    // into fresh objects.
    std::unique_ptr<Optimizer> b = Make(cfg.spec);
    std::vector<OwnedParam> pb = ResumeParams();
    for (int s = 0; s < kBefore; ++s) {
      SetGrads(pb, s);
      ASSERT_TRUE(b->Step(Named(pb), b->base_lr() / (1 + s), pool).ok());
    }
    const OptimizerState saved = b->ExportState();
    std::vector<OwnedParam> pc = ResumeParams();
    for (size_t i = 0; i < pc.size(); ++i)
      ASSERT_TRUE(pc[i].p.value.CopyFrom(pb[i].p.value).ok());
    // Later steps of the old optimizer must not affect the snapshot.
    SetGrads(pb, 99);
    ASSERT_TRUE(b->Step(Named(pb), 1.0, pool).ok());
    std::unique_ptr<Optimizer> c = Make(cfg.spec);
    ASSERT_TRUE(c->ImportState(saved).ok());
    EXPECT_EQ(c->iterations(), kBefore);
    for (int s = kBefore; s < kBefore + kAfter; ++s) {
      SetGrads(pc, s);
      ASSERT_TRUE(c->Step(Named(pc), c->base_lr() / (1 + s), pool).ok());
    }
    for (size_t i = 0; i < pa.size(); ++i) {
      EXPECT_TRUE(BitwiseEqual(pa[i].p.value, pc[i].p.value)) << pa[i].name;
    }
    const OptimizerState sa = a->ExportState(), sc = c->ExportState();
    EXPECT_EQ(sa.scalars, sc.scalars);
    ASSERT_EQ(sa.tensors.size(), sc.tensors.size());
    for (const auto& [key, tensor] : sa.tensors) {
      ASSERT_EQ(sc.tensors.count(key), 1u) << key;
      EXPECT_TRUE(BitwiseEqual(tensor, sc.tensors.at(key))) << key;
    }
  }
}

// Hand-computed: sum starts at initial_accumulator_value = 0.5 for a
// parameter seen for the first time, then sum = 0.5 + g^2 = {0.75, 1.5},
// x -= lr * g / sqrt(sum); the second step's lr is divided by 1 + lr_decay.
// The state is "<name>/sum" and "<name>/step"; a frozen parameter gets none.
TEST(AdagradTest, StateStartsAtInitialAccumulatorAndIsKeyedByName) {
  std::unique_ptr<Optimizer> opt =
      Make("adagrad:lr=0.1,lr_decay=0.5,initial_accumulator_value=0.5");
  std::vector<OwnedParam> params = {
      MakeParam("fc.weight", {1.0f, 2.0f}),
      MakeParam("frozen.weight", {3.0f}, true, /*frozen=*/true)};
  params[0].p.grad[0] = 0.5f;
  params[0].p.grad[1] = -1.0f;
  params[1].p.grad[0] = 1.0f;
  ThreadPool pool(1);
  ASSERT_TRUE(opt->Step(Named(params), 0.1, pool).ok());
  EXPECT_NEAR(params[0].p.value[0], 1.0 - 0.1 * 0.5 / std::sqrt(0.75), 1e-6);
  EXPECT_NEAR(params[0].p.value[1], 2.0 + 0.1 * 1.0 / std::sqrt(1.5), 1e-6);
  EXPECT_EQ(params[1].p.value[0], 3.0f);
  const OptimizerState state = opt->ExportState();
  EXPECT_EQ(state.type, "adagrad");
  ASSERT_EQ(state.tensors.size(), 1u);
  const Tensor& sum = state.tensors.at("fc.weight/sum");
  EXPECT_NEAR(sum[0], 0.75, 1e-7);
  EXPECT_NEAR(sum[1], 1.5, 1e-7);
  EXPECT_EQ(state.scalars.at("fc.weight/step"), 1.0);
  EXPECT_EQ(state.scalars.count("frozen.weight/step"), 0u);
  // Step 2 (t = 2): clr = 0.1 / (1 + 0.5), sum = 0.75 + 0.25 = 1.
  const float x1 = params[0].p.value[0];
  ASSERT_TRUE(opt->Step(Named(params), 0.1, pool).ok());
  EXPECT_NEAR(params[0].p.value[0], x1 - 0.1 / 1.5 * 0.5 / 1.0, 1e-6);
  // Importing state with the wrong slot name is rejected naming the key.
  OptimizerState bad = state;
  bad.tensors["fc.weight/square_avg"] = bad.tensors.at("fc.weight/sum");
  const absl::Status s = Make("adagrad")->ImportState(bad);
  EXPECT_THAT(std::string(s.message()), HasSubstr("fc.weight/square_avg"));
}

TEST(OptimizerStateTest, ResultDoesNotDependOnThreadCount) {
  for (const char* spec :
       {"sgd:lr=0.1,momentum=0.9,nesterov=1", "adamw:lr=1e-3"}) {
    std::vector<std::vector<OwnedParam>> runs;
    for (size_t threads : {1, 2, 3}) {
      ThreadPool pool(threads);
      std::unique_ptr<Optimizer> opt = Make(spec);
      std::vector<OwnedParam> p = ResumeParams();
      for (int s = 0; s < 3; ++s) {
        SetGrads(p, s);
        ASSERT_TRUE(opt->Step(Named(p), 0.01, pool).ok());
      }
      runs.push_back(std::move(p));
    }
    for (size_t r = 1; r < runs.size(); ++r) {
      for (size_t i = 0; i < runs[0].size(); ++i) {
        EXPECT_TRUE(BitwiseEqual(runs[0][i].p.value, runs[r][i].p.value))
            << spec;
      }
    }
  }
}

TEST(OptimizerStateTest, StateIsKeyedByName) {
  std::unique_ptr<Optimizer> opt = Make("adam:lr=0.1");
  std::vector<OwnedParam> params = {MakeParam("a", {1.0f, 2.0f}),
                                    MakeParam("b", {3.0f})};
  ASSERT_TRUE(opt->Step(Named(params), 0.1).ok());
  const OptimizerState state = opt->ExportState();
  EXPECT_EQ(state.type, "adam");
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : state.tensors) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a/exp_avg", "a/exp_avg_sq",
                                            "b/exp_avg", "b/exp_avg_sq"}));
  EXPECT_EQ(state.scalars.at("iterations"), 1.0);
  EXPECT_EQ(state.scalars.at("a/step"), 1.0);
  // The same state applies to parameters given in another order (and at other
  // addresses).
  std::unique_ptr<Optimizer> other = Make("adam:lr=0.1");
  ASSERT_TRUE(other->ImportState(state).ok());
  std::vector<OwnedParam> swapped = {MakeParam("b", {3.0f}),
                                     MakeParam("a", {1.0f, 2.0f})};
  EXPECT_TRUE(other->Step(Named(swapped), 0.1).ok());
  EXPECT_EQ(other->ParamSteps("a"), 2);
}

OptimizerState ValidMomentumState() {
  OptimizerState s;
  s.type = "sgd";
  s.tensors["w/momentum"] = Tensor(Shape({2}));
  s.scalars["iterations"] = 5;
  s.scalars["w/step"] = 5;
  return s;
}

TEST(OptimizerStateTest, ImportRejectsBadStateNamingTheKey) {
  std::unique_ptr<Optimizer> opt = Make("sgd:lr=0.1,momentum=0.9");
  ASSERT_TRUE(opt->ImportState(ValidMomentumState()).ok());
  struct Case {
    const char* what;
    void (*mutate)(OptimizerState*);
    const char* expected;
  };
  const Case cases[] = {
      {"type", [](OptimizerState* s) { s->type = "adam"; }, "'adam'"},
      {"unknown slot",
       [](OptimizerState* s) { s->tensors["w/exp_avg"] = Tensor(Shape({2})); },
       "w/exp_avg"},
      {"key without slot",
       [](OptimizerState* s) { s->tensors["momentum"] = Tensor(); },
       "'momentum'"},
      {"missing slot",
       [](OptimizerState* s) { s->tensors.erase("w/momentum"); }, "w/momentum"},
      {"missing step", [](OptimizerState* s) { s->scalars.erase("w/step"); },
       "w/step"},
      {"fractional step", [](OptimizerState* s) { s->scalars["w/step"] = 1.5; },
       "w/step"},
      {"negative iterations",
       [](OptimizerState* s) { s->scalars["iterations"] = -1; }, "iterations"},
      {"missing iterations",
       [](OptimizerState* s) { s->scalars.erase("iterations"); }, "iterations"},
      {"unknown scalar", [](OptimizerState* s) { s->scalars["lr"] = 1; },
       "'lr'"},
  };
  for (const Case& c : cases) {
    OptimizerState s = ValidMomentumState();
    c.mutate(&s);
    const absl::Status status = opt->ImportState(s);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.expected)) << c.what;
  }
  // The last good state is kept.
  EXPECT_EQ(opt->iterations(), 5);
}

TEST(OptimizerStateTest, StepRejectsRestoredStateOfWrongShape) {
  std::unique_ptr<Optimizer> opt = Make("sgd:lr=0.1,momentum=0.9");
  ASSERT_TRUE(opt->ImportState(ValidMomentumState()).ok());
  std::vector<OwnedParam> params = {MakeParam("w", {1.0f, 2.0f, 3.0f})};
  params[0].p.grad.SetAll(1.0f);
  const absl::Status status = opt->Step(Named(params), 0.1);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("w/momentum"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(2)"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(3)"));
  EXPECT_EQ(params[0].p.value[0], 1.0f);
  EXPECT_EQ(opt->iterations(), 5);
}

TEST(OptimizerTest, StepRejectsBadInputsAndChangesNothing) {
  std::unique_ptr<Optimizer> opt = Make("adam:lr=0.1");
  std::vector<OwnedParam> good = {MakeParam("a", {1.0f}),
                                  MakeParam("b", {2.0f})};
  for (OwnedParam& p : good) p.p.grad.SetAll(1.0f);
  for (double lr : {-0.1, std::nan(""), HUGE_VAL}) {
    const absl::Status status = opt->Step(Named(good), lr);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << lr;
    EXPECT_THAT(std::string(status.message()), HasSubstr("learning rate"));
  }
  std::vector<OwnedParam> dup = {MakeParam("a", {1.0f}),
                                 MakeParam("a", {2.0f})};
  EXPECT_THAT(std::string(opt->Step(Named(dup), 0.1).message()),
              HasSubstr("'a' appears twice"));
  std::vector<OwnedParam> unnamed = {MakeParam("", {1.0f})};
  EXPECT_THAT(std::string(opt->Step(Named(unnamed), 0.1).message()),
              HasSubstr("empty name"));
  std::vector<OwnedParam> bad_grad = {MakeParam("a", {1.0f}),
                                      MakeParam("b", {2.0f})};
  bad_grad[1].p.grad = Tensor(Shape({2}));
  const absl::Status status = opt->Step(Named(bad_grad), 0.1);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'b'"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("(2)"));
  // Nothing was updated, not even the valid parameter "a" listed before the bad
  // one.
  EXPECT_EQ(bad_grad[0].p.value[0], 1.0f);
  EXPECT_EQ(good[0].p.value[0], 1.0f);
  EXPECT_EQ(opt->iterations(), 0);
  EXPECT_EQ(opt->ParamSteps("a"), 0);
}

TEST(OptimizerTest, AddGroupRejectsNegativeSettings) {
  std::unique_ptr<Optimizer> opt = Make("sgd:lr=0.1");
  EXPECT_THAT(
      std::string(opt->AddGroup({"x.", -1.0, std::nullopt, false}).message()),
      HasSubstr("lr_scale"));
  EXPECT_THAT(std::string(opt->AddGroup({"x.", 1.0, -0.5, false}).message()),
              HasSubstr("weight_decay"));
  EXPECT_TRUE(opt->groups().empty());
}

TEST(OptimizerTest, CreateRejectsInvalidOptions) {
  SgdOptions sgd;
  sgd.momentum = 1.0;
  EXPECT_THAT(std::string(Sgd::Create(sgd).status().message()),
              HasSubstr("momentum"));
  AdamOptions adam;
  adam.beta2 = -0.1;
  EXPECT_THAT(std::string(Adam::Create(adam).status().message()),
              HasSubstr("beta2"));
  RmspropOptions rms;
  rms.eps = 0;
  EXPECT_THAT(std::string(Rmsprop::Create(rms).status().message()),
              HasSubstr("eps"));
  const std::pair<const char*, void (*)(AdagradOptions*)> adagrad_cases[] = {
      {"lr", [](AdagradOptions* o) { o->lr = -1; }},
      {"lr_decay", [](AdagradOptions* o) { o->lr_decay = -1; }},
      {"initial_accumulator_value",
       [](AdagradOptions* o) { o->initial_accumulator_value = -1; }},
      {"eps", [](AdagradOptions* o) { o->eps = 0; }},
      {"weight_decay", [](AdagradOptions* o) { o->weight_decay = NAN; }},
  };
  for (const auto& [name, spoil] : adagrad_cases) {
    AdagradOptions ada;
    spoil(&ada);
    EXPECT_THAT(std::string(Adagrad::Create(ada).status().message()),
                HasSubstr(std::string("adagrad: ") + name + " must"));
  }
}

}  // namespace
}  // namespace simdnet
