// Per-ISA tests of the pooling kernels against the double-precision reference: window/stride/
// padding combinations that hit the vectorized interior, the scalar borders and the tails, ties
// for argmax, both average-divisor conventions, and the threaded split.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "layers/pool2d_kernels.h"
#include "tensor/simd_targets.h"  // must come before foreach_target.h

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/pool2d_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "layers/pool2d_reference.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

#ifndef SIMDNET_LAYERS_POOL2D_KERNELS_TEST_HELPERS_
#define SIMDNET_LAYERS_POOL2D_KERNELS_TEST_HELPERS_
namespace simdnet {
namespace pool_test {

struct NamedShape {
  const char* name;
  Pool2dShape s;
};

inline Pool2dShape Make(size_t n, size_t c, size_t h, size_t w, size_t kh, size_t kw, size_t sh,
                        size_t sw, size_t ph, size_t pw) {
  Pool2dShape s;
  s.batch = n;
  s.channels = c;
  s.in_h = h;
  s.in_w = w;
  s.kernel_h = kh;
  s.kernel_w = kw;
  s.stride_h = sh;
  s.stride_w = sw;
  s.pad_h = ph;
  s.pad_w = pw;
  return s;
}

inline std::vector<NamedShape> TestShapes() {
  return {
      {"Window2Stride2Even", Make(2, 3, 8, 8, 2, 2, 2, 2, 0, 0)},
      {"Window2Stride2OddSizes", Make(1, 3, 9, 37, 2, 2, 2, 2, 0, 0)},
      // Rows of fewer outputs than lanes (vgg-small's 28x28 -> 14x14 and 14x14 -> 7x7).
      {"Window2Stride2NarrowRows", Make(3, 4, 14, 14, 2, 2, 2, 2, 0, 0)},
      {"Window2Stride2OddNarrow", Make(2, 3, 7, 7, 2, 2, 2, 2, 0, 0)},
      {"Window2Stride2SingleOutput", Make(1, 1, 2, 2, 2, 2, 2, 2, 0, 0)},
      {"Window3Stride2Pad1", Make(2, 2, 11, 45, 3, 3, 2, 2, 1, 1)},
      // Stride 2 runs on deinterleaving loads: rows with several vectors, an overlapping last
      // vector, odd and even windows, with and without padding.
      {"Window3Stride2Pad1ResNetStemWidth", Make(1, 2, 9, 112, 3, 3, 2, 2, 1, 1)},
      {"Window3Stride2Pad1OddWide", Make(1, 2, 7, 113, 3, 3, 2, 2, 1, 1)},
      {"Window3Stride2Pad0", Make(1, 2, 9, 70, 3, 3, 2, 2, 0, 0)},
      {"Window2Stride2Pad1", Make(1, 2, 8, 71, 2, 2, 2, 2, 1, 1)},
      {"Window5Stride2Pad2", Make(1, 2, 11, 77, 5, 5, 2, 2, 2, 2)},
      {"Window3Stride1Pad1", Make(1, 2, 7, 41, 3, 3, 1, 1, 1, 1)},
      {"RectangularWindow", Make(1, 2, 9, 50, 2, 3, 1, 2, 1, 1)},
      {"StrideGreaterThanWindow", Make(1, 3, 10, 53, 2, 2, 3, 3, 0, 0)},
      {"GlobalPool", Make(2, 5, 7, 7, 7, 7, 1, 1, 0, 0)},
      {"OutputSingleColumn", Make(1, 2, 5, 2, 2, 2, 2, 2, 0, 0)},
      {"Threaded", Make(4, 16, 32, 32, 2, 2, 2, 2, 0, 0)},
      {"ThreadedPadded", Make(2, 16, 33, 35, 3, 3, 2, 2, 1, 1)},
  };
}

inline void ExpectNear(const std::string& what, const float* got, const double* want, size_t n,
                       double rel, double abs) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const double tol = abs + rel * std::abs(want[i]);
    if (!(std::abs(got[i] - want[i]) <= tol) && bad++ < 3) {
      ADD_FAILURE() << what << ": element " << i << " = " << got[i] << ", reference " << want[i];
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

// Checks the four kernels on one shape. Inputs are small integers (many ties) when `ties`.
inline void CheckShape(const NamedShape& ns, ThreadPool& pool, bool ties, uint64_t seed) {
  const Pool2dShape& s = ns.s;
  const std::string name = std::string(ns.name) + (ties ? " ties" : "") + " threads=" +
                           std::to_string(pool.NumThreads());
  const size_t x_size = s.batch * s.channels * s.in_h * s.in_w;
  const size_t y_size = s.batch * s.channels * s.out_h() * s.out_w();
  Rng rng(seed);
  std::vector<float> x(x_size), dy(y_size);
  rng.FillUniform(x.data(), x_size, -1.0f, 1.0f);
  rng.FillUniform(dy.data(), y_size, -1.0f, 1.0f);
  if (ties) {
    for (float& v : x) v = std::floor(v * 2.0f);  // values in {-2, -1, 0, 1}
  }
  const std::vector<double> xd(x.begin(), x.end()), dyd(dy.begin(), dy.end());
  const double eps = std::numeric_limits<float>::epsilon();
  const double window = static_cast<double>(s.kernel_h * s.kernel_w);

  // Max: values and argmax are exact (no arithmetic), including first-maximum tie breaking.
  std::vector<float> y(y_size, std::nanf(""));
  std::vector<int32_t> argmax(y_size, -1), ref_argmax(y_size, -2);
  std::vector<double> ref(y_size);
  MaxPool2dForward(s, x.data(), y.data(), argmax.data(), pool);
  MaxPool2dForwardReference<double>(s, xd.data(), ref.data(), ref_argmax.data());
  ExpectNear(name + " max forward", y.data(), ref.data(), y_size, 0.0, 0.0);
  for (size_t i = 0; i < y_size; ++i) {
    ASSERT_EQ(argmax[i], ref_argmax[i]) << name << " argmax element " << i;
  }
  std::vector<float> y_noidx(y_size, std::nanf(""));
  MaxPool2dForward(s, x.data(), y_noidx.data(), nullptr, pool);
  ExpectNear(name + " max forward without argmax", y_noidx.data(), ref.data(), y_size, 0.0, 0.0);

  // Max backward: each dx sums at most window many dy.
  std::vector<float> dx(x_size, std::nanf(""));
  std::vector<double> ref_dx(x_size);
  MaxPool2dBackward(s, dy.data(), argmax.data(), dx.data(), pool);
  MaxPool2dBackwardReference<double>(s, dyd.data(), ref_argmax.data(), ref_dx.data());
  ExpectNear(name + " max backward", dx.data(), ref_dx.data(), x_size, 0.0,
             (window + 1) * eps * window);

  for (bool include_pad : {true, false}) {
    const std::string avg = name + (include_pad ? " avg(include pad)" : " avg(exclude pad)");
    // Sum of <= window terms of |x| <= 2, then one division: |err| <= (window + 2) eps * 2.
    AvgPool2dForward(s, x.data(), y.data(), include_pad, pool);
    AvgPool2dForwardReference<double>(s, xd.data(), ref.data(), include_pad);
    ExpectNear(avg + " forward", y.data(), ref.data(), y_size, 2 * eps,
               (window + 2) * eps * 2.0);
    AvgPool2dBackward(s, dy.data(), dx.data(), include_pad, pool);
    AvgPool2dBackwardReference<double>(s, dyd.data(), ref_dx.data(), include_pad);
    ExpectNear(avg + " backward", dx.data(), ref_dx.data(), x_size, 2 * eps,
               (window + 2) * eps * window);
  }
}

}  // namespace pool_test
}  // namespace simdnet
#endif  // SIMDNET_LAYERS_POOL2D_KERNELS_TEST_HELPERS_

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {

void TestPoolAllShapes() {
  ThreadPool pool1(1), pool2(2);
  uint64_t seed = 1;
  for (const auto& ns : pool_test::TestShapes()) {
    for (bool ties : {false, true}) {
      pool_test::CheckShape(ns, pool1, ties, ++seed);
      pool_test::CheckShape(ns, pool2, ties, ++seed);
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(Pool2dKernelsTest);
HWY_EXPORT_AND_TEST_P(Pool2dKernelsTest, TestPoolAllShapes);
}  // namespace simdnet
#endif  // HWY_ONCE
