// Per-ISA tests of the element-wise kernels: the elementwise-inl.h templates and the public
// dispatched functions, against a plain double reference, over odd sizes and misalignments.
#include "tensor/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "tensor/simd_targets.h"  // before foreach_target: same target list as the library

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tensor/elementwise_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/test_util-inl.h"
#include "tensor/elementwise-inl.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace {

using UnaryFn = std::function<void(const float*, float*, size_t)>;
using BinaryFn = std::function<void(const float*, const float*, float*, size_t)>;
using UnaryRef = std::function<double(double)>;
using BinaryRef = std::function<double(double, double)>;

// Error bound |actual - expected| <= abs + rel * |expected|, expected in double precision.
struct Tolerance {
  double abs;
  double rel;
};

constexpr float kUlp = std::numeric_limits<float>::epsilon();  // 2^-23
constexpr float kCanary = -12345.678f;
constexpr size_t kGuard = 8;  // canary floats after each output span

// A float buffer with `misalign` floats before the span and kGuard canaries after it.
struct Buffer {
  Buffer(size_t n, size_t misalign) : storage(misalign + n + kGuard, kCanary), n(n), m(misalign) {}
  float* data() { return storage.data() + m; }
  // Returns true if nothing outside [data(), data() + n) was written.
  bool CanariesIntact() const {
    for (size_t i = 0; i < m; ++i) {
      if (storage[i] != kCanary) return false;
    }
    for (size_t i = m + n; i < storage.size(); ++i) {
      if (storage[i] != kCanary) return false;
    }
    return true;
  }
  std::vector<float> storage;
  size_t n, m;
};

void FillUniform(std::mt19937& rng, float lo, float hi, float* p, size_t n) {
  std::uniform_real_distribution<float> dist(lo, hi);
  for (size_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// Returns ref(x) in double, or +-inf where the exact value overflows float (the kernels
// produce float results, so those must be +-inf).
double Expected(const UnaryRef& ref, double x) {
  const double e = ref(x);
  return std::isinf(static_cast<float>(e)) ? static_cast<double>(static_cast<float>(e)) : e;
}

bool BitEqual(const float* a, const float* b, size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(float)) == 0;
}

// Checks y = f(x) three ways for every size and misalignment: the -inl.h driver with `op`, the
// public function (dispatched to this target by the test fixture), and the public function in
// place. All three must match the reference within `tol`, and bit-for-bit each other.
template <class Op>
void CheckUnary(const char* what, const Op& op, const UnaryFn& public_fn, const UnaryRef& ref,
                float lo, float hi, Tolerance tol) {
  std::mt19937 rng(1234);
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      SCOPED_TRACE(::testing::Message() << what << " n=" << n << " misalign=" << mis);
      Buffer x(n, mis), y(n, mis), yp(n, mis), z(n, mis);
      FillUniform(rng, lo, hi, x.data(), n);
      std::vector<double> expected(n);
      for (size_t i = 0; i < n; ++i) expected[i] = Expected(ref, x.data()[i]);

      MapUnary(x.data(), y.data(), n, op);
      EXPECT_TRUE(test::AllNear(y.data(), expected.data(), n, tol.abs, tol.rel));
      EXPECT_TRUE(y.CanariesIntact());

      public_fn(x.data(), yp.data(), n);
      EXPECT_TRUE(BitEqual(y.data(), yp.data(), n));
      EXPECT_TRUE(yp.CanariesIntact());

      std::copy(x.data(), x.data() + n, z.data());
      public_fn(z.data(), z.data(), n);
      EXPECT_TRUE(BitEqual(y.data(), z.data(), n));
      EXPECT_TRUE(z.CanariesIntact());
    }
  }
}

