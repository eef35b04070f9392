// Tests for the thread pool: every task runs once, nesting is safe, thread count parsing,
// ParallelForConcurrent runs its tasks at once on distinct threads.
#include "tensor/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(ThreadPoolTest, EveryTaskRunsExactlyOnce) {
  for (size_t threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.NumThreads(), threads);
    for (uint64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> bad_thread{false};
      pool.ParallelFor(n, [&](uint64_t task, size_t thread) {
        hits[task]++;
        if (thread >= threads) bad_thread = true;
      });
      for (uint64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << i;
      EXPECT_FALSE(bad_thread);
    }
  }
}

TEST(ThreadPoolTest, ManyGenerationsInARow) {
  ThreadPool pool(3);
  std::atomic<int64_t> sum{0};
  for (int g = 0; g < 2000; ++g) {
    pool.ParallelFor(4, [&](uint64_t task, size_t) { sum += static_cast<int64_t>(task); });
  }
  EXPECT_EQ(sum.load(), 2000 * 6);
}

// Gaps longer than the workers' spin put them to sleep; every loop must still run every task
// once and return (the sleeping and waking paths of the protocol).
TEST(ThreadPoolTest, LoopsAfterWorkersFellAsleep) {
  ThreadPool pool(3);
  for (int g = 0; g < 20; ++g) {
    std::this_thread::sleep_for(std::chrono::milliseconds(g % 4 == 0 ? 3 : 0));
    std::vector<std::atomic<int>> hits(5);
    pool.ParallelFor(5, [&](uint64_t task, size_t) { hits[task]++; });
    for (int i = 0; i < 5; ++i) EXPECT_EQ(hits[i].load(), 1) << "loop " << g << " task " << i;
  }
}

// A long task on a worker makes the caller sleep until it finishes; ParallelFor must not return
// before every task has completed.
TEST(ThreadPoolTest, CallerWaitsForLongTasks) {
  ThreadPool pool(2);
  for (int g = 0; g < 5; ++g) {
    std::atomic<int> done{0};
    pool.ParallelFor(2, [&](uint64_t task, size_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(task == 1 ? 5 : 0));
      done++;
    });
    EXPECT_EQ(done.load(), 2);
  }
}

// Two threads sharing one pool: one gets the workers, the other runs inline; neither loses a
// task.
TEST(ThreadPoolTest, ConcurrentCallersShareThePool) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  auto run = [&] {
    for (int g = 0; g < 500; ++g) {
      pool.ParallelFor(3, [&](uint64_t task, size_t) { sum += static_cast<int64_t>(task) + 1; });
    }
  };
  std::thread other(run);
  run();
  other.join();
  EXPECT_EQ(sum.load(), 2 * 500 * 6);
}

TEST(ThreadPoolTest, NestedCallRunsInline) {
  ThreadPool pool(2);
  std::atomic<int> inner{0};
  pool.ParallelFor(4, [&](uint64_t, size_t) {
    pool.ParallelFor(3, [&](uint64_t, size_t) { inner++; });
  });
  EXPECT_EQ(inner.load(), 12);
}

TEST(ThreadPoolTest, SerialPoolRunsTasksInOrderOnTheCaller) {
  ThreadPool& serial = SerialThreadPool();
  EXPECT_EQ(serial.NumThreads(), 1u);
  // Two threads use it at once: it has no shared state to race on.
  std::vector<std::vector<uint64_t>> order(2);
  std::thread other([&] {
    serial.ParallelFor(1000, [&](uint64_t task, size_t thread) {
      if (thread == 0) order[1].push_back(task);
    });
  });
  serial.ParallelFor(1000, [&](uint64_t task, size_t thread) {
    if (thread == 0) order[0].push_back(task);
  });
  other.join();
  for (const std::vector<uint64_t>& o : order) {
    ASSERT_EQ(o.size(), 1000u);
    for (uint64_t i = 0; i < 1000; ++i) EXPECT_EQ(o[i], i);
  }
}

TEST(ThreadPoolTest, ScopedOverrideAppliesToItsThreadAndNests) {
  ThreadPool& global = DefaultThreadPool();
  ThreadPool a(1), b(2);
  {
    ScopedDefaultThreadPool outer(a);
    EXPECT_EQ(&DefaultThreadPool(), &a);
    ThreadPool* seen_by_other = nullptr;
    std::thread other([&] { seen_by_other = &DefaultThreadPool(); });
    other.join();
    EXPECT_EQ(seen_by_other, &global);
    {
      ScopedDefaultThreadPool inner(b);
      EXPECT_EQ(&DefaultThreadPool(), &b);
    }
    EXPECT_EQ(&DefaultThreadPool(), &a);
  }
  EXPECT_EQ(&DefaultThreadPool(), &global);
}

