// ModelProfiler: per-layer times collected through the containers' LayerTimer calls.
#include "train/profile.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace simdnet {

ModelProfiler::ModelProfiler(Model& model) {
  model.ForEachLayer([&](const std::string& path, Layer& layer, int depth) {
    Row row;
    row.path = path;
    row.description = layer.Describe();
    row.depth = depth;
    row.leaf = layer.Children().empty();
    row.mult_adds = layer.ForwardMultAdds();
    index_[&layer] = rows_.size();
    rows_.push_back(std::move(row));
  });
  SetLayerTimer(this);
}

ModelProfiler::~ModelProfiler() { SetLayerTimer(nullptr); }

void ModelProfiler::Record(const Layer& layer, bool backward, int64_t batch, double seconds) {
  auto it = index_.find(&layer);
  if (it == index_.end()) return;  // e.g. a Residual's inner main branch (its children count)
  Row& row = rows_[it->second];
  if (backward) {
    row.backward += seconds;
    ++row.backward_calls;
    row.backward_samples += batch;
  } else {
    row.forward += seconds;
    ++row.forward_calls;
    row.forward_samples += batch;
  }
}

double ModelProfiler::LeafForwardSeconds() const {
  double total = 0.0;
  for (const Row& r : rows_) total += r.leaf ? r.forward : 0.0;
  return total;
}

double ModelProfiler::LeafBackwardSeconds() const {
  double total = 0.0;
  for (const Row& r : rows_) total += r.leaf ? r.backward : 0.0;
  return total;
}

std::string ModelProfiler::Format() const {
  const double total = LeafForwardSeconds() + LeafBackwardSeconds();
  size_t name_width = 5, desc_width = 11;
  int64_t calls = 0, samples = 0;
  for (const Row& r : rows_) {
    name_width = std::max(name_width, r.path.size() + 2 * static_cast<size_t>(r.depth));
    desc_width = std::max(desc_width, std::min<size_t>(r.description.size(), 40));
    if (calls == 0 && r.forward_calls > 0) {
      calls = r.forward_calls;
      samples = r.forward_samples;
    }
  }
  auto ms_per_call = [](double seconds, int64_t n) { return n > 0 ? 1e3 * seconds / n : 0.0; };
  std::string out = absl::StrFormat("%-*s  %-*s  %10s  %10s  %6s  %8s  %8s\n",
                                    static_cast<int>(name_width), "layer",
                                    static_cast<int>(desc_width), "description", "fwd ms",
                                    "bwd ms", "share", "fwd GF/s", "bwd GF/s");
  for (const Row& r : rows_) {
    const std::string name = std::string(2 * static_cast<size_t>(r.depth), ' ') + r.path;
    const double share = r.leaf && total > 0 ? 100.0 * (r.forward + r.backward) / total : 0.0;
    auto gflops = [&](double seconds, int64_t n, double factor) -> std::string {
      if (r.mult_adds == 0 || seconds <= 0.0) return "";
      return absl::StrFormat(
          "%.1f", factor * 2.0 * static_cast<double>(r.mult_adds * n) / seconds * 1e-9);
    };
    absl::StrAppend(
        &out, absl::StrFormat("%-*s  %-*s  %10.3f  %10.3f  %6s  %8s  %8s\n",
                              static_cast<int>(name_width), name, static_cast<int>(desc_width),
                              r.description.substr(0, 40), ms_per_call(r.forward, r.forward_calls),
                              ms_per_call(r.backward, r.backward_calls),
                              r.leaf ? absl::StrFormat("%.1f%%", share) : std::string(),
                              gflops(r.forward, r.forward_samples, 1.0),
                              gflops(r.backward, r.backward_samples, 2.0)));
  }
  absl::StrAppend(&out, absl::StrFormat("leaves in total: forward %.3f s, backward %.3f s over "
                                        "%d forward calls (%d samples)\n",
                                        LeafForwardSeconds(), LeafBackwardSeconds(), calls,
                                        samples));
  return out;
}

}  // namespace simdnet