// As CheckUnary for y = f(a, b); in-place runs check both y == a and y == b.
template <class Op>
void CheckBinary(const char* what, const Op& op, const BinaryFn& public_fn, const BinaryRef& ref,
                 float lo_a, float hi_a, float lo_b, float hi_b, Tolerance tol,
                 bool check_in_place = true) {
  std::mt19937 rng(5678);
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      SCOPED_TRACE(::testing::Message() << what << " n=" << n << " misalign=" << mis);
      Buffer a(n, mis), b(n, mis), y(n, mis), yp(n, mis), z(n, mis);
      FillUniform(rng, lo_a, hi_a, a.data(), n);
      FillUniform(rng, lo_b, hi_b, b.data(), n);
      std::vector<double> expected(n);
      for (size_t i = 0; i < n; ++i) expected[i] = ref(a.data()[i], b.data()[i]);

      MapBinary(a.data(), b.data(), y.data(), n, op);
      EXPECT_TRUE(test::AllNear(y.data(), expected.data(), n, tol.abs, tol.rel));
      EXPECT_TRUE(y.CanariesIntact());

      public_fn(a.data(), b.data(), yp.data(), n);
      EXPECT_TRUE(BitEqual(y.data(), yp.data(), n));
      EXPECT_TRUE(yp.CanariesIntact());

      if (!check_in_place) continue;
      std::copy(a.data(), a.data() + n, z.data());
      public_fn(z.data(), b.data(), z.data(), n);
      EXPECT_TRUE(BitEqual(y.data(), z.data(), n)) << "in place on the first input";
      std::copy(b.data(), b.data() + n, z.data());
      public_fn(a.data(), z.data(), z.data(), n);
      EXPECT_TRUE(BitEqual(y.data(), z.data(), n)) << "in place on the second input";
      EXPECT_TRUE(z.CanariesIntact());
    }
  }
}

// Checks f on hand-picked extreme inputs against the double reference.
void CheckSpecialValues(const char* what, const UnaryFn& public_fn, const UnaryRef& ref,
                        const std::vector<float>& inputs, Tolerance tol) {
  SCOPED_TRACE(what);
  std::vector<float> y(inputs.size());
  std::vector<double> expected(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) expected[i] = Expected(ref, inputs[i]);
  public_fn(inputs.data(), y.data(), inputs.size());
  EXPECT_TRUE(test::AllNear(y.data(), expected.data(), y.size(), tol.abs, tol.rel));
  // Each value alone, so it also goes through the tail path at the first lane.
  for (size_t i = 0; i < inputs.size(); ++i) {
    float one = 0.0f;
    public_fn(&inputs[i], &one, 1);
    EXPECT_TRUE(test::AllNear(&one, &expected[i], 1, tol.abs, tol.rel)) << "input " << inputs[i];
  }
}

double RefSigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kDenormMin = std::numeric_limits<float>::denorm_min();  // 1.4e-45
constexpr float kFloatMax = std::numeric_limits<float>::max();
constexpr float kFloatMin = std::numeric_limits<float>::min();  // smallest normal

// Returns the distance in units in the last place between float `actual` and the exact value
// `expected`, measured in ulps of the float nearest to `expected` (denormals have the fixed ulp
// denorm_min).
double UlpError(float actual, double expected) {
  const float e = static_cast<float>(expected);
  const float ulp = std::max(std::nextafter(std::abs(e), kInf) - std::abs(e), kDenormMin);
  return std::abs(static_cast<double>(actual) - expected) / ulp;
}

// Sweeps ~2^17 float bit patterns evenly spaced between lo and hi (same sign), both ends
// included, through `fn` and returns the largest ulp error against `ref`.
double MaxUlpError(const UnaryFn& fn, const UnaryRef& ref, float lo, float hi) {
  std::vector<float> x;
  uint32_t blo, bhi;
  std::memcpy(&blo, &lo, 4);
  std::memcpy(&bhi, &hi, 4);
  if (blo > bhi) std::swap(blo, bhi);
  // An odd stride visits patterns of every low-bit parity.
  const uint64_t stride = ((bhi - blo) >> 17) | 1;
  for (uint64_t b = blo; b <= bhi; b += stride) {
    const uint32_t bits = static_cast<uint32_t>(b);
    float v;
    std::memcpy(&v, &bits, 4);
    x.push_back(v);
  }
  x.push_back(hi);
  std::vector<float> y(x.size());
  fn(x.data(), y.data(), x.size());
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, UlpError(y[i], ref(x[i])));
  return worst;
}

}  // namespace

