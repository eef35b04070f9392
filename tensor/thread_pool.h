// ThreadPool: the one parallel-for used by every simdnet package (Highway 1.0.3 has none, and
// OpenMP is avoided for portability and deterministic partitioning).
//
// Determinism contract: ParallelFor runs fn(task, thread) for every task in [0, num_tasks)
// exactly once. Which thread runs which task is NOT fixed, so a kernel's result must depend only
// on the task index (use `thread` only to pick a per-thread scratch buffer). Kernels that
// partition work by thread count give bit-identical results for a fixed thread count.
#ifndef SIMDNET_TENSOR_THREAD_POOL_H_
#define SIMDNET_TENSOR_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace simdnet {

// The spin-wait hint for busy-wait loops (x86 PAUSE; nothing elsewhere): the pool's spinning
// workers and caller, and layers/batch_norm_sync.h's replicas.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

class ThreadPool {
 public:
  // Starts num_threads - 1 workers; the calling thread is the last participant.
  // Requires: num_threads >= 1.
  explicit ThreadPool(size_t num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Number of threads that run tasks, including the caller.
  size_t NumThreads() const { return workers_.size() + 1; }

  // Runs fn(task, thread) for task in [0, num_tasks) and returns when all are done.
  // thread is in [0, NumThreads()). Nested calls (fn calling ParallelFor on this pool) and calls
  // made while another thread's ParallelFor runs on this pool run inline on the calling thread.
  // Scheduling: idle workers spin for about half a millisecond, then sleep; the caller runs
  // tasks too and never waits for a worker that has not started yet (only for tasks running).
  void ParallelFor(uint64_t num_tasks, const std::function<void(uint64_t task, size_t thread)>& fn);

  // Like ParallelFor, but each task runs on its own thread and all of them at the same time, so
  // that tasks may wait for each other (train/batch_split.h: model replicas that exchange
  // BatchNorm statistics). The caller waits for sleeping workers to wake up instead of running
  // their tasks. Returns false without running anything when that cannot be guaranteed:
  // num_tasks > NumThreads(), or the call is nested in (or concurrent with) a ParallelFor on
  // this pool. Requires: num_tasks >= 1.
  bool ParallelForConcurrent(uint64_t num_tasks,
                             const std::function<void(uint64_t task, size_t thread)>& fn);

 private:
  // state_ packs the generation (high 32 bits), a "closed" bit (bit 31: the caller has taken
  // the last task and late workers must not join) and the number of workers inside the current
  // generation (low 31 bits). See thread_pool.cc for the protocol.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kActiveMask = kClosed - 1;

  // Hands `fn` over num_tasks tasks to the workers as a new open generation (the caller has set
  // in_parallel_for_).
  void Publish(uint64_t num_tasks, const std::function<void(uint64_t task, size_t thread)>& fn,
               bool one_task_per_thread);
  // Closes the generation, waits for the workers inside it and ends the parallel loop.
  void Close();
  void WorkerLoop(size_t thread);
  void RunTasks(size_t thread);
  // Blocks until the generation differs from `seen` or shutdown; returns false on shutdown.
  bool WaitForGeneration(uint64_t seen);
  // Blocks until no worker is inside the current (closed) generation.
  void WaitForWorkers();

  std::vector<std::thread> workers_;
  std::atomic<uint64_t> state_{0};
  // Written by the caller before it publishes a generation; read by the workers that joined it.
  const std::function<void(uint64_t, size_t)>* fn_ = nullptr;
  uint64_t num_tasks_ = 0;
  // ParallelForConcurrent: each thread takes at most one task.
  bool one_task_per_thread_ = false;
  std::atomic<uint64_t> next_task_{0};
  std::atomic<bool> in_parallel_for_{false};
  // Sleeping (after their spin) workers and caller, woken through mu_ and the condition
  // variables only when someone sleeps.
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::atomic<int> sleeping_workers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> shutdown_{false};
};

// Returns the number of cores this process may run on: the size of its CPU affinity mask
// (sched_getaffinity, which honours taskset and container cpusets), else
// std::thread::hardware_concurrency(). Ensures: >= 1.
size_t AvailableCores();

// Returns the one-line oversubscription warning for `threads` requested through the setting
// `what` (e.g. "--threads") on a machine with `cores` cores, without a trailing newline, or ""
// if threads <= cores.
std::string OversubscriptionWarning(size_t threads, size_t cores, absl::string_view what);

// Returns the thread count simdnet uses by default: SIMDNET_THREADS from the environment if it is
// a positive integer, else AvailableCores().
size_t DefaultThreadCount();

// Parses a user-given thread count ("4"); InvalidArgument naming `what` for anything that is not
// an integer in [1, 1024].
absl::StatusOr<size_t> ParseThreadCount(absl::string_view text, absl::string_view what);

// Returns the process-wide pool, created on first use with DefaultThreadCount() threads (and the
// oversubscription warning below if SIMDNET_THREADS asks for more threads than cores), or the
// calling thread's ScopedDefaultThreadPool override while one is alive.
ThreadPool& DefaultThreadPool();

// Returns a pool of one thread (no workers; ParallelFor runs every task inline, in order),
// shared by every thread: it holds no state that its ParallelFor writes.
ThreadPool& SerialThreadPool();

// Makes DefaultThreadPool() return `pool` on the constructing thread until destroyed (restoring
// the previous override, so scopes nest). For work already split across threads at a coarser
// level: train/batch_split.h runs one model replica per thread, and each replica's layers, which
// take their pool from DefaultThreadPool(), then run one-thread kernels (SerialThreadPool())
// instead of nesting parallel loops. Other threads are not affected.
class ScopedDefaultThreadPool {
 public:
  explicit ScopedDefaultThreadPool(ThreadPool& pool);
  ~ScopedDefaultThreadPool();
  ScopedDefaultThreadPool(const ScopedDefaultThreadPool&) = delete;
  ScopedDefaultThreadPool& operator=(const ScopedDefaultThreadPool&) = delete;

