// Memory estimate per (model, batch) and the process's memory limit.
#include "train/memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/status_macros.h"

namespace simdnet {

MemoryEstimate EstimateMemory(Model& model, int64_t batch, bool training) {
  SIMDNET_CHECK(batch >= 1);
  MemoryEstimate e;
  const int64_t param_scalars = model.ParameterCount();
  e.parameters = 4 * param_scalars * (training ? 4 : 1);
  int64_t outputs = 0;
  model.ForEachLayer([&](const std::string&, Layer& layer, int) {
    if (!layer.Children().empty()) return;  // a container's output is its last leaf's
    outputs += layer.OutputShape().size();
    e.scratch = std::max(e.scratch, layer.ScratchBytes(batch));
  });
  outputs += model.InputShape().size();  // the batch itself (and its gradient)
  e.activations = 4 * outputs * batch * (training ? 2 : 1);
  e.total = e.parameters + e.activations + e.scratch;
  return e;
}

namespace {

// Returns the first line of `path` parsed as bytes, or 0 when absent, "max" or unreadable.
int64_t ReadLimitFile(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return 0;
  int64_t v = 0;
  return absl::SimpleAtoi(text, &v) && v > 0 ? v : 0;
}

int64_t PhysicalMemory() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kb = 0;
    if (fields >> key >> kb && key == "MemTotal:") return kb * 1024;
  }
  return 0;
}

}  // namespace

MemoryLimit AvailableMemory() {
  MemoryLimit best{std::numeric_limits<int64_t>::max(), "no limit found"};
  auto consider = [&](int64_t bytes, const char* source) {
    if (bytes > 0 && bytes < best.bytes) best = {bytes, source};
  };
  consider(ReadLimitFile("/sys/fs/cgroup/memory.max"), "cgroup memory.max");
  struct rlimit rl;
  if (::getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    consider(static_cast<int64_t>(std::min<rlim_t>(rl.rlim_cur, INT64_MAX)), "RLIMIT_AS");
  }
  consider(PhysicalMemory(), "physical memory");
  return best;
}

std::string FormatBytesShort(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1e9) return absl::StrFormat("%.2f GB", b / 1e9);
  if (b >= 1e6) return absl::StrFormat("%.1f MB", b / 1e6);
  return absl::StrFormat("%.1f KB", b / 1e3);
}

absl::Status CheckMemoryFits(Model& model, int64_t batch, bool training,
                             const MemoryLimit& limit, absl::string_view what) {
  const MemoryEstimate e = EstimateMemory(model, batch, training);
  if (e.total <= limit.bytes) return absl::OkStatus();
  // The largest batch that fits: the estimate is affine in the batch (plus a scratch term
  // that grows at most linearly up to the thread count), so halve until it fits.
  int64_t fits = batch;
  while (fits > 1 && EstimateMemory(model, fits, training).total > limit.bytes) fits /= 2;
  const bool none = EstimateMemory(model, fits, training).total > limit.bytes;
  return absl::ResourceExhaustedError(absl::StrCat(
      what, " at batch size ", batch, " needs about ", FormatBytesShort(e.total),
      " (activations and gradients ", FormatBytesShort(e.activations), ", parameters and "
      "optimizer state ", FormatBytesShort(e.parameters), ", kernel scratch ",
      FormatBytesShort(e.scratch), "), more than the ", FormatBytesShort(limit.bytes),
      " available (", limit.source, "); ",
      none ? "even batch size 1 does not fit: use a smaller model"
           : absl::StrCat("try --batch_size=", fits)));
}

}  // namespace simdnet