void TestAllFillCopy() {
  for (size_t n : test::KernelTestSizes()) {
    for (size_t mis : test::KernelTestMisalignments()) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " misalign=" << mis);
      Buffer y(n, mis), z(n, mis);
      FillSpan(y.data(), n, 2.5f);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y.data()[i], 2.5f) << i;
      EXPECT_TRUE(y.CanariesIntact());
      simdnet::Fill(y.data(), n, -7.0f);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(y.data()[i], -7.0f) << i;
      EXPECT_TRUE(y.CanariesIntact());

      std::mt19937 rng(n + mis);
      FillUniform(rng, -1.0f, 1.0f, y.data(), n);
      simdnet::Copy(y.data(), z.data(), n);
      EXPECT_TRUE(BitEqual(y.data(), z.data(), n));
      EXPECT_TRUE(z.CanariesIntact());
      simdnet::Copy(z.data(), z.data(), n);  // exact aliasing is allowed
      EXPECT_TRUE(BitEqual(y.data(), z.data(), n));
    }
  }
}

void TestAllArithmetic() {
  // Each result is one correctly rounded float operation: within half an ulp of the exact value.
  const Tolerance exact{0.0, 0.5 * kUlp};
  CheckBinary(
      "Add", AddOp(), [](const float* a, const float* b, float* y, size_t n) { Add(a, b, y, n); },
      [](double a, double b) { return a + b; }, -10.0f, 10.0f, -10.0f, 10.0f, exact);
  CheckBinary(
      "Sub", SubOp(), [](const float* a, const float* b, float* y, size_t n) { Sub(a, b, y, n); },
      [](double a, double b) { return a - b; }, -10.0f, 10.0f, -10.0f, 10.0f, exact);
  CheckBinary(
      "Mul", MulOp(), [](const float* a, const float* b, float* y, size_t n) { Mul(a, b, y, n); },
      [](double a, double b) { return a * b; }, -10.0f, 10.0f, -10.0f, 10.0f, exact);
  CheckUnary(
      "AddScalar", AddScalarOp{0.75f},
      [](const float* x, float* y, size_t n) { AddScalar(x, 0.75f, y, n); },
      [](double x) { return x + 0.75; }, -10.0f, 10.0f, exact);
  CheckUnary(
      "MulScalar", MulScalarOp{-1.25f},
      [](const float* x, float* y, size_t n) { MulScalar(x, -1.25f, y, n); },
      [](double x) { return x * -1.25; }, -10.0f, 10.0f, exact);
  // Scale is MulScalar in place.
  CheckUnary(
      "Scale", MulScalarOp{3.0f},
      [](const float* x, float* y, size_t n) {
        std::copy(x, x + n, y);
        Scale(3.0f, y, n);
      },
      [](double x) { return 3.0 * x; }, -10.0f, 10.0f, exact);
  // Axpy: one FMA (or a multiply then an add on targets without FMA): |error| <= 2^-23 * (|y|
  // + |alpha * x|) <= 2^-23 * 20 for these ranges.
  CheckBinary(
      "Axpy", AxpyOp{-0.5f},
      [](const float* x, const float* y_in, float* y, size_t n) {
        std::copy(y_in, y_in + n, y);
        Axpy(-0.5f, x, y, n);
      },
      [](double x, double y) { return y - 0.5 * x; }, -10.0f, 10.0f, -10.0f, 10.0f,
      Tolerance{20.0 * kUlp, 0.0}, /*check_in_place=*/false);  // y is both input and output
}

