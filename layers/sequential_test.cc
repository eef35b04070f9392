// Sequential container tests: composition, shape checks on Add, names with prefixes, mode
// propagation, gradient check through several children, and head replacement.
#include "layers/sequential.h"

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

std::unique_ptr<Activation> MakeActivation(ActivationKind kind, const Shape& shape) {
  ActivationOptions o;
  o.kind = kind;
  return std::move(Activation::Create(o, shape)).value();
}

TEST(SequentialTest, EmptyIsIdentity) {
  auto seq = Sequential::Create(Shape({2, 3}));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ((*seq)->OutputShape(), Shape({2, 3}));
  Tensor x(Shape({2, 2, 3}));
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  Tensor y, dx;
  (*seq)->Forward(x, &y);
  (*seq)->Backward(y, &dx);
  for (int64_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(y[i], x[i]);
    EXPECT_EQ(dx[i], x[i]);
  }
}

TEST(SequentialTest, ComposesChildrenAndGradientsMatchReference) {
  auto seq = std::move(Sequential::Create(Shape({3, 5, 7}))).value();
  ASSERT_TRUE(seq->Add(MakeActivation(ActivationKind::kTanh, Shape({3, 5, 7}))).ok());
  ASSERT_TRUE(seq->Add(Flatten::Create(Shape({3, 5, 7}))).ok());
  ASSERT_TRUE(seq->Add(MakeActivation(ActivationKind::kSigmoid, Shape({105}))).ok());
  EXPECT_EQ(seq->OutputShape(), Shape({105}));
  EXPECT_EQ(seq->size(), 3u);
  EXPECT_EQ(seq->child(1).name, "1");
  GradCheckOptions o;
  o.reference = [](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = 1.0 / (1.0 + std::exp(-std::tanh(x[i])));
    return y;
  };
  o.grad_abs_tol = 1e-5;
  o.grad_rel_tol = 1e-4;
  o.forward_abs_tol = 1e-6;
  EXPECT_TRUE(CheckLayerGradients(*seq, 3, o));
  // The intermediate activations are kept and reused.
  EXPECT_EQ(seq->activation(0).shape(), Shape({3, 3, 5, 7}));
  EXPECT_EQ(seq->activation(1).shape(), Shape({3, 105}));
}

TEST(SequentialTest, AddRejectsShapeMismatchNamingBothShapes) {
  auto seq = std::move(Sequential::Create(Shape({4, 6, 6}))).value();
  ASSERT_TRUE(seq->Add(Flatten::Create(Shape({4, 6, 6}))).ok());
  const absl::Status s = seq->Add(MakeActivation(ActivationKind::kRelu, Shape({4, 6, 6})));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("(4, 6, 6)"), std::string::npos) << s;
  EXPECT_NE(s.message().find("(144)"), std::string::npos) << s;
  EXPECT_NE(s.message().find("'1'"), std::string::npos) << s;
}

TEST(SequentialTest, AddRejectsBadNamesAndNullAndForwardsFactoryErrors) {
  auto seq = std::move(Sequential::Create(Shape({4}))).value();
  ASSERT_TRUE(seq->Add(MakeActivation(ActivationKind::kRelu, Shape({4})), "act").ok());
  EXPECT_FALSE(seq->Add(MakeActivation(ActivationKind::kRelu, Shape({4})), "act").ok());
  EXPECT_FALSE(seq->Add(MakeActivation(ActivationKind::kRelu, Shape({4})), "a.b").ok());
  EXPECT_FALSE(seq->Add(std::unique_ptr<Layer>()).ok());
  const absl::Status s = seq->Add(Flatten::Create(Shape({0})));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Flatten"), std::string::npos) << s;
  EXPECT_EQ(seq->size(), 1u);
}

TEST(SequentialTest, RejectsBadInputShape) {
  EXPECT_FALSE(Sequential::Create(Shape()).ok());
  EXPECT_FALSE(Sequential::Create(Shape({3, 0})).ok());
}

TEST(SequentialTest, PrefixesRngNamesAndPropagatesMode) {
  Rng rng(1);
  auto inner = std::move(Sequential::Create(Shape({8}))).value();
  ASSERT_TRUE(inner->Add(Dropout::Create({}, Shape({8}), rng)).ok());
  auto outer = std::move(Sequential::Create(Shape({8}))).value();
  ASSERT_TRUE(outer->Add(MakeActivation(ActivationKind::kRelu, Shape({8}))).ok());
  ASSERT_TRUE(outer->Add(std::move(inner), "head").ok());
  auto rngs = outer->Rngs();
  ASSERT_EQ(rngs.size(), 1u);
  EXPECT_EQ(rngs[0].name, "head.0.rng");
  outer->SetMode(Mode::kEval);
  auto* head = dynamic_cast<Sequential*>(&outer->layer(1));
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->layer(0).mode(), Mode::kEval);
  // Eval: dropout is the identity, so the whole stack is ReLU.
  Tensor x(Shape({1, 8}));
  for (int64_t i = 0; i < 8; ++i) x[i] = static_cast<float>(i) - 4.0f;
  Tensor y;
  outer->Forward(x, &y);
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(y[i], std::max(x[i], 0.0f));
}

TEST(SequentialTest, ReplaceLastLeafPropagatesNewOutputShape) {
  auto inner = std::move(Sequential::Create(Shape({2, 3}))).value();
  ASSERT_TRUE(inner->Add(Flatten::Create(Shape({2, 3}))).ok());
  auto outer = std::move(Sequential::Create(Shape({2, 3}))).value();
  ASSERT_TRUE(outer->Add(MakeActivation(ActivationKind::kRelu, Shape({2, 3}))).ok());
  ASSERT_TRUE(outer->Add(std::move(inner), "head").ok());
  ASSERT_EQ(outer->OutputShape(), Shape({6}));
  // Replace the trailing Flatten by a Tanh (same input, different output shape).
  const absl::Status s = outer->ReplaceLastLeaf(
      [](Layer& old) -> absl::StatusOr<std::unique_ptr<Layer>> {
        EXPECT_EQ(old.TypeName(), "flatten");
        return std::unique_ptr<Layer>(MakeActivation(ActivationKind::kTanh, old.InputShape()));
      });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(outer->OutputShape(), Shape({2, 3}));
  auto empty = std::move(Sequential::Create(Shape({2}))).value();
  EXPECT_EQ(empty->ReplaceLastLeaf([](Layer&) -> absl::StatusOr<std::unique_ptr<Layer>> {
                   return absl::InternalError("unreachable");
                 }).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace simdnet
