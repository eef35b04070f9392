// Per-ISA tests of the batch-norm kernels (the -inl.h templates through the public dispatched
// functions, pinned per target) against double loops, over odd shapes in both layouts
// (s == 1 and s > 1) and misalignments; plus thread-count independence and the fused
// BN + ReLU / ReLU6 kernels against the unfused ones (the clamp kernels for ReLU6), and the
// fused BN + activation + 2x2 max pooling against the batch-norm and pooling kernels.
#include "layers/batch_norm_kernels.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tensor/simd_targets.h"  // before foreach_target: same target list as the library

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "layers/batch_norm_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/test_util-inl.h"
#include "layers/batch_norm_kernels-inl.h"
#include "layers/clamp_kernels.h"
#include "layers/pool2d_kernels.h"
#include "tensor/test_util.h"
#include "tensor/thread_pool.h"

HWY_BEFORE_NAMESPACE();
namespace simdnet {
namespace HWY_NAMESPACE {
namespace {

struct Dims {
  size_t n, c, s;
};

std::vector<Dims> TestDims() {
  std::vector<Dims> dims;
  for (size_t n : {1, 3}) {
    for (size_t c : {1, 3, 17}) {
      for (size_t s : {1, 3, 17, 35}) dims.push_back({n, c, s});
    }
  }
  dims.push_back({2, 255, 1});  // wide s == 1 (BatchNorm1d of a big Linear)
  dims.push_back({4, 5, 255});  // long rows
  return dims;
}

// Returns a misaligned buffer of `count` random floats in [lo, hi) (storage kept in `buf`).
float* RandomBuffer(std::vector<float>& buf, size_t count, size_t misalign, std::mt19937& gen,
                    float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  buf.assign(count + misalign, 0.0f);
  for (size_t i = 0; i < count; ++i) buf[misalign + i] = dist(gen);
  return buf.data() + misalign;
}

void TestAllChannelReductions() {
  for (const Dims& dm : TestDims()) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      std::mt19937 gen(static_cast<unsigned>(dm.n * 1000 + dm.c * 10 + dm.s + misalign));
      const size_t total = dm.n * dm.c * dm.s;
      std::vector<float> ab, bb, cab, cbb;
      const float* a = RandomBuffer(ab, total, misalign, gen, -2.0f, 3.0f);
      const float* b = RandomBuffer(bb, total, misalign, gen, -1.0f, 1.0f);
      const float* ca = RandomBuffer(cab, dm.c, misalign, gen, -1.0f, 1.0f);
      const float* cb = RandomBuffer(cbb, dm.c, misalign, gen, -1.0f, 1.0f);
      std::vector<double> sums(dm.c, 0.0), dots(dm.c, 0.0), dots0(dm.c, 0.0);
      for (size_t i = 0; i < dm.n; ++i) {
        for (size_t ch = 0; ch < dm.c; ++ch) {
          for (size_t j = 0; j < dm.s; ++j) {
            const size_t k = (i * dm.c + ch) * dm.s + j;
            sums[ch] += a[k];
            dots[ch] += (double{a[k]} - ca[ch]) * (double{b[k]} - cb[ch]);
            dots0[ch] += double{a[k]} * (double{b[k]} - cb[ch]);
          }
        }
      }
      std::vector<float> out(dm.c, -7.0f);
      // Bound: float sums of <= 1000 terms of magnitude <= 8: |err| <= 1e-4 abs + 1e-5 rel.
      BatchNormChannelSums(a, dm.n, dm.c, dm.s, out.data());
      EXPECT_TRUE(test::AllNear(out.data(), sums.data(), dm.c, 1e-4, 1e-5))
          << "sums n=" << dm.n << " c=" << dm.c << " s=" << dm.s;
      BatchNormChannelCenteredDots(a, ca, b, cb, dm.n, dm.c, dm.s, out.data());
      EXPECT_TRUE(test::AllNear(out.data(), dots.data(), dm.c, 1e-4, 1e-5))
          << "dots n=" << dm.n << " c=" << dm.c << " s=" << dm.s;
      BatchNormChannelCenteredDots(a, nullptr, b, cb, dm.n, dm.c, dm.s, out.data());
      EXPECT_TRUE(test::AllNear(out.data(), dots0.data(), dm.c, 1e-4, 1e-5))
          << "dots (ca null) n=" << dm.n << " c=" << dm.c << " s=" << dm.s;
    }
  }
}

void TestAllChannelAffine() {
  for (const Dims& dm : TestDims()) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      std::mt19937 gen(static_cast<unsigned>(dm.n * 77 + dm.c * 5 + dm.s + misalign));
      const size_t total = dm.n * dm.c * dm.s;
      std::vector<float> ub, vb, ab, bb, db, outb;
      const float* u = RandomBuffer(ub, total, misalign, gen, -2.0f, 2.0f);
      const float* v = RandomBuffer(vb, total, misalign, gen, -2.0f, 2.0f);
      const float* a = RandomBuffer(ab, dm.c, misalign, gen, -1.0f, 1.0f);
      const float* b = RandomBuffer(bb, dm.c, misalign, gen, -1.0f, 1.0f);
      const float* d = RandomBuffer(db, dm.c, misalign, gen, -1.0f, 1.0f);
      float* out = RandomBuffer(outb, total, misalign, gen, 0.0f, 1.0f);
      std::vector<double> e1(total), e2(total);
      for (size_t k = 0; k < total; ++k) {
        const size_t ch = (k / dm.s) % dm.c;
        e1[k] = double{a[ch]} * u[k] + d[ch];
        e2[k] = double{a[ch]} * u[k] + double{b[ch]} * v[k] + d[ch];
      }
      // Bound: two or three float roundings of values <= 5: 1e-6 abs + 1e-6 rel.
      BatchNormChannelAffine(u, a, d, dm.n, dm.c, dm.s, out);
      EXPECT_TRUE(test::AllNear(out, e1.data(), total, 1e-6, 1e-6))
          << "affine n=" << dm.n << " c=" << dm.c << " s=" << dm.s;
      BatchNormChannelAffine2(u, a, v, b, d, dm.n, dm.c, dm.s, out);
      EXPECT_TRUE(test::AllNear(out, e2.data(), total, 1e-6, 1e-6))
          << "affine2 n=" << dm.n << " c=" << dm.c << " s=" << dm.s;
      // In place (out aliases u).
      std::vector<float> inplace(u, u + total);
      BatchNormChannelAffine(inplace.data(), a, d, dm.n, dm.c, dm.s, inplace.data());
      EXPECT_TRUE(test::AllNear(inplace.data(), e1.data(), total, 1e-6, 1e-6));
    }
  }
}