void TestAllExpLog() {
  // hwy Exp: <= 1 ulp; allow 2 (the reference is exact, so 1 ulp is up to 2^-23 relative).
  // Denormal results carry absolute error of a couple of denorm_min.
  const Tolerance exp_tol{2.0 * kDenormMin, 2.0 * kUlp};
  const UnaryFn exp_fn = [](const float* x, float* y, size_t n) { Exp(x, y, n); };
  const UnaryRef exp_ref = [](double x) { return std::exp(x); };
  CheckUnary("Exp", ExpOp(), exp_fn, exp_ref, -87.0f, 88.0f, exp_tol);
  CheckUnary("Exp small", ExpOp(), exp_fn, exp_ref, -1.0f, 1.0f, exp_tol);
  CheckSpecialValues(
      "Exp extremes", exp_fn, exp_ref,
      {0.0f,    -0.0f,   kDenormMin, -kDenormMin, 1e-30f,     88.0f, 88.72283f, 88.7228394f,
       89.0f,   100.0f,  104.0f,     1000.0f,     kFloatMax,  kInf,  -87.3f,    -100.0f,
       -103.9f, -104.0f, -105.0f,    -1000.0f,    -kFloatMax, -kInf, kNaN},
      exp_tol);

  // hwy Log: <= 4 ulp on (0, FLT_MAX]; allow 4 ulp relative plus 4 ulp of 1 absolute for
  // results near 0.
  const Tolerance log_tol{4.0 * kUlp * 0.5, 4.0 * kUlp};
  const UnaryFn log_fn = [](const float* x, float* y, size_t n) { Log(x, y, n); };
  const UnaryRef log_ref = [](double x) { return std::log(x); };
  CheckUnary("Log", LogOp(), log_fn, log_ref, 1e-6f, 1e6f, log_tol);
  CheckUnary("Log near 1", LogOp(), log_fn, log_ref, 0.5f, 2.0f, log_tol);
  CheckSpecialValues(
      "Log extremes", log_fn, log_ref,
      {0.0f, -0.0f, kDenormMin, 1e-40f, kFloatMin, 1.0f, 1.0f + kUlp, 1.0f - kUlp / 2, 2.0f, 1e30f,
       kFloatMax, kInf, -kDenormMin, -1.0f, -kInf, kNaN},
      log_tol);
}

