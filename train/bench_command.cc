// The bench subcommand: timed inference at several batch sizes and per-layer profiles.
#include "train/bench_command.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "layers/loss.h"
#include "layers/model_spec.h"
#include "optim/make_optimizer.h"
#include "tensor/rng.h"
#include "tensor/simd_targets.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"
#include "train/batch_split.h"
#include "train/checkpoint.h"
#include "train/memory.h"
#include "train/profile.h"

namespace simdnet {
namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Returns the q-quantile (0..1) of `v` (sorted copy, nearest rank).
double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  return v[i];
}

Tensor RandomBatch(const Shape& sample, int64_t batch, uint64_t seed) {
  std::vector<int64_t> dims = {batch};
  for (int i = 0; i < sample.rank(); ++i) dims.push_back(sample.dim(i));
  Tensor x = std::move(Tensor::Create(dims)).value();
  Rng rng(seed);
  rng.FillNormal(x.data(), static_cast<size_t>(x.size()), 0.0f, 1.0f);
  return x;
}

// Runs `call` once as a warm-up (workspaces and state grow once), then at least `min_calls`
// times and for at least `seconds`; returns each timed call's seconds.
absl::StatusOr<std::vector<double>> TimeCalls(double seconds, size_t min_calls,
                                              const std::function<absl::Status()>& call) {
  SIMDNET_RETURN_IF_ERROR(call());
  std::vector<double> times;
  const double start = Seconds();
  while (times.size() < min_calls || Seconds() - start < seconds) {
    const double t0 = Seconds();
    SIMDNET_RETURN_IF_ERROR(call());
    times.push_back(Seconds() - t0);
    if (times.size() >= 100000) break;
  }
  return times;
}

// Times training steps per o.train_modes and batch size; returns the table.
absl::StatusOr<std::string> BenchTraining(Model& model, const BenchOptions& o) {
  std::string out = absl::StrFormat(
      "\ntraining steps (train mode: forward, backward, SGD momentum 0.9, weight decay 1e-4):\n"
      "%-12s  %8s  %12s  %10s  %s\n",
      "trained", "batch", "images/s", "trainable", "step time (ms): p50 / p90");
  model.SetMode(Mode::kTrain);
  for (const std::string& mode : o.train_modes) {
    for (const NamedParameter& p : model.Params()) p.param->frozen = false;
    if (mode != "full") {
      SIMDNET_RETURN_IF_ERROR(
          model.FreezeList(absl::StrReplaceAll(mode, {{"+", ","}})).status());
    }
    SIMDNET_ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> sgd,
                             MakeOptimizer("sgd:lr=0.001,momentum=0.9,weight_decay=1e-4"));
    // As `train` does by default (TrainerOptions::batch_split "auto").
    std::unique_ptr<BatchSplit> split;
    const size_t threads = DefaultThreadPool().NumThreads();
    if (BatchSplit::AutoSplits(model, threads)) {
      SIMDNET_ASSIGN_OR_RETURN(split, BatchSplit::Create(&model, threads));
    }
    for (int64_t batch : o.batch_sizes) {
      const Tensor x = RandomBatch(model.InputShape(), batch, 3);
      std::vector<int64_t> labels(static_cast<size_t>(batch));
      for (int64_t i = 0; i < batch; ++i) labels[static_cast<size_t>(i)] = i % model.num_classes();
      const LossFunction loss = [&](const Tensor& z, Tensor* dz) {
        return SoftmaxCrossEntropy(z, labels, dz);
      };
      SoftmaxCrossEntropyOptions sum;
      sum.reduction = LossReduction::kSum;
      const SliceLoss slice_loss = [&](const Tensor& z, absl::Span<const int64_t> l, Tensor* dz) {
        return SoftmaxCrossEntropy(z, l, dz, sum);
      };
      const auto step = [&]() -> absl::Status {
        if (split != nullptr) {
          SIMDNET_RETURN_IF_ERROR(split
                                      ->ForwardBackward(x, labels, slice_loss,
                                                        static_cast<double>(batch), nullptr,
                                                        DefaultThreadPool(), /*zero_grad=*/true)
                                      .status());
        } else {
          model.ZeroGrad();
          SIMDNET_RETURN_IF_ERROR(model.ForwardBackward(x, loss).status());
        }
        const std::vector<NamedParameter> params = model.Params();
        return sgd->Step(params, sgd->base_lr());
      };
      SIMDNET_ASSIGN_OR_RETURN(const std::vector<double> times, TimeCalls(o.seconds, 3, step));
      const double median = Quantile(times, 0.5);
      absl::StrAppend(&out, absl::StrFormat("%-12s  %8d  %12.1f  %10d  %.2f / %.2f%s\n", mode,
                                            batch, static_cast<double>(batch) / median,
                                            model.TrainableParameterCount(), 1e3 * median,
                                            1e3 * Quantile(times, 0.9),
                                            split != nullptr ? "  (batch split)" : ""));
    }
  }
  for (const NamedParameter& p : model.Params()) p.param->frozen = false;
  return out;
}

}  // namespace

