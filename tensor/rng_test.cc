// Tests for the Philox RNG: reproducibility, thread-count independence, distributions, state.
#include "tensor/rng.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

TEST(RngTest, SameSeedSameSequence) {
  Rng a(42), b(42), c(43);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.NextU64();
    EXPECT_EQ(x, b.NextU64());
    differs |= (x != c.NextU64());
  }
  EXPECT_TRUE(differs);
}

TEST(RngTest, StreamsAndSplitsDiffer) {
  Rng a(1, 0), b(1, 1);
  EXPECT_NE(a.NextU64(), b.NextU64());
  Rng p(7);
  Rng c0 = p.Split(0), c0b = p.Split(0), c1 = p.Split(1);
  EXPECT_EQ(c0.NextU64(), c0b.NextU64());
  EXPECT_NE(p.Split(0).NextU64(), c1.NextU64());
}

TEST(RngTest, FillsDoNotDependOnThreadCount) {
  const size_t n = 100003;
  std::vector<float> serial(n), parallel(n);
  ThreadPool pool(3);
  for (int kind = 0; kind < 3; ++kind) {
    Rng a(5), b(5);
    if (kind == 0) {
      a.FillUniform(serial.data(), n, -1, 1);
      b.FillUniform(parallel.data(), n, -1, 1, &pool);
    } else if (kind == 1) {
      a.FillNormal(serial.data(), n, 0, 1);
      b.FillNormal(parallel.data(), n, 0, 1, &pool);
    } else {
      a.FillBernoulli(serial.data(), n, 0.3f);
      b.FillBernoulli(parallel.data(), n, 0.3f, &pool);
    }
    EXPECT_EQ(serial, parallel) << "kind " << kind;
    EXPECT_EQ(a, b);
  }
}

TEST(RngTest, FillIsContinuationOfScalarCounter) {
  // A fill of n then a fill of m equals one fill of n + m.
  Rng a(9), b(9);
  std::vector<float> one(30), two(30);
  a.FillUniform(one.data(), 30, 0, 1);
  b.FillUniform(two.data(), 13, 0, 1);
  b.FillUniform(two.data() + 13, 17, 0, 1);
  EXPECT_EQ(one, two);
}

TEST(RngTest, UniformMoments) {
  Rng r(3);
  const size_t n = 200000;
  std::vector<float> v(n);
  r.FillUniform(v.data(), n, 2.0f, 4.0f);
  double sum = 0, sq = 0;
  for (float x : v) {
    ASSERT_GE(x, 2.0f);
    ASSERT_LT(x, 4.0f);
    sum += x;
    sq += x * x;
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 3.0, 0.01);         // stddev of mean ~ 0.0013
  EXPECT_NEAR(var, 4.0 / 12.0, 0.005);  // true variance 1/3
}

TEST(RngTest, NormalMoments) {
  Rng r(4);
  const size_t n = 200000;
  std::vector<float> v(n);
  r.FillNormal(v.data(), n, 1.0f, 2.0f);
  double sum = 0, sq = 0;
  for (float x : v) {
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sq += x * x;
  }
  const double mean = sum / n, var = sq / n - mean * mean;
  EXPECT_NEAR(mean, 1.0, 0.02);  // stddev of mean ~ 0.0045
  EXPECT_NEAR(var, 4.0, 0.06);
}

TEST(RngTest, BernoulliRateAndEdges) {
  Rng r(5);
  const size_t n = 100000;
  std::vector<float> v(n);
  r.FillBernoulli(v.data(), n, 0.25f);
  double ones = 0;
  for (float x : v) {
    ASSERT_TRUE(x == 0.0f || x == 1.0f);
    ones += x;
  }
  EXPECT_NEAR(ones / n, 0.25, 0.006);
  r.FillBernoulli(v.data(), n, 1.0f);
  for (float x : v) ASSERT_EQ(x, 1.0f);
  r.FillBernoulli(v.data(), n, 0.0f);
  for (float x : v) ASSERT_EQ(x, 0.0f);
}

TEST(RngTest, UniformIntInRangeAndCovering) {
  Rng r(6);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t x = r.UniformInt(7);
    ASSERT_LT(x, 7u);
    counts[x]++;
  }
  for (int c : counts) EXPECT_GT(c, 850);
  EXPECT_EQ(r.UniformInt(1), 0u);
}

TEST(RngTest, SaveAndLoadStateResumesExactly) {
  Rng a(11);
  a.NextU64();
  a.Normal();
  auto b = Rng::LoadState(a.SaveState());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, a);
  EXPECT_EQ(a.NextU64(), b->NextU64());
}

TEST(RngTest, LoadStateRejectsGarbage) {
  for (const char* bad : {"", "philox:1:2:3", "mt:1:2:3:4", "philox:a:2:3:4"}) {
    auto r = Rng::LoadState(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("rng state"), std::string::npos);
  }
}

}  // namespace
}  // namespace simdnet