constexpr BatchNormActivation kActs[] = {BatchNormActivation::kRelu,
                                         BatchNormActivation::kRelu6};

const char* ActName(BatchNormActivation act) {
  switch (act) {
    case BatchNormActivation::kNone:
      return "none";
    case BatchNormActivation::kRelu:
      return "relu";
    case BatchNormActivation::kRelu6:
      return "relu6";
  }
  return "?";
}

// Applies act to v[0, count) in place as the unfused layers do: a ReLU (max(v, 0), the ReLU
// layer's kernel on finite input) or the ReLU6 layer's ClampForward.
void ApplyUnfused(BatchNormActivation act, float* v, size_t count) {
  if (act == BatchNormActivation::kRelu) {
    for (size_t k = 0; k < count; ++k) v[k] = v[k] > 0.0f ? v[k] : 0.0f;
  } else if (act == BatchNormActivation::kRelu6) {
    ClampForward(v, 0.0f, 6.0f, v, count);
  }
}

// Writes g = the gradient dy through act at its INPUT v, as the unfused layers compute it (ReLU:
// v > 0; ReLU6: ClampBackward's 0 < v < 6).
void UnfusedGrad(BatchNormActivation act, const float* v, const float* dy, float* g,
                 size_t count) {
  if (act == BatchNormActivation::kRelu6) {
    ClampBackward(v, 0.0f, 6.0f, dy, g, count);
  } else {
    for (size_t k = 0; k < count; ++k) g[k] = v[k] > 0.0f ? dy[k] : 0.0f;
  }
}

