// Tests for ProgressReporter with a fake clock: terminal redraws (rate limit, '\r', blanking),
// plain lines every N seconds, ETA and throughput arithmetic.
#include "train/progress.h"

#include <limits>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace simdnet {
namespace {

struct FakeClock {
  double now = 100.0;
  ProgressReporter::Clock fn() {
    return [this] { return now; };
  }
};

TEST(FormatDurationTest, FormatsMinutesAndHours) {
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(59.9), "0:59");
  EXPECT_EQ(FormatDuration(61), "1:01");
  EXPECT_EQ(FormatDuration(3600 + 2 * 60 + 3), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "?");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::quiet_NaN()), "?");
}

TEST(ProgressTest, LineShowsCountsRateLossAccuracyAndEta) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o;
  o.label = "epoch 2/5";
  o.total_batches = 100;
  ProgressReporter p(o, &out, clock.fn());
  ProgressStats s{25, 1600, 0.123456, 0.875};
  // 25 batches in 10 s -> 75 left at 2.5 batch/s = 30 s; 1600 images / 10 s = 160 img/s.
  EXPECT_EQ(p.FormatLine(s, clock.now + 10, false),
            "epoch 2/5 25/100 ( 25%) | 160 img/s | loss 0.1235 | acc 87.50% | ETA 0:30");
  EXPECT_EQ(p.FormatLine(s, clock.now + 10, true),
            "epoch 2/5 25/100 ( 25%) | 160 img/s | loss 0.1235 | acc 87.50% | done in 0:10");
}

TEST(ProgressTest, EtaUnknownBeforeFirstBatchAndWithoutTotal) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o;
  o.total_batches = 10;
  ProgressReporter p(o, &out, clock.fn());
  EXPECT_TRUE(absl::EndsWith(p.FormatLine({0, 0, 0, 0}, clock.now, false), "ETA ?"));
  ProgressOptions u;
  ProgressReporter q(u, &out, clock.fn());
  const std::string line = q.FormatLine({7, 70, 1.0, 0.5}, clock.now + 1, false);
  EXPECT_TRUE(absl::StartsWith(line, "7 batches")) << line;
  EXPECT_FALSE(absl::StrContains(line, "ETA")) << line;
}

TEST(ProgressTest, TerminalDrawsBarAndRateLimitsRedraws) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o;
  o.label = "train";
  o.total_batches = 4;
  o.is_terminal = true;
  o.redraw_seconds = 0.5;
  o.bar_width = 8;
  o.columns = 200;
  ProgressReporter p(o, &out, clock.fn());
  clock.now += 1;
  EXPECT_TRUE(p.Update({1, 32, 2.0, 0.25}));  // First update always draws.
  clock.now += 0.1;
  EXPECT_FALSE(p.Update({2, 64, 1.5, 0.5}));  // Too soon.
  clock.now += 0.5;
  EXPECT_TRUE(p.Update({3, 96, 1.0, 0.75}));
  p.Finish({4, 128, 0.9, 0.8});
  const std::string s = out.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\r'), 3);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
  EXPECT_TRUE(absl::StrContains(s, "\rtrain [==>     ] 1/4 ( 25%)")) << s;
  EXPECT_TRUE(absl::StrContains(s, "\rtrain [======> ] 3/4 ( 75%)")) << s;
  EXPECT_TRUE(absl::StrContains(s, "\rtrain [========] 4/4 (100%)")) << s;
  EXPECT_FALSE(absl::StrContains(s, "2/4")) << s;
  EXPECT_TRUE(absl::EndsWith(s, "done in 0:01\n")) << s;
}

TEST(ProgressTest, TerminalBlanksLeftoversAndCutsToWidth) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o;
  o.total_batches = 10;
  o.is_terminal = true;
  o.redraw_seconds = 0;
  o.columns = 40;
  ProgressReporter p(o, &out, clock.fn());
  clock.now += 1;
  p.Update({1, 1000000, 123.456, 0.5});
  p.Update({2, 0, 1, 0.5});  // Shorter line: no img/s.
  const std::vector<std::string> draws = absl::StrSplit(out.str(), '\r', absl::SkipEmpty());
  ASSERT_EQ(draws.size(), 2u);
  EXPECT_EQ(draws[0].size(), 39u);  // Cut to columns - 1.
  EXPECT_EQ(draws[1].size(), 39u);  // Padded with blanks over the previous line.
  EXPECT_TRUE(absl::EndsWith(draws[1], " ")) << draws[1];
}

TEST(ProgressTest, PlainPrintsOneLineEveryInterval) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o;
  o.label = "epoch 1/1";
  o.total_batches = 1000;
  o.line_seconds = 10;
  ProgressReporter p(o, &out, clock.fn());
  int lines = 0;
  for (int b = 1; b <= 1000; ++b) {
    clock.now += 0.125;  // Exact in binary; 125 s in total.
    lines += p.Update({b, b * 64, 1.0 / b, 0.5});
  }
  p.Finish({1000, 64000, 0.001, 0.5});
  // One at the first batch, then every 10 s: at 0.125, 10.125, ..., 120.125 s -> 13, + Finish.
  EXPECT_EQ(lines, 13);
  const std::string s = out.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 14);
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_FALSE(absl::StrContains(s, "[")) << "no bar in plain mode";
  EXPECT_TRUE(absl::StrContains(s, "epoch 1/1 1000/1000 (100%) | 512 img/s")) << s;
  EXPECT_TRUE(absl::StrContains(s, "done in 2:05")) << s;
}

}  // namespace
}  // namespace simdnet
