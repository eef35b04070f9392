// Tests for the classification metrics on small hand-made examples with known answers.
#include "train/metrics.h"

#include <cmath>
#include <limits>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Tensor Logits(int64_t n, int64_t c, std::initializer_list<float> v) {
  return Tensor::FromVector(Shape({n, c}), std::vector<float>(v)).value();
}

TEST(RunningMetricsTest, WeightsBatchesBySize) {
  RunningMetrics m;
  EXPECT_EQ(m.mean_loss(), 0.0);
  EXPECT_EQ(m.accuracy(), 0.0);
  m.AddBatch(1.0, 2, 1);  // Two samples of loss 1, one correct.
  m.AddBatch(4.0, 6, 6);  // Six samples of loss 4, all correct.
  EXPECT_EQ(m.samples(), 8);
  EXPECT_EQ(m.correct(), 7);
  EXPECT_DOUBLE_EQ(m.mean_loss(), (2 * 1.0 + 6 * 4.0) / 8);
  EXPECT_DOUBLE_EQ(m.accuracy(), 7.0 / 8);
  m.Reset();
  EXPECT_EQ(m.samples(), 0);
  EXPECT_EQ(m.mean_loss(), 0.0);
}

TEST(MetricsTest, ArgmaxPicksLargestLowestIndexOnTiesIgnoresNaN) {
  const Tensor l = Logits(4, 3,
                          {0.1f, 0.7f, 0.2f,    // 1
                           5.0f, 5.0f, 1.0f,    // tie -> 0
                           kNaN, -1.0f, -2.0f,  // NaN ignored -> 1
                           kNaN, kNaN, kNaN});  // all NaN -> 0
  EXPECT_EQ(*ArgmaxRows(l), (std::vector<int64_t>{1, 0, 1, 0}));
}

TEST(MetricsTest, TopKCountsLabelsAmongHighest) {
  // Row 0 ranks: class 2 > 0 > 3 > 1. Row 1 ranks: 1 > 3 > 0 > 2.
  const Tensor l = Logits(2, 4,
                          {0.5f, -1.0f, 2.0f, 0.0f,  //
                           0.0f, 3.0f, -5.0f, 1.0f});
  const std::vector<int64_t> labels = {3, 3};
  EXPECT_EQ(*CountTopKCorrect(l, labels, 1), 0);
  EXPECT_EQ(*CountTopKCorrect(l, labels, 2), 1);  // Row 1 (rank 1).
  EXPECT_EQ(*CountTopKCorrect(l, labels, 3), 2);  // Row 0 (rank 2).
  EXPECT_EQ(*TopKCorrect(l, labels, 2), (std::vector<bool>{false, true}));
  EXPECT_DOUBLE_EQ(*TopKAccuracy(l, labels, 2), 0.5);
  EXPECT_DOUBLE_EQ(*TopKAccuracy(l, std::vector<int64_t>{2, 1}, 1), 1.0);
}

TEST(MetricsTest, TopKBreaksTiesTowardLowerIndex) {
  const Tensor l = Logits(1, 3, {1.0f, 1.0f, 1.0f});
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{0}, 1), 1);
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{1}, 1), 0);
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{1}, 2), 1);
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{2}, 2), 0);
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{2}, 3), 1);
}

TEST(MetricsTest, TopKNaNLabelLogitIsNeverCorrect) {
  const Tensor l = Logits(1, 2, {kNaN, -1.0f});
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{0}, 2), 0);
  EXPECT_EQ(*CountTopKCorrect(l, std::vector<int64_t>{1}, 1), 1);
}

TEST(MetricsTest, TopKOneAgreesWithArgmax) {
  Tensor l(Shape({50, 7}));
  for (int64_t i = 0; i < l.size(); ++i) l[i] = static_cast<float>((i * 37) % 11) - 5.0f;
  const std::vector<int64_t> pred = *ArgmaxRows(l);
  std::vector<int64_t> labels(50);
  for (int i = 0; i < 50; ++i) labels[i] = i % 7;
  int64_t expected = 0;
  for (int i = 0; i < 50; ++i) expected += pred[i] == labels[i];
  EXPECT_EQ(*CountTopKCorrect(l, labels, 1), expected);
  EXPECT_EQ(*CountTopKCorrect(l, labels, 7), 50);
}

TEST(MetricsTest, EmptyBatch) {
  const Tensor l(Shape({0, 3}));
  EXPECT_TRUE(ArgmaxRows(l)->empty());
  EXPECT_EQ(*CountTopKCorrect(l, {}, 1), 0);
  EXPECT_EQ(*TopKAccuracy(l, {}, 1), 0.0);
}