// The fused kernels (BN + ReLU / ReLU6 forward, one-pass backward sums, masked backward affine)
// are bit-identical to the unfused kernels (tested against double loops above) followed or
// preceded by the activation layer's forward / gradient; the backward masks read the
// activation's OUTPUT y = act(v), the unfused gradient its input v (values at the kinks 0 and 6
// included). With and without a pool.
void TestAllFusedMatchUnfused() {
  ThreadPool pool(2);
  std::vector<Dims> dims = TestDims();
  dims.push_back({16, 8, 300});  // large enough to split across the pool
  dims.push_back({300, 130, 1});
  for (const Dims& dm : dims) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      std::mt19937 gen(static_cast<unsigned>(dm.n * 31 + dm.c * 7 + dm.s + misalign));
      const size_t total = dm.n * dm.c * dm.s;
      std::vector<float> xb, vb, dyb, scb, shb, mb;
      // x * scale + shift spans [-9, 9]: both kinks of ReLU6 are crossed.
      const float* x = RandomBuffer(xb, total, misalign, gen, -6.0f, 6.0f);
      float* v = RandomBuffer(vb, total, misalign, gen, -3.0f, 9.0f);
      for (size_t k = 0; k < total; k += 7) v[k] = (k / 7) % 2 == 0 ? 0.0f : 6.0f;
      const float* dy = RandomBuffer(dyb, total, misalign, gen, -1.0f, 1.0f);
      const float* scale = RandomBuffer(scb, dm.c, misalign, gen, -1.5f, 1.5f);
      const float* shift = RandomBuffer(shb, dm.c, misalign, gen, -1.0f, 1.0f);
      const float* mean = RandomBuffer(mb, dm.c, misalign, gen, -0.5f, 0.5f);
      for (const BatchNormActivation act : kActs) {
        // y: the activation's output for input v; g: dy through it.
        std::vector<float> y(v, v + total), g(total);
        ApplyUnfused(act, y.data(), total);
        UnfusedGrad(act, v, dy, g.data(), total);
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          const std::string where = "n=" + std::to_string(dm.n) + " c=" + std::to_string(dm.c) +
                                    " s=" + std::to_string(dm.s) + (p ? " pool " : " ") +
                                    ActName(act);
          std::vector<float> unfused(total), fused(total);
          BatchNormChannelAffine(x, scale, shift, dm.n, dm.c, dm.s, unfused.data(), p);
          ApplyUnfused(act, unfused.data(), total);
          BatchNormChannelAffineAct(x, scale, shift, act, dm.n, dm.c, dm.s, fused.data(), p);
          for (size_t k = 0; k < total; ++k) ASSERT_EQ(fused[k], unfused[k]) << where << " " << k;

          std::vector<float> sums(dm.c), dots(dm.c), sums1(dm.c, -1.0f), dots1(dm.c, -1.0f);
          for (const bool masked : {false, true}) {
            const float* grad = masked ? g.data() : dy;
            BatchNormChannelSums(grad, dm.n, dm.c, dm.s, sums.data(), p);
            BatchNormChannelCenteredDots(grad, nullptr, x, mean, dm.n, dm.c, dm.s, dots.data(), p);
            BatchNormChannelBackwardSums(dy, masked ? y.data() : nullptr,
                                         masked ? act : BatchNormActivation::kNone, x, mean, dm.n,
                                         dm.c, dm.s, sums1.data(), dots1.data(), p);
            for (size_t ch = 0; ch < dm.c; ++ch) {
              ASSERT_EQ(sums1[ch], sums[ch]) << where << " masked=" << masked << " ch " << ch;
              ASSERT_EQ(dots1[ch], dots[ch]) << where << " masked=" << masked << " ch " << ch;
            }
          }

          BatchNormChannelAffine2(g.data(), scale, x, shift, mean, dm.n, dm.c, dm.s,
                                  unfused.data(), p);
          BatchNormChannelAffine2Masked(dy, y.data(), act, scale, x, shift, mean, dm.n, dm.c, dm.s,
                                        fused.data(), p);
          for (size_t k = 0; k < total; ++k) ASSERT_EQ(fused[k], unfused[k]) << where << " " << k;
        }
      }
    }
  }
}

