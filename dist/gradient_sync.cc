// Bucketed gradient averaging with backward hooks, model broadcast and buffer averaging.
#include "dist/gradient_sync.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "layers/sequential.h"
#include "tensor/elementwise.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// Copies every tensor of `state` into one flat vector, or back.
std::vector<float> Flatten(const std::vector<std::pair<std::string, Tensor*>>& state) {
  std::vector<float> flat;
  for (const auto& [name, t] : state) flat.insert(flat.end(), t->data(), t->data() + t->size());
  return flat;
}

void Unflatten(const std::vector<float>& flat,
               const std::vector<std::pair<std::string, Tensor*>>& state) {
  size_t offset = 0;
  for (const auto& [name, t] : state) {
    std::memcpy(t->data(), flat.data() + offset, static_cast<size_t>(t->size()) * sizeof(float));
    offset += static_cast<size_t>(t->size());
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<GradientSync>> GradientSync::Create(
    Model* model, Communicator* comm, const GradientSyncOptions& options) {
  if (options.bucket_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat("GradientSyncOptions.bucket_bytes=",
                                                   options.bucket_bytes, ": must be >= 1"));
  }
  std::unique_ptr<GradientSync> s(new GradientSync(model, comm));
  // Carriers: the leaf layers that get a backward hook, each with the trainable parameters its
  // hook completes, in forward order.
  struct Carrier {
    Layer* layer;
    std::vector<NamedParameter> params;
  };
  std::vector<Carrier> carriers;
  // A Sequential runs its children's backward passes in reverse order, so a BatchNorm that
  // follows (in a Sequential) another leaf with parameters has finished its backward pass when
  // that leaf's hook runs: its parameters ride on that hook, and a BatchNorm followed by a ReLU
  // keeps its fused one-pass backward (Sequential fuses only layers without hooks).
  std::function<void(Layer&, const std::string&)> visit = [&](Layer& layer,
                                                              const std::string& path) {
    const bool in_sequential = dynamic_cast<Sequential*>(&layer) != nullptr;
    int64_t carrier = -1;  // the carrier of the last child leaf with parameters here
    for (const NamedLayer& child : layer.Children()) {
      const std::string child_path =
          path.empty() ? child.name : absl::StrCat(path, ".", child.name);
      if (!child.layer->Children().empty()) {
        visit(*child.layer, child_path);
        carrier = -1;  // a container's leaves may run in any order relative to ours
        continue;
      }
      std::vector<NamedParameter> params;
      for (NamedParameter& p : child.layer->Params()) {
        if (!p.param->frozen) params.push_back({absl::StrCat(child_path, ".", p.name), p.param});
      }
      if (params.empty()) continue;
      const bool batch_norm = absl::StartsWith(child.layer->TypeName(), "batch_norm");
      if (!in_sequential || carrier < 0 || !batch_norm) {
        carriers.push_back({child.layer, std::move(params)});
        if (in_sequential) carrier = static_cast<int64_t>(carriers.size()) - 1;
        continue;
      }
      auto& into = carriers[static_cast<size_t>(carrier)].params;
      into.insert(into.end(), params.begin(), params.end());
    }
  };
  visit(model->root(), "");
  // Backward runs the leaves (about) in reverse forward order: the first bucket holds the last
  // layers, whose gradients are ready first.
  int64_t bytes = 0;
  for (auto it = carriers.rbegin(); it != carriers.rend(); ++it) {
    if (s->buckets_.empty() || bytes >= options.bucket_bytes) {
      s->buckets_.emplace_back();
      bytes = 0;
    }
    Bucket& b = s->buckets_.back();
    for (const NamedParameter& p : it->params) {
      b.params.push_back(p);
      bytes += p.param->grad.size() * static_cast<int64_t>(sizeof(float));
    }
    ++b.layers;
    const int64_t index = static_cast<int64_t>(s->buckets_.size()) - 1;
    GradientSync* self = s.get();
    it->layer->set_backward_hook(
        [self, index](const Tensor&, Tensor*) { self->OnLayerBackward(index); });
    s->hooked_.push_back(it->layer);
  }
  for (Bucket& b : s->buckets_) {
    int64_t n = 0;
    for (const NamedParameter& p : b.params) n += p.param->grad.size();
    b.flat.resize(static_cast<size_t>(n));
  }
  return s;
}

GradientSync::~GradientSync() {
  for (Layer* layer : hooked_) layer->set_backward_hook(nullptr);
}

std::vector<std::string> GradientSync::BucketParams(int64_t b) const {
  std::vector<std::string> names;
  for (const NamedParameter& p : buckets_[static_cast<size_t>(b)].params) names.push_back(p.name);
  return names;
}

int64_t GradientSync::gradient_bytes() const {
  int64_t n = 0;
  for (const Bucket& b : buckets_) n += static_cast<int64_t>(b.flat.size() * sizeof(float));
  return n;
}

void GradientSync::BeginStep(double weight) {
  weight_ = static_cast<float>(weight);
  hook_status_ = absl::OkStatus();
  for (Bucket& b : buckets_) {
    b.layers_done = 0;
    b.id = -1;
  }
}

absl::Status GradientSync::StartBucket(Bucket& b) {
  size_t offset = 0;
  for (const NamedParameter& p : b.params) {
    const size_t n = static_cast<size_t>(p.param->grad.size());
    MulScalar(p.param->grad.data(), weight_, b.flat.data() + offset, n);
    offset += n;
  }
  SIMDNET_ASSIGN_OR_RETURN(b.id, comm_->StartSum(absl::MakeSpan(b.flat)));
  return absl::OkStatus();
}

void GradientSync::OnLayerBackward(int64_t index) {
  Bucket& b = buckets_[static_cast<size_t>(index)];
  if (++b.layers_done != b.layers || b.id != -1 || !hook_status_.ok()) return;
  hook_status_ = StartBucket(b);
  // MPI progresses non-blocking collectives only inside MPI calls: test the ones in flight so
  // that they advance while the backward pass continues.
  for (Bucket& other : buckets_) {
    if (other.id < 0 || !hook_status_.ok()) continue;
    absl::StatusOr<bool> done = comm_->Test(other.id);
    if (!done.ok()) {
      hook_status_ = done.status();
    } else if (*done) {
      other.id = -2;  // complete
    }
  }
}

absl::Status GradientSync::FinishStep() {
  SIMDNET_RETURN_IF_ERROR(hook_status_);
  std::vector<CollectiveId> ids;
  for (Bucket& b : buckets_) {
    if (b.id == -1) SIMDNET_RETURN_IF_ERROR(StartBucket(b));
    if (b.id >= 0) ids.push_back(b.id);
  }
  const double waited_before = comm_->wait_seconds();
  const absl::Status waited = comm_->WaitAll(ids, "the gradient allreduce");
  wait_seconds_ += comm_->wait_seconds() - waited_before;
  SIMDNET_RETURN_IF_ERROR(waited);
  for (Bucket& b : buckets_) {
    size_t offset = 0;
    for (const NamedParameter& p : b.params) {
      const size_t n = static_cast<size_t>(p.param->grad.size());
      std::memcpy(p.param->grad.data(), b.flat.data() + offset, n * sizeof(float));
      offset += n;
    }
    b.id = -1;
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, Tensor*>> GradientSync::State() {
  std::vector<std::pair<std::string, Tensor*>> state;
  for (NamedParameter& p : model_->Params()) state.emplace_back(p.name, &p.param->value);
  for (NamedBuffer& b : model_->Buffers()) state.emplace_back(b.name, b.value);
  return state;
}

absl::Status GradientSync::BroadcastModel() {
  const auto state = State();
  std::vector<float> flat = Flatten(state);
  SIMDNET_ASSIGN_OR_RETURN(CollectiveId id, comm_->StartBroadcast(absl::MakeSpan(flat), 0));
  SIMDNET_RETURN_IF_ERROR(comm_->Wait(id, "the broadcast of rank 0's model"));
  Unflatten(flat, state);
  return absl::OkStatus();
}

absl::Status GradientSync::AverageBuffers() {
  std::vector<std::pair<std::string, Tensor*>> buffers;
  for (NamedBuffer& b : model_->Buffers()) buffers.emplace_back(b.name, b.value);
  if (buffers.empty()) return absl::OkStatus();
  std::vector<float> flat = Flatten(buffers);
  SIMDNET_ASSIGN_OR_RETURN(CollectiveId id, comm_->StartSum(absl::MakeSpan(flat)));
  SIMDNET_RETURN_IF_ERROR(comm_->Wait(id, "the averaging of BatchNorm running statistics"));
  Scale(1.0f / static_cast<float>(comm_->size()), flat.data(), flat.size());
  Unflatten(flat, buffers);
  return absl::OkStatus();
}

absl::Status GradientSync::CheckInSync() {
  const auto state = State();
  const size_t k = state.size();
  // Per tensor: the maximum over ranks of (checksum, -checksum) gives its max and min.
  std::vector<double> v(2 * k);
  for (size_t i = 0; i < k; ++i) {
    const Tensor& t = *state[i].second;
    double sum = 0.0;
    for (int64_t j = 0; j < t.size(); ++j) {
      sum += static_cast<double>(t.data()[j]) * static_cast<double>(1 + j % 7);
    }
    v[i] = sum;
    v[k + i] = -sum;
  }
  SIMDNET_ASSIGN_OR_RETURN(CollectiveId id, comm_->StartMax(absl::MakeSpan(v)));
  SIMDNET_RETURN_IF_ERROR(comm_->Wait(id, "the model consistency check"));
  for (size_t i = 0; i < k; ++i) {
    if (v[i] != -v[k + i]) {
      return absl::InternalError(absl::StrCat(
          "rank ", comm_->rank(), ": the ranks' copies of '", state[i].first,
          "' differ (checksums from ", -v[k + i], " to ", v[i], ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace simdnet
