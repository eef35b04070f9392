// Tests of the optimizer spec factory and the parameter-group spec parser:
// accepted specs set the documented options, and every rejection names the
// offending key and value.
#include "optim/make_optimizer.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/optimizer.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"

namespace simdnet {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(MakeOptimizerTest, SgdSpecSetsEveryOption) {
  auto opt =
      MakeOptimizer("sgd:lr=0.1,momentum=0.9,nesterov=1,weight_decay=5e-4");
  ASSERT_TRUE(opt.ok()) << opt.status();
  const auto* sgd = dynamic_cast<const Sgd*>(opt->get());
  ASSERT_NE(sgd, nullptr);
  EXPECT_EQ(sgd->options().lr, 0.1);
  EXPECT_EQ(sgd->options().momentum, 0.9);
  EXPECT_TRUE(sgd->options().nesterov);
  EXPECT_EQ(sgd->options().weight_decay, 5e-4);
  EXPECT_EQ(sgd->options().form, MomentumForm::kClassic);
  EXPECT_FALSE(sgd->options().decoupled_weight_decay);
  EXPECT_EQ((*opt)->base_lr(), 0.1);
  EXPECT_EQ((*opt)->TypeName(), "sgd");
}

TEST(MakeOptimizerTest, AdamSpecsSetBetasAndDecayMode) {
  auto adam = MakeOptimizer(" adam : lr = 1e-3 , betas = 0.8/0.95 , eps=1e-6 ");
  ASSERT_TRUE(adam.ok()) << adam.status();
  const auto* a = dynamic_cast<const Adam*>(adam->get());
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->options().beta1, 0.8);
  EXPECT_EQ(a->options().beta2, 0.95);
  EXPECT_EQ(a->options().eps, 1e-6);
  EXPECT_FALSE(a->options().decoupled_weight_decay);
  auto adamw = MakeOptimizer("adamw");
  ASSERT_TRUE(adamw.ok()) << adamw.status();
  const auto* w = dynamic_cast<const Adam*>(adamw->get());
  ASSERT_NE(w, nullptr);
  EXPECT_TRUE(w->options().decoupled_weight_decay);
  EXPECT_EQ(w->options().weight_decay, 0.01);  // PyTorch AdamW's default.
  EXPECT_EQ((*adamw)->TypeName(), "adamw");
}

TEST(MakeOptimizerTest, RmspropSpecSetsEveryOption) {
  auto opt = MakeOptimizer(
      "rmsprop:lr=1e-3,alpha=0.9,eps=1e-7,momentum=0.5,weight_decay=1e-4");
  ASSERT_TRUE(opt.ok()) << opt.status();
  const auto* r = dynamic_cast<const Rmsprop*>(opt->get());
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->options().alpha, 0.9);
  EXPECT_EQ(r->options().eps, 1e-7);
  EXPECT_EQ(r->options().momentum, 0.5);
  EXPECT_EQ(r->options().weight_decay, 1e-4);
}

TEST(MakeOptimizerTest, AdagradSpecSetsEveryOption) {
  auto opt = MakeOptimizer(
      "adagrad:lr=0.05,lr_decay=1e-3,initial_accumulator_value=0.1,eps=1e-8,"
      "weight_decay=1e-4");
  ASSERT_TRUE(opt.ok()) << opt.status();
  const auto* a = dynamic_cast<const Adagrad*>(opt->get());
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->options().lr, 0.05);
  EXPECT_EQ(a->options().lr_decay, 1e-3);
  EXPECT_EQ(a->options().initial_accumulator_value, 0.1);
  EXPECT_EQ(a->options().eps, 1e-8);
  EXPECT_EQ(a->options().weight_decay, 1e-4);
  EXPECT_EQ((*opt)->TypeName(), "adagrad");
  // PyTorch's defaults.
  auto d = MakeOptimizer("adagrad");
  ASSERT_TRUE(d.ok()) << d.status();
  const auto* b = dynamic_cast<const Adagrad*>(d->get());
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->options().lr, 0.01);
  EXPECT_EQ(b->options().lr_decay, 0.0);
  EXPECT_EQ(b->options().initial_accumulator_value, 0.0);
  EXPECT_EQ(b->options().eps, 1e-10);
  EXPECT_EQ(b->options().weight_decay, 0.0);
}