// Test statistics: mean = sum / m, scale = gamma / sqrt(sq / m + eps), shift = beta - mean *
// scale, recording what the kernel passed in. gamma = 1 + 0.7 ch, so that channels >= 4 of
// uniform data (|x - mean| / std up to 1.73) reach both kinks of ReLU6.
class RecordingStats final : public BatchNormChannelStats {
 public:
  RecordingStats(size_t c, double m) : m_(m), sums(c, -1.0f), sqs(c, -1.0f) {}
  float Mean(size_t ch, float sum) const override {
    sums[ch] = sum;
    return static_cast<float>(sum / m_);
  }
  void ScaleShift(size_t ch, float centered_sq, float* scale, float* shift) const override {
    sqs[ch] = centered_sq;
    *scale = static_cast<float>(1.0 + 0.7 * static_cast<double>(ch)) /
             static_cast<float>(std::sqrt(centered_sq / m_ + 1e-5));
    *shift = 0.25f - static_cast<float>(sums[ch] / m_) * *scale;
  }
  double m_;
  mutable std::vector<float> sums, sqs;
};

// BatchNormTrainForward: bit-identical to the separate sums, centered dots and affine (+ ReLU /
// ReLU6) passes with the same scalar arithmetic, for any pool, in place too.
void TestAllTrainForwardMatchesPasses() {
  ThreadPool pool(2);
  std::vector<Dims> dims;
  for (const Dims& dm : TestDims()) {
    if (dm.s > 1) dims.push_back(dm);
  }
  dims.push_back({16, 8, 300});  // large enough to split across the pool
  dims.push_back({3, 5, 3136});  // round rows (56 x 56)
  for (const Dims& dm : dims) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      std::mt19937 gen(static_cast<unsigned>(dm.n * 37 + dm.c * 5 + dm.s + misalign));
      const size_t total = dm.n * dm.c * dm.s;
      const double m = static_cast<double>(dm.n * dm.s);
      std::vector<float> xb;
      const float* x = RandomBuffer(xb, total, misalign, gen, -2.0f, 3.0f);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        for (const BatchNormActivation act :
             {BatchNormActivation::kNone, BatchNormActivation::kRelu,
              BatchNormActivation::kRelu6}) {
          const std::string where = "n=" + std::to_string(dm.n) + " c=" + std::to_string(dm.c) +
                                    " s=" + std::to_string(dm.s) + (p ? " pool " : " ") +
                                    ActName(act);
          RecordingStats stats(dm.c, m);
          std::vector<float> fused(total);
          BatchNormTrainForward(x, dm.n, dm.c, dm.s, stats, act, fused.data(), p);
          // The passes, with the same scalar arithmetic.
          std::vector<float> sums(dm.c), mean(dm.c), sqs(dm.c), scale(dm.c), shift(dm.c);
          BatchNormChannelSums(x, dm.n, dm.c, dm.s, sums.data(), p);
          RecordingStats ref(dm.c, m);
          for (size_t ch = 0; ch < dm.c; ++ch) mean[ch] = ref.Mean(ch, sums[ch]);
          BatchNormChannelCenteredDots(x, mean.data(), x, mean.data(), dm.n, dm.c, dm.s,
                                       sqs.data(), p);
          for (size_t ch = 0; ch < dm.c; ++ch) {
            ref.ScaleShift(ch, sqs[ch], &scale[ch], &shift[ch]);
            ASSERT_EQ(stats.sums[ch], sums[ch]) << where << " ch " << ch;
            ASSERT_EQ(stats.sqs[ch], sqs[ch]) << where << " ch " << ch;
          }
          std::vector<float> passes(total);
          BatchNormChannelAffine(x, scale.data(), shift.data(), dm.n, dm.c, dm.s, passes.data(), p);
          ApplyUnfused(act, passes.data(), total);
          for (size_t k = 0; k < total; ++k) ASSERT_EQ(fused[k], passes[k]) << where << " " << k;
          // In place.
          std::vector<float> inplace(x, x + total);
          RecordingStats stats2(dm.c, m);
          BatchNormTrainForward(inplace.data(), dm.n, dm.c, dm.s, stats2, act, inplace.data(), p);
          for (size_t k = 0; k < total; ++k) ASSERT_EQ(inplace[k], passes[k]) << where << " " << k;
        }
      }
    }
  }
}

