// Per-target tests of the fused optimizer update kernels: the -inl.h templates
// and the public dispatched functions against the double reference
// (update_reference.h), over the standard size sweep and misalignments.
// clang-format off
#include "tensor/simd_targets.h"  // First: the project-wide target policy.
// clang-format on

#include "optim/update.h"

#include <cmath>
#include <cstddef>
#include <cstring>
#include <random>
#include <vector>

#include "layers/layer.h"
#include "optim/make_optimizer.h"
#include "optim/update_reference.h"
#include "tensor/tensor.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "optim/update_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "optim/update-inl.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace {

constexpr double kAbsTol = 2e-6;
constexpr double kRelTol = 2e-5;
constexpr int kSteps = 3;

// One float buffer at a given misalignment (in floats) from a 64-byte boundary,
// plus its double twin used by the reference.
struct Buffer {
  Buffer(size_t n, size_t misalign, std::mt19937& gen, float lo, float hi)
      : storage(AllocateAlignedBuffer(n + misalign + 1)),
        f(storage.get() + misalign),
        d(n) {
    std::uniform_real_distribution<float> dist(lo, hi);
    for (size_t i = 0; i < n; ++i) {
      f[i] = dist(gen);
      d[i] = f[i];
    }
  }
  AlignedBuffer storage;
  float* f;
  std::vector<double> d;
};

// Calls fn(n, misalign, gen) for every size and misalignment of the standard
// sweep.
template <class Fn>
void ForeachSizeAndMisalign(const Fn& fn) {
  std::mt19937 gen(1234);
  for (size_t n : test::KernelTestSizes()) {
    for (size_t misalign : test::KernelTestMisalignments())
      fn(n, misalign, gen);
  }
}

void TestAllMomentumUpdate() {
  // classic, PyTorch nesterov, and decoupled-decay variants of the
  // coefficients.
  const MomentumCoefficients cases[] = {
      {0.0f, 0.9f, -0.1f, 1.0f, 1.0f, 0.0f},
      {5e-4f, 0.9f, 1.0f, 1.0f, -0.09f, -0.1f},
      {0.0f, 0.8f, 0.2f, 0.995f, -0.05f, 0.0f},
  };
  for (const MomentumCoefficients& k : cases) {
    for (bool dispatched : {false, true}) {
      ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
        Buffer g(n, misalign, gen, -2.0f, 2.0f),
            x(n, misalign, gen, -1.0f, 1.0f), v(n, misalign, gen, -0.5f, 0.5f);
        for (int step = 0; step < kSteps; ++step) {
          if (dispatched) {
            simdnet::MomentumUpdate(k, g.f, x.f, v.f, n);
          } else {
            MomentumUpdateT(k, g.f, x.f, v.f, n);
          }
          reference::MomentumUpdate(k, g.d.data(), x.d.data(), v.d.data(), n);
        }
        EXPECT_TRUE(test::AllNear(x.f, x.d.data(), n, kAbsTol, kRelTol))
            << "x n=" << n;
        EXPECT_TRUE(test::AllNear(v.f, v.d.data(), n, kAbsTol, kRelTol))
            << "v n=" << n;
      });
    }
  }
}

void TestAllSgdUpdate() {
  for (bool dispatched : {false, true}) {
    ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
      Buffer g(n, misalign, gen, -2.0f, 2.0f), x(n, misalign, gen, -1.0f, 1.0f);
      for (int step = 0; step < kSteps; ++step) {
        if (dispatched) {
          simdnet::SgdUpdate(1e-3f, 0.999f, -0.05f, g.f, x.f, n);
        } else {
          SgdUpdateT(1e-3f, 0.999f, -0.05f, g.f, x.f, n);
        }
        reference::SgdUpdate(1e-3f, 0.999f, -0.05f, g.d.data(), x.d.data(), n);
      }
      EXPECT_TRUE(test::AllNear(x.f, x.d.data(), n, kAbsTol, kRelTol))
          << "n=" << n;
    });
  }
}

void TestAllAdamUpdate() {
  AdamCoefficients k;
  k.l2 = 1e-2f;
  k.beta1 = 0.9f;
  k.beta2 = 0.999f;
  k.eps = 1e-8f;
  k.step_size = 1e-3f / (1.0f - 0.9f);
  k.inv_sqrt_bc2 = 1.0f / std::sqrt(1.0f - 0.999f);
  k.decay = 0.9999f;
  for (bool dispatched : {false, true}) {
    ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
      Buffer g(n, misalign, gen, -2.0f, 2.0f), x(n, misalign, gen, -1.0f, 1.0f),
          m(n, misalign, gen, -0.1f, 0.1f), v(n, misalign, gen, 0.0f, 0.5f);
      for (int step = 0; step < kSteps; ++step) {
        if (dispatched) {
          simdnet::AdamUpdate(k, g.f, x.f, m.f, v.f, n);
        } else {
          AdamUpdateT(k, g.f, x.f, m.f, v.f, n);
        }
        reference::AdamUpdate(k, g.d.data(), x.d.data(), m.d.data(), v.d.data(),
                              n);
      }
      EXPECT_TRUE(test::AllNear(x.f, x.d.data(), n, kAbsTol, kRelTol))
          << "x n=" << n;
      EXPECT_TRUE(test::AllNear(m.f, m.d.data(), n, kAbsTol, kRelTol))
          << "m n=" << n;
      EXPECT_TRUE(test::AllNear(v.f, v.d.data(), n, kAbsTol, kRelTol))
          << "v n=" << n;
    });
  }
}