void TestAllActivations() {
  const Tolerance exact{0.0, 0.0};
  CheckUnary(
      "ReluForward", ReluOp(), [](const float* x, float* y, size_t n) { ReluForward(x, y, n); },
      [](double x) { return x > 0 ? x : 0.0; }, -5.0f, 5.0f, exact);
  CheckBinary(
      "ReluBackward", ReluBackwardOp(),
      [](const float* x, const float* dy, float* dx, size_t n) { ReluBackward(x, dy, dx, n); },
      [](double x, double dy) { return x > 0 ? dy : 0.0; }, -5.0f, 5.0f, -1.0f, 1.0f, exact);
  const float slope = 0.01f;
  // slope * x is one rounded product: half an ulp.
  const Tolerance one_op{0.0, 0.5 * kUlp};
  CheckUnary(
      "LeakyReluForward", LeakyReluOp{slope},
      [slope](const float* x, float* y, size_t n) { LeakyReluForward(x, slope, y, n); },
      [slope](double x) { return x > 0 ? x : double{slope} * x; }, -5.0f, 5.0f, one_op);
  CheckBinary(
      "LeakyReluBackward", LeakyReluBackwardOp{slope},
      [slope](const float* x, const float* dy, float* dx, size_t n) {
        LeakyReluBackward(x, slope, dy, dx, n);
      },
      [slope](double x, double dy) { return x > 0 ? dy : double{slope} * dy; }, -5.0f, 5.0f, -1.0f,
      1.0f, one_op);

  // hwy Tanh is Expm1 (<= 4 ulp) followed by a division: 6 ulp relative, plus 1 ulp of 1 absolute
  // where the division cancels.
  const Tolerance tanh_tol{kUlp, 6.0 * kUlp};
  const UnaryFn tanh_fn = [](const float* x, float* y, size_t n) { TanhForward(x, y, n); };
  const UnaryRef tanh_ref = [](double x) { return std::tanh(x); };
  CheckUnary("TanhForward", TanhOp(), tanh_fn, tanh_ref, -10.0f, 10.0f, tanh_tol);
  CheckUnary("TanhForward small", TanhOp(), tanh_fn, tanh_ref, -0.5f, 0.5f, tanh_tol);
  CheckSpecialValues("Tanh extremes", tanh_fn, tanh_ref,
                     {0.0f, -0.0f, kDenormMin, -1e-40f, 1e-20f, 0.3f, -0.3f, 9.0f, 18.0f, 19.0f,
                      -19.0f, 100.0f, 1e30f, kFloatMax, kInf, -kInf, kNaN},
                     tanh_tol);
  // dy * (1 - y^2): y and dy in [-1, 1], three roundings of values <= 1.
  CheckBinary(
      "TanhBackward", TanhBackwardOp(),
      [](const float* y, const float* dy, float* dx, size_t n) { TanhBackward(y, dy, dx, n); },
      [](double y, double dy) { return dy * (1.0 - y * y); }, -1.0f, 1.0f, -1.0f, 1.0f,
      Tolerance{2.0 * kUlp, 0.0});

  // exp (<= 1 ulp), an add and a division (1/2 ulp each): 3 ulp relative; tiny results near
  // the denormal range carry absolute error of a couple of denorm_min.
  const Tolerance sigmoid_tol{2.0 * kDenormMin, 3.0 * kUlp};
  const UnaryFn sigmoid_fn = [](const float* x, float* y, size_t n) { SigmoidForward(x, y, n); };
  CheckUnary("SigmoidForward", SigmoidOp(), sigmoid_fn, RefSigmoid, -30.0f, 30.0f, sigmoid_tol);
  CheckSpecialValues("Sigmoid extremes", sigmoid_fn, RefSigmoid,
                     {0.0f,   -0.0f,     kDenormMin, -1e-40f, 1e-20f,  -10.0f,   -80.0f,
                      -87.0f, -100.0f,   -103.0f,    -104.0f, -110.0f, -1000.0f, 20.0f,
                      100.0f, kFloatMax, -kFloatMax, kInf,    -kInf,   kNaN},
                     sigmoid_tol);
  CheckBinary(
      "SigmoidBackward", SigmoidBackwardOp(),
      [](const float* y, const float* dy, float* dx, size_t n) { SigmoidBackward(y, dy, dx, n); },
      [](double y, double dy) { return dy * y * (1.0 - y); }, 0.0f, 1.0f, -1.0f, 1.0f,
      Tolerance{kUlp, 0.0});
}