absl::StatusOr<std::string> RunBench(const BenchOptions& o) {
  if (o.batch_sizes.empty()) return absl::InvalidArgumentError("--batch_sizes: empty list");
  for (int64_t b : o.batch_sizes) {
    if (b < 1 || b > 4096) {
      return absl::InvalidArgumentError(
          absl::StrCat("--batch_sizes: ", b, " is not in [1, 4096]"));
    }
  }
  if (!(o.seconds >= 0.01 && o.seconds <= 600)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--bench_seconds=", o.seconds, ": must be in [0.01, 600]"));
  }
  std::unique_ptr<Model> model;
  std::string what;
  if (!o.checkpoint.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(Checkpoint ck, ReadCheckpoint(o.checkpoint));
    SIMDNET_ASSIGN_OR_RETURN(model, ModelFromCheckpoint(ck));
    what = o.checkpoint;
  } else {
    SIMDNET_ASSIGN_OR_RETURN(model, LoadModel(o.model, o.input_shape, o.num_classes, 1));
    what = o.model;
  }
  const int64_t largest = *std::max_element(o.batch_sizes.begin(), o.batch_sizes.end());
  SIMDNET_RETURN_IF_ERROR(CheckMemoryFits(*model, largest, o.profile, AvailableMemory(),
                                          absl::StrCat("benchmarking ", what)));
  model->SetMode(Mode::kEval);
  const int64_t mult_adds = model->ForwardMultAdds();
  std::string out = absl::StrFormat(
      "%s: input %s, %d parameters, %d forward mult-adds per sample; SIMD target %s, %d "
      "threads\n%8s  %12s  %10s  %s  %s\n",
      what, model->InputShape().ToString(), model->ParameterCount(), mult_adds,
      BestTargetName(), DefaultThreadPool().NumThreads(), "batch", "images/s", "GFLOPS",
      "latency per batch (ms): p50 / p90 / p99", "activations MB");
  Tensor logits;
  for (int64_t batch : o.batch_sizes) {
    const Tensor x = RandomBatch(model->InputShape(), batch, 1);
    SIMDNET_ASSIGN_OR_RETURN(
        const std::vector<double> times,
        TimeCalls(o.seconds, 5, [&]() { return model->Predict(x, &logits); }));
    const double median = Quantile(times, 0.5);
    absl::StrAppend(
        &out, absl::StrFormat("%8d  %12.0f  %10.1f  %.3f / %.3f / %.3f  %.1f\n", batch,
                              static_cast<double>(batch) / median,
                              2.0 * static_cast<double>(mult_adds * batch) / median * 1e-9,
                              1e3 * median, 1e3 * Quantile(times, 0.9),
                              1e3 * Quantile(times, 0.99),
                              static_cast<double>(model->inference_tensors().bytes()) / 1e6));
  }
  if (!o.train_modes.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(std::string table, BenchTraining(*model, o));
    absl::StrAppend(&out, table);
  }
  if (!o.profile) return out;
  model->SetMode(Mode::kEval);
  for (const NamedParameter& p : model->Params()) p.param->frozen = false;

  const Tensor x = RandomBatch(model->InputShape(), largest, 2);
  int64_t calls = 0;
  {
    ModelProfiler warm_up(*model);  // as below for the training step
    SIMDNET_RETURN_IF_ERROR(model->Predict(x, &logits));
  }
  {
    ModelProfiler profiler(*model);
    const double start = Seconds();
    while (calls < 3 || Seconds() - start < o.seconds) {
      SIMDNET_RETURN_IF_ERROR(model->Predict(x, &logits));
      ++calls;
    }
    absl::StrAppend(&out, "\ninference profile, batch ", largest, ":\n",
                    profiler.Format());
  }
  model->SetMode(Mode::kTrain);
  std::vector<int64_t> labels(static_cast<size_t>(largest));
  for (int64_t i = 0; i < largest; ++i) labels[static_cast<size_t>(i)] = i % model->num_classes();
  const LossFunction loss = [&](const Tensor& z, Tensor* dz) {
    return SoftmaxCrossEntropy(z, labels, dz);
  };
  {
    // Warm-up with timers installed: they turn the BatchNorm+ReLU fusion off, and the unfused
    // layers' buffers must not be allocated (and page-faulted) inside the timed steps.
    ModelProfiler warm_up(*model);
    SIMDNET_RETURN_IF_ERROR(model->ForwardBackward(x, loss).status());
  }
  calls = 0;
  {
    ModelProfiler profiler(*model);
    const double start = Seconds();
    while (calls < 3 || Seconds() - start < o.seconds) {
      model->ZeroGrad();
      SIMDNET_RETURN_IF_ERROR(model->ForwardBackward(x, loss).status());
      ++calls;
    }
    const double step = (Seconds() - start) / static_cast<double>(calls);
    absl::StrAppend(&out, "\ntraining-step profile (forward + backward with parameter "
                          "gradients, no optimizer), batch ", largest,
                    absl::StrFormat(": %.1f ms per step, %.0f images/s\n", 1e3 * step,
                                    static_cast<double>(largest) / step),
                    profiler.Format());
  }
  return out;
}

}  // namespace simdnet