// Test coefficients: b = 0.3 * sum_gxc / m - 0.1, d = -sum_g / m, recording the sums passed in.
class RecordingCoefs final : public BatchNormBackwardCoefs {
 public:
  RecordingCoefs(size_t c, double m, float* b, float* d) : m_(m), b_(b), d_(d), seen(c, 0) {}
  void Coefs(size_t ch, float sum_g, float sum_gxc) const override {
    b_[ch] = static_cast<float>(0.3 * sum_gxc / m_ - 0.1);
    d_[ch] = static_cast<float>(-sum_g / m_);
    ++seen[ch];
  }
  double m_;
  float* b_;
  float* d_;
  mutable std::vector<int> seen;
};

// BatchNormTrainBackward: bit-identical to BatchNormChannelBackwardSums then Affine2 (Masked)
// with the same coefficients, for any pool, with and without the ReLU / ReLU6 mask, dx aliasing
// dy; BatchNormTrainBackwardFromInput bit-identical to it with the mask at the forward's output.
void TestAllTrainBackwardMatchesPasses() {
  ThreadPool pool(2);
  std::vector<Dims> dims;
  for (const Dims& dm : TestDims()) {
    if (dm.s > 1) dims.push_back(dm);
  }
  dims.push_back({16, 8, 300});
  dims.push_back({3, 5, 3136});
  for (const Dims& dm : dims) {
    for (size_t misalign : test::KernelTestMisalignments()) {
      std::mt19937 gen(static_cast<unsigned>(dm.n * 41 + dm.c * 3 + dm.s + misalign));
      const size_t total = dm.n * dm.c * dm.s;
      const double m = static_cast<double>(dm.n * dm.s);
      std::vector<float> xb, yb, dyb, ab, mb;
      const float* x = RandomBuffer(xb, total, misalign, gen, -2.0f, 2.0f);
      float* y = RandomBuffer(yb, total, misalign, gen, -1.0f, 7.0f);
      for (size_t k = 0; k < total; k += 5) y[k] = (k / 5) % 2 == 0 ? 0.0f : 6.0f;
      const float* dy = RandomBuffer(dyb, total, misalign, gen, -1.0f, 1.0f);
      const float* a = RandomBuffer(ab, dm.c, misalign, gen, -1.0f, 1.0f);
      const float* mean = RandomBuffer(mb, dm.c, misalign, gen, -0.5f, 0.5f);
      for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
        for (const BatchNormActivation act :
             {BatchNormActivation::kNone, BatchNormActivation::kRelu,
              BatchNormActivation::kRelu6}) {
          const bool masked = act != BatchNormActivation::kNone;
          const std::string where = "n=" + std::to_string(dm.n) + " c=" + std::to_string(dm.c) +
                                    " s=" + std::to_string(dm.s) + (p ? " pool " : " ") +
                                    ActName(act);
          const float* mask = masked ? y : nullptr;
          std::vector<float> b(dm.c), d(dm.c), sg(dm.c), sgx(dm.c), fused(total);
          RecordingCoefs coefs(dm.c, m, b.data(), d.data());
          BatchNormTrainBackward(dy, mask, act, x, mean, a, b.data(), d.data(), dm.n, dm.c, dm.s,
                                 coefs, sg.data(), sgx.data(), fused.data(), p);
          std::vector<float> rb(dm.c), rd(dm.c), rsg(dm.c), rsgx(dm.c), passes(total);
          BatchNormChannelBackwardSums(dy, mask, act, x, mean, dm.n, dm.c, dm.s, rsg.data(),
                                       rsgx.data(), p);
          RecordingCoefs ref(dm.c, m, rb.data(), rd.data());
          for (size_t ch = 0; ch < dm.c; ++ch) {
            ref.Coefs(ch, rsg[ch], rsgx[ch]);
            ASSERT_EQ(coefs.seen[ch], 1) << where << " ch " << ch;
            ASSERT_EQ(sg[ch], rsg[ch]) << where << " ch " << ch;
            ASSERT_EQ(sgx[ch], rsgx[ch]) << where << " ch " << ch;
          }
          if (masked) {
            BatchNormChannelAffine2Masked(dy, y, act, a, x, rb.data(), rd.data(), dm.n, dm.c, dm.s,
                                          passes.data(), p);
          } else {
            BatchNormChannelAffine2(dy, a, x, rb.data(), rd.data(), dm.n, dm.c, dm.s,
                                    passes.data(), p);
          }
          for (size_t k = 0; k < total; ++k) ASSERT_EQ(fused[k], passes[k]) << where << " " << k;
          // dx aliasing dy.
          std::vector<float> inplace(dy, dy + total);
          RecordingCoefs coefs2(dm.c, m, b.data(), d.data());
          BatchNormTrainBackward(inplace.data(), mask, act, x, mean, a, b.data(), d.data(), dm.n,
                                 dm.c, dm.s, coefs2, sg.data(), sgx.data(), inplace.data(), p);
          for (size_t k = 0; k < total; ++k) ASSERT_EQ(inplace[k], passes[k]) << where << " " << k;
          if (!masked) continue;
          // BatchNormTrainBackwardFromInput: the mask recomputed from x is bit-identical to the
          // mask at the output the forward wrote, act(x * scale + shift) (inputs of 0 and 6 and
          // a channel with scale 1, shift 0 put some values exactly on the kinks).
          std::vector<float> sc(dm.c), sh(dm.c), act_y(total);
          std::uniform_real_distribution<float> us(-3.0f, 3.0f), uh(-1.0f, 6.0f);
          for (size_t ch = 0; ch < dm.c; ++ch) {
            sc[ch] = us(gen);
            sh[ch] = uh(gen);
          }
          sc[0] = 1.0f;
          sh[0] = 0.0f;
          std::vector<float> xz(x, x + total);
          for (size_t k = 0; k < total; k += 7) xz[k] = (k / 7) % 2 == 0 ? 0.0f : 6.0f;
          BatchNormChannelAffineAct(xz.data(), sc.data(), sh.data(), act, dm.n, dm.c, dm.s,
                                    act_y.data(), p);
          std::vector<float> b3(dm.c), d3(dm.c), sg3(dm.c), sgx3(dm.c), from_y(total);
          RecordingCoefs coefs3(dm.c, m, b3.data(), d3.data());
          BatchNormTrainBackward(dy, act_y.data(), act, xz.data(), mean, a, b3.data(), d3.data(),
                                 dm.n, dm.c, dm.s, coefs3, sg3.data(), sgx3.data(), from_y.data(),
                                 p);
          std::vector<float> b4(dm.c), d4(dm.c), sg4(dm.c), sgx4(dm.c), from_x(total);
          RecordingCoefs coefs4(dm.c, m, b4.data(), d4.data());
          BatchNormTrainBackwardFromInput(dy, act, sc.data(), sh.data(), xz.data(), mean, a,
                                          b4.data(), d4.data(), dm.n, dm.c, dm.s, coefs4,
                                          sg4.data(), sgx4.data(), from_x.data(), p);
          for (size_t ch = 0; ch < dm.c; ++ch) {
            ASSERT_EQ(sg4[ch], sg3[ch]) << where << " from input, ch " << ch;
            ASSERT_EQ(sgx4[ch], sgx3[ch]) << where << " from input, ch " << ch;
          }
          for (size_t k = 0; k < total; ++k) {
            ASSERT_EQ(from_x[k], from_y[k]) << where << " from input " << k;
          }
        }
      }
    }
  }
}

