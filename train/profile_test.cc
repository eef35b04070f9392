// Tests for the per-layer profiler and the bench command: every layer is timed in forward and
// backward, containers include their children, the profiler uninstalls itself, and bad bench
// options name the flag.
#include "train/profile.h"

#include <map>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "layers/model_spec.h"
#include "train/bench_command.h"

namespace simdnet {
namespace {

constexpr char kSpec[] = R"(input 1x12x12
block features { conv 4 k3 p1; relu; residual { conv 4 k3 p1; relu }; maxpool k2 }
block head { flatten; linear classes }
)";

// Counts the calls per layer and per direction (a stand-in timer that sees what the containers
// report).
class CountingTimer : public LayerTimer {
 public:
  void Record(const Layer& layer, bool backward, int64_t batch, double seconds) override {
    ++(backward ? backward_calls : forward_calls)[&layer];
    EXPECT_EQ(batch, 2);
    EXPECT_GE(seconds, 0.0);
  }
  std::map<const Layer*, int> forward_calls, backward_calls;
};

TEST(ProfileTest, EveryLayerIsTimedOnceForwardAndOnceBackwardPerCall) {
  auto model = ModelFromSpec(kSpec, std::nullopt, 3, 1);
  ASSERT_TRUE(model.ok()) << model.status();
  CountingTimer timer;
  SetLayerTimer(&timer);
  Tensor x(Shape({2, 1, 12, 12})), logits, dx;
  x.SetAll(0.5f);
  ASSERT_TRUE((*model)->Forward(x, &logits).ok());
  Tensor g(logits.shape());
  g.SetAll(1.0f);
  ASSERT_TRUE((*model)->InputGradient(g, &dx).ok());
  SetLayerTimer(nullptr);
  // Every layer below the root: features, features.0, .1, .2 (residual), .2.0, .2.1, .3,
  // head, head.0, head.1.
  int layers = 0;
  (*model)->ForEachLayer([&](const std::string& path, Layer& layer, int) {
    ++layers;
    EXPECT_EQ(timer.forward_calls[&layer], 1) << path;
    EXPECT_EQ(timer.backward_calls[&layer], 1) << path;
  });
  EXPECT_EQ(layers, 10);
  ASSERT_TRUE((*model)->Forward(x, &logits).ok());  // uninstalled: nothing more recorded
  EXPECT_EQ(timer.forward_calls[*(*model)->FindLayer("features.0")], 1);
}

TEST(ProfileTest, TableListsLayersWithTimesSharesAndGflops) {
  auto model = ModelFromSpec(kSpec, std::nullopt, 3, 1);
  ASSERT_TRUE(model.ok());
  Tensor x(Shape({4, 1, 12, 12})), logits;
  x.SetAll(0.25f);
  std::string table;
  {
    ModelProfiler profiler(**model);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE((*model)->Forward(x, &logits).ok());
    EXPECT_GT(profiler.LeafForwardSeconds(), 0.0);
    EXPECT_EQ(profiler.LeafBackwardSeconds(), 0.0);
    table = profiler.Format();
  }
  for (const char* fragment : {"layer", "fwd ms", "share", "fwd GF/s", "features.0",
                               "  features.2.0", "head.1", "3 forward calls (12 samples)"}) {
    EXPECT_NE(table.find(fragment), std::string::npos) << fragment << "\n" << table;
  }
}

TEST(BenchTest, ReportsEveryBatchSizeAndRejectsBadOptions) {
  BenchOptions o;
  o.model = "lenet5";
  o.batch_sizes = {1, 3};
  o.seconds = 0.01;
  o.profile = true;
  auto report = RunBench(o);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const char* fragment : {"lenet5", "images/s", "p50", "inference profile, batch 3",
                               "training-step profile", "classifier.1"}) {
    EXPECT_NE(report->find(fragment), std::string::npos) << fragment << "\n" << *report;
  }
  o.batch_sizes = {0};
  EXPECT_NE(RunBench(o).status().message().find("--batch_sizes"), std::string::npos);
  o.batch_sizes = {1};
  o.seconds = 0.0;
  EXPECT_NE(RunBench(o).status().message().find("--bench_seconds"), std::string::npos);
  o.seconds = 0.01;
  o.model = "no_such_model";
  EXPECT_FALSE(RunBench(o).ok());
}

}  // namespace
}  // namespace simdnet
