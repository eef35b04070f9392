// BatchSplit implementation: replicas rebuilt from the model's spec, parameter values shared,
// one parallel loop over the slices, gradients summed in slice order.
#include "train/batch_split.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "layers/model_spec.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"
#include "train/metrics.h"

namespace simdnet {
namespace {

// Returns the model's layers of type L (e.g. Dropout, BatchNorm) in ForEachLayer order.
template <class L>
std::vector<L*> LayersOf(Model& model) {
  std::vector<L*> out;
  model.ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (auto* l = dynamic_cast<L*>(&layer)) out.push_back(l);
  });
  return out;
}

// Returns the model's buffers in Buffers() order.
std::vector<Tensor*> BuffersOf(Model& model) {
  std::vector<Tensor*> out;
  for (const NamedBuffer& b : model.Buffers()) out.push_back(b.value);
  return out;
}

}  // namespace

std::string BatchSplit::Unsupported(Model& model) {
  std::string reason;
  model.ForEachLayer([&](const std::string& path, Layer& layer, int) {
    if (!reason.empty()) return;
    // BatchNorm's statistics are exchanged between the replicas (SetBatchSync) and its running
    // statistics are the model's, updated by slice 0; any other layer's buffers would differ
    // between the replicas.
    if (dynamic_cast<BatchNorm*>(&layer) != nullptr) return;
    if (!layer.Buffers().empty() && layer.Children().empty()) {
      reason = absl::StrCat("layer '", path, "' (", layer.TypeName(),
                            ") keeps buffers that training updates");
    }
  });
  return reason;
}

bool BatchSplit::AutoSplits(Model& model, size_t threads) {
  // Replicas that exchange BatchNorm statistics wait for each other: with more threads than
  // cores one of them is often descheduled, and the split ran at half the speed of the unsplit
  // model (vgg-small, 3 threads on 2 cores: 812 vs 1,716 images/s).
  if (!LayersOf<BatchNorm>(model).empty() && threads > AvailableCores()) return false;
  return threads > 1 && Unsupported(model).empty() &&
         model.ParameterCount() <= kAutoBatchSplitMaxParams;
}

absl::StatusOr<std::unique_ptr<BatchSplit>> BatchSplit::Create(Model* model, size_t slices) {
  if (slices < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("BatchSplit: slices must be >= 2, got ", slices));
  }
  const std::string unsupported = Unsupported(*model);
  if (!unsupported.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("BatchSplit: the model cannot be split by batch: ", unsupported));
  }
  absl::StatusOr<std::string> spec = model->ToSpec();
  if (!spec.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "BatchSplit: the model cannot be rebuilt from a spec: ", spec.status().message()));
  }
  std::unique_ptr<BatchSplit> split(new BatchSplit());
  split->model_ = model;
  const std::vector<NamedParameter> params = model->Params();
  for (const NamedParameter& p : params) split->params_.push_back(p.param);
  split->dropouts_ = LayersOf<Dropout>(*model);
  split->batch_norms_ = LayersOf<BatchNorm>(*model);
  split->buffers_ = BuffersOf(*model);
  const std::vector<NamedRng> rngs = model->Rngs();
  for (size_t s = 1; s < slices; ++s) {
    absl::StatusOr<std::unique_ptr<Model>> replica = ModelFromSpec(
        *spec, model->InputShape(), model->num_classes(), /*seed=*/0, "BatchSplit replica");
    if (!replica.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "BatchSplit: the model's spec does not rebuild it: ", replica.status().message()));
    }
    Replica r;
    r.model = std::move(*replica);
    const std::vector<NamedParameter> replica_params = r.model->Params();
    const std::vector<NamedRng> replica_rngs = r.model->Rngs();
    if (replica_params.size() != params.size() || replica_rngs.size() != rngs.size()) {
      return absl::FailedPreconditionError(
          "BatchSplit: the model rebuilt from its spec has other parameters or RNGs");
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (replica_params[i].name != params[i].name ||
          replica_params[i].param->value.shape() != params[i].param->value.shape()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "BatchSplit: parameter '", params[i].name, "' ",
            params[i].param->value.shape().ToString(), " is '", replica_params[i].name, "' ",
            replica_params[i].param->value.shape().ToString(), " in the rebuilt model"));
      }
      r.params.push_back(replica_params[i].param);
    }
    // Dropout streams as the model's (masks without sample keys are then drawn alike).
    for (size_t i = 0; i < rngs.size(); ++i) *replica_rngs[i].rng = *rngs[i].rng;
    r.dropouts = LayersOf<Dropout>(*r.model);
    r.batch_norms = LayersOf<BatchNorm>(*r.model);
    r.buffers = BuffersOf(*r.model);
    if (r.batch_norms.size() != split->batch_norms_.size() ||
        r.buffers.size() != split->buffers_.size()) {
      return absl::FailedPreconditionError(
          "BatchSplit: the model rebuilt from its spec has other BatchNorm layers or buffers");
    }
    split->replicas_.push_back(std::move(r));
  }
  split->logits_.resize(slices);
  SIMDNET_RETURN_IF_ERROR(split->SyncReplicas());
  return split;
}

