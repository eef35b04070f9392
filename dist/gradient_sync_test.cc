// Tests for GradientSync on a communicator that stands in for a second rank holding the same
// gradients: bucket planning, buckets started from backward hooks (before FinishStep), the
// share weighting, frozen parameters, buffer averaging and the consistency check.
#include "dist/gradient_sync.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/loss.h"
#include "layers/model_spec.h"
#include "tensor/rng.h"

namespace simdnet {
namespace {

constexpr char kSpec[] = R"(input 1x8x8
conv 4 k3 p1; bn; relu; maxpool k2
conv 6 k3 p1 nobias; bn; relu
flatten; linear 16; relu; linear classes
)";

// Rank 0 of two, where rank 1 always holds exactly the same data: sums double, maxima and
// broadcasts leave the data as is. Counts the collectives started.
class TwinCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string Describe() const override { return "twin"; }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<float> data) override {
    for (float& v : data) v *= 2.0f;
    return ++started;
  }
  absl::StatusOr<CollectiveId> StartSum(absl::Span<double> data) override {
    for (double& v : data) v *= 2.0;
    return ++started;
  }
  absl::StatusOr<CollectiveId> StartMax(absl::Span<double>) override { return ++started; }
  absl::StatusOr<CollectiveId> StartBroadcast(absl::Span<float>, int) override {
    return ++started;
  }
  absl::StatusOr<bool> Test(CollectiveId) override { return true; }
  void Abort(int) override {}
  int started = 0;
};

std::unique_ptr<Model> MakeModel() {
  auto m = ModelFromSpec(kSpec, std::nullopt, 3, /*seed=*/5);
  EXPECT_TRUE(m.ok()) << m.status();
  return std::move(m).value();
}

Tensor RandomBatch(int64_t n) {
  Tensor x(Shape({n, 1, 8, 8}));
  Rng rng(11);
  rng.FillNormal(x.data(), static_cast<size_t>(x.size()), 0.0f, 1.0f);
  return x;
}

float Backward(Model& model, const Tensor& x, const std::vector<int64_t>& labels) {
  model.ZeroGrad();
  auto loss = model.ForwardBackward(
      x, [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, labels, dz); });
  EXPECT_TRUE(loss.ok()) << loss.status();
  return *loss;
}

TEST(GradientSyncTest, BucketsCoverEveryTrainableParameterOnceInBackwardOrder) {
  auto model = MakeModel();
  TwinCommunicator comm;
  GradientSyncOptions o;
  o.bucket_bytes = 1;  // one bucket per layer with parameters
  auto sync = GradientSync::Create(model.get(), &comm, o);
  ASSERT_TRUE(sync.ok()) << sync.status();
  // Hooked leaves: conv (+ its bn), conv (+ its bn), linear, linear.
  ASSERT_EQ((*sync)->num_buckets(), 4);
  EXPECT_EQ((*sync)->BucketParams(2),
            (std::vector<std::string>{"4.weight", "5.weight", "5.bias"}));
  // The BatchNorm layers carry no hook (so Sequential may fuse them with their ReLU).
  for (const NamedLayer& child : model->root().Children()) {
    EXPECT_EQ(child.layer->has_hooks(), child.name == "0" || child.name == "4" ||
                                            child.name == "8" || child.name == "10")
        << child.name;
  }
  std::vector<std::string> order;
  for (int64_t b = 0; b < (*sync)->num_buckets(); ++b) {
    for (const std::string& name : (*sync)->BucketParams(b)) order.push_back(name);
  }
  std::vector<std::string> expected;
  for (const NamedParameter& p : model->Params()) expected.push_back(p.name);
  ASSERT_EQ(order.size(), expected.size());
  // Backward order: the last layer's parameters first.
  EXPECT_EQ(order.front(), expected[expected.size() - 2]);  // the last linear's weight
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()),
            std::set<std::string>(expected.begin(), expected.end()));
  int64_t bytes = 0;
  for (const NamedParameter& p : model->Params()) bytes += 4 * p.param->value.size();
  EXPECT_EQ((*sync)->gradient_bytes(), bytes);

  o.bucket_bytes = int64_t{1} << 30;
  auto one = GradientSync::Create(model.get(), &comm, o);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one)->num_buckets(), 1);
  o.bucket_bytes = 0;
  EXPECT_FALSE(GradientSync::Create(model.get(), &comm, o).ok());
}

