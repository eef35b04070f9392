// Tests for the gradient checker: a correct toy layer passes, and each kind of bug (wrong dx,
// wrong parameter gradient, wrong forward, gradient into a frozen parameter) is reported.
#include "layers/gradient_check.h"

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "layers/layer.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// y[n, f] = tanh(w[f] * x[n, f] + b[f]); small enough to write out by hand here (a test double
// with deliberate, switchable bugs; real layers call kernels).
enum class Bug { kNone, kDx, kDw, kForward, kFrozenGetsGrad };

class ToyLayer : public Layer {
 public:
  ToyLayer(int64_t features, Bug bug) : shape_({features}), bug_(bug) {
    w_.value = Tensor(Shape({features}));
    w_.grad = Tensor(Shape({features}));
    b_.value = Tensor(Shape({features}));
    b_.grad = Tensor(Shape({features}));
    for (int64_t f = 0; f < features; ++f) {
      w_.value[f] = 0.5f + 0.1f * static_cast<float>(f);
      b_.value[f] = -0.2f + 0.05f * static_cast<float>(f);
    }
    if (bug == Bug::kFrozenGetsGrad) b_.frozen = true;
  }
  std::string TypeName() const override { return "toy"; }
  std::string Describe() const override { return "Toy"; }
  const Shape& InputShape() const override { return shape_; }
  const Shape& OutputShape() const override { return shape_; }
  void Forward(const Tensor& x, Tensor* y) override {
    x_ = x;
    *y = Tensor(x.shape());
    const int64_t f = shape_[0];
    for (int64_t i = 0; i < x.size(); ++i) {
      const float z = w_.value[i % f] * x[i] + b_.value[i % f];
      (*y)[i] = std::tanh(z) + (bug_ == Bug::kForward && i == 2 ? 0.01f : 0.0f);
    }
    y_ = *y;
  }
  void Backward(const Tensor& dy, Tensor* dx) override {
    *dx = Tensor(dy.shape());
    const int64_t f = shape_[0];
    for (int64_t i = 0; i < dy.size(); ++i) {
      const float dz = dy[i] * (1.0f - y_[i] * y_[i]);
      (*dx)[i] = dz * w_.value[i % f] * (bug_ == Bug::kDx && i == 1 ? 1.1f : 1.0f);
      w_.grad[i % f] += dz * x_[i] * (bug_ == Bug::kDw ? 0.9f : 1.0f);
      if (!b_.frozen || bug_ == Bug::kFrozenGetsGrad) b_.grad[i % f] += dz;
    }
  }
  std::vector<NamedParameter> Params() override { return {{"weight", &w_}, {"bias", &b_}}; }

 private:
  Shape shape_;
  Bug bug_;
  Parameter w_, b_;
  Tensor x_, y_;
};

GradCheckOptions ToyOptions(int64_t features) {
  GradCheckOptions o;
  o.reference = [features](const std::vector<double>& x,
                           const std::vector<std::vector<double>>& p) {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      y[i] = std::tanh(p[0][i % features] * x[i] + p[1][i % features]);
    }
    return y;
  };
  return o;
}

TEST(GradientCheckTest, CorrectLayerPasses) {
  ToyLayer layer(5, Bug::kNone);
  EXPECT_TRUE(CheckLayerGradients(layer, 3, ToyOptions(5)));
}

TEST(GradientCheckTest, PreviouslyAccumulatedGradientsDoNotMatter) {
  ToyLayer layer(5, Bug::kNone);
  for (NamedParameter& p : layer.Params()) p.param->grad.SetAll(7.0f);
  EXPECT_TRUE(CheckLayerGradients(layer, 2, ToyOptions(5)));
}

TEST(GradientCheckTest, ReportsWrongDx) {
  ToyLayer layer(5, Bug::kDx);
  const ::testing::AssertionResult r = CheckLayerGradients(layer, 3, ToyOptions(5));
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("dx: 1 of 15"), std::string::npos) << r.message();
  EXPECT_NE(std::string(r.message()).find("[1]"), std::string::npos) << r.message();
}

TEST(GradientCheckTest, ReportsWrongParameterGradient) {
  ToyLayer layer(5, Bug::kDw);
  const ::testing::AssertionResult r = CheckLayerGradients(layer, 3, ToyOptions(5));
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("weight:"), std::string::npos) << r.message();
  EXPECT_EQ(std::string(r.message()).find("bias:"), std::string::npos) << r.message();
}

TEST(GradientCheckTest, ReportsWrongForward) {
  ToyLayer layer(5, Bug::kForward);
  const ::testing::AssertionResult r = CheckLayerGradients(layer, 3, ToyOptions(5));
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("forward y: 1 of 15"), std::string::npos)
      << r.message();
}

TEST(GradientCheckTest, ReportsGradientIntoFrozenParameter) {
  ToyLayer layer(5, Bug::kFrozenGetsGrad);
  const ::testing::AssertionResult r = CheckLayerGradients(layer, 3, ToyOptions(5));
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("bias (frozen"), std::string::npos) << r.message();
}

TEST(GradientCheckTest, MaxChecksPerTensorStillFindsBugAtFirstElement) {
  ToyLayer layer(5, Bug::kDw);
  GradCheckOptions o = ToyOptions(5);
  o.max_checks_per_tensor = 2;
  const ::testing::AssertionResult r = CheckLayerGradients(layer, 4, o);
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("weight: 2 of 2 checked"), std::string::npos)
      << r.message();
}

// Loss: L = 0.5 * sum(x^2) / n, gradient x / n.
TEST(GradientCheckTest, LossCheckPassesAndReportsWrongGradient) {
  const Shape shape({3, 4});
  auto reference = [](const std::vector<double>& x) {
    double s = 0.0;
    for (double v : x) s += 0.5 * v * v;
    return s / static_cast<double>(x.size());
  };
  for (const float factor : {1.0f, 1.5f}) {
    LossUnderTest loss = [factor](const Tensor& x, Tensor* g) -> absl::StatusOr<float> {
      *g = Tensor(x.shape());
      float s = 0.0f;
      const float n = static_cast<float>(x.size());
      for (int64_t i = 0; i < x.size(); ++i) {
        s += 0.5f * x[i] * x[i];
        (*g)[i] = factor * x[i] / n;
      }
      return s / n;
    };
    const ::testing::AssertionResult r =
        CheckLossGradients(loss, shape, reference, GradCheckOptions());
    EXPECT_EQ(static_cast<bool>(r), factor == 1.0f) << r.message();
  }
}

TEST(GradientCheckTest, LossErrorStatusIsReported) {
  LossUnderTest loss = [](const Tensor&, Tensor*) -> absl::StatusOr<float> {
    return absl::InvalidArgumentError("label 9 out of range");
  };
  const ::testing::AssertionResult r = CheckLossGradients(
      loss, Shape({2, 3}), [](const std::vector<double>&) { return 0.0; }, GradCheckOptions());
  ASSERT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("label 9 out of range"), std::string::npos);
}

}  // namespace
}  // namespace simdnet
