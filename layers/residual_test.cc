// Residual block tests: identity and projection shortcuts, gradients summed over both branches
// (gradient-checked), names, and shape rejections.
#include "layers/residual.h"

#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/gradient_check.h"

namespace simdnet {
namespace {

std::unique_ptr<Sequential> Chain(const Shape& shape, std::vector<ActivationKind> kinds) {
  auto seq = std::move(Sequential::Create(shape)).value();
  for (ActivationKind k : kinds) {
    ActivationOptions o;
    o.kind = k;
    EXPECT_TRUE(seq->Add(Activation::Create(o, shape)).ok());
  }
  return seq;
}

TEST(ResidualTest, IdentityShortcutGradientsSumBothBranches) {
  const Shape shape({3, 5, 7});
  auto block = Residual::Create(Chain(shape, {ActivationKind::kTanh, ActivationKind::kSigmoid}),
                                nullptr);
  ASSERT_TRUE(block.ok()) << block.status();
  GradCheckOptions o;
  o.reference = [](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      y[i] = 1.0 / (1.0 + std::exp(-std::tanh(x[i]))) + x[i];
    }
    return y;
  };
  o.grad_abs_tol = 1e-5;
  o.grad_rel_tol = 1e-4;
  o.forward_abs_tol = 1e-6;
  EXPECT_TRUE(CheckLayerGradients(**block, 2, o));
}

TEST(ResidualTest, ProjectionShortcutGradientsSumBothBranches) {
  const Shape shape({2, 3, 4});
  auto block = Residual::Create(Chain(shape, {ActivationKind::kTanh}),
                                Chain(shape, {ActivationKind::kSigmoid}));
  ASSERT_TRUE(block.ok()) << block.status();
  GradCheckOptions o;
  o.reference = [](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = std::tanh(x[i]) + 1.0 / (1.0 + std::exp(-x[i]));
    return y;
  };
  o.grad_abs_tol = 1e-5;
  o.grad_rel_tol = 1e-4;
  o.forward_abs_tol = 1e-6;
  EXPECT_TRUE(CheckLayerGradients(**block, 3, o));
}

TEST(ResidualTest, NamesAndModeReachTheShortcut) {
  const Shape shape({6});
  Rng rng(2);
  auto main = Chain(shape, {ActivationKind::kRelu});
  ASSERT_TRUE(main->Add(Dropout::Create({}, shape, rng)).ok());
  auto shortcut = std::move(Sequential::Create(shape)).value();
  ASSERT_TRUE(shortcut->Add(Dropout::Create({}, shape, rng)).ok());
  auto block = std::move(Residual::Create(std::move(main), std::move(shortcut))).value();
  auto rngs = block->Rngs();
  ASSERT_EQ(rngs.size(), 2u);
  EXPECT_EQ(rngs[0].name, "1.rng");
  EXPECT_EQ(rngs[1].name, "shortcut.0.rng");
  block->SetMode(Mode::kEval);
  EXPECT_EQ(block->shortcut()->layer(0).mode(), Mode::kEval);
  EXPECT_EQ(block->main().layer(1).mode(), Mode::kEval);
}

TEST(ResidualTest, ShortcutNamePrefixesItsTensorsAndChild) {
  const Shape shape({6});
  Rng rng(3);
  auto main = Chain(shape, {ActivationKind::kRelu});
  auto shortcut = std::move(Sequential::Create(shape)).value();
  ASSERT_TRUE(shortcut->Add(Dropout::Create({}, shape, rng)).ok());
  auto block = Residual::Create(std::move(main), std::move(shortcut), "downsample");
  ASSERT_TRUE(block.ok()) << block.status();
  EXPECT_EQ((*block)->shortcut_name(), "downsample");
  auto rngs = (*block)->Rngs();
  ASSERT_EQ(rngs.size(), 1u);
  EXPECT_EQ(rngs[0].name, "downsample.0.rng");
  auto children = (*block)->Children();
  EXPECT_EQ(children.back().name, "downsample");
}

TEST(ResidualTest, RejectsBadOrCollidingShortcutName) {
  for (const char* bad : {"", "a.b", "two words"}) {
    auto block = Residual::Create(Chain(Shape({4}), {ActivationKind::kRelu}), nullptr, bad);
    ASSERT_FALSE(block.ok()) << bad;
    EXPECT_NE(block.status().message().find("shortcut name"), std::string::npos)
        << block.status();
  }
  // The main branch's first child is named "0".
  auto clash = Residual::Create(Chain(Shape({4}), {ActivationKind::kRelu}), nullptr, "0");
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("main-branch"), std::string::npos) << clash.status();
}

TEST(ResidualTest, RejectsIdentityWithShapeChange) {
  auto main = std::move(Sequential::Create(Shape({2, 3}))).value();
  ASSERT_TRUE(main->Add(Flatten::Create(Shape({2, 3}))).ok());
  auto block = Residual::Create(std::move(main), nullptr);
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.status().message().find("(2, 3)"), std::string::npos) << block.status();
  EXPECT_NE(block.status().message().find("(6)"), std::string::npos) << block.status();
}

TEST(ResidualTest, RejectsMismatchedShortcut) {
  auto main = Chain(Shape({6}), {ActivationKind::kRelu});
  auto other_input = Chain(Shape({5}), {});
  auto block = Residual::Create(std::move(main), std::move(other_input));
  ASSERT_FALSE(block.ok());
  EXPECT_NE(block.status().message().find("shortcut"), std::string::npos);
  auto main2 = Chain(Shape({2, 3}), {});
  auto flat = std::move(Sequential::Create(Shape({2, 3}))).value();
  ASSERT_TRUE(flat->Add(Flatten::Create(Shape({2, 3}))).ok());
  auto block2 = Residual::Create(std::move(main2), std::move(flat));
  ASSERT_FALSE(block2.ok());
  EXPECT_NE(block2.status().message().find("(6)"), std::string::npos) << block2.status();
  EXPECT_FALSE(Residual::Create(nullptr, nullptr).ok());
}

}  // namespace
}  // namespace simdnet
