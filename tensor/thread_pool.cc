// ThreadPool implementation: persistent workers woken per ParallelFor, tasks handed out from a
// shared counter under one mutex (tasks are coarse: a few per thread).
#include "tensor/thread_pool.h"

#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// Spinning before a blocking wait: a training step runs hundreds of short parallel loops back
// to back, and a futex wake-up costs tens of microseconds on a VM, i.e. several percent of a
// 0.5 ms convolution. About 30 us of pause instructions, then the condition variable.
constexpr int kSpinIterations = 2048;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until done() or kSpinIterations; returns done().
template <class Done>
bool SpinUntil(const Done& done) {
  for (int i = 0; i < kSpinIterations; ++i) {
    if (done()) return true;
    CpuRelax();
  }
  return done();
}

}  // namespace

ThreadPool::ThreadPool(size_t num_threads) {
  SIMDNET_CHECK(num_threads >= 1);
  workers_.reserve(num_threads - 1);
  for (size_t t = 0; t + 1 < num_threads; ++t) {
    workers_.emplace_back([this, t] { WorkerLoop(t); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::RunTasks(size_t thread) {
  for (;;) {
    uint64_t task;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (next_task_ >= num_tasks_) return;
      task = next_task_++;
    }
    (*fn_)(task, thread);
  }
}

void ThreadPool::WorkerLoop(size_t thread) {
  uint64_t seen = 0;
  for (;;) {
    SpinUntil([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return shutdown_ || generation_ != seen; });
      if (shutdown_) return;
      seen = generation_;
    }
    RunTasks(thread);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--active_workers_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(uint64_t num_tasks,
                             const std::function<void(uint64_t task, size_t thread)>& fn) {
  if (num_tasks == 0) return;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (in_parallel_for_ || workers_.empty() || num_tasks == 1) {
      // Nested, single-threaded or a single task: run inline, in task order.
      lock.unlock();
      for (uint64_t t = 0; t < num_tasks; ++t) fn(t, 0);
      return;
    }
    in_parallel_for_ = true;
    fn_ = &fn;
    num_tasks_ = num_tasks;
    next_task_ = 0;
    active_workers_ = workers_.size();
    ++generation_;
  }
  work_cv_.notify_all();
  // The caller takes part as the last thread index.
  RunTasks(workers_.size());
  SpinUntil([&] { return active_workers_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return active_workers_ == 0; });
  fn_ = nullptr;
  in_parallel_for_ = false;
}

absl::StatusOr<size_t> ParseThreadCount(absl::string_view text, absl::string_view what) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(text, &n) || n < 1 || n > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": thread count must be an integer in [1, 1024], got '", text, "'"));
  }
  return static_cast<size_t>(n);
}

size_t AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n >= 1) return static_cast<size_t>(n);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

std::string OversubscriptionWarning(size_t threads, size_t cores, absl::string_view what) {
  if (threads <= cores) return "";
  return absl::StrCat("simdnet: ", what, "=", threads, " exceeds the ", cores, " available core",
                      cores == 1 ? "" : "s",
                      "; the spinning thread pool makes oversubscription slow");
}

size_t DefaultThreadCount() {
  if (const char* env = std::getenv("SIMDNET_THREADS")) {
    absl::StatusOr<size_t> n = ParseThreadCount(env, "SIMDNET_THREADS");
    if (n.ok()) return *n;
  }
  return AvailableCores();
}

namespace {

// Prints the oversubscription warning for n threads set through `what`, once per process.
void WarnIfOversubscribed(size_t n, absl::string_view what) {
  static std::atomic<bool> warned{false};
  const std::string warning = OversubscriptionWarning(n, AvailableCores(), what);
  if (warning.empty() || warned.exchange(true)) return;
  std::fprintf(stderr, "%s\n", warning.c_str());
}

std::unique_ptr<ThreadPool>& DefaultPoolSlot() {
  static auto* slot = new std::unique_ptr<ThreadPool>();
  return *slot;
}
std::mutex& DefaultPoolMutex() {
  static auto* mu = new std::mutex();
  return *mu;
}
}  // namespace

ThreadPool& DefaultThreadPool() {
  std::lock_guard<std::mutex> lock(DefaultPoolMutex());
  auto& slot = DefaultPoolSlot();
  if (!slot) {
    const size_t n = DefaultThreadCount();
    if (std::getenv("SIMDNET_THREADS") != nullptr) WarnIfOversubscribed(n, "SIMDNET_THREADS");
    slot = std::make_unique<ThreadPool>(n);
  }
  return *slot;
}

void SetDefaultThreadCount(size_t n, absl::string_view what) {
  SIMDNET_CHECK(n >= 1);
  WarnIfOversubscribed(n, what);
  std::lock_guard<std::mutex> lock(DefaultPoolMutex());
  auto& slot = DefaultPoolSlot();
  slot.reset();
  slot = std::make_unique<ThreadPool>(n);
}

}  // namespace simdnet