// Dense sweeps (~2^17 evenly spaced floats per range, denormals included): the maximum error
// in ulps stays within the bound stated for each function. Measured maxima on all four targets
// over every 97th float (to show the margin): Exp 1.00, Log 0.84, Tanh 2.70, Sigmoid 2.28.
void TestAllTranscendentalUlpSweep() {
  const UnaryFn exp_fn = [](const float* x, float* y, size_t n) { Exp(x, y, n); };
  const UnaryFn log_fn = [](const float* x, float* y, size_t n) { Log(x, y, n); };
  const UnaryFn tanh_fn = [](const float* x, float* y, size_t n) { TanhForward(x, y, n); };
  const UnaryFn sig_fn = [](const float* x, float* y, size_t n) { SigmoidForward(x, y, n); };
  const UnaryRef exp_ref = [](double x) { return std::exp(x); };
  const UnaryRef log_ref = [](double x) { return std::log(x); };
  const UnaryRef tanh_ref = [](double x) { return std::tanh(x); };
  struct Case {
    const char* what;
    const UnaryFn& fn;
    UnaryRef ref;
    float lo, hi;
    double max_ulp;  // hwy's documented bound (Exp 1, Log 4) plus rounding of the result
  };
  const Case cases[] = {
      {"Exp [-87, 0]", exp_fn, exp_ref, -87.0f, -0.0f, 2.0},
      {"Exp [0, 88.7]", exp_fn, exp_ref, 0.0f, 88.72f, 2.0},
      {"Log (0, 1]", log_fn, log_ref, kDenormMin, 1.0f, 4.0},
      {"Log [1, FLT_MAX]", log_fn, log_ref, 1.0f, kFloatMax, 4.0},
      // Expm1 (4 ulp) then a division (1/2 ulp) that partly cancels: 4 ulp.
      {"Tanh [0, 20]", tanh_fn, tanh_ref, 0.0f, 20.0f, 4.0},
      {"Tanh [-20, 0]", tanh_fn, tanh_ref, -20.0f, -0.0f, 4.0},
      // Exp (1 ulp), 1 + e and the division (1/2 ulp each): 3 ulp.
      {"Sigmoid [-87, 0]", sig_fn, RefSigmoid, -87.0f, -0.0f, 3.0},
      {"Sigmoid [0, 20]", sig_fn, RefSigmoid, 0.0f, 20.0f, 3.0},
  };
  for (const Case& c : cases) {
    const double ulps = MaxUlpError(c.fn, c.ref, c.lo, c.hi);
    EXPECT_LE(ulps, c.max_ulp) << hwy::TargetName(HWY_TARGET) << " " << c.what;
  }
}

// The pool splits work into fixed chunks: any thread count gives the serial result bit for bit
// (sizes straddle several chunks and end in a partial one).
void TestAllPoolMatchesSerial() {
  const size_t n = 3 * 16384 + 1001;
  std::mt19937 rng(42);
  std::vector<float> x(n), dy(n), serial(n), parallel(n);
  FillUniform(rng, -4.0f, 4.0f, x.data(), n);
  FillUniform(rng, -1.0f, 1.0f, dy.data(), n);
  ThreadPool pool2(2), pool3(3);
  const std::vector<std::function<void(float*, ThreadPool*)>> kernels = {
      [&](float* y, ThreadPool* p) { Exp(x.data(), y, n, p); },
      [&](float* y, ThreadPool* p) { TanhForward(x.data(), y, n, p); },
      [&](float* y, ThreadPool* p) { SigmoidBackward(x.data(), dy.data(), y, n, p); },
      [&](float* y, ThreadPool* p) { Add(x.data(), dy.data(), y, n, p); },
      [&](float* y, ThreadPool* p) {
        Fill(y, n, 1.0f, p);
        Axpy(0.3f, x.data(), y, n, p);
      },
      [&](float* y, ThreadPool* p) {
        Copy(x.data(), y, n, p);
        Scale(0.7f, y, n, p);
      },
  };
  for (size_t k = 0; k < kernels.size(); ++k) {
    kernels[k](serial.data(), nullptr);
    for (ThreadPool* pool : {&pool2, &pool3}) {
      std::fill(parallel.begin(), parallel.end(), 0.0f);
      kernels[k](parallel.data(), pool);
      EXPECT_TRUE(BitEqual(serial.data(), parallel.data(), n))
          << "kernel " << k << " threads " << pool->NumThreads();
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(ElementwiseTest);
HWY_EXPORT_AND_TEST_P(ElementwiseTest, TestAllFillCopy);
HWY_EXPORT_AND_TEST_P(ElementwiseTest, TestAllArithmetic);
HWY_EXPORT_AND_TEST_P(ElementwiseTest, TestAllExpLog);
HWY_EXPORT_AND_TEST_P(ElementwiseTest, TestAllActivations);
HWY_EXPORT_AND_TEST_P(ElementwiseTest, TestAllPoolMatchesSerial);
HWY_EXPORT_AND_TEST_P(ElementwiseTest, TestAllTranscendentalUlpSweep);
}  // namespace simdnet
#endif  // HWY_ONCE