// BatchNormTrainForwardMaxPool2x2 / BatchNormTrainBackwardMaxPool2x2: bit-identical to
// BatchNormTrainForward then MaxPool2dForward, and MaxPool2dBackward then BatchNormTrainBackward
// (pooled output, argmax, statistics, sums, coefficients, dx), on channels 1, 3, 17, planes
// 2x2, 3x3, 5x7, 7x5 (odd: the last row / column is dropped), 28x28, 4x36 (pooled rows of 18:
// more than one vector on every target), batches 1 and 3, without and with the pool, every
// activation.
void TestAllTrainMaxPoolMatchesPasses() {
  ThreadPool pool(2);
  struct Plane {
    size_t h, w;
  };
  for (const size_t n : {1, 3}) {
    for (const size_t c : {1, 3, 17}) {
      for (const Plane pl :
           {Plane{2, 2}, Plane{3, 3}, Plane{5, 7}, Plane{7, 5}, Plane{28, 28}, Plane{4, 36}}) {
        const size_t misalign = (n + c + pl.h) % 3;
        std::mt19937 gen(static_cast<unsigned>(n * 101 + c * 7 + pl.h * 3 + pl.w));
        const size_t s = pl.h * pl.w, total = n * c * s;
        Pool2dShape ps;
        ps.batch = n;
        ps.channels = c;
        ps.in_h = pl.h;
        ps.in_w = pl.w;
        const size_t ptotal = n * c * ps.out_h() * ps.out_w();
        const double m = static_cast<double>(n * s);
        std::vector<float> xb, dyb, ab, bb, db;
        const float* x = RandomBuffer(xb, total, misalign, gen, -2.0f, 3.0f);
        const float* dy = RandomBuffer(dyb, ptotal, misalign, gen, -1.0f, 1.0f);
        const float* a = RandomBuffer(ab, c, misalign, gen, -1.0f, 1.0f);
        for (ThreadPool* p : {static_cast<ThreadPool*>(nullptr), &pool}) {
          for (const BatchNormActivation act :
               {BatchNormActivation::kNone, BatchNormActivation::kRelu,
                BatchNormActivation::kRelu6}) {
            const std::string where = "n=" + std::to_string(n) + " c=" + std::to_string(c) +
                                      " plane=" + std::to_string(pl.h) + "x" +
                                      std::to_string(pl.w) + (p ? " pool " : " ") + ActName(act);
            // Forward.
            RecordingStats stats(c, m), ref_stats(c, m);
            std::vector<float> pooled(ptotal, -9.0f), ref_full(total), ref_pooled(ptotal);
            std::vector<int32_t> argmax(ptotal, -7), ref_argmax(ptotal);
            BatchNormTrainForwardMaxPool2x2(x, n, c, pl.h, pl.w, stats, act, pooled.data(),
                                            argmax.data(), p);
            BatchNormTrainForward(x, n, c, s, ref_stats, act, ref_full.data(), p);
            ThreadPool one(1);
            MaxPool2dForward(ps, ref_full.data(), ref_pooled.data(), ref_argmax.data(),
                             p != nullptr ? *p : one);
            for (size_t ch = 0; ch < c; ++ch) {
              ASSERT_EQ(stats.sums[ch], ref_stats.sums[ch]) << where << " ch " << ch;
              ASSERT_EQ(stats.sqs[ch], ref_stats.sqs[ch]) << where << " ch " << ch;
            }
            for (size_t k = 0; k < ptotal; ++k) {
              ASSERT_EQ(pooled[k], ref_pooled[k]) << where << " " << k;
              ASSERT_EQ(argmax[k], ref_argmax[k]) << where << " " << k;
            }
            // Backward from the pooled gradient dy; mean / a from the forward's statistics.
            std::vector<float> mean(c);
            for (size_t ch = 0; ch < c; ++ch) {
              mean[ch] = static_cast<float>(ref_stats.sums[ch] / m);
            }
            std::vector<float> b(c), d(c), sg(c), sgx(c), dx(total, -5.0f);
            RecordingCoefs coefs(c, m, b.data(), d.data());
            BatchNormTrainBackwardMaxPool2x2(dy, pooled.data(), argmax.data(), act, x, mean.data(),
                                             a, b.data(), d.data(), n, c, pl.h, pl.w, coefs,
                                             sg.data(), sgx.data(), dx.data(), p);
            std::vector<float> full_dy(total), rb(c), rd(c), rsg(c), rsgx(c), ref_dx(total);
            MaxPool2dBackward(ps, dy, ref_argmax.data(), full_dy.data(), p != nullptr ? *p : one);
            RecordingCoefs ref(c, m, rb.data(), rd.data());
            BatchNormTrainBackward(full_dy.data(),
                                   act == BatchNormActivation::kNone ? nullptr : ref_full.data(),
                                   act, x, mean.data(), a, rb.data(), rd.data(), n, c, s, ref,
                                   rsg.data(), rsgx.data(), ref_dx.data(), p);
            for (size_t ch = 0; ch < c; ++ch) {
              ASSERT_EQ(coefs.seen[ch], 1) << where << " ch " << ch;
              ASSERT_EQ(sg[ch], rsg[ch]) << where << " ch " << ch;
              ASSERT_EQ(sgx[ch], rsgx[ch]) << where << " ch " << ch;
              ASSERT_EQ(b[ch], rb[ch]) << where << " ch " << ch;
            }
            for (size_t k = 0; k < total; ++k) ASSERT_EQ(dx[k], ref_dx[k]) << where << " " << k;
          }
        }
      }
    }
  }
}

