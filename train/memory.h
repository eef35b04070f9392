// Memory planning: an estimate of what training or evaluating a model at a batch size needs
// (parameters, optimizer state, activations and their gradients, kernel scratch), the memory
// this process may use (cgroup limit, RLIMIT_AS, physical memory), and a check that refuses a
// run that cannot fit with a message that suggests a batch size, instead of dying mid-run.
#ifndef SIMDNET_TRAIN_MEMORY_H_
#define SIMDNET_TRAIN_MEMORY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "layers/model.h"

namespace simdnet {

struct MemoryEstimate {
  int64_t parameters = 0;   // values, gradients and two optimizer buffers (training)
  int64_t activations = 0;  // every layer's output for the batch, and its gradient (training)
  int64_t scratch = 0;      // the largest layer's kernel scratch
  int64_t total = 0;
};

// Estimates the bytes that running `model` on batches of `batch` samples keeps allocated:
// training keeps each layer's output and gradient; evaluation only outputs. An estimate
// (within a small factor of what the allocator sees), not a bound.
// Requires: batch >= 1.
MemoryEstimate EstimateMemory(Model& model, int64_t batch, bool training);

struct MemoryLimit {
  int64_t bytes = 0;   // the smallest of the limits below that is set
  std::string source;  // "cgroup memory.max", "RLIMIT_AS" or "physical memory"
};

// Returns the memory this process may use: the cgroup v2 limit (/sys/fs/cgroup/memory.max),
// the address-space limit (RLIMIT_AS) and physical memory (/proc/meminfo MemTotal), whichever
// is smallest among those that are set.
MemoryLimit AvailableMemory();

// Returns OK if EstimateMemory(model, batch, training) fits in `limit`; otherwise
// ResourceExhausted naming `what`, the estimate, the limit and its source, and the largest
// batch size that fits (or saying that even batch 1 does not).
absl::Status CheckMemoryFits(Model& model, int64_t batch, bool training,
                             const MemoryLimit& limit, absl::string_view what);

// Returns "1.23 GB" / "456.0 MB" / "12.0 KB" (decimal units).
std::string FormatBytesShort(int64_t bytes);

}  // namespace simdnet

#endif  // SIMDNET_TRAIN_MEMORY_H_