void TestAllRmspropUpdate() {
  RmspropCoefficients k;
  k.l2 = 1e-3f;
  k.alpha = 0.99f;
  k.eps = 1e-8f;
  k.lr = 1e-2f;
  k.momentum = 0.9f;
  k.decay = 1.0f;
  for (bool with_momentum : {false, true}) {
    for (bool dispatched : {false, true}) {
      ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
        Buffer g(n, misalign, gen, -2.0f, 2.0f),
            x(n, misalign, gen, -1.0f, 1.0f), sq(n, misalign, gen, 0.0f, 0.5f),
            buf(n, misalign, gen, -0.1f, 0.1f);
        float* fbuf = with_momentum ? buf.f : nullptr;
        double* dbuf = with_momentum ? buf.d.data() : nullptr;
        for (int step = 0; step < kSteps; ++step) {
          if (dispatched) {
            simdnet::RmspropUpdate(k, g.f, x.f, sq.f, fbuf, n);
          } else {
            RmspropUpdateT(k, g.f, x.f, sq.f, fbuf, n);
          }
          reference::RmspropUpdate(k, g.d.data(), x.d.data(), sq.d.data(), dbuf,
                                   n);
        }
        EXPECT_TRUE(test::AllNear(x.f, x.d.data(), n, kAbsTol, kRelTol))
            << "x n=" << n;
        EXPECT_TRUE(test::AllNear(sq.f, sq.d.data(), n, kAbsTol, kRelTol))
            << "sq n=" << n;
        if (with_momentum) {
          EXPECT_TRUE(test::AllNear(buf.f, buf.d.data(), n, kAbsTol, kRelTol))
              << "n=" << n;
        }
      });
    }
  }
}

void TestAllAdagradUpdate() {
  AdagradCoefficients k;
  k.l2 = 1e-3f;
  k.eps = 1e-10f;
  k.clr = 1e-2f;
  for (bool dispatched : {false, true}) {
    ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
      Buffer g(n, misalign, gen, -2.0f, 2.0f), x(n, misalign, gen, -1.0f, 1.0f),
          sum(n, misalign, gen, 0.0f, 0.5f);
      for (int step = 0; step < kSteps; ++step) {
        if (dispatched) {
          simdnet::AdagradUpdate(k, g.f, x.f, sum.f, n);
        } else {
          AdagradUpdateT(k, g.f, x.f, sum.f, n);
        }
        reference::AdagradUpdate(k, g.d.data(), x.d.data(), sum.d.data(), n);
      }
      EXPECT_TRUE(test::AllNear(x.f, x.d.data(), n, kAbsTol, kRelTol))
          << "x n=" << n;
      EXPECT_TRUE(test::AllNear(sum.f, sum.d.data(), n, kAbsTol, kRelTol))
          << "sum n=" << n;
    });
  }
}

void TestAllSumOfSquares() {
  for (bool dispatched : {false, true}) {
    ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
      Buffer x(n, misalign, gen, -1.0f, 1.0f);
      const float actual =
          dispatched ? simdnet::SumOfSquares(x.f, n) : SumOfSquaresT(x.f, n);
      const double expected = reference::SumOfSquares(x.d.data(), n);
      // Float accumulation over up to 4099 terms in O(1) lanes-many partial
      // sums.
      EXPECT_NEAR(actual, expected, 1e-6 + 1e-5 * expected) << "n=" << n;
    });
  }
}

void TestAllScaleAndClamp() {
  for (bool dispatched : {false, true}) {
    ForeachSizeAndMisalign([&](size_t n, size_t misalign, std::mt19937& gen) {
      Buffer x(n, misalign, gen, -3.0f, 3.0f);
      if (dispatched) {
        simdnet::ScaleInPlace(0.37f, x.f, n);
        simdnet::ClampInPlace(-0.5f, 0.25f, x.f, n);
      } else {
        ScaleInPlaceT(0.37f, x.f, n);
        ClampInPlaceT(-0.5f, 0.25f, x.f, n);
      }
      reference::ScaleInPlace(0.37f, x.d.data(), n);
      reference::ClampInPlace(-0.5f, 0.25f, x.d.data(), n);
      EXPECT_TRUE(test::AllNear(x.f, x.d.data(), n, 1e-7, 1e-6)) << "n=" << n;
    });
  }
}