void TestAllThreadCountIndependence() {
  ThreadPool pool(3);
  for (const Dims& dm : {Dims{8, 16, 1024}, Dims{300, 512, 1}, Dims{64, 3, 257}}) {
    std::mt19937 gen(5);
    const size_t total = dm.n * dm.c * dm.s;
    std::vector<float> xb, mb, sb;
    const float* x = RandomBuffer(xb, total, 0, gen, -1.0f, 1.0f);
    const float* m = RandomBuffer(mb, dm.c, 0, gen, -1.0f, 1.0f);
    const float* sc = RandomBuffer(sb, dm.c, 0, gen, -1.0f, 1.0f);
    std::vector<float> s1(dm.c), s2(dm.c), y1(total), y2(total);
    BatchNormChannelSums(x, dm.n, dm.c, dm.s, s1.data());
    BatchNormChannelSums(x, dm.n, dm.c, dm.s, s2.data(), &pool);
    for (size_t ch = 0; ch < dm.c; ++ch) EXPECT_EQ(s1[ch], s2[ch]);
    BatchNormChannelCenteredDots(x, m, x, m, dm.n, dm.c, dm.s, s1.data());
    BatchNormChannelCenteredDots(x, m, x, m, dm.n, dm.c, dm.s, s2.data(), &pool);
    for (size_t ch = 0; ch < dm.c; ++ch) EXPECT_EQ(s1[ch], s2[ch]);
    BatchNormChannelAffine2(x, sc, x, m, m, dm.n, dm.c, dm.s, y1.data());
    BatchNormChannelAffine2(x, sc, x, m, m, dm.n, dm.c, dm.s, y2.data(), &pool);
    for (size_t k = 0; k < total; ++k) ASSERT_EQ(y1[k], y2[k]) << k;
  }
}

}  // namespace
// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace simdnet
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace simdnet {
HWY_BEFORE_TEST(BatchNormKernelsTest);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllChannelReductions);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllChannelAffine);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllThreadCountIndependence);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllFusedMatchUnfused);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllTrainForwardMatchesPasses);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllTrainBackwardMatchesPasses);
HWY_EXPORT_AND_TEST_P(BatchNormKernelsTest, TestAllTrainMaxPoolMatchesPasses);
}  // namespace simdnet
#endif  // HWY_ONCE