TEST(ThreadPoolTest, ParseThreadCount) {
  EXPECT_EQ(*ParseThreadCount("4", "--threads"), 4u);
  for (const char* bad : {"0", "-1", "abc", "", "2x", "5000"}) {
    auto n = ParseThreadCount(bad, "--threads");
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_NE(n.status().message().find("--threads"), std::string::npos);
  }
}

TEST(ThreadPoolTest, EnvironmentSetsDefaultCount) {
  setenv("SIMDNET_THREADS", "3", 1);
  EXPECT_EQ(DefaultThreadCount(), 3u);
  setenv("SIMDNET_THREADS", "zero", 1);
  EXPECT_GE(DefaultThreadCount(), 1u);
  unsetenv("SIMDNET_THREADS");
  SetDefaultThreadCount(2);
  EXPECT_EQ(DefaultThreadPool().NumThreads(), 2u);
}

TEST(ThreadPoolTest, AvailableCoresIsPositive) {
  EXPECT_GE(AvailableCores(), 1u);
  EXPECT_EQ(DefaultThreadCount(), AvailableCores()) << "with SIMDNET_THREADS unset";
}

TEST(ThreadPoolTest, OversubscriptionWarningNamesSettingAndCores) {
  EXPECT_EQ(OversubscriptionWarning(8, 2, "--threads"),
            "simdnet: --threads=8 exceeds the 2 available cores; the spinning thread pool makes "
            "oversubscription slow");
  EXPECT_EQ(OversubscriptionWarning(2, 1, "SIMDNET_THREADS"),
            "simdnet: SIMDNET_THREADS=2 exceeds the 1 available core; the spinning thread pool "
            "makes oversubscription slow");
  EXPECT_EQ(OversubscriptionWarning(2, 2, "--threads"), "");
  EXPECT_EQ(OversubscriptionWarning(1, 4, "--threads"), "");
}

// Runs in a fresh process ("threadsafe" death tests re-execute the binary), so the once-per-
// process state is unaffected by other tests. The regex requires the warning line exactly once.
TEST(ThreadPoolDeathTest, MoreThreadsThanCoresWarnsOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const size_t n = AvailableCores() + 1;
  const std::string expected = OversubscriptionWarning(n, AvailableCores(), "--threads");
  ASSERT_FALSE(expected.empty());
  EXPECT_EXIT(
      {
        SetDefaultThreadCount(n);
        SetDefaultThreadCount(n);
        SetDefaultThreadCount(n + 1);
        std::fprintf(stderr, "END\n");
        std::exit(DefaultThreadPool().NumThreads() == n + 1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "^simdnet: --threads=[0-9]+ exceeds [^\n]*slow\nEND\n$");
  EXPECT_EXIT(
      {
        SetDefaultThreadCount(AvailableCores());
        std::fprintf(stderr, "END\n");
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "^END\n$");
}

TEST(ThreadPoolConcurrentTest, RefusesWhatItCannotRunAtOnce) {
  ThreadPool pool(2);
  int runs = 0;
  EXPECT_FALSE(pool.ParallelForConcurrent(3, [&](uint64_t, size_t) { ++runs; }));
  EXPECT_EQ(runs, 0);
  // Nested in a ParallelFor of the same pool.
  std::atomic<int> refused{0};
  pool.ParallelFor(2, [&](uint64_t, size_t) {
    if (!pool.ParallelForConcurrent(2, [&](uint64_t, size_t) {})) refused.fetch_add(1);
  });
  EXPECT_EQ(refused.load(), 2);
  // One task runs inline.
  EXPECT_TRUE(pool.ParallelForConcurrent(1, [&](uint64_t, size_t) { ++runs; }));
  EXPECT_EQ(runs, 1);
}

TEST(ThreadPoolConcurrentTest, TasksRunOnDistinctThreadsAtOnceEvenAfterWorkersSlept) {
  for (size_t threads : {2, 3}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 50; ++rep) {
      if (rep % 10 == 0) {
        // Let the workers fall asleep (they spin for about half a millisecond).
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      }
      // A barrier between the tasks: it completes only if they all run at the same time.
      std::atomic<size_t> arrived{0};
      std::vector<size_t> thread_of(threads);
      ASSERT_TRUE(pool.ParallelForConcurrent(threads, [&](uint64_t task, size_t thread) {
        thread_of[task] = thread;
        arrived.fetch_add(1);
        while (arrived.load() < threads) {
        }
      }));
      for (size_t a = 0; a < threads; ++a) {
        for (size_t b = a + 1; b < threads; ++b) EXPECT_NE(thread_of[a], thread_of[b]);
      }
    }
  }
}

}  // namespace
}  // namespace simdnet
