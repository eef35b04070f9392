// Dropout layer tests: statistics of the mask in training, identity in eval, reproducible
// masks, gradient check with the drawn mask, and rejections.
#include "layers/dropout.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "layers/gradient_check.h"

namespace simdnet {
namespace {

TEST(DropoutTest, PreservesMeanActivationInTraining) {
  Rng rng(42);
  DropoutOptions options;
  options.drop_rate = 0.3f;
  auto layer = Dropout::Create(options, Shape({1000}), rng);
  ASSERT_TRUE(layer.ok()) << layer.status();
  Tensor x(Shape({50, 1000}));
  x.SetAll(2.0f);
  Tensor y;
  (*layer)->Forward(x, &y);
  double sum = 0.0;
  int64_t zeros = 0;
  for (int64_t i = 0; i < y.size(); ++i) {
    sum += y[i];
    if (y[i] == 0.0f) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(y[i], 2.0f / 0.7f);
    }
  }
  // 50000 Bernoulli(0.7) draws: the zero fraction has std sqrt(0.21 / 50000) = 0.002, so 5
  // sigma is 0.01. The mean output is (2 / 0.7) * (kept fraction), so 5 sigma of it is
  // (2 / 0.7) * 0.01.
  const double n = static_cast<double>(y.size());
  EXPECT_NEAR(static_cast<double>(zeros) / n, 0.3, 0.01);
  EXPECT_NEAR(sum / n, 2.0, 2.0 / 0.7 * 0.01);
}

TEST(DropoutTest, IdentityInEval) {
  Rng rng(1);
  auto layer = Dropout::Create({}, Shape({3, 4}), rng);
  ASSERT_TRUE(layer.ok());
  (*layer)->SetMode(Mode::kEval);
  Tensor x(Shape({2, 3, 4}));
  for (int64_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) - 5.0f;
  Tensor y, dx;
  (*layer)->Forward(x, &y);
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(y[i], x[i]);
  (*layer)->Backward(x, &dx);
  for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(dx[i], x[i]);
}

TEST(DropoutTest, SameSeedGivesSameMaskAndSiblingsDiffer) {
  auto masks = [](uint64_t seed) {
    Rng rng(seed);
    auto a = Dropout::Create({}, Shape({64}), rng);
    auto b = Dropout::Create({}, Shape({64}), rng);
    Tensor x(Shape({4, 64}));
    x.SetAll(1.0f);
    Tensor ya, yb;
    (*a)->Forward(x, &ya);
    (*b)->Forward(x, &yb);
    return std::make_pair(std::vector<float>(ya.data(), ya.data() + ya.size()),
                          std::vector<float>(yb.data(), yb.data() + yb.size()));
  };
  const auto first = masks(7);
  const auto again = masks(7);
  EXPECT_EQ(first.first, again.first);
  EXPECT_EQ(first.second, again.second);
  EXPECT_NE(first.first, first.second) << "two dropout layers from one Rng share a stream";
  EXPECT_NE(first.first, masks(8).first);
}

TEST(DropoutTest, FreshMaskEachForwardAndRngIsReported) {
  Rng rng(3);
  auto layer = Dropout::Create({}, Shape({128}), rng);
  ASSERT_TRUE(layer.ok());
  auto rngs = (*layer)->Rngs();
  ASSERT_EQ(rngs.size(), 1u);
  EXPECT_EQ(rngs[0].name, "rng");
  const Rng before = *rngs[0].rng;
  Tensor x(Shape({1, 128}));
  x.SetAll(1.0f);
  Tensor y1, y2;
  (*layer)->Forward(x, &y1);
  (*layer)->Forward(x, &y2);
  EXPECT_FALSE(*rngs[0].rng == before);
  EXPECT_NE(std::vector<float>(y1.data(), y1.data() + 128),
            std::vector<float>(y2.data(), y2.data() + 128));
}

// Per-sample keys: a sample's mask depends on (epoch, sample id) only, so splitting a batch
// (data-parallel ranks) or reordering it gives each sample the mask of the whole batch's run.
TEST(DropoutTest, SampleKeyedMasksDoNotDependOnTheBatch) {
  constexpr int64_t kFeatures = 1000;  // large enough for the parallel fill path at batch 8
  Rng rng(11);
  auto whole = Dropout::Create({}, Shape({kFeatures}), rng);
  ASSERT_TRUE(whole.ok());
  const Rng layer_rng = *(*whole)->Rngs()[0].rng;
  const std::vector<int64_t> ids = {7, 3, 12, 0, 5, 9, 1, 4};
  const int64_t n = static_cast<int64_t>(ids.size());
  Tensor x(Shape({n, kFeatures}));
  x.SetAll(1.0f);
  Tensor y;
  (*whole)->SetSampleKeys(2, ids);
  (*whole)->Forward(x, &y);
  EXPECT_TRUE(*(*whole)->Rngs()[0].rng == layer_rng);  // keyed masks do not advance the Rng
  // Each row is a mask (values 0 or 2) and rows differ.
  for (int64_t i = 0; i < n * kFeatures; ++i) EXPECT_TRUE(y[i] == 0.0f || y[i] == 2.0f);
  EXPECT_NE(std::vector<float>(y.data(), y.data() + kFeatures),
            std::vector<float>(y.data() + kFeatures, y.data() + 2 * kFeatures));
  // The same samples in halves, in another order, through a layer with the same Rng.
  for (int64_t half = 0; half < 2; ++half) {
    Rng rng2(11);
    auto part = Dropout::Create({}, Shape({kFeatures}), rng2);
    ASSERT_TRUE(part.ok());
    std::vector<int64_t> part_ids(ids.begin() + half * n / 2, ids.begin() + (half + 1) * n / 2);
    std::reverse(part_ids.begin(), part_ids.end());
    Tensor xp(Shape({n / 2, kFeatures}));
    xp.SetAll(1.0f);
    Tensor yp;
    (*part)->SetSampleKeys(2, part_ids);
    (*part)->Forward(xp, &yp);
    for (int64_t r = 0; r < n / 2; ++r) {
      const int64_t whole_row = (half + 1) * n / 2 - 1 - r;
      for (int64_t f = 0; f < kFeatures; ++f) {
        ASSERT_EQ(yp[r * kFeatures + f], y[whole_row * kFeatures + f]) << "row " << r;
      }
    }
  }
  // Another epoch gives other masks; empty keys return to the per-batch stream.
  Tensor y3;
  (*whole)->SetSampleKeys(3, ids);
  (*whole)->Forward(x, &y3);
  EXPECT_NE(std::vector<float>(y.data(), y.data() + kFeatures),
            std::vector<float>(y3.data(), y3.data() + kFeatures));
  (*whole)->SetSampleKeys(0, {});
  (*whole)->Forward(x, &y3);
  EXPECT_FALSE(*(*whole)->Rngs()[0].rng == layer_rng);
}

TEST(DropoutTest, GradientsMatchReferenceWithDrawnMask) {
  Rng rng(5);
  DropoutOptions options;
  options.drop_rate = 0.4f;
  auto layer = Dropout::Create(options, Shape({3, 5, 7}), rng);
  ASSERT_TRUE(layer.ok());
  Dropout* d = layer->get();
  GradCheckOptions o;
  // The reference reads the mask the layer's Forward drew (the checker calls it afterwards).
  o.reference = [d](const std::vector<double>& x, const std::vector<std::vector<double>>&) {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * d->mask()[static_cast<int64_t>(i)];
    return y;
  };
  o.grad_abs_tol = 1e-6;
  o.grad_rel_tol = 1e-5;
  EXPECT_TRUE(CheckLayerGradients(*d, 3, o));
}

TEST(DropoutTest, RejectsDropRateOutsideUnitInterval) {
  for (float p : {-0.1f, 1.0f, 1.5f, std::nanf("")}) {
    Rng rng(1);
    DropoutOptions options;
    options.drop_rate = p;
    auto layer = Dropout::Create(options, Shape({4}), rng);
    ASSERT_FALSE(layer.ok()) << p;
    EXPECT_NE(layer.status().message().find("drop_rate"), std::string::npos);
  }
}

}  // namespace
}  // namespace simdnet
