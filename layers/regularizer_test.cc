// Regularizer tests: penalty values, gradients checked against a double reference by central
// differences, parameter selection (weight_decay flags, overrides, frozen), parsing and
// rejections.
#include "layers/regularizer.h"

#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace {

Parameter MakeParam(std::vector<float> values, bool decay = true) {
  Parameter p;
  p.value = std::move(Tensor::FromVector(Shape({static_cast<int64_t>(values.size())}), values))
                .value();
  p.grad = Tensor(p.value.shape());
  p.weight_decay = decay;
  return p;
}

TEST(RegularizerTest, PenaltyOfL1L2AndElasticNet) {
  Parameter w = MakeParam({1.0f, -2.0f, 0.0f, 3.0f});
  std::vector<NamedParameter> params = {{"0.weight", &w}};
  EXPECT_NEAR(Regularizer::Create({0.5f, 0.0f, {}})->Penalty(params), 0.5 * 6.0, 1e-6);
  EXPECT_NEAR(Regularizer::Create({0.0f, 0.1f, {}})->Penalty(params), 0.05 * 14.0, 1e-6);
  EXPECT_NEAR(Regularizer::Create({0.5f, 0.1f, {}})->Penalty(params), 3.0 + 0.7, 1e-6);
  EXPECT_EQ(Regularizer::Create({})->Penalty(params), 0.0);
}

TEST(RegularizerTest, GradientsMatchDoubleReference) {
  for (const auto& [l1, l2] : {std::pair<float, float>{1e-2f, 0.0f}, {0.0f, 5e-2f},
                               {3e-2f, 7e-2f}}) {
    const Regularizer reg = Regularizer::Create({l1, l2, {}}).value();
    const LossUnderTest loss = [&reg](const Tensor& input,
                                      Tensor* grad) -> absl::StatusOr<float> {
      Parameter p;
      p.value = input.Clone();
      p.grad = Tensor(input.shape());
      const double value = reg.AddGradients({{"w", &p}});
      *grad = p.grad;
      return static_cast<float>(value);
    };
    const ReferenceLoss reference = [l1 = double{l1}, l2 = double{l2}](
                                        const std::vector<double>& w) {
      double r = 0.0;
      for (double v : w) r += l1 * std::abs(v) + 0.5 * l2 * v * v;
      return r;
    };
    GradCheckOptions o;
    // Float penalty of 105 terms: relative rounding ~1e-6; the gradient is exact up to one
    // rounding of l1 + l2 * w.
    o.forward_abs_tol = 1e-6;
    o.forward_rel_tol = 1e-5;
    o.grad_abs_tol = 1e-6;
    o.grad_rel_tol = 1e-5;
    EXPECT_TRUE(CheckLossGradients(loss, Shape({3, 5, 7}), reference, o))
        << "l1=" << l1 << " l2=" << l2;
  }
}

TEST(RegularizerTest, AccumulatesIntoExistingGradients) {
  Parameter w = MakeParam({2.0f, -1.0f, 0.0f});
  w.grad.SetAll(1.0f);
  const Regularizer reg = Regularizer::Create({0.5f, 0.25f, {}}).value();
  const double value = reg.AddGradients({{"w", &w}});
  EXPECT_NEAR(value, 0.5 * 3.0 + 0.125 * 5.0, 1e-6);
  EXPECT_FLOAT_EQ(w.grad[0], 1.0f + 0.5f + 0.5f);
  EXPECT_FLOAT_EQ(w.grad[1], 1.0f - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(w.grad[2], 1.0f);  // sign(0) = 0
}

TEST(RegularizerTest, SelectsByWeightDecayFlagOverridesAndFrozen) {
  Parameter weight = MakeParam({1.0f});
  Parameter bias = MakeParam({1.0f}, /*decay=*/false);
  Parameter head = MakeParam({1.0f});
  Parameter frozen = MakeParam({1.0f});
  frozen.frozen = true;
  std::vector<NamedParameter> params = {{"features.0.weight", &weight},
                                        {"features.0.bias", &bias},
                                        {"classifier.1.weight", &head},
                                        {"features.3.weight", &frozen}};
  const Regularizer by_flag = Regularizer::Create({0.0f, 2.0f, {}}).value();
  EXPECT_NEAR(by_flag.AddGradients(params), 2.0, 1e-6);  // weight + head, 0.5 * 2 * 1 each
  EXPECT_EQ(weight.grad[0], 2.0f);
  EXPECT_EQ(bias.grad[0], 0.0f);
  EXPECT_EQ(head.grad[0], 2.0f);
  EXPECT_EQ(frozen.grad[0], 0.0f);

  RegularizerOptions o;
  o.l2 = 2.0f;
  o.overrides = {{"", true}, {"classifier.", false}};
  const Regularizer custom = Regularizer::Create(o).value();
  EXPECT_TRUE(custom.Applies("features.0.bias", bias));
  EXPECT_FALSE(custom.Applies("classifier.1.weight", head));
  EXPECT_FALSE(custom.Applies("features.3.weight", frozen));
  EXPECT_NEAR(custom.Penalty(params), 2.0, 1e-6);
}

TEST(RegularizerTest, ParsesTextForms) {
  auto l2 = Regularizer::Parse("l2:5e-4");
  ASSERT_TRUE(l2.ok()) << l2.status();
  EXPECT_FLOAT_EQ(l2->options().l2, 5e-4f);
  EXPECT_EQ(l2->options().l1, 0.0f);
  auto el = Regularizer::Parse(" Elastic:1e-5:2e-4 ");
  ASSERT_TRUE(el.ok()) << el.status();
  EXPECT_FLOAT_EQ(el->options().l1, 1e-5f);
  EXPECT_FLOAT_EQ(el->options().l2, 2e-4f);
  EXPECT_EQ(el->Describe(), "elastic(l1=1e-05, l2=0.0002)");
  auto none = Regularizer::Parse("none");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->IsZero());
}

TEST(RegularizerTest, RejectsBadTextAndCoefficients) {
  struct Case {
    const char* text;
    const char* fragment;
  };
  for (const Case& c : {Case{"l3:1", "unknown kind 'l3'"}, Case{"l2", "takes 1 value"},
                        Case{"l2:abc", "'abc' is not a number"},
                        Case{"elastic:1e-3", "takes 2 value"}, Case{"l1:-1", "l1 must be"},
                        Case{"l2:inf", "l2 must be"}, Case{"", "unknown kind"}}) {
    auto r = Regularizer::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.fragment), std::string::npos)
        << c.text << " -> " << r.status();
  }
  EXPECT_FALSE(Regularizer::Create({std::numeric_limits<float>::quiet_NaN(), 0.0f, {}}).ok());
}

}  // namespace
}  // namespace simdnet
