// The deadline-bounded wait shared by every communicator, and the single-process one.
#include "dist/communicator.h"

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::Status Communicator::set_timeout_seconds(double seconds) {
  if (!(seconds > 0.0) || !std::isfinite(seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("communicator timeout ", seconds, " s: must be a finite value > 0"));
  }
  timeout_seconds_ = seconds;
  return absl::OkStatus();
}

absl::Status Communicator::WaitAll(absl::Span<const CollectiveId> ids, absl::string_view what) {
  const double start = Now();
  std::vector<bool> done(ids.size(), false);
  size_t remaining = ids.size();
  int64_t polls = 0;
  while (remaining > 0) {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (done[i]) continue;
      SIMDNET_ASSIGN_OR_RETURN(const bool complete, Test(ids[i]));
      if (complete) {
        done[i] = true;
        --remaining;
      }
    }
    if (remaining == 0) break;
    const double waited = Now() - start;
    if (waited > timeout_seconds_) {
      wait_seconds_ += waited;
      return absl::DeadlineExceededError(absl::StrFormat(
          "rank %d of %d: %s did not complete within %.0f s: another rank died, hangs or is "
          "far behind (raise the timeout if it is only slow); the last checkpoint is kept",
          rank(), size(), what, timeout_seconds_));
    }
    // Spin briefly (collectives of a few MiB take tens of microseconds to milliseconds on one
    // machine), then poll every 100 us so that a long wait does not burn a core the pool of
    // another rank may need.
    if (++polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  wait_seconds_ += Now() - start;
  return absl::OkStatus();
}

absl::StatusOr<CollectiveId> SingleProcessCommunicator::StartBroadcast(absl::Span<float>,
                                                                       int root) {
  if (root != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast from rank ", root, " in a single-process run"));
  }
  return 0;
}

}  // namespace simdnet