TEST(MakeOptimizerTest, ToSpecRoundTrips) {
  for (const char* spec :
       {"sgd:lr=0.1,momentum=0.9,nesterov=1,weight_decay=5e-4,form=pytorch,"
        "decoupled=1",
        "sgd:lr=0.123456789,momentum=0.8,form=averaged",
        "adam:lr=3e-4,betas=0.85/0.9999", "adamw:lr=1e-3,weight_decay=0.05",
        "rmsprop:lr=0.01,momentum=0.9,decoupled=1",
        "adagrad:lr=0.05,lr_decay=1e-3,initial_accumulator_value=0.1,"
        "eps=1e-8,weight_decay=1e-4"}) {
    auto a = MakeOptimizer(spec);
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = MakeOptimizer((*a)->ToSpec());
    ASSERT_TRUE(b.ok()) << (*a)->ToSpec() << ": " << b.status();
    EXPECT_EQ((*a)->ToSpec(), (*b)->ToSpec()) << spec;
  }
  auto a = MakeOptimizer("sgd:lr=0.123456789");
  ASSERT_TRUE(a.ok());
  EXPECT_THAT((*a)->ToSpec(), HasSubstr("lr=0.123456789,"));
}

TEST(MakeOptimizerTest, ListsNames) {
  EXPECT_EQ(OptimizerNames(),
            (std::vector<std::string>{"adagrad", "adam", "adamw", "rmsprop",
                                      "sgd"}));
}

struct Rejection {
  const char* spec;
  std::vector<const char*> expected;  // Substrings the message must contain.
};