// Kernels must not read or write outside [0, n): guard elements around the
// buffer stay intact.
void TestAllNoOutOfBoundsWrites() {
  for (size_t n : test::KernelTestSizes()) {
    std::vector<float> g(n + 2, 1.0f), x(n + 2, 1.0f), m(n + 2, 0.5f),
        v(n + 2, 0.5f);
    x[0] = x[n + 1] = m[0] = m[n + 1] = v[0] = v[n + 1] = 42.0f;
    AdamCoefficients k;
    k.step_size = 0.1f;
    AdamUpdateT(k, g.data() + 1, x.data() + 1, m.data() + 1, v.data() + 1, n);
    MomentumCoefficients mk{0.0f, 0.9f, -0.1f, 1.0f, 1.0f, 0.0f};
    MomentumUpdateT(mk, g.data() + 1, x.data() + 1, m.data() + 1, n);
    ClampInPlaceT(-1.0f, 0.0f, v.data() + 1, n);
    AdagradCoefficients ak;
    ak.clr = 0.1f;
    AdagradUpdateT(ak, g.data() + 1, x.data() + 1, v.data() + 1, n);
    for (const std::vector<float>* buf : {&x, &m, &v}) {
      EXPECT_EQ((*buf)[0], 42.0f) << "n=" << n;
      EXPECT_EQ((*buf)[n + 1], 42.0f) << "n=" << n;
    }
  }
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
namespace HWY_NAMESPACE {}  // namespace HWY_NAMESPACE
HWY_BEFORE_TEST(UpdateKernelTest);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllMomentumUpdate);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllSgdUpdate);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllAdamUpdate);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllRmspropUpdate);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllAdagradUpdate);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllSumOfSquares);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllScaleAndClamp);
HWY_EXPORT_AND_TEST_P(UpdateKernelTest, TestAllNoOutOfBoundsWrites);

// The optimizers reach the kernels through dynamic dispatch: with the target
// pinned by the fixture, one step of each (on a parameter split into several
// parallel chunks) matches its closed form from zero state.
TEST_P(UpdateKernelTest, OptimizerFirstStepMatchesClosedFormOnEveryTarget) {
  constexpr int64_t kN = 40000;
  const double lr = 0.01, mu = 0.9, alpha = 0.9;
  struct Case {
    const char* spec;
    double (*expected)(double x, double g, double lr, double mu, double alpha);
  };
  const Case cases[] = {
      // Adam: m_hat = g, v_hat = g^2, so x -= lr * g / (|g| + eps).
      {"adam:lr=0.01",
       [](double x, double g, double lr, double, double) {
         return x - lr * g / (std::abs(g) + 1e-8);
       }},
      // PyTorch Nesterov: v = g, x -= lr * (g + mu * v).
      {"sgd:lr=0.01,momentum=0.9,nesterov=1,form=pytorch",
       [](double x, double g, double lr, double mu, double) {
         return x - lr * (1 + mu) * g;
       }},
      // RMSprop: sq = (1 - alpha) g^2, x -= lr * g / (sqrt(sq) + eps).
      {"rmsprop:lr=0.01,alpha=0.9",
       [](double x, double g, double lr, double, double alpha) {
         return x - lr * g / (std::sqrt((1 - alpha) * g * g) + 1e-8);
       }},
      // Adagrad from sum = 0.1: sum = 0.1 + g^2, x -= lr * g / (sqrt(sum) +
      // eps).
      {"adagrad:lr=0.01,initial_accumulator_value=0.1",
       [](double x, double g, double lr, double, double) {
         return x - lr * g / (std::sqrt(0.1 + g * g) + 1e-10);
       }},
  };
  ThreadPool pool(2);
  for (const Case& c : cases) {
    auto opt = MakeOptimizer(c.spec);
    ASSERT_TRUE(opt.ok()) << opt.status();
    Parameter p;
    p.value = Tensor(Shape({kN}));
    p.grad = Tensor(Shape({kN}));
    std::vector<double> expected(kN);
    for (int64_t i = 0; i < kN; ++i) {
      p.value[i] = 0.001f * static_cast<float>(i % 1000) - 0.5f;
      p.grad[i] = 0.01f * static_cast<float>((i * 7) % 201) - 1.005f;
      expected[i] = c.expected(p.value[i], p.grad[i], lr, mu, alpha);
    }
    std::vector<NamedParameter> params = {{"w", &p}};
    ASSERT_TRUE((*opt)->Step(params, lr, pool).ok());
    EXPECT_TRUE(test::AllNear(p.value.data(), expected.data(), kN, 1e-6, 1e-5))
        << c.spec << " on " << hwy::TargetName(GetParam());
  }
}
}  // namespace simdnet
#endif  // HWY_ONCE