 private:
  ThreadPool* previous_;
};

// Replaces the process-wide pool with one of n threads, set by the user through `what` (a flag
// such as --threads). If n > AvailableCores(), prints OversubscriptionWarning to stderr, at most
// once per process: the pool's workers spin between loops, so extra threads steal cores from
// each other instead of adding any. Requires: n >= 1 and no ParallelFor running on the old pool.
void SetDefaultThreadCount(size_t n, absl::string_view what = "--threads");

// Floats per task of an element-wise loop (64 KiB: big enough to amortize a task, small enough
// to balance).
inline constexpr size_t kElementwiseChunkFloats = size_t{16} * 1024;

// Calls fn(begin, count) over [0, n): once on the caller when `pool` is null or single-threaded
// or n <= kElementwiseChunkFloats, else once per fixed chunk on the pool. Chunk boundaries depend
// only on n, so a loop whose elements are independent gives identical results for any thread
// count (and equal to the serial path).
template <class Fn>
void ForEachChunk(size_t n, ThreadPool* pool, const Fn& fn) {
  if (pool == nullptr || pool->NumThreads() <= 1 || n <= kElementwiseChunkFloats) {
    fn(size_t{0}, n);
    return;
  }
  const uint64_t num_chunks = (n + kElementwiseChunkFloats - 1) / kElementwiseChunkFloats;
  pool->ParallelFor(num_chunks, [&](uint64_t task, size_t /*thread*/) {
    const size_t begin = static_cast<size_t>(task) * kElementwiseChunkFloats;
    fn(begin, n - begin < kElementwiseChunkFloats ? n - begin : kElementwiseChunkFloats);
  });
}

}  // namespace simdnet

#endif  // SIMDNET_TENSOR_THREAD_POOL_H_
