// LogSoftmax layer tests: gradient check against a double reference (rank 1 and rank 3 per
// sample), stability on huge inputs, and Create's rejections.
#include "layers/log_softmax.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"
#include "tensor/test_util.h"

namespace simdnet {
namespace {

// Double log-softmax over axis c of (n, c, inner).
GradCheckOptions Check(int64_t c, int64_t inner) {
  GradCheckOptions o;
  o.reference = [c, inner](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    std::vector<double> y(x.size());
    const int64_t n = static_cast<int64_t>(x.size()) / (c * inner);
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t i = 0; i < inner; ++i) {
        double mx = -INFINITY, s = 0.0;
        for (int64_t a = 0; a < c; ++a) mx = std::max(mx, x[(b * c + a) * inner + i]);
        for (int64_t a = 0; a < c; ++a) s += std::exp(x[(b * c + a) * inner + i] - mx);
        for (int64_t a = 0; a < c; ++a) {
          y[(b * c + a) * inner + i] = x[(b * c + a) * inner + i] - mx - std::log(s);
        }
      }
    }
    return y;
  };
  o.input_low = -3.0f;
  o.input_high = 3.0f;
  // Float log-softmax is within a few ulp of O(1) values, and dx sums C terms of O(1):
  // 1e-5 abs + 1e-4 rel (a missing softmax term is O(1/C)).
  o.forward_abs_tol = 1e-5;
  o.forward_rel_tol = 1e-4;
  o.grad_abs_tol = 1e-5;
  o.grad_rel_tol = 1e-4;
  return o;
}

TEST(LogSoftmaxTest, GradientsMatchDoubleReferenceOnVectors) {
  auto layer = LogSoftmax::Create(Shape({7}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_TRUE(CheckLayerGradients(**layer, 3, Check(7, 1)));
}

TEST(LogSoftmaxTest, GradientsMatchDoubleReferenceOverChannels) {
  auto layer = LogSoftmax::Create(Shape({5, 3, 2}));
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_TRUE(CheckLayerGradients(**layer, 2, Check(5, 6)));
}

TEST(LogSoftmaxTest, HugeInputsStayFiniteAndNormalized) {
  auto layer = LogSoftmax::Create(Shape({3}));
  ASSERT_TRUE(layer.ok());
  Tensor x(Shape({1, 3})), y, dy(Shape({1, 3})), dx;
  x[0] = 1000.0f;
  x[1] = 0.0f;
  x[2] = -1000.0f;
  dy.SetAll(1.0f);
  (*layer)->Forward(x, &y);
  EXPECT_NEAR(y[0], 0.0f, 1e-6);
  EXPECT_NEAR(y[1], -1000.0f, 1e-3);
  EXPECT_TRUE(std::isfinite(y[2]));
  (*layer)->Backward(dy, &dx);
  // dx = 1 - softmax * 3: (-2, 1, 1).
  EXPECT_NEAR(dx[0], -2.0f, 1e-6);
  EXPECT_NEAR(dx[1], 1.0f, 1e-6);
  EXPECT_NEAR(dx[2], 1.0f, 1e-6);
  EXPECT_EQ((*layer)->Describe(), "LogSoftmax(dim=1)");
}

TEST(LogSoftmaxTest, RejectsEmptyOrScalarShape) {
  test::ExpectInvalid(LogSoftmax::Create(Shape()).status(), {"LogSoftmax", "input_shape"});
  test::ExpectInvalid(LogSoftmax::Create(Shape({0})).status(), {"LogSoftmax", "(0)"});
}

}  // namespace
}  // namespace simdnet
