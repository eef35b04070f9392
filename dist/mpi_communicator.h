// The MPI communicator (Open MPI from Debian) and the start-up detection that lets the one
// simdnet binary run alone or under mpirun: MPI is initialized only when a launcher started
// the process, so a plain `simdnet train` never touches MPI.
#ifndef SIMDNET_DIST_MPI_COMMUNICATOR_H_
#define SIMDNET_DIST_MPI_COMMUNICATOR_H_

#include <memory>

#include "absl/status/statusor.h"
#include "dist/communicator.h"

namespace simdnet {

// Returns whether an MPI launcher started this process: Open MPI's mpirun sets
// OMPI_COMM_WORLD_SIZE, PMIx launchers PMIX_RANK, MPICH / Slurm PMI launchers PMI_SIZE.
bool LaunchedByMpiLauncher();

// Returns the communicator of this job: when LaunchedByMpiLauncher(), initializes MPI
// (MPI_Init_thread, MPI_THREAD_FUNNELED: only the calling thread makes MPI calls) and returns a
// communicator over all ranks (finalized when destroyed; after Abort, never); otherwise a
// SingleProcessCommunicator. Unavailable (with MPI's message) if MPI cannot start.
// Requires: called once per process, from the thread that will make every later call.
absl::StatusOr<std::unique_ptr<Communicator>> ConnectFromEnvironment();

}  // namespace simdnet

#endif  // SIMDNET_DIST_MPI_COMMUNICATOR_H_
