// Per-ISA benchmarks of the memory-bound layers of MobileNetV2 / ResNet-18 at 224x224, batch 16:
// depthwise 3x3 convolution (forward, backward-data, backward-weights), BatchNorm2d training
// forward and backward kernels, ReLU6 and max pooling 3x3 s2 p1, and vgg-small's BatchNorm +
// ReLU + 2x2 max pooling (unfused and fused), reporting the bytes each pass must move (inputs
// read once, outputs written once) per second.
// Usage: bazel run -c opt //bench:memory_bound_bench -- --benchmark_filter=AVX3 [--threads=2]
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
#include "benchmark/benchmark.h"
#include "hwy/aligned_allocator.h"
#include "layers/batch_norm_kernels.h"
#include "layers/clamp_kernels.h"
#include "layers/conv2d_kernels.h"
#include "layers/pool2d_kernels.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

constexpr size_t kThreads = 2;

hwy::AlignedFreeUniquePtr<float[]> Random(size_t n, uint64_t seed) {
  auto p = hwy::AllocateAligned<float>(n);
  Rng rng(seed);
  rng.FillUniform(p.get(), n, -1.0f, 1.0f);
  return p;
}

void SetBytes(benchmark::State& state, double bytes) {
  state.counters["bytes_per_second"] =
      benchmark::Counter(bytes * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
}

void Configure(const std::vector<benchmark::internal::Benchmark*>& group) {
  bench::ForAll(group, [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  });
}

Conv2dShape Depthwise(size_t n, size_t c, size_t hw, size_t stride) {
  Conv2dShape s;
  s.batch = n;
  s.in_channels = s.out_channels = s.groups = c;
  s.in_h = s.in_w = hw;
  s.kernel_h = s.kernel_w = 3;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = 1;
  return s;
}

enum class ConvPass { kForward, kBackwardData, kBackwardWeights };

void RegisterDepthwise(const std::string& name, const Conv2dShape& s, ConvPass pass) {
  static const char* kNames[] = {"DepthwiseForward", "DepthwiseBackwardData",
                                 "DepthwiseBackwardWeights"};
  Configure(bench::RegisterPerTarget(
      kNames[static_cast<int>(pass)], name, [s, pass](benchmark::State& state, int64_t) {
        const size_t xs = s.batch * s.in_channels * s.in_h * s.in_w;
        const size_t ys = s.batch * s.out_channels * s.out_h() * s.out_w();
        auto x = Random(xs, 1), y = Random(ys, 2), w = Random(s.in_channels * 9, 3);
        auto dw = Random(s.in_channels * 9, 4);
        ThreadPool& pool = bench::SharedPool(kThreads);
        const ConvPlan plan = PlanConv2d(s);
        for (auto _ : state) {
          switch (pass) {
            case ConvPass::kForward:
              Conv2dForward(plan, s, x.get(), w.get(), nullptr, y.get(), ConvEpilogue::kNone,
                            pool);
              break;
            case ConvPass::kBackwardData:
              Conv2dBackwardData(plan, s, y.get(), w.get(), x.get(), pool);
              break;
            case ConvPass::kBackwardWeights:
              Conv2dBackwardWeights(plan, s, x.get(), y.get(), dw.get(), nullptr, pool);
              break;
          }
          benchmark::ClobberMemory();
        }
        SetBytes(state, 4.0 * static_cast<double>(xs + ys));
      }));
}

enum class BnPass { kTrainForward, kTrainForwardFused, kBackward, kBackwardFused, kAffineRelu6 };

// dx coefficients with the layer's arithmetic (scale 0.9).
class BenchCoefs final : public BatchNormBackwardCoefs {
 public:
  BenchCoefs(double m, float* b, float* d) : m_(m), b_(b), d_(d) {}
  void Coefs(size_t ch, float sum_g, float sum_gxc) const override {
    const double bb = -0.9 * sum_gxc / m_;
    b_[ch] = static_cast<float>(bb);
    d_[ch] = static_cast<float>(-0.9 * sum_g / m_ - bb * 0.1);
  }

 private:
  double m_;
  float* b_;
  float* d_;
};

// Statistics with the layer's arithmetic (weight 1, bias 0).
class BenchStats final : public BatchNormChannelStats {
 public:
  explicit BenchStats(double m) : m_(m) {}
  float Mean(size_t, float sum) const override { return static_cast<float>(sum / m_); }
  void ScaleShift(size_t, float sq, float* scale, float* shift) const override {
    *scale = static_cast<float>(1.0 / std::sqrt(sq / m_ + 1e-5));
    *shift = -0.1f * *scale;
  }

 private:
  double m_;
};

// The kernels of one BatchNorm2d training step: forward = sums, centered dots, affine;
// backward = backward sums, affine2.
void RegisterBatchNorm(const std::string& name, size_t n, size_t c, size_t hw, BnPass pass) {
  static const char* kNames[] = {"BatchNormTrainForward", "BatchNormTrainForwardFused",
                                 "BatchNormBackward", "BatchNormBackwardFused",
                                 "BatchNormAffineRelu6"};
  Configure(bench::RegisterPerTarget(
      kNames[static_cast<int>(pass)], name, [n, c, hw, pass](benchmark::State& state, int64_t) {
        const size_t s = hw * hw, size = n * c * s;
        auto x = Random(size, 1), y = Random(size, 2), dy = Random(size, 3);
        std::vector<float> mean(c), sq(c), scale(c, 0.9f), shift(c, 0.1f), b(c, 0.01f),
            d(c, 0.02f);
        ThreadPool& pool = bench::SharedPool(kThreads);
        for (auto _ : state) {
          switch (pass) {
            case BnPass::kTrainForward:
              BatchNormChannelSums(x.get(), n, c, s, mean.data(), &pool);
              BatchNormChannelCenteredDots(x.get(), mean.data(), x.get(), mean.data(), n, c, s,
                                           sq.data(), &pool);
              BatchNormChannelAffine(x.get(), scale.data(), shift.data(), n, c, s, y.get(),
                                     &pool);
              break;
            case BnPass::kTrainForwardFused:
              BatchNormTrainForward(x.get(), n, c, s, BenchStats(static_cast<double>(n * s)),
                                    BatchNormActivation::kNone, y.get(), &pool);
              break;
            case BnPass::kBackward:
              BatchNormChannelBackwardSums(dy.get(), nullptr, BatchNormActivation::kNone, x.get(),
                                           mean.data(), n, c, s, mean.data(), sq.data(), &pool);
              BatchNormChannelAffine2(dy.get(), scale.data(), x.get(), b.data(), d.data(), n, c,
                                      s, y.get(), &pool);
              break;
            case BnPass::kBackwardFused:
              BatchNormTrainBackward(dy.get(), nullptr, BatchNormActivation::kNone, x.get(),
                                     mean.data(), scale.data(), b.data(), d.data(), n, c, s,
                                     BenchCoefs(static_cast<double>(n * s), b.data(), d.data()),
                                     mean.data(), sq.data(), y.get(), &pool);
              break;
            case BnPass::kAffineRelu6:
              BatchNormChannelAffine(x.get(), scale.data(), shift.data(), n, c, s, y.get(),
                                     &pool);
              ClampForward(y.get(), 0.0f, 6.0f, y.get(), size, &pool);
              break;
          }
          benchmark::ClobberMemory();
        }
        const double passes =
            pass == BnPass::kBackward || pass == BnPass::kBackwardFused ? 3.0 : 2.0;
        SetBytes(state, 4.0 * passes * static_cast<double>(size));
      }));
}

enum class BnPoolPass { kForward, kForwardFused, kBackward, kBackwardFused };

// vgg-small's BatchNorm2d + ReLU + 2x2 stride-2 max pooling in training: the unfused layers'
// kernels (BatchNormTrainForward writing the full-size ReLU output, MaxPool2dForward reading
// it; MaxPool2dBackward writing the full-size gradient, BatchNormTrainBackward reading it and
// the ReLU output) against BatchNormTrainForwardMaxPool2x2 / BatchNormTrainBackwardMaxPool2x2.
// Bytes: what the fused passes must move (x read, pooled output and argmax written; backward:
// dy, pooled output, argmax and x read, dx written), so the rates compare directly.
void RegisterBnReluPool(const std::string& name, size_t n, size_t c, size_t hw, BnPoolPass pass) {
  static const char* kNames[] = {"BnReluPoolForward", "BnReluPoolForwardFused",
                                 "BnReluPoolBackward", "BnReluPoolBackwardFused"};
  Configure(bench::RegisterPerTarget(
      kNames[static_cast<int>(pass)], name, [n, c, hw, pass](benchmark::State& state, int64_t) {
        const size_t s = hw * hw, size = n * c * s;
        Pool2dShape ps;
        ps.batch = n;
        ps.channels = c;
        ps.in_h = ps.in_w = hw;
        const size_t ys = n * c * ps.out_h() * ps.out_w();
        auto x = Random(size, 1), y = Random(size, 2), full = Random(size, 3);
        auto pooled = Random(ys, 4), dy = Random(ys, 5);
        auto argmax = hwy::AllocateAligned<int32_t>(ys);
        std::vector<float> mean(c, 0.0f), sq(c), scale(c, 0.9f), b(c, 0.01f), d(c, 0.02f);
        ThreadPool& pool = bench::SharedPool(kThreads);
        const double m = static_cast<double>(n * s);
        BatchNormTrainForward(x.get(), n, c, s, BenchStats(m), BatchNormActivation::kRelu,
                              full.get(), &pool);
        MaxPool2dForward(ps, full.get(), pooled.get(), argmax.get(), pool);
        for (auto _ : state) {
          switch (pass) {
            case BnPoolPass::kForward:
              BatchNormTrainForward(x.get(), n, c, s, BenchStats(m), BatchNormActivation::kRelu,
                                    full.get(), &pool);
              MaxPool2dForward(ps, full.get(), pooled.get(), argmax.get(), pool);
              break;
            case BnPoolPass::kForwardFused:
              BatchNormTrainForwardMaxPool2x2(x.get(), n, c, hw, hw, BenchStats(m),
                                              BatchNormActivation::kRelu, pooled.get(),
                                              argmax.get(), &pool);
              break;
            case BnPoolPass::kBackward:
              MaxPool2dBackward(ps, dy.get(), argmax.get(), y.get(), pool);
              BatchNormTrainBackward(y.get(), full.get(), BatchNormActivation::kRelu, x.get(),
                                     mean.data(), scale.data(), b.data(), d.data(), n, c, s,
                                     BenchCoefs(m, b.data(), d.data()), mean.data(), sq.data(),
                                     y.get(), &pool);
              break;
            case BnPoolPass::kBackwardFused:
              BatchNormTrainBackwardMaxPool2x2(
                  dy.get(), pooled.get(), argmax.get(), BatchNormActivation::kRelu, x.get(),
                  mean.data(), scale.data(), b.data(), d.data(), n, c, hw, hw,
                  BenchCoefs(m, b.data(), d.data()), mean.data(), sq.data(), y.get(), &pool);
              break;
          }
          benchmark::ClobberMemory();
        }
        const bool backward = pass == BnPoolPass::kBackward || pass == BnPoolPass::kBackwardFused;
        SetBytes(state, backward ? 8.0 * static_cast<double>(size) + 12.0 * static_cast<double>(ys)
                                 : 4.0 * static_cast<double>(size) + 8.0 * static_cast<double>(ys));
      }));
}

enum class ElementPass { kRelu6Backward, kMaxPoolForward, kMaxPoolBackward };

void RegisterElement(const std::string& name, size_t n, size_t c, size_t hw, ElementPass pass) {
  static const char* kNames[] = {"Relu6Backward", "MaxPool3x3s2Forward", "MaxPool3x3s2Backward"};
  Configure(bench::RegisterPerTarget(
      kNames[static_cast<int>(pass)], name, [n, c, hw, pass](benchmark::State& state, int64_t) {
        const size_t size = n * c * hw * hw;
        auto x = Random(size, 1), dy = Random(size, 2), dx = Random(size, 3);
        Pool2dShape ps;
        ps.batch = n;
        ps.channels = c;
        ps.in_h = ps.in_w = hw;
        ps.kernel_h = ps.kernel_w = 3;
        ps.stride_h = ps.stride_w = 2;
        ps.pad_h = ps.pad_w = 1;
        const size_t ys = n * c * ps.out_h() * ps.out_w();
        auto argmax = hwy::AllocateAligned<int32_t>(ys);
        ThreadPool& pool = bench::SharedPool(kThreads);
        MaxPool2dForward(ps, x.get(), dy.get(), argmax.get(), pool);
        for (auto _ : state) {
          switch (pass) {
            case ElementPass::kRelu6Backward:
              ClampBackward(x.get(), 0.0f, 6.0f, dy.get(), dx.get(), size, &pool);
              break;
            case ElementPass::kMaxPoolForward:
              MaxPool2dForward(ps, x.get(), dy.get(), argmax.get(), pool);
              break;
            case ElementPass::kMaxPoolBackward:
              MaxPool2dBackward(ps, dy.get(), argmax.get(), dx.get(), pool);
              break;
          }
          benchmark::ClobberMemory();
        }
        const double bytes = pass == ElementPass::kRelu6Backward
                                 ? 12.0 * static_cast<double>(size)
                                 : 4.0 * static_cast<double>(size) + 8.0 * static_cast<double>(ys);
        SetBytes(state, bytes);
      }));
}

void RegisterAll() {
  const bool quick = std::getenv("SIMDNET_BENCH_QUICK") != nullptr;
  const size_t n = quick ? 1 : 16;
  struct Dw {
    const char* name;
    size_t c, hw, stride;
  };
  const std::vector<Dw> dws = {{"96ch_112_s2", 96, 112, 2},  {"144ch_56_s2", 144, 56, 2},
                               {"576ch_14_s2", 576, 14, 2},  {"32ch_112_s1", 32, 112, 1},
                               {"144ch_56_s1", 144, 56, 1},  {"960ch_7_s1", 960, 7, 1}};
  for (const Dw& dw : dws) {
    for (ConvPass p : {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeights}) {
      RegisterDepthwise(dw.name, Depthwise(n, dw.c, quick ? dw.hw / 4 + 1 : dw.hw, dw.stride), p);
    }
  }
  for (BnPass p : {BnPass::kTrainForward, BnPass::kTrainForwardFused, BnPass::kBackward,
                   BnPass::kBackwardFused, BnPass::kAffineRelu6}) {
    RegisterBatchNorm("96ch_112", n, 96, quick ? 28 : 112, p);
    RegisterBatchNorm("144ch_56", n, 144, quick ? 14 : 56, p);
  }
  // vgg-small's two BatchNorm + ReLU + max pooling triples at batch 64 (quick: batch 1).
  for (BnPoolPass p : {BnPoolPass::kForward, BnPoolPass::kForwardFused, BnPoolPass::kBackward,
                       BnPoolPass::kBackwardFused}) {
    RegisterBnReluPool("32ch_28", quick ? 1 : 64, 32, 28, p);
    RegisterBnReluPool("64ch_14", quick ? 1 : 64, 64, 14, p);
  }
  RegisterElement("96ch_112", n, 96, quick ? 28 : 112, ElementPass::kRelu6Backward);
  RegisterElement("64ch_112", n, 64, quick ? 28 : 112, ElementPass::kMaxPoolForward);
  RegisterElement("64ch_112", n, 64, quick ? 28 : 112, ElementPass::kMaxPoolBackward);
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  simdnet::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