TEST(MakeOptimizerTest, RejectsBadSpecsNamingKeyAndValue) {
  const Rejection cases[] = {
      {"", {"optimizer spec ''", "expected a name"}},
      {":lr=1", {"expected a name"}},
      {"sgd!:lr=1", {"'sgd!'"}},
      {"nadam:lr=1",
       {"unknown optimizer 'nadam'", "adagrad, adam, adamw, rmsprop, sgd"}},
      {"SGD", {"unknown optimizer 'SGD'"}},
      {"sgd:lr=0.1,mom=0.9", {"unknown key 'mom'", "momentum"}},
      {"adam:beta1=0.9", {"unknown key 'beta1'", "betas"}},
      {"sgd:lr", {"expected key=value", "'lr'"}},
      {"sgd:lr=0.1,,momentum=0.9", {"expected key=value"}},
      {"sgd:lr=", {"bad value ''", "'lr'"}},
      {"sgd:=0.1", {"bad key ''"}},
      {"sgd:lr=0.1,lr=0.2", {"key 'lr' given more than once"}},
      {"sgd:lr=abc", {"lr=abc", "finite number"}},
      {"sgd:lr=nan", {"lr=nan", "finite number"}},
      {"sgd:lr=inf", {"lr=inf"}},
      {"sgd:lr=-0.1", {"lr=-0.1", "must be >= 0"}},
      {"sgd:momentum=1", {"momentum=1", "[0, 1)"}},
      {"sgd:momentum=1.5", {"momentum=1.5"}},
      {"sgd:momentum=-0.1", {"momentum=-0.1"}},
      {"sgd:nesterov=1", {"nesterov=1", "requires momentum > 0"}},
      {"sgd:nesterov=yes", {"nesterov=yes", "0, 1, true or false"}},
      {"sgd:momentum=0.9,form=averaged,nesterov=1",
       {"nesterov=1", "form=averaged"}},
      {"sgd:form=heavyball",
       {"form=heavyball", "classic, pytorch or averaged"}},
      {"sgd:weight_decay=-1e-4", {"weight_decay=-1e-4", ">= 0"}},
      {"sgd:decoupled=2", {"decoupled=2"}},
      {"adam:lr=-1", {"lr=-1"}},
      {"adam:betas=0.9", {"betas=0.9", "two values"}},
      {"adam:betas=0.9/0.999/0.5", {"betas=0.9/0.999/0.5", "two values"}},
      {"adam:betas=1/0.999", {"betas=1/0.999", "[0, 1)"}},
      {"adam:betas=0.9/1.2", {"betas=0.9/1.2", "[0, 1)"}},
      {"adam:betas=-0.1/0.9", {"betas=-0.1/0.9"}},
      {"adam:betas=0.9/x", {"betas=0.9/x", "list of finite numbers"}},
      {"adam:eps=0", {"eps=0", "> 0"}},
      {"adamw:weight_decay=-0.01", {"weight_decay=-0.01"}},
      {"rmsprop:alpha=1", {"alpha=1", "[0, 1)"}},
      {"rmsprop:momentum=1", {"momentum=1"}},
      {"rmsprop:eps=-1", {"eps=-1"}},
      {"rmsprop:centered=1", {"unknown key 'centered'"}},
      {"adagrad:lr=-0.1", {"lr=-0.1", ">= 0"}},
      {"adagrad:lr_decay=-1e-3", {"lr_decay=-1e-3", ">= 0"}},
      {"adagrad:initial_accumulator_value=-0.1",
       {"initial_accumulator_value=-0.1", ">= 0"}},
      {"adagrad:eps=0", {"eps=0", "> 0"}},
      {"adagrad:eps=-1e-10", {"eps=-1e-10", "> 0"}},
      {"adagrad:weight_decay=-1", {"weight_decay=-1", ">= 0"}},
      {"adagrad:lr_decay=fast", {"lr_decay=fast", "finite number"}},
      {"adagrad:momentum=0.9", {"unknown key 'momentum'", "lr_decay"}},
      {"adagrad:initial_accumulator=0.1",
       {"unknown key 'initial_accumulator'", "initial_accumulator_value"}},
  };
  for (const Rejection& c : cases) {
    auto opt = MakeOptimizer(c.spec);
    ASSERT_FALSE(opt.ok()) << c.spec;
    EXPECT_EQ(opt.status().code(), absl::StatusCode::kInvalidArgument)
        << c.spec;
    const std::string message(opt.status().message());
    EXPECT_THAT(message, HasSubstr(std::string("'") + c.spec + "'"))
        << "spec not named";
    for (const char* e : c.expected)
      EXPECT_THAT(message, HasSubstr(e)) << c.spec;
  }
}

TEST(ParseParamGroupTest, ParsesEveryKey) {
  auto g = ParseParamGroup(
      "group:prefix=features.,lr_scale=0.1,weight_decay=0,frozen=1");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->prefix, "features.");
  EXPECT_EQ(g->lr_scale, 0.1);
  ASSERT_TRUE(g->weight_decay.has_value());
  EXPECT_EQ(*g->weight_decay, 0.0);
  EXPECT_TRUE(g->frozen);
  auto d = ParseParamGroup("group:prefix=fc");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->lr_scale, 1.0);
  EXPECT_FALSE(d->weight_decay.has_value());
  EXPECT_FALSE(d->frozen);
}

TEST(ParseParamGroupTest, RejectsBadSpecsNamingKeyAndValue) {
  const Rejection cases[] = {
      {"grp:prefix=a", {"expected name 'group'", "'grp'"}},
      {"group:lr_scale=2", {"missing required key 'prefix'"}},
      {"group:prefix=a,lr_scale=-1", {"lr_scale=-1", ">= 0"}},
      {"group:prefix=a,weight_decay=-1", {"weight_decay=-1"}},
      {"group:prefix=a,frozen=maybe", {"frozen=maybe"}},
      {"group:prefix=a,lr=1", {"unknown key 'lr'"}},
  };
  for (const Rejection& c : cases) {
    auto g = ParseParamGroup(c.spec);
    ASSERT_FALSE(g.ok()) << c.spec;
    const std::string message(g.status().message());
    EXPECT_THAT(message, HasSubstr(std::string("'") + c.spec + "'"));
    for (const char* e : c.expected)
      EXPECT_THAT(message, HasSubstr(e)) << c.spec;
  }
}

}  // namespace
}  // namespace simdnet
