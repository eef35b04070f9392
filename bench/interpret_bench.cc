// Per-ISA throughput of interpretation against training on the same model and batch: inference
// (forward), vanilla saliency (forward + input-gradient backward), FGSM (the same plus the loss
// and the sign step) and a training step (forward + backward with parameter gradients), in
// images/s, for vgg-small on 1x28x28 (random weights: speed does not depend on training).
// Usage: bazel run -c opt //bench:interpret_bench -- [--benchmark_filter=...]
// SIMDNET_BENCH_QUICK=1 (the smoke test) uses a batch of 8 instead of 256.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/per_target.h"  // first: includes tensor/simd_targets.h
#include "benchmark/benchmark.h"
#include "interpret/adversarial.h"
#include "interpret/saliency.h"
#include "interpret/source.h"
#include "layers/loss.h"
#include "layers/model.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

enum class Work { kInference, kSaliency, kFgsm, kTrainStep };

std::unique_ptr<Model> MakeVggSmall() {
  absl::StatusOr<std::string> spec = PresetSpec("vgg-small");
  if (!spec.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<Model>> model =
      ModelFromSpec(*spec, std::nullopt, /*num_classes=*/10, /*seed=*/1, "preset vgg-small");
  return model.ok() ? std::move(model).value() : nullptr;
}

void Register(Work work, int64_t batch) {
  static const char* kNames[] = {"Inference", "VanillaSaliency", "Fgsm", "TrainStep"};
  const std::string shape = "vgg-small/batch:" + std::to_string(batch);
  auto group = bench::RegisterPerTarget(
      kNames[static_cast<int>(work)], shape, [work, batch](benchmark::State& state, int64_t) {
        std::unique_ptr<Model> model = MakeVggSmall();
        if (model == nullptr) {
          state.SkipWithError("cannot build vgg-small");
          return;
        }
        Tensor pixels(Shape({batch, 1, 28, 28}));
        Rng rng(2);
        rng.FillUniform(pixels.data(), static_cast<size_t>(pixels.size()), 0.0f, 1.0f);
        std::vector<int64_t> labels(static_cast<size_t>(batch));
        for (int64_t i = 0; i < batch; ++i) labels[static_cast<size_t>(i)] = i % 10;
        model->SetMode(work == Work::kTrainStep ? Mode::kTrain : Mode::kEval);
        absl::StatusOr<PixelModel> pm = PixelModel::Create(model.get(), Normalization{});
        if (!pm.ok()) {
          state.SkipWithError("PixelModel");
          return;
        }
        Tensor logits;
        auto run = [&]() -> bool {
          switch (work) {
            case Work::kInference:
              return pm->Forward(pixels, &logits).ok();
            case Work::kSaliency:
              return VanillaSaliency(*pm, pixels, labels).ok();
            case Work::kFgsm:
              return Fgsm(*pm, pixels, labels, 0.05f).ok();
            case Work::kTrainStep:
              model->ZeroGrad();
              return model
                  ->ForwardBackward(pixels,
                                    [&](const Tensor& z, Tensor* dz) {
                                      return SoftmaxCrossEntropy(z, labels, dz);
                                    })
                  .ok();
          }
          return false;
        };
        // One untimed call first: the layers' and the pool's grow-only workspaces are sized by
        // the first pass at this batch, as in a long run (the first call can be 5x slower).
        bool ok = run();
        for (auto _ : state) {
          if (!ok || !(ok = run())) break;
          benchmark::ClobberMemory();
        }
        if (!ok) state.SkipWithError("the model call failed");
        state.counters["images/s"] = benchmark::Counter(
            static_cast<double>(batch) * static_cast<double>(state.iterations()),
            benchmark::Counter::kIsRate);
      });
  bench::ForAll(group, [](benchmark::internal::Benchmark* b) {
    b->UseRealTime()->Unit(benchmark::kMillisecond);
  });
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  const int64_t batch = std::getenv("SIMDNET_BENCH_QUICK") != nullptr ? 8 : 256;
  for (auto work : {simdnet::Work::kInference, simdnet::Work::kSaliency, simdnet::Work::kFgsm,
                    simdnet::Work::kTrainStep}) {
    simdnet::Register(work, batch);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
