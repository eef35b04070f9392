// Per-ISA throughput of the element-wise and reduction kernels (tensor/elementwise.h,
// tensor/reduce.h) at L1-, L2- and DRAM-resident sizes, reported as bytes/s of traffic.
// clang-format off
#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
// clang-format on

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "benchmark/benchmark.h"
#include "tensor/elementwise.h"
#include "tensor/reduce.h"
#include "tensor/tensor.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace bench {
namespace {

// Sizes in floats per array. Zen 4 has 32 KiB L1D and 1 MiB L2 per core: 3 arrays of 2K floats
// (24 KiB) stay in L1, 3 of 32K (384 KiB) in L2, and 3 of 8M (96 MiB) exceed any L3 slice.
struct Size {
  const char* name;
  size_t n;
};
constexpr Size kSizes[] = {{"L1_2K", 2048}, {"L2_32K", 32768}, {"DRAM_8M", size_t{8} << 20}};
constexpr size_t kMaxN = size_t{8} << 20;

// Three shared, 64-byte-aligned input/output arrays, filled once (values in (0.5, 1.5) keep
// Exp/Log/Tanh on their ordinary paths and never produce denormals).
struct Arrays {
  Arrays()
      : a(AllocateAlignedBuffer(kMaxN)),
        b(AllocateAlignedBuffer(kMaxN)),
        y(AllocateAlignedBuffer(kMaxN)) {
    for (size_t i = 0; i < kMaxN; ++i) {
      a[i] = 0.5f + static_cast<float>(i % 1000) * 1e-3f;
      b[i] = 1.5f - static_cast<float>(i % 777) * 1e-3f;
      y[i] = 1.0f;
    }
  }
  AlignedBuffer a, b, y;
};
Arrays& Shared() {
  static Arrays* arrays = new Arrays();
  return *arrays;
}

// A kernel call on the shared arrays with n floats, and the bytes it reads plus writes per float.
struct Kernel {
  const char* name;
  size_t bytes_per_float;
  std::function<void(Arrays&, size_t n, ThreadPool* pool)> run;
};

void RegisterKernel(const Kernel& k, bool also_two_threads) {
  for (const Size& size : kSizes) {
    for (const size_t threads : {size_t{1}, size_t{2}}) {
      if (threads == 2 && (!also_two_threads || size.n < kMaxN)) continue;
      std::string shape = size.name;
      if (threads == 2) shape += "_threads:2";
      const size_t n = size.n;
      ForAll(RegisterPerTarget(k.name, shape,
                               [k, n, threads](benchmark::State& state, int64_t /*target*/) {
                                 Arrays& arrays = Shared();
                                 ThreadPool& pool = bench::SharedPool(threads);
                                 ThreadPool* p = threads > 1 ? &pool : nullptr;
                                 for (auto _ : state) {
                                   k.run(arrays, n, p);
                                   benchmark::ClobberMemory();
                                 }
                                 state.SetBytesProcessed(static_cast<int64_t>(
                                     state.iterations() * n * k.bytes_per_float));
                               }),
             [](benchmark::internal::Benchmark* b) { b->UseRealTime(); });
    }
  }
}

void RegisterTensorBenchmarks() {
  constexpr size_t kF = sizeof(float);
  // Element-wise: reads plus writes.
  RegisterKernel(
      {"Add", 3 * kF,
       [](Arrays& s, size_t n, ThreadPool* p) { Add(s.a.get(), s.b.get(), s.y.get(), n, p); }},
      /*also_two_threads=*/true);
  RegisterKernel(
      {"Axpy", 3 * kF,
       [](Arrays& s, size_t n, ThreadPool* p) { Axpy(1e-6f, s.a.get(), s.y.get(), n, p); }},
      false);
  RegisterKernel(
      {"ReluForward", 2 * kF,
       [](Arrays& s, size_t n, ThreadPool* p) { ReluForward(s.a.get(), s.y.get(), n, p); }},
      false);
  RegisterKernel(
      {"Exp", 2 * kF, [](Arrays& s, size_t n, ThreadPool* p) { Exp(s.a.get(), s.y.get(), n, p); }},
      /*also_two_threads=*/true);
  RegisterKernel(
      {"TanhForward", 2 * kF,
       [](Arrays& s, size_t n, ThreadPool* p) { TanhForward(s.a.get(), s.y.get(), n, p); }},
      false);
  RegisterKernel(
      {"SigmoidForward", 2 * kF,
       [](Arrays& s, size_t n, ThreadPool* p) { SigmoidForward(s.a.get(), s.y.get(), n, p); }},
      false);
  // Reductions (single-threaded API): reads only.
  RegisterKernel(
      {"Sum", kF,
       [](Arrays& s, size_t n, ThreadPool*) { benchmark::DoNotOptimize(Sum(s.a.get(), n)); }},
      false);
  RegisterKernel({"Dot", 2 * kF,
                  [](Arrays& s, size_t n, ThreadPool*) {
                    benchmark::DoNotOptimize(Dot(s.a.get(), s.b.get(), n));
                  }},
                 false);
  RegisterKernel(
      {"Max", kF,
       [](Arrays& s, size_t n, ThreadPool*) { benchmark::DoNotOptimize(Max(s.a.get(), n)); }},
      false);
  // Softmax over rows of 1024 classes (logits of a batch): reads x, writes y.
  RegisterKernel({"SoftmaxRows1024", 2 * kF,
                  [](Arrays& s, size_t n, ThreadPool*) {
                    SoftmaxAxis(s.a.get(), n / 1024, 1024, 1, s.y.get());
                  }},
                 false);
}

}  // namespace
}  // namespace bench
}  // namespace simdnet

int main(int argc, char** argv) {
  simdnet::bench::RegisterTensorBenchmarks();  // before Initialize: no target pinned yet
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
