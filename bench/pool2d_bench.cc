// Per-ISA benchmarks of the pooling kernels: max pooling (with argmax) forward and backward and
// average pooling forward, on the pooling layers of vgg-small / a CIFAR VGG, 1 and 2 threads,
// reporting GB/s (input read + output and argmax written; backward: dy and argmax read, dx
// written).
// Usage: bazel run -c opt //bench:pool2d_bench -- [--benchmark_filter=...]
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
#include "benchmark/benchmark.h"
#include "hwy/aligned_allocator.h"
#include "layers/pool2d_kernels.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

struct NamedPool {
  const char* name;
  Pool2dShape s;
};

Pool2dShape Make(size_t n, size_t c, size_t h, size_t w, size_t k, size_t stride, size_t pad) {
  Pool2dShape s;
  s.batch = n;
  s.channels = c;
  s.in_h = h;
  s.in_w = w;
  s.kernel_h = s.kernel_w = k;
  s.stride_h = s.stride_w = stride;
  s.pad_h = s.pad_w = pad;
  return s;
}

enum class Op { kMaxForward, kMaxBackward, kAvgForward };

void Register(const NamedPool& np, Op op, size_t threads) {
  static const char* kNames[] = {"MaxPool2dForward", "MaxPool2dBackward", "AvgPool2dForward"};
  const Pool2dShape s = np.s;
  auto group = bench::RegisterPerTarget(
      kNames[static_cast<int>(op)], std::string(np.name) + "/threads:" + std::to_string(threads),
      [s, op, threads](benchmark::State& state, int64_t) {
        const size_t x_size = s.batch * s.channels * s.in_h * s.in_w;
        const size_t y_size = s.batch * s.channels * s.out_h() * s.out_w();
        auto x = hwy::AllocateAligned<float>(x_size);
        auto y = hwy::AllocateAligned<float>(y_size);
        auto argmax = hwy::AllocateAligned<int32_t>(y_size);
        Rng rng(1);
        rng.FillUniform(x.get(), x_size, -1.0f, 1.0f);
        ThreadPool& pool = bench::SharedPool(threads);
        MaxPool2dForward(s, x.get(), y.get(), argmax.get(), pool);
        for (auto _ : state) {
          switch (op) {
            case Op::kMaxForward:
              MaxPool2dForward(s, x.get(), y.get(), argmax.get(), pool);
              break;
            case Op::kMaxBackward:
              MaxPool2dBackward(s, y.get(), argmax.get(), x.get(), pool);
              break;
            case Op::kAvgForward:
              AvgPool2dForward(s, x.get(), y.get(), /*count_include_pad=*/true, pool);
              break;
          }
          benchmark::ClobberMemory();
        }
        const double bytes = op == Op::kAvgForward ? 4.0 * (x_size + y_size)
                                                   : 4.0 * x_size + 8.0 * y_size;
        state.counters["bytes_per_second"] = benchmark::Counter(
            bytes * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate,
            benchmark::Counter::kIs1024);
      });
  bench::ForAll(group, [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMicrosecond);
  });
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  const bool quick = std::getenv("SIMDNET_BENCH_QUICK") != nullptr;
  const size_t n = quick ? 1 : 64;
  // vgg-small's two pools on Fashion-MNIST, and a CIFAR-size one with rows of 16 outputs.
  const std::vector<simdnet::NamedPool> shapes = {
      {"vgg28x28c32", simdnet::Make(n, 32, 28, 28, 2, 2, 0)},
      {"vgg14x14c64", simdnet::Make(n, 64, 14, 14, 2, 2, 0)},
      {"cifar32x32c64", simdnet::Make(n, 64, 32, 32, 2, 2, 0)},
      {"win3s2p1_32x32c64", simdnet::Make(n, 64, 32, 32, 3, 2, 1)},
  };
  for (const auto& np : shapes) {
    for (size_t threads : {1, 2}) {
      for (auto op : {simdnet::Op::kMaxForward, simdnet::Op::kMaxBackward,
                      simdnet::Op::kAvgForward}) {
        simdnet::Register(np, op, threads);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
