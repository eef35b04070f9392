// Per-ISA convolution benchmarks: forward, backward-data and backward-weights (+ bias) of the
// shapes in bench/shapes/conv_s1_s8.txt (or --shapes=FILE) at 1 and 2 threads, reporting
// effective GFLOPS (2 * N * K * C * R * S * OH * OW / groups per pass) and the fraction of the
// measured peak. "<pass>/<shape>/threads:T/<ISA>" runs the planned algorithm (its name is the
// label), and "Conv2dBackwardDataAndWeights/<shape>/..." both backward passes in one call;
// with --algorithms=all (the default) "<pass>/<shape>@<algorithm>/..." also times every
// applicable algorithm forced on the same shape (--algorithms=planned: the plan only).
// Usage: bazel run -c opt //bench:conv2d_bench -- [--shapes=FILE] [--algorithms=all|planned]
//        [--benchmark_filter=...]
// Shape files: conv_s1_s8.txt (default), conv_torchvision.txt (resnet18 / mobilenet_v2 /
// resnet50 layers), conv_pointwise.txt (mobilenet_v2's 1x1s and resnet18's projections),
// conv_winograd.txt (3x3 stride-1 layers of vgg-small and resnet18 and odd planes: F(4x4, 3x3)
// against F(2x2, 3x3)).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
#include "bench/peak.h"
#include "benchmark/benchmark.h"
#include "hwy/aligned_allocator.h"
#include "layers/conv2d_kernels.h"
#include "layers/conv_plan.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

struct NamedConv {
  std::string name;
  Conv2dShape s;
};

// Parses "name N C H W K R stride pad [groups]" lines ('#' starts a comment). On error prints
// the file, line number and offending text, and returns false.
bool ReadShapes(const std::string& path, std::vector<NamedConv>* out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "conv2d_bench: cannot open shapes file '%s'\n", path.c_str());
    return false;
  }
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    NamedConv nc;
    if (!(fields >> nc.name)) continue;  // blank or comment-only line
    long v[9];
    bool ok = true;
    for (size_t i = 0; i < 8; ++i) ok = ok && static_cast<bool>(fields >> v[i]) && v[i] >= 0;
    v[8] = 1;
    std::string extra;
    if (ok && (fields >> extra)) {  // optional groups
      char* end = nullptr;
      v[8] = std::strtol(extra.c_str(), &end, 10);
      ok = *end == '\0' && !(fields >> extra);
    }
    if (!ok || v[0] < 1 || v[1] < 1 || v[2] < 1 || v[3] < 1 || v[4] < 1 || v[5] < 1 ||
        v[6] < 1 || v[8] < 1 || v[1] % v[8] != 0 || v[4] % v[8] != 0 ||
        2 * v[7] + v[2] < v[5] || 2 * v[7] + v[3] < v[5]) {
      std::fprintf(stderr,
                   "conv2d_bench: %s:%zu: expected 'name N C H W K R stride pad [groups]' with "
                   "positive sizes, groups dividing C and K, and an output of at least 1x1, "
                   "got '%s'\n",
                   path.c_str(), line_no, line.c_str());
      return false;
    }
    Conv2dShape& s = nc.s;
    s.batch = v[0];
    s.in_channels = v[1];
    s.in_h = v[2];
    s.in_w = v[3];
    s.out_channels = v[4];
    s.kernel_h = s.kernel_w = v[5];
    s.stride_h = s.stride_w = v[6];
    s.pad_h = s.pad_w = v[7];
    s.groups = v[8];
    out->push_back(nc);
  }
  return true;
}

