// Tests for the communicator interface: the single-process implementation and the watchdog
// that bounds every wait (a collective that never completes ends in DeadlineExceeded).
#include "dist/communicator.h"

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

TEST(SingleProcessCommunicatorTest, CollectivesCompleteAtOnceUnchanged) {
  SingleProcessCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  std::vector<float> f = {1.5f, -2.0f};
  std::vector<double> d = {3.0, 4.0};
  auto a = comm.StartSum(absl::MakeSpan(f));
  auto b = comm.StartSum(absl::MakeSpan(d));
  auto c = comm.StartMax(absl::MakeSpan(d));
  auto e = comm.StartBroadcast(absl::MakeSpan(f), 0);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && e.ok());
  EXPECT_TRUE(comm.WaitAll({*a, *b, *c, *e}, "test").ok());
  EXPECT_EQ(f, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(d, (std::vector<double>{3.0, 4.0}));
}

TEST(SingleProcessCommunicatorTest, BroadcastFromAnotherRankIsRejected) {
  SingleProcessCommunicator comm;
  std::vector<float> f(3);
  auto id = comm.StartBroadcast(absl::MakeSpan(f), 1);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("rank 1"), std::string::npos) << id.status();
}

// A communicator whose collectives complete after `polls` tests (never when negative): a peer
// that is slow, or dead.
class StalledCommunicator final : public Communicator {
 public:
  explicit StalledCommunicator(int polls) : polls_(polls) {}
  int rank() const override { return 1; }
  int size() const override { return 4; }
  std::string Describe() const override { return "stalled"; }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<float>) override { return 7; }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<double>) override { return 7; }
  absl::StatusOr<CollectiveId> StartMax(absl::Span<double>) override { return 7; }
  absl::StatusOr<CollectiveId> StartBroadcast(absl::Span<float>, int) override { return 7; }
  absl::StatusOr<bool> Test(CollectiveId) override {
    ++tests;
    return polls_ >= 0 && tests >= polls_;
  }
  void Abort(int) override {}
  int tests = 0;

 private:
  int polls_;
};

TEST(CommunicatorTest, WaitOnADeadPeerEndsWithinTheTimeoutNamingRankAndCollective) {
  StalledCommunicator comm(/*polls=*/-1);
  ASSERT_TRUE(comm.set_timeout_seconds(0.2).ok());
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = comm.Wait(7, "the gradient allreduce");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find("rank 1 of 4: the gradient allreduce did not complete within"),
            std::string::npos)
      << s;
  EXPECT_GE(seconds, 0.2);
  EXPECT_LT(seconds, 2.0);
  EXPECT_GE(comm.wait_seconds(), 0.2);
}

TEST(CommunicatorTest, WaitReturnsOnceASlowCollectiveCompletes) {
  StalledCommunicator comm(/*polls=*/50);
  ASSERT_TRUE(comm.set_timeout_seconds(10).ok());
  EXPECT_TRUE(comm.Wait(7, "x").ok());
  EXPECT_EQ(comm.tests, 50);
}

TEST(CommunicatorTest, TimeoutMustBePositiveAndFinite) {
  SingleProcessCommunicator comm;
  EXPECT_FALSE(comm.set_timeout_seconds(0).ok());
  EXPECT_FALSE(comm.set_timeout_seconds(-1).ok());
  EXPECT_FALSE(comm.set_timeout_seconds(NAN).ok());
  EXPECT_FALSE(comm.set_timeout_seconds(INFINITY).ok());
  EXPECT_TRUE(comm.set_timeout_seconds(1.5).ok());
  EXPECT_EQ(comm.timeout_seconds(), 1.5);
}

}  // namespace
}  // namespace simdnet
