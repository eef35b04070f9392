// Tests for InMemoryDataset validation, Subset, the seeded shuffle and the train/validation split.
#include "data/dataset.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "data/shuffle.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

InMemoryDataset Tiny() {
  InMemoryDataset d;
  d.num = 3;
  d.channels = 1;
  d.height = 1;
  d.width = 2;
  d.pixels = {0, 1, 10, 11, 20, 21};
  d.labels = {0, 1, 0};
  d.classes = {"x", "y"};
  return d;
}

TEST(DatasetTest, ValidateAcceptsConsistentAndRejectsInconsistent) {
  EXPECT_TRUE(Tiny().Validate("tiny").ok());
  InMemoryDataset d = Tiny();
  d.labels[2] = 2;
  EXPECT_THAT(std::string(d.Validate("tiny").message()), HasSubstr("label 2 of image 2"));
  d = Tiny();
  d.pixels.pop_back();
  EXPECT_THAT(std::string(d.Validate("tiny").message()), HasSubstr("pixel bytes"));
  d = Tiny();
  d.num = 0;
  EXPECT_THAT(std::string(d.Validate("tiny").message()), HasSubstr("zero images"));
}

TEST(DatasetTest, SubsetCopiesSelectedSamples) {
  auto s = Subset(Tiny(), {2, 0});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->pixels, (std::vector<uint8_t>{20, 21, 0, 1}));
  EXPECT_EQ(s->labels, (std::vector<int32_t>{0, 0}));
  EXPECT_THAT(std::string(Subset(Tiny(), {3}).status().message()), HasSubstr("index 3"));
}

TEST(ShuffleTest, EpochOrderIsASeededPermutation) {
  const std::vector<int64_t> a = EpochOrder(1000, 42, 0, true);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(a, iota);
  EXPECT_EQ(a, EpochOrder(1000, 42, 0, true));  // reproducible
  EXPECT_NE(a, EpochOrder(1000, 42, 1, true));  // a new order each epoch
  EXPECT_NE(a, EpochOrder(1000, 43, 0, true));  // and per seed
  EXPECT_EQ(EpochOrder(1000, 42, 0, false), iota);
  EXPECT_TRUE(EpochOrder(0, 1, 0, true).empty());
}

TEST(ShuffleTest, FirstPositionIsRoughlyUniform) {
  std::vector<int> count(4, 0);
  for (uint64_t e = 0; e < 4000; ++e) ++count[static_cast<size_t>(EpochOrder(4, 9, e, true)[0])];
  for (int c : count) EXPECT_NEAR(c, 1000, 120);
}

TEST(SplitTest, TrainValidationSplitIsDisjointAndComplete) {
  auto s = TrainValidationSplit(103, 0.2, 5);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->validation.size(), 21u);
  EXPECT_EQ(s->train.size(), 82u);
  std::set<int64_t> all(s->train.begin(), s->train.end());
  all.insert(s->validation.begin(), s->validation.end());
  EXPECT_EQ(all.size(), 103u);
  EXPECT_TRUE(std::is_sorted(s->train.begin(), s->train.end()));
  auto again = TrainValidationSplit(103, 0.2, 5);
  EXPECT_EQ(again->validation, s->validation);
  EXPECT_NE(TrainValidationSplit(103, 0.2, 6)->validation, s->validation);
  EXPECT_TRUE(TrainValidationSplit(10, 0.0, 1)->validation.empty());
  EXPECT_THAT(std::string(TrainValidationSplit(10, 1.0, 1).status().message()),
              HasSubstr("validation_fraction"));
  EXPECT_FALSE(TrainValidationSplit(10, -0.1, 1).ok());
}

}  // namespace
}  // namespace simdnet
