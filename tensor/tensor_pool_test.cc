#include "tensor/tensor_pool.h"

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(TensorPoolTest, ReusesAFreedBlockAndKeepsUsedOnesApart) {
  TensorPool pool;
  Tensor a = pool.Acquire(Shape({2, 3, 5}));
  Tensor b = pool.Acquire(Shape({7}));
  EXPECT_EQ(pool.blocks(), 2u);
  EXPECT_FALSE(a.SharesStorageWith(b));
  EXPECT_EQ(a.shape(), Shape({2, 3, 5}));
  a.SetAll(1.0f);
  b.SetAll(2.0f);
  const float* a_data = a.data();
  a = Tensor();  // a's block (30 floats) is free again
  Tensor c = pool.Acquire(Shape({4, 4}));  // 16 <= 30: reuses it
  EXPECT_EQ(c.data(), a_data);
  EXPECT_EQ(pool.blocks(), 2u);
  for (int64_t i = 0; i < b.size(); ++i) EXPECT_EQ(b[i], 2.0f);  // untouched
  Tensor d = pool.Acquire(Shape({31}));  // nothing is free
  EXPECT_EQ(pool.blocks(), 3u);
  EXPECT_EQ(pool.bytes(), (30 + 7 + 31) * 4);
  b = Tensor();
  Tensor e = pool.Acquire(Shape({40}));  // b's free block is too small: it grows
  EXPECT_EQ(pool.blocks(), 3u);
  EXPECT_EQ(pool.bytes(), (30 + 40 + 31) * 4);
  for (int64_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i], 1.0f);  // blocks in use untouched
}

TEST(TensorPoolTest, AViewKeepsItsBlockInUse) {
  TensorPool pool;
  Tensor a = pool.Acquire(Shape({8}));
  Tensor view = a.Slice(2, 4);
  a = Tensor();
  Tensor b = pool.Acquire(Shape({8}));
  EXPECT_FALSE(b.SharesStorageWith(view));
  EXPECT_EQ(pool.blocks(), 2u);
}

TEST(TensorPoolTest, PicksTheSmallestFreeBlockThatFits) {
  TensorPool pool;
  Tensor big = pool.Acquire(Shape({100}));
  Tensor small = pool.Acquire(Shape({10}));
  const float* big_data = big.data();
  const float* small_data = small.data();
  big = Tensor();
  small = Tensor();
  Tensor x = pool.Acquire(Shape({9}));
  EXPECT_EQ(x.data(), small_data);
  Tensor y = pool.Acquire(Shape({11}));
  EXPECT_EQ(y.data(), big_data);
}

TEST(TensorPoolTest, ReleaseUnusedFreesOnlyFreeBlocks) {
  TensorPool pool;
  Tensor a = pool.Acquire(Shape({5}));
  { Tensor b = pool.Acquire(Shape({6})); }
  EXPECT_EQ(pool.blocks(), 2u);
  pool.ReleaseUnused();
  EXPECT_EQ(pool.blocks(), 1u);
  EXPECT_EQ(pool.bytes(), 5 * 4);
  Tensor empty = pool.Acquire(Shape({0, 3}));
  EXPECT_EQ(empty.size(), 0);
  EXPECT_EQ(pool.blocks(), 1u);
}

}  // namespace
}  // namespace simdnet
