// Communicator: the few collective operations data-parallel training needs (non-blocking
// allreduce and broadcast, completed under a deadline), behind a small interface with a
// single-process implementation here and an MPI one in dist/mpi_communicator.h. The trainer
// depends only on this header, so libraries and tests that never run under mpirun need no MPI.
#ifndef SIMDNET_DIST_COMMUNICATOR_H_
#define SIMDNET_DIST_COMMUNICATOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace simdnet {

// A collective in flight, returned by the Start* calls and completed by Wait / WaitAll.
using CollectiveId = int64_t;

class Communicator {
 public:
  virtual ~Communicator() = default;

  // This process's rank in [0, size()) and the number of processes.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "single process" or e.g. "MPI (Open MPI v4.1.4), 2 ranks".
  virtual std::string Describe() const = 0;

  // Starts summing `data` element-wise over all ranks, in place: when the collective completes
  // every rank holds the same sums. `data` must stay alive and untouched until then. Every rank
  // must start the same collectives in the same order with the same sizes.
  virtual absl::StatusOr<CollectiveId> StartSum(absl::Span<float> data) = 0;
  virtual absl::StatusOr<CollectiveId> StartSum(absl::Span<double> data) = 0;
  // Starts an element-wise maximum over all ranks, in place.
  virtual absl::StatusOr<CollectiveId> StartMax(absl::Span<double> data) = 0;
  // Starts copying rank `root`'s `data` to every rank, in place.
  virtual absl::StatusOr<CollectiveId> StartBroadcast(absl::Span<float> data, int root) = 0;
  // Drives progress of the collectives in flight and returns whether `id` has completed (it is
  // then forgotten: test a completed id only once). Never blocks.
  virtual absl::StatusOr<bool> Test(CollectiveId id) = 0;

  // Ends the whole job at once (every rank), with `code` as the exit status; used after an
  // error, when the other ranks may be blocked in a collective or dead. Returns only for a
  // single process (nothing to end).
  virtual void Abort(int code) = 0;

  // Waits until every id in `ids` has completed, polling Test. DeadlineExceeded naming this
  // rank and `what` if that takes longer than timeout_seconds(): another rank died, hangs or
  // is far behind (the job cannot continue; the caller should Abort after reporting).
  absl::Status WaitAll(absl::Span<const CollectiveId> ids, absl::string_view what);
  absl::Status Wait(CollectiveId id, absl::string_view what) { return WaitAll({id}, what); }

  // The watchdog's bound on every wait (default 300 s); must be > 0.
  double timeout_seconds() const { return timeout_seconds_; }
  absl::Status set_timeout_seconds(double seconds);

  // Total time spent blocked in WaitAll since construction.
  double wait_seconds() const { return wait_seconds_; }

 private:
  double timeout_seconds_ = 300.0;
  double wait_seconds_ = 0.0;
};

// Sums, broadcasts and maxima over one process: every collective completes at once unchanged.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string Describe() const override { return "single process"; }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<float>) override { return 0; }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<double>) override { return 0; }
  absl::StatusOr<CollectiveId> StartMax(absl::Span<double>) override { return 0; }
  absl::StatusOr<CollectiveId> StartBroadcast(absl::Span<float>, int root) override;
  absl::StatusOr<bool> Test(CollectiveId) override { return true; }
  void Abort(int) override {}
};

}  // namespace simdnet

#endif  // SIMDNET_DIST_COMMUNICATOR_H_
