// Tests for BatchNormSync: sums in rank order on every rank over many rounds, Abort releases
// a waiting rank and Begin clears it.
#include "layers/batch_norm_sync.h"

#include <atomic>
#include <cstddef>
#include <vector>

#include "gtest/gtest.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

// The value rank r contributes to element i of round k.
float Contribution(size_t r, size_t k, size_t i) {
  return 0.1f * static_cast<float>(r + 1) + 0.37f * static_cast<float>(k) +
         1e-3f * static_cast<float>(i);
}

TEST(BatchNormSyncTest, SumsInRankOrderOnEveryRankOverManyRounds) {
  for (size_t ranks : {1, 2, 3}) {
    ThreadPool pool(ranks);
    BatchNormSync sync(ranks, 5);
    sync.Begin(64);
    EXPECT_EQ(sync.total_rows(), 64);
    constexpr size_t kRounds = 2000;
    std::vector<std::vector<float>> got(ranks, std::vector<float>(kRounds * 5));
    std::atomic<int> failures{0};
    ASSERT_TRUE(pool.ParallelForConcurrent(ranks, [&](uint64_t task, size_t) {
      const size_t r = static_cast<size_t>(task);
      for (size_t k = 0; k < kRounds; ++k) {
        const size_t count = 1 + k % 5;  // counts vary from round to round
        float v[5];
        for (size_t i = 0; i < count; ++i) v[i] = Contribution(r, k, i);
        if (!sync.AllReduce(r, v, count)) failures.fetch_add(1);
        for (size_t i = 0; i < count; ++i) got[r][k * 5 + i] = v[i];
      }
    }));
    EXPECT_EQ(failures.load(), 0);
    for (size_t k = 0; k < kRounds; ++k) {
      for (size_t i = 0; i < 1 + k % 5; ++i) {
        float want = Contribution(0, k, i);
        for (size_t r = 1; r < ranks; ++r) want += Contribution(r, k, i);
        for (size_t r = 0; r < ranks; ++r) {
          ASSERT_EQ(got[r][k * 5 + i], want) << "ranks " << ranks << " rank " << r << " round "
                                             << k << " element " << i;
        }
      }
    }
  }
}

TEST(BatchNormSyncTest, AbortReleasesAWaitingRankAndBeginClearsIt) {
  ThreadPool pool(2);
  BatchNormSync sync(2, 1);
  sync.Begin(2);
  std::atomic<int> released{0};
  ASSERT_TRUE(pool.ParallelForConcurrent(2, [&](uint64_t task, size_t) {
    if (task == 1) {
      sync.Abort();  // rank 1 stops without contributing
      return;
    }
    float v = 1.0f;
    if (!sync.AllReduce(0, &v, 1)) released.fetch_add(1);
    EXPECT_EQ(v, 1.0f);  // unchanged
  }));
  EXPECT_EQ(released.load(), 1);
  sync.Begin(2);
  std::vector<float> out(2);
  ASSERT_TRUE(pool.ParallelForConcurrent(2, [&](uint64_t task, size_t) {
    float v = task == 0 ? 2.0f : 3.0f;
    EXPECT_TRUE(sync.AllReduce(task, &v, 1));
    out[task] = v;
  }));
  EXPECT_EQ(out[0], 5.0f);
  EXPECT_EQ(out[1], 5.0f);
}

}  // namespace
}  // namespace simdnet