// Sets the GFLOPS counters of `passes` direct-convolution passes of s per iteration (the
// direct algorithm's multiply-adds, whatever the algorithm run), timed since cpu0.
void SetConvCounters(benchmark::State& state, const Conv2dShape& s, double passes, double cpu0,
                     int64_t target, size_t threads) {
  const double flops = 2.0 * passes * s.batch * s.out_channels * s.in_channels * s.kernel_h *
                       s.kernel_w * s.out_h() * s.out_w() / s.groups;
  const double gflop = flops * 1e-9 * static_cast<double>(state.iterations());
  bench::SetCpuGflopsCounter(state, gflop, bench::ProcessCpuSeconds() - cpu0, threads);
  state.counters["GFLOPS"] = benchmark::Counter(gflop, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(
      gflop / bench::MeasurePeakGflops(target, threads), benchmark::Counter::kIsRate);
}

// Registers one pass of one shape per ISA: the planned algorithm, or `forced` when non-null.
void RegisterConv(const NamedConv& nc, ConvPass pass, size_t threads,
                  const ConvAlgorithm* forced) {
  static const char* kPassNames[] = {"Conv2dForward", "Conv2dBackwardData",
                                     "Conv2dBackwardWeights"};
  const std::string shape = nc.name + (forced ? std::string("@") + ConvAlgorithmName(*forced)
                                              : std::string()) +
                            "/threads:" + std::to_string(threads);
  const Conv2dShape s = nc.s;
  const bool is_forced = forced != nullptr;
  const ConvAlgorithm algorithm = is_forced ? *forced : ConvAlgorithm::kIm2colGemm;
  auto group = bench::RegisterPerTarget(
      kPassNames[static_cast<int>(pass)], shape,
      [s, pass, threads, is_forced, algorithm](benchmark::State& state, int64_t target) {
        // The plan for the pinned target (its vector width decides some thresholds).
        const ConvPlan plan = is_forced
                                  ? ForceConvAlgorithm(s, CurrentConvTarget(), pass, algorithm)
                                  : PlanConv2d(s);
        state.SetLabel(ConvPassPlanString(plan, pass));
        const size_t x_size = s.batch * s.in_channels * s.in_h * s.in_w;
        const size_t w_size =
            s.out_channels * (s.in_channels / s.groups) * s.kernel_h * s.kernel_w;
        const size_t y_size = s.batch * s.out_channels * s.out_h() * s.out_w();
        auto x = hwy::AllocateAligned<float>(x_size);
        auto w = hwy::AllocateAligned<float>(w_size);
        auto bias = hwy::AllocateAligned<float>(s.out_channels);
        auto y = hwy::AllocateAligned<float>(y_size);
        auto dw = hwy::AllocateAligned<float>(w_size);
        Rng rng(1);
        rng.FillUniform(x.get(), x_size, -1.0f, 1.0f);
        rng.FillUniform(w.get(), w_size, -0.1f, 0.1f);
        rng.FillUniform(bias.get(), s.out_channels, -0.1f, 0.1f);
        rng.FillUniform(y.get(), y_size, -1.0f, 1.0f);
        rng.FillUniform(dw.get(), w_size, -1.0f, 1.0f);
        ThreadPool& pool = bench::SharedPool(threads);
        const auto run = [&] {
          switch (pass) {
            case ConvPass::kForward:
              Conv2dForward(plan, s, x.get(), w.get(), bias.get(), y.get(), ConvEpilogue::kNone,
                            pool);
              break;
            case ConvPass::kBackwardData:
              Conv2dBackwardData(plan, s, y.get(), w.get(), x.get(), pool);
              break;
            case ConvPass::kBackwardWeights:
              Conv2dBackwardWeights(plan, s, x.get(), y.get(), dw.get(), bias.get(), pool);
              break;
          }
        };
        // One untimed call first: the kernels' scratch buffers grow (and page-fault) on their
        // first use in the process, which a run of few iterations would otherwise time (a
        // 4 MiB weight-gradient scratch made one 46 ms call of a 10 ms pass).
        run();
        const double cpu0 = bench::ProcessCpuSeconds();
        for (auto _ : state) {
          run();
          benchmark::ClobberMemory();
        }
        SetConvCounters(state, s, /*passes=*/1, cpu0, target, threads);
      });
  bench::ForAll(group, [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  });
}

// Registers both backward passes of one shape in one call (Conv2dBackwardDataAndWeights: one
// pass over x and dy for depthwise shapes) per ISA, with the planned algorithms; its GFLOPS
// count both passes.
void RegisterBackwardDataAndWeights(const NamedConv& nc, size_t threads) {
  const Conv2dShape s = nc.s;
  auto group = bench::RegisterPerTarget(
      "Conv2dBackwardDataAndWeights", nc.name + "/threads:" + std::to_string(threads),
      [s, threads](benchmark::State& state, int64_t target) {
        const ConvPlan plan = PlanConv2d(s);
        state.SetLabel(ConvPassPlanString(plan, ConvPass::kBackwardData) + "+" +
                       ConvPassPlanString(plan, ConvPass::kBackwardWeights));
        const size_t x_size = s.batch * s.in_channels * s.in_h * s.in_w;
        const size_t w_size =
            s.out_channels * (s.in_channels / s.groups) * s.kernel_h * s.kernel_w;
        const size_t y_size = s.batch * s.out_channels * s.out_h() * s.out_w();
        auto x = hwy::AllocateAligned<float>(x_size);
        auto dx = hwy::AllocateAligned<float>(x_size);
        auto w = hwy::AllocateAligned<float>(w_size);
        auto dw = hwy::AllocateAligned<float>(w_size);
        auto dbias = hwy::AllocateAligned<float>(s.out_channels);
        auto dy = hwy::AllocateAligned<float>(y_size);
        Rng rng(1);
        rng.FillUniform(x.get(), x_size, -1.0f, 1.0f);
        rng.FillUniform(w.get(), w_size, -0.1f, 0.1f);
        rng.FillUniform(dy.get(), y_size, -1.0f, 1.0f);
        rng.FillUniform(dw.get(), w_size, -1.0f, 1.0f);
        rng.FillUniform(dbias.get(), s.out_channels, -1.0f, 1.0f);
        rng.FillUniform(dx.get(), x_size, -1.0f, 1.0f);  // faults its pages in before timing
        ThreadPool& pool = bench::SharedPool(threads);
        const double cpu0 = bench::ProcessCpuSeconds();
        for (auto _ : state) {
          Conv2dBackwardDataAndWeights(plan, s, x.get(), dy.get(), w.get(), dx.get(), dw.get(),
                                       dbias.get(), pool);
          benchmark::ClobberMemory();
        }
        SetConvCounters(state, s, /*passes=*/2, cpu0, target, threads);
      });
  bench::ForAll(group, [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  });
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  std::string shapes_path = "bench/shapes/conv_s1_s8.txt";
  bool all_algorithms = true;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--shapes=", 0) == 0) {
      shapes_path = arg.substr(9);
    } else if (arg.rfind("--algorithms=", 0) == 0) {
      const std::string value = arg.substr(13);
      if (value != "all" && value != "planned") {
        std::fprintf(stderr, "conv2d_bench: --algorithms must be 'all' or 'planned', got '%s'\n",
                     value.c_str());
        return 1;
      }
      all_algorithms = value == "all";
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  std::vector<simdnet::NamedConv> shapes;
  if (!simdnet::ReadShapes(shapes_path, &shapes)) return 1;
  // SIMDNET_BENCH_QUICK=1 (the smoke test) runs every shape with batch 1 only, and the forced
  // algorithms of the first shape only.
  const bool quick = std::getenv("SIMDNET_BENCH_QUICK") != nullptr;
  if (quick) {
    for (auto& nc : shapes) nc.s.batch = 1;
  }
  using simdnet::ConvPass;
  for (const auto& nc : shapes) {
    for (size_t threads : {1, 2}) {
      simdnet::RegisterBackwardDataAndWeights(nc, threads);
      for (ConvPass pass :
           {ConvPass::kForward, ConvPass::kBackwardData, ConvPass::kBackwardWeights}) {
        simdnet::RegisterConv(nc, pass, threads, nullptr);
        if (!all_algorithms || (quick && &nc != &shapes.front())) continue;
        for (simdnet::ConvAlgorithm a : simdnet::ApplicableConvAlgorithms(nc.s, pass)) {
          simdnet::RegisterConv(nc, pass, threads, &a);
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
