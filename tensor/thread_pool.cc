// ThreadPool implementation: persistent workers that spin for a bounded time between parallel
// loops and then sleep; tasks handed out from an atomic counter.
//
// Protocol (state_ = generation | closed bit | active workers):
// - The caller writes fn_ / num_tasks_ / next_task_, then publishes generation g + 1 (open, no
//   active worker) and wakes sleeping workers.
// - A worker that sees a new open generation joins it by incrementing the active count with a
//   CAS (so it cannot join a generation that is closed or already replaced), runs tasks until
//   the counter is exhausted, and leaves by decrementing the count.
// - The caller runs tasks too; when the counter is exhausted it closes the generation and waits
//   only for the workers that joined (they are running their last task). A worker that has not
//   woken up yet is never waited for: its wake-up latency (tens of microseconds to milliseconds
//   on a busy host) is off the critical path, and the caller simply runs more of the tasks.
// Which thread runs a task never changes a result (see the header's determinism contract).
#include "tensor/thread_pool.h"

#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tensor/status_macros.h"

namespace simdnet {
namespace {

// How long an idle worker spins before it sleeps, and how long the caller spins for joined
// workers to finish. A training step runs hundreds of short parallel loops separated by short
// serial code (loss, optimizer bookkeeping, batch assembly); a sleeping worker costs a futex
// wake-up of tens of microseconds (more on a busy VM) and, while it sleeps, the loop runs on one
// thread. Spinning is bounded by time rather than by iterations because PAUSE takes from ~10 to
// ~140 cycles depending on the CPU.
constexpr int64_t kWorkerSpinNanos = 500'000;
constexpr int64_t kCallerSpinNanos = 200'000;

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Spins until done() or `nanos` have passed; returns done().
template <class Done>
bool SpinUntil(const Done& done, int64_t nanos) {
  if (done()) return true;
  const int64_t deadline = NowNanos() + nanos;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (done()) return true;
      CpuRelax();
    }
    if (NowNanos() > deadline) return done();
  }
}

inline uint64_t GenerationOf(uint64_t state) { return state >> 32; }

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
    shutdown_.store(true);
  }
  work_cv_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::RunTasks(size_t thread) {
  for (;;) {
    const uint64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= num_tasks_) return;
    (*fn_)(task, thread);
    if (one_task_per_thread_) return;
  }
}

bool ThreadPool::WaitForGeneration(uint64_t seen) {
  const auto changed = [&] {
    return GenerationOf(state_.load(std::memory_order_acquire)) != seen ||
           shutdown_.load(std::memory_order_relaxed);
  };
  if (!SpinUntil(changed, kWorkerSpinNanos)) {
    std::unique_lock<std::mutex> lock(mu_);
    // seq_cst: either the caller's publish sees sleeping_workers_ > 0 and notifies under mu_,
    // or this predicate sees the new generation.
    sleeping_workers_.fetch_add(1);
    work_cv_.wait(lock, [&] {
      return GenerationOf(state_.load()) != seen || shutdown_.load();
    });
    sleeping_workers_.fetch_sub(1);
  }
  return !shutdown_.load();
}

void ThreadPool::WorkerLoop(size_t thread) {
  uint64_t seen = 0;
  while (WaitForGeneration(seen)) {
    uint64_t s = state_.load(std::memory_order_acquire);
    seen = GenerationOf(s);
    // Join unless the caller has closed the generation (or published a newer one).
    bool joined = false;
    while ((s & kClosed) == 0 && GenerationOf(s) == seen) {
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    RunTasks(thread);
    const uint64_t before = state_.fetch_sub(1);  // seq_cst, pairs with WaitForWorkers
    if ((before & kActiveMask) == 1 && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::WaitForWorkers() {
  const auto done = [&] { return (state_.load(std::memory_order_acquire) & kActiveMask) == 0; };
  if (SpinUntil(done, kCallerSpinNanos)) return;
  std::unique_lock<std::mutex> lock(mu_);
  caller_sleeping_.store(true);  // seq_cst, pairs with the worker's decrement
  done_cv_.wait(lock, [&] { return (state_.load() & kActiveMask) == 0; });
  caller_sleeping_.store(false);
}

void ThreadPool::ParallelFor(uint64_t num_tasks,
                             const std::function<void(uint64_t task, size_t thread)>& fn) {
  if (num_tasks == 0) return;
  if (workers_.empty() || num_tasks == 1 || in_parallel_for_.exchange(true)) {
    // Single-threaded, a single task, or nested (or concurrent) use: run inline, in task order.
    for (uint64_t t = 0; t < num_tasks; ++t) fn(t, 0);
    return;
  }
  Publish(num_tasks, fn, /*one_task_per_thread=*/false);
  // The caller takes part as the last thread index.
  RunTasks(workers_.size());
  Close();
}

void ThreadPool::Publish(uint64_t num_tasks,
                         const std::function<void(uint64_t task, size_t thread)>& fn,
                         bool one_task_per_thread) {
  fn_ = &fn;
  num_tasks_ = num_tasks;
  one_task_per_thread_ = one_task_per_thread;
  next_task_.store(0, std::memory_order_relaxed);
  // The previous generation is closed with no active worker: publish the next one, open.
  const uint64_t generation = GenerationOf(state_.load(std::memory_order_relaxed)) + 1;
  state_.store(generation << 32);  // seq_cst, pairs with WaitForGeneration
  if (sleeping_workers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    work_cv_.notify_all();
  }
}

void ThreadPool::Close() {
  state_.fetch_or(kClosed);
  WaitForWorkers();
  fn_ = nullptr;
  one_task_per_thread_ = false;
  in_parallel_for_.store(false, std::memory_order_release);
}

bool ThreadPool::ParallelForConcurrent(
    uint64_t num_tasks, const std::function<void(uint64_t task, size_t thread)>& fn) {
  SIMDNET_CHECK(num_tasks >= 1);
  if (num_tasks > NumThreads()) return false;
  if (num_tasks == 1) {
    fn(0, 0);
    return true;
  }
  if (in_parallel_for_.exchange(true)) return false;
  Publish(num_tasks, fn, /*one_task_per_thread=*/true);
  RunTasks(workers_.size());
  // The generation stays open until every task has been taken: a worker still waking up
  // must be able to join (the caller does not run a second task).
  while (next_task_.load(std::memory_order_relaxed) < num_tasks) {
    if (!SpinUntil([&] { return next_task_.load(std::memory_order_relaxed) >= num_tasks; },
                   kCallerSpinNanos)) {
      std::this_thread::yield();
    }
  }
  Close();
  return true;
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

thread_local ThreadPool* t_default_pool_override = nullptr;

}  // namespace

ThreadPool& SerialThreadPool() {
  static auto* serial = new ThreadPool(1);
  return *serial;
}

ScopedDefaultThreadPool::ScopedDefaultThreadPool(ThreadPool& pool)
    : previous_(t_default_pool_override) {
  t_default_pool_override = &pool;
}

ScopedDefaultThreadPool::~ScopedDefaultThreadPool() { t_default_pool_override = previous_; }

ThreadPool& DefaultThreadPool() {
  if (t_default_pool_override != nullptr) return *t_default_pool_override;
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
