// Communicator on MPI non-blocking collectives (MPI_Iallreduce, MPI_Ibcast), so that every wait
// is bounded by the watchdog in Communicator::WaitAll instead of blocking forever in MPI.
#include "dist/mpi_communicator.h"

#include <cstdlib>
#include <string>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "mpi/mpi.h"

namespace simdnet {
namespace {

std::string MpiErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return absl::StrCat("MPI error ", code);
  return std::string(text, static_cast<size_t>(len));
}

absl::Status MpiStatus(int code, absl::string_view call) {
  if (code == MPI_SUCCESS) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(call, " failed: ", MpiErrorText(code)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, int rank, int size) : comm_(comm), rank_(rank), size_(size) {}
  ~MpiCommunicator() override {
    if (aborted_) return;
    for (auto& [id, request] : requests_) MPI_Cancel(&request);
    MPI_Comm_free(&comm_);
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string Describe() const override {
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, static_cast<size_t>(len));
    v = v.substr(0, v.find(','));
    return absl::StrCat("MPI (", v, "), rank ", rank_, " of ", size_);
  }

  absl::StatusOr<CollectiveId> StartSum(absl::Span<float> data) override {
    return Track(MPI_Iallreduce(MPI_IN_PLACE, data.data(), Count(data.size()), MPI_FLOAT,
                                MPI_SUM, comm_, &pending_),
                 "MPI_Iallreduce");
  }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<double> data) override {
    return Track(MPI_Iallreduce(MPI_IN_PLACE, data.data(), Count(data.size()), MPI_DOUBLE,
                                MPI_SUM, comm_, &pending_),
                 "MPI_Iallreduce");
  }
  absl::StatusOr<CollectiveId> StartMax(absl::Span<double> data) override {
    return Track(MPI_Iallreduce(MPI_IN_PLACE, data.data(), Count(data.size()), MPI_DOUBLE,
                                MPI_MAX, comm_, &pending_),
                 "MPI_Iallreduce");
  }
  absl::StatusOr<CollectiveId> StartBroadcast(absl::Span<float> data, int root) override {
    if (root < 0 || root >= size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("broadcast from rank ", root, ": the job has ranks [0, ", size_, ")"));
    }
    return Track(MPI_Ibcast(data.data(), Count(data.size()), MPI_FLOAT, root, comm_, &pending_),
                 "MPI_Ibcast");
  }

  absl::StatusOr<bool> Test(CollectiveId id) override {
    auto it = requests_.find(id);
    if (it == requests_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("collective ", id, " is not in flight"));
    }
    int flag = 0;
    const int code = MPI_Test(&it->second, &flag, MPI_STATUS_IGNORE);
    if (code != MPI_SUCCESS) {
      requests_.erase(it);
      return MpiStatus(code, "MPI_Test");
    }
    if (flag) requests_.erase(it);
    return flag != 0;
  }

  void Abort(int code) override {
    aborted_ = true;
    MPI_Abort(comm_, code);
  }

 private:
  // MPI counts are int: buckets are a few MiB, far below 2^31 elements.
  static int Count(size_t n) { return static_cast<int>(n); }

  absl::StatusOr<CollectiveId> Track(int code, absl::string_view call) {
    if (code != MPI_SUCCESS) return MpiStatus(code, call);
    const CollectiveId id = next_id_++;
    requests_.emplace(id, pending_);
    return id;
  }

  MPI_Comm comm_;
  int rank_, size_;
  bool aborted_ = false;
  MPI_Request pending_ = MPI_REQUEST_NULL;
  CollectiveId next_id_ = 1;
  std::unordered_map<CollectiveId, MPI_Request> requests_;
};

}  // namespace

bool LaunchedByMpiLauncher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<Communicator>> ConnectFromEnvironment() {
  if (!LaunchedByMpiLauncher()) return std::make_unique<SingleProcessCommunicator>();
  int provided = 0;
  absl::Status s = MpiStatus(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
                             "MPI_Init_thread");
  if (!s.ok()) return s;
  if (provided < MPI_THREAD_FUNNELED) {
    MPI_Finalize();
    return absl::UnavailableError(
        "MPI_Init_thread: the MPI library does not support MPI_THREAD_FUNNELED");
  }
  // A private communicator whose errors are returned (not fatal), so they become Status.
  MPI_Comm comm;
  s = MpiStatus(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
  if (s.ok()) {
    s = MpiStatus(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  }
  int rank = 0, size = 1;
  if (s.ok()) s = MpiStatus(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  if (s.ok()) s = MpiStatus(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  if (!s.ok()) {
    MPI_Finalize();
    return s;
  }
  return std::unique_ptr<Communicator>(new MpiCommunicator(comm, rank, size));
}

}  // namespace simdnet
