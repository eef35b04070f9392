// Tests for training-split statistics, their application and their key-value round trip.
#include "data/normalize.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

InMemoryDataset MakeData(int64_t n, int64_t c, int64_t h, int64_t w) {
  InMemoryDataset d;
  d.num = n;
  d.channels = c;
  d.height = h;
  d.width = w;
  d.classes = {"a", "b"};
  for (int64_t i = 0; i < n * c * h * w; ++i) d.pixels.push_back(static_cast<uint8_t>((i * 31 + i / 7) % 256));
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int32_t>(i % 2));
  return d;
}

TEST(NormalizeTest, MeanImageMatchesDirectComputation) {
  const InMemoryDataset d = MakeData(5, 2, 3, 3);
  auto n = ComputeMeanImage(d);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(n->mean.size(), 18u);
  for (int64_t k = 0; k < 18; ++k) {
    double s = 0;
    for (int64_t i = 0; i < 5; ++i) s += d.pixels[i * 18 + k] / 255.0;
    EXPECT_NEAR(n->mean[k], s / 5, 1e-6);
  }
  // Applying it to the training set leaves every element with mean zero.
  Tensor t = d.ToTensor();
  n->Apply(t.data(), 5);
  for (int64_t k = 0; k < 18; ++k) {
    double s = 0;
    for (int64_t i = 0; i < 5; ++i) s += t[i * 18 + k];
    EXPECT_NEAR(s, 0.0, 1e-5);
  }
}

TEST(NormalizeTest, PerChannelGivesZeroMeanUnitStdOnTrainingSet) {
  const InMemoryDataset d = MakeData(7, 3, 4, 5);
  auto n = ComputePerChannelStats(d);
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(n->mean.size(), 3u);
  ASSERT_EQ(n->stddev.size(), 3u);
  Tensor t = d.ToTensor();
  n->Apply(t.data(), 7);
  for (int64_t c = 0; c < 3; ++c) {
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < 7; ++i) {
      for (int64_t p = 0; p < 20; ++p) {
        const double v = t[(i * 3 + c) * 20 + p];
        s1 += v;
        s2 += v * v;
      }
    }
    EXPECT_NEAR(s1 / 140, 0.0, 1e-5) << "channel " << c;
    EXPECT_NEAR(s2 / 140, 1.0, 1e-4) << "channel " << c;
  }
}

TEST(NormalizeTest, ConstantChannelDoesNotDivideByZero) {
  InMemoryDataset d = MakeData(2, 1, 2, 2);
  std::fill(d.pixels.begin(), d.pixels.end(), 128);
  auto n = ComputePerChannelStats(d);
  ASSERT_TRUE(n.ok());
  EXPECT_GT(n->stddev[0], 0.0f);
  Tensor t = d.ToTensor();
  n->Apply(t.data(), 2);
  for (float v : t.span()) EXPECT_TRUE(std::isfinite(v));
}

TEST(NormalizeTest, KeyValuesRoundTripExactly) {
  for (bool per_channel : {false, true}) {
    const InMemoryDataset d = MakeData(3, 3, 2, 2);
    auto n = per_channel ? ComputePerChannelStats(d) : ComputeMeanImage(d);
    ASSERT_TRUE(n.ok());
    auto back = Normalization::FromKeyValues(n->ToKeyValues());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->kind, n->kind);
    EXPECT_EQ(back->mean, n->mean);  // bit-exact: 9 significant digits round-trip floats
    EXPECT_EQ(back->stddev, n->stddev);
    EXPECT_EQ(back->channels, 3);
    EXPECT_EQ(back->height, 2);
  }
  Normalization none;
  auto back = Normalization::FromKeyValues(none.ToKeyValues());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, Normalization::Kind::kNone);
}

TEST(NormalizeTest, FromKeyValuesRejectsMalformedInput) {
  std::map<std::string, std::string> good = {
      {"kind", "per_channel"}, {"shape", "2,4,4"}, {"mean", "0.5,0.25"}, {"std", "0.1,0.2"}};
  ASSERT_TRUE(Normalization::FromKeyValues(good).ok());
  struct Case {
    const char* key;
    const char* value;
    const char* expect;
  } cases[] = {
      {"kind", "zscore", "unknown value 'zscore'"},
      {"shape", "2,4", "not C,H,W"},
      {"shape", "2,x,4", "bad dimension 'x'"},
      {"mean", "0.5,abc", "bad number 'abc'"},
      {"mean", "0.5", "needs 2 means"},
      {"std", "0.1,0", "must be > 0"},
      {"std", "0.1,inf", "bad number 'inf'"},
  };
  for (const Case& c : cases) {
    auto kv = good;
    kv[c.key] = c.value;
    auto r = Normalization::FromKeyValues(kv);
    ASSERT_FALSE(r.ok()) << c.key << "=" << c.value;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.expect)) << r.status();
  }
  auto missing = good;
  missing.erase("std");
  EXPECT_THAT(std::string(Normalization::FromKeyValues(missing).status().message()),
              HasSubstr("missing key 'std'"));
}

TEST(NormalizeTest, ShapeCheckNamesBothShapes) {
  const InMemoryDataset d = MakeData(2, 1, 2, 2);
  auto n = ComputeMeanImage(d);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(CheckNormalizationShape(*n, Shape({1, 2, 2})).ok());
  const absl::Status s = CheckNormalizationShape(*n, Shape({3, 2, 2}));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("(1, 2, 2)"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("(3, 2, 2)"));
}

TEST(NormalizeTest, RejectsEmptyTrainingSet) {
  InMemoryDataset empty;
  empty.channels = empty.height = empty.width = 1;
  EXPECT_FALSE(ComputeMeanImage(empty).ok());
  EXPECT_FALSE(ComputePerChannelStats(empty).ok());
}

}  // namespace
}  // namespace simdnet