TEST(GradientSyncTest, BucketsStartDuringBackwardAndTheWeightedSumIsTheGlobalGradient) {
  const Tensor x = RandomBatch(6);
  const std::vector<int64_t> labels = {0, 1, 2, 2, 1, 0};
  auto reference = MakeModel();
  Backward(*reference, x, labels);

  auto model = MakeModel();
  TwinCommunicator comm;
  GradientSyncOptions o;
  o.bucket_bytes = 256;
  auto sync = GradientSync::Create(model.get(), &comm, o);
  ASSERT_TRUE(sync.ok());
  ASSERT_GT((*sync)->num_buckets(), 2);
  // This rank holds half of the global batch; the twin holds an identical half.
  (*sync)->BeginStep(0.5);
  Backward(*model, x, labels);
  // Every bucket was started by the backward hooks, none waited for FinishStep.
  EXPECT_EQ(comm.started, (*sync)->num_buckets());
  ASSERT_TRUE((*sync)->FinishStep().ok());
  auto got = model->Params();
  auto want = reference->Params();
  for (size_t i = 0; i < got.size(); ++i) {
    const Tensor& g = got[i].param->grad;
    for (int64_t j = 0; j < g.size(); ++j) {
      ASSERT_EQ(g.data()[j], want[i].param->grad.data()[j]) << got[i].name << "[" << j << "]";
    }
  }
  // A second step reuses the buckets.
  comm.started = 0;
  (*sync)->BeginStep(0.5);
  Backward(*model, x, labels);
  ASSERT_TRUE((*sync)->FinishStep().ok());
  EXPECT_EQ(comm.started, (*sync)->num_buckets());
}

TEST(GradientSyncTest, ARankWithoutSamplesStillContributesEveryBucket) {
  auto model = MakeModel();
  TwinCommunicator comm;
  auto sync = GradientSync::Create(model.get(), &comm, GradientSyncOptions{});
  ASSERT_TRUE(sync.ok());
  model->ZeroGrad();
  (*sync)->BeginStep(0.0);  // no backward pass on this rank
  ASSERT_TRUE((*sync)->FinishStep().ok());
  EXPECT_EQ(comm.started, (*sync)->num_buckets());
}

TEST(GradientSyncTest, FrozenParametersAreNotExchanged) {
  auto model = MakeModel();
  // The first conv and its BatchNorm (layers "0" and "1" of the unnamed spec).
  for (const char* prefix : {"0", "1"}) {
    auto frozen = model->Freeze(prefix);
    ASSERT_TRUE(frozen.ok()) << frozen.status();
  }
  TwinCommunicator comm;
  GradientSyncOptions o;
  o.bucket_bytes = 1;
  auto sync = GradientSync::Create(model.get(), &comm, o);
  ASSERT_TRUE(sync.ok());
  for (int64_t b = 0; b < (*sync)->num_buckets(); ++b) {
    for (const std::string& name : (*sync)->BucketParams(b)) {
      EXPECT_NE(name.substr(0, 2), "0.") << name;
      EXPECT_NE(name.substr(0, 2), "1.") << name;
    }
  }
  EXPECT_EQ((*sync)->num_buckets(), 3);  // conv (+ bn) and the two linear layers
}

TEST(GradientSyncTest, BufferAverageBroadcastAndConsistencyCheckKeepIdenticalTwinsUnchanged) {
  auto model = MakeModel();
  Backward(*model, RandomBatch(4), {0, 1, 2, 0});  // BatchNorm running statistics move
  std::vector<std::vector<float>> before;
  for (NamedBuffer& b : model->Buffers()) {
    before.emplace_back(b.value->data(), b.value->data() + b.value->size());
  }
  ASSERT_FALSE(before.empty());
  TwinCommunicator comm;
  auto sync = GradientSync::Create(model.get(), &comm, GradientSyncOptions{});
  ASSERT_TRUE(sync.ok());
  ASSERT_TRUE((*sync)->AverageBuffers().ok());
  ASSERT_TRUE((*sync)->BroadcastModel().ok());
  ASSERT_TRUE((*sync)->CheckInSync().ok());
  size_t i = 0;
  for (NamedBuffer& b : model->Buffers()) {
    EXPECT_EQ(std::vector<float>(b.value->data(), b.value->data() + b.value->size()), before[i])
        << b.name;
    ++i;
  }
}

TEST(GradientSyncTest, DestructionRemovesTheHooks) {
  auto model = MakeModel();
  TwinCommunicator comm;
  {
    auto sync = GradientSync::Create(model.get(), &comm, GradientSyncOptions{});
    ASSERT_TRUE(sync.ok());
  }
  Backward(*model, RandomBatch(2), {0, 1});
  EXPECT_EQ(comm.started, 0);
}

}  // namespace
}  // namespace simdnet