void BatchSplit::SetSampleKeys(uint64_t epoch, absl::Span<const int64_t> ids) {
  key_epoch_ = epoch;
  sample_ids_.assign(ids.begin(), ids.end());
}

absl::Status BatchSplit::SyncReplicas() {
  const Mode mode = model_->mode();
  const bool param_gradients = model_->root().param_gradients();
  for (Replica& r : replicas_) {
    for (size_t i = 0; i < params_.size(); ++i) {
      const Parameter& from = *params_[i];
      Parameter& to = *r.params[i];
      if (!to.value.SharesStorageWith(from.value) || to.value.data() != from.value.data()) {
        if (from.value.shape() != to.value.shape()) {
          return absl::FailedPreconditionError(
              absl::StrCat("BatchSplit: parameter ", i, " changed shape from ",
                           to.value.shape().ToString(), " to ", from.value.shape().ToString()));
        }
        to.value = from.value;
      }
      to.frozen = from.frozen;
      to.weight_decay = from.weight_decay;
    }
    // The BatchNorm running statistics are the model's (updated by slice 0, read by an eval-mode
    // Forward of any slice).
    for (size_t i = 0; i < buffers_.size(); ++i) {
      const Tensor& from = *buffers_[i];
      Tensor& to = *r.buffers[i];
      if (!to.SharesStorageWith(from) || to.data() != from.data()) {
        if (from.shape() != to.shape()) {
          return absl::FailedPreconditionError(
              absl::StrCat("BatchSplit: buffer ", i, " changed shape from ", to.shape().ToString(),
                           " to ", from.shape().ToString()));
        }
        to = from;
      }
    }
    if (r.model->mode() != mode) r.model->SetMode(mode);
    if (r.model->root().param_gradients() != param_gradients) {
      r.model->root().SetParamGradients(param_gradients);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<float> BatchSplit::ForwardBackward(const Tensor& x, absl::Span<const int64_t> labels,
                                                  const SliceLoss& loss, double divisor,
                                                  int64_t* correct, ThreadPool& pool,
                                                  bool zero_grad) {
  SIMDNET_RETURN_IF_ERROR(model_->CheckInput(x));
  const int64_t n = x.dim(0);
  if (static_cast<int64_t>(labels.size()) != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("BatchSplit: ", labels.size(), " labels for a batch of ", n, " samples"));
  }
  const int64_t k = model_->num_classes();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = labels[static_cast<size_t>(i)];
    if (label < 0 || label >= k) {
      return absl::InvalidArgumentError(
          absl::StrCat("BatchSplit: label ", label, " of sample ", i, " is outside [0, ", k, ")"));
    }
  }
  if (!(divisor >= 0.0) || !std::isfinite(divisor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("BatchSplit: the loss divisor must be finite and >= 0, got ", divisor));
  }
  SIMDNET_RETURN_IF_ERROR(SyncReplicas());
  const size_t slices = static_cast<size_t>(std::min<int64_t>(n, this->slices()));
  const auto row = [&](size_t s) {
    return n * static_cast<int64_t>(s) / static_cast<int64_t>(slices);
  };
  const bool keyed = static_cast<int64_t>(sample_ids_.size()) == n;
  std::vector<float> sums(slices, 0.0f);
  std::vector<int64_t> corrects(slices, 0);
  std::vector<absl::Status> status(slices);
  AttachBatchNorms(slices, n);
  const auto run_slice = [&](uint64_t task, size_t /*thread*/) {
    const size_t s = static_cast<size_t>(task);
    // The slices already occupy the threads: every kernel of this replica runs on this one.
    ScopedDefaultThreadPool serial(SerialThreadPool());
    Model& m = s == 0 ? *model_ : *replicas_[s - 1].model;
    if (s > 0 || zero_grad) m.ZeroGrad();
    const int64_t r0 = row(s), r1 = row(s + 1);
    const absl::Span<const int64_t> slice_labels =
        labels.subspan(static_cast<size_t>(r0), static_cast<size_t>(r1 - r0));
    for (Dropout* d : s == 0 ? dropouts_ : replicas_[s - 1].dropouts) {
      if (keyed) {
        d->SetSampleKeys(key_epoch_,
                         absl::MakeConstSpan(sample_ids_)
                             .subspan(static_cast<size_t>(r0), static_cast<size_t>(r1 - r0)));
      } else {
        d->SetSampleKeys(key_epoch_, {});
      }
    }
    const Tensor xs = x.Slice(r0, r1);
    Tensor& z = logits_[s];
    if (divisor > 0.0) {
      const float scale = static_cast<float>(1.0 / divisor);
      const LossFunction slice_loss = [&](const Tensor& logits,
                                          Tensor* dlogits) -> absl::StatusOr<float> {
        SIMDNET_ASSIGN_OR_RETURN(const float sum, loss(logits, slice_labels, dlogits));
        Scale(scale, dlogits->data(), static_cast<size_t>(dlogits->size()));
        return sum;
      };
      absl::StatusOr<float> sum = m.ForwardBackward(xs, slice_loss, &z);
      if (!sum.ok()) {
        status[s] = sum.status();
        return;
      }
      sums[s] = *sum;
    } else {
      status[s] = m.Forward(xs, &z);
      if (!status[s].ok()) return;
    }
    absl::StatusOr<int64_t> c = CountTopKCorrect(z, slice_labels, 1);
    if (!c.ok()) {
      status[s] = c.status();
      return;
    }
    corrects[s] = *c;
  };
  if (syncs_.empty()) {
    pool.ParallelFor(slices, run_slice);
  } else {
    // A replica that stops early (an error) releases the others from the statistics exchange.
    const auto run_synced = [&](uint64_t task, size_t thread) {
      run_slice(task, thread);
      if (!status[task].ok()) {
        for (auto& sync : syncs_) sync->Abort();
      }
    };
    const bool ran = pool.ParallelForConcurrent(slices, run_synced);
    DetachBatchNorms();
    if (!ran) {
      return absl::FailedPreconditionError(absl::StrCat(
          "BatchSplit: the model's BatchNorm layers need its ", slices,
          " slices to run at the same time, one per thread, but the pool has ", pool.NumThreads(),
          " threads or is already running a parallel loop"));
    }
  }
  for (const absl::Status& st : status) SIMDNET_RETURN_IF_ERROR(st);
  // The model's gradients += each replica's, in slice order (element-wise: chunking the sum over
  // the pool does not change it).
  if (model_->root().param_gradients() && divisor > 0.0) {
    for (size_t i = 0; i < params_.size(); ++i) {
      Parameter& p = *params_[i];
      if (p.frozen) continue;
      for (size_t s = 1; s < slices; ++s) {
        Axpy(1.0f, replicas_[s - 1].params[i]->grad.data(), p.grad.data(),
             static_cast<size_t>(p.grad.size()), &pool);
      }
    }
  }
  double loss_sum = 0.0;
  int64_t correct_sum = 0;
  for (size_t s = 0; s < slices; ++s) {
    loss_sum += static_cast<double>(sums[s]);
    correct_sum += corrects[s];
  }
  if (correct != nullptr) *correct = correct_sum;
  return divisor > 0.0 ? static_cast<float>(loss_sum / divisor)
                       : std::numeric_limits<float>::quiet_NaN();
}

void BatchSplit::AttachBatchNorms(size_t slices, int64_t rows) {
  if (batch_norms_.empty()) return;
  if (syncs_.empty() || syncs_[0]->ranks() != slices) {
    syncs_.clear();
    for (BatchNorm* bn : batch_norms_) {
      syncs_.push_back(
          std::make_unique<BatchNormSync>(slices, static_cast<size_t>(bn->num_channels())));
    }
  }
  for (size_t i = 0; i < batch_norms_.size(); ++i) {
    syncs_[i]->Begin(rows);
    batch_norms_[i]->SetBatchSync(syncs_[i].get(), 0);
    for (size_t s = 1; s < slices; ++s) {
      replicas_[s - 1].batch_norms[i]->SetBatchSync(syncs_[i].get(), s);
    }
  }
}

void BatchSplit::DetachBatchNorms() {
  for (BatchNorm* bn : batch_norms_) bn->SetBatchSync(nullptr, 0);
  for (Replica& r : replicas_) {
    for (BatchNorm* bn : r.batch_norms) bn->SetBatchSync(nullptr, 0);
  }
}

}  // namespace simdnet