TEST(MetricsTest, RejectsBadInputsNamingTheProblem) {
  const Tensor l = Logits(2, 3, {0, 0, 0, 0, 0, 0});
  auto s = CountTopKCorrect(l, std::vector<int64_t>{0}, 1).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "1 labels for logits (2, 3)")) << s;
  s = CountTopKCorrect(l, std::vector<int64_t>{0, 3}, 1).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "label[1] = 3")) << s;
  s = CountTopKCorrect(l, std::vector<int64_t>{0, -1}, 1).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "label[1] = -1")) << s;
  s = CountTopKCorrect(l, std::vector<int64_t>{0, 0}, 4).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "k = 4")) << s;
  s = CountTopKCorrect(l, std::vector<int64_t>{0, 0}, 0).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "k = 0")) << s;
  s = ArgmaxRows(Tensor(Shape({6}))).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "rank 2")) << s;
  s = ArgmaxRows(Tensor(Shape({2, 0}))).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "no classes")) << s;
}

TEST(ConfusionMatrixTest, CountsPairsAndDerivedRates) {
  ConfusionMatrix cm = *ConfusionMatrix::Create(3);
  // truth:      0 0 0 1 1 2
  // prediction: 0 0 1 1 2 2
  ASSERT_TRUE(cm.Add({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}).ok());
  EXPECT_EQ(cm.counts(), (std::vector<int64_t>{2, 1, 0,  //
                                               0, 1, 1,  //
                                               0, 0, 1}));
  EXPECT_EQ(cm.total(), 6);
  EXPECT_EQ(cm.support(0), 3);
  EXPECT_DOUBLE_EQ(cm.accuracy(), 4.0 / 6);
  const std::vector<double> acc = cm.PerClassAccuracy();
  EXPECT_DOUBLE_EQ(acc[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(acc[1], 0.5);
  EXPECT_DOUBLE_EQ(acc[2], 1.0);
  const std::vector<double> prec = cm.PerClassPrecision();
  EXPECT_DOUBLE_EQ(prec[0], 1.0);
  EXPECT_DOUBLE_EQ(prec[1], 0.5);
  EXPECT_DOUBLE_EQ(prec[2], 0.5);
}

TEST(ConfusionMatrixTest, ClassWithoutSamplesHasNaNAccuracy) {
  ConfusionMatrix cm = *ConfusionMatrix::Create(2);
  ASSERT_TRUE(cm.Add({0}, {0}).ok());
  EXPECT_EQ(cm.PerClassAccuracy()[0], 1.0);
  EXPECT_TRUE(std::isnan(cm.PerClassAccuracy()[1]));
  EXPECT_TRUE(std::isnan(cm.PerClassPrecision()[1]));
}

TEST(ConfusionMatrixTest, AddLogitsUsesArgmaxAndMergeAdds) {
  ConfusionMatrix a = *ConfusionMatrix::Create(2);
  ASSERT_TRUE(a.AddLogits(Logits(3, 2, {1, 0, 0, 1, 2, 3}), {0, 0, 1}).ok());
  EXPECT_EQ(a.counts(), (std::vector<int64_t>{1, 1, 0, 1}));
  ConfusionMatrix b = *ConfusionMatrix::Create(2);
  ASSERT_TRUE(b.Add({1}, {0}).ok());
  ASSERT_TRUE(a.Merge(b).ok());
  EXPECT_EQ(a.counts(), (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_FALSE(a.Merge(*ConfusionMatrix::Create(3)).ok());
  a.Reset();
  EXPECT_EQ(a.total(), 0);
  EXPECT_EQ(a.accuracy(), 0.0);
}

TEST(ConfusionMatrixTest, RejectsBadInputAndLeavesMatrixUnchanged) {
  EXPECT_FALSE(ConfusionMatrix::Create(0).ok());
  EXPECT_FALSE(ConfusionMatrix::Create(ConfusionMatrix::kMaxClasses + 1).ok());
  ConfusionMatrix cm = *ConfusionMatrix::Create(2);
  auto s = cm.Add({0, 1}, {1});
  EXPECT_TRUE(absl::StrContains(s.message(), "2 labels but 1 predictions")) << s;
  s = cm.Add({0, 1, 0}, {0, 0, 2});
  EXPECT_TRUE(absl::StrContains(s.message(), "prediction[2] = 2")) << s;
  s = cm.Add({0, 5}, {0, 0});
  EXPECT_TRUE(absl::StrContains(s.message(), "label[1] = 5")) << s;
  EXPECT_EQ(cm.total(), 0);
  s = cm.AddLogits(Logits(1, 3, {0, 1, 2}), {0});
  EXPECT_TRUE(absl::StrContains(s.message(), "3 classes, matrix has 2")) << s;
}

TEST(ConfusionMatrixTest, ToStringShowsNamesAndCounts) {
  ConfusionMatrix cm = *ConfusionMatrix::Create(2);
  ASSERT_TRUE(cm.Add({0, 1, 1}, {0, 0, 1}).ok());
  const std::vector<std::string> names = {"cat", "dog"};
  EXPECT_EQ(cm.ToString(names),
            "true |   0   1\n"
            "cat  |   1   0\n"
            "dog  |   1   1\n");
}

}  // namespace
}  // namespace simdnet
