// Tests of gradient clipping by global norm and by value against a double
// reference, including frozen parameters, non-finite gradients and every
// rejection.
#include "optim/clip.h"

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "layers/layer.h"
#include "tensor/tensor.h"

namespace simdnet {
namespace {

using ::testing::HasSubstr;

struct OwnedParam {
  std::string name;
  Parameter p;
};

// Parameters with random gradients in [-scale, scale]: one large (several norm
// chunks), two small.
std::vector<OwnedParam> MakeParams(float scale, bool freeze_middle = false) {
  std::mt19937 gen(11);
  std::uniform_real_distribution<float> unif(-scale, scale);
  std::vector<OwnedParam> params;
  for (const auto& [name, n] : std::vector<std::pair<std::string, int64_t>>{
           {"a.weight", 10007}, {"a.bias", 3}, {"b.weight", 255}}) {
    OwnedParam op;
    op.name = name;
    op.p.value = Tensor(Shape({n}));
    op.p.grad = Tensor(Shape({n}));
    for (int64_t i = 0; i < n; ++i) op.p.grad[i] = unif(gen);
    params.push_back(op);
  }
  params[1].p.frozen = freeze_middle;
  return params;
}

std::vector<NamedParameter> Named(std::vector<OwnedParam>& params) {
  std::vector<NamedParameter> out;
  for (OwnedParam& op : params) out.push_back({op.name, &op.p});
  return out;
}

double ReferenceNorm(const std::vector<OwnedParam>& params) {
  double sum = 0;
  for (const OwnedParam& op : params) {
    if (op.p.frozen) continue;
    for (int64_t i = 0; i < op.p.grad.size(); ++i) {
      sum += static_cast<double>(op.p.grad[i]) * op.p.grad[i];
    }
  }
  return std::sqrt(sum);
}

std::vector<std::vector<float>> Grads(const std::vector<OwnedParam>& params) {
  std::vector<std::vector<float>> out;
  for (const OwnedParam& op : params) {
    out.emplace_back(op.p.grad.data(), op.p.grad.data() + op.p.grad.size());
  }
  return out;
}

TEST(ClipGradNormTest, NormMatchesDoubleReferenceAndIgnoresFrozen) {
  for (bool freeze : {false, true}) {
    std::vector<OwnedParam> params = MakeParams(1.0f, freeze);
    const double expected = ReferenceNorm(params);
    EXPECT_NEAR(GradNorm(Named(params)), expected, 1e-6 * expected);
  }
}

TEST(ClipGradNormTest, ScalesDownToMaxNormWhenAbove) {
  std::vector<OwnedParam> params = MakeParams(1.0f);
  const double before = ReferenceNorm(params);
  const std::vector<std::vector<float>> old = Grads(params);
  auto norm = ClipGradNorm(Named(params), 2.0);
  ASSERT_TRUE(norm.ok()) << norm.status();
  EXPECT_NEAR(*norm, before,
              1e-6 * before);  // Returns the norm before clipping.
  EXPECT_NEAR(ReferenceNorm(params), 2.0, 1e-5);
  // Every element scaled by the same coefficient max_norm / (norm + 1e-6).
  const double coef = 2.0 / (before + 1e-6);
  for (size_t p = 0; p < params.size(); ++p) {
    for (size_t i = 0; i < old[p].size(); i += 97) {
      EXPECT_NEAR(params[p].p.grad[static_cast<int64_t>(i)], old[p][i] * coef,
                  1e-6);
    }
  }
}

TEST(ClipGradNormTest, LeavesGradientsBitwiseUnchangedWhenBelow) {
  std::vector<OwnedParam> params = MakeParams(1e-3f);
  const std::vector<std::vector<float>> old = Grads(params);
  auto norm = ClipGradNorm(Named(params), 10.0);
  ASSERT_TRUE(norm.ok());
  EXPECT_LT(*norm, 10.0);
  EXPECT_EQ(Grads(params), old);
}

TEST(ClipGradNormTest, FrozenGradientsAreNotScaled) {
  std::vector<OwnedParam> params = MakeParams(1.0f, /*freeze_middle=*/true);
  const std::vector<std::vector<float>> old = Grads(params);
  ASSERT_TRUE(ClipGradNorm(Named(params), 0.5).ok());
  EXPECT_EQ(Grads(params)[1], old[1]);
  EXPECT_NE(Grads(params)[0], old[0]);
  EXPECT_NEAR(ReferenceNorm(params), 0.5, 1e-5);
}

TEST(ClipGradNormTest, NonFiniteGradientIsReportedByNameAndNothingChanges) {
  for (float bad : {std::nanf(""), INFINITY}) {
    std::vector<OwnedParam> params = MakeParams(1.0f);
    params[2].p.grad[17] = bad;
    const std::vector<std::vector<float>> old = Grads(params);
    auto norm = ClipGradNorm(Named(params), 1.0);
    ASSERT_FALSE(norm.ok());
    EXPECT_EQ(norm.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(norm.status().message()), HasSubstr("'b.weight'"));
    const std::vector<std::vector<float>> now = Grads(params);
    EXPECT_EQ(std::memcmp(now[0].data(), old[0].data(),
                          old[0].size() * sizeof(float)),
              0);
  }
}

TEST(ClipGradNormTest, RejectsBadArguments) {
  std::vector<OwnedParam> params = MakeParams(1.0f);
  for (double max_norm : {0.0, -1.0, std::nan(""), HUGE_VAL}) {
    auto norm = ClipGradNorm(Named(params), max_norm);
    EXPECT_EQ(norm.status().code(), absl::StatusCode::kInvalidArgument)
        << max_norm;
    EXPECT_THAT(std::string(norm.status().message()), HasSubstr("max_norm"));
  }
  params[1].p.grad = Tensor(Shape({4}));
  auto norm = ClipGradNorm(Named(params), 1.0);
  EXPECT_THAT(std::string(norm.status().message()), HasSubstr("'a.bias'"));
}

TEST(ClipGradValueTest, ClampsEveryNonFrozenElement) {
  std::vector<OwnedParam> params = MakeParams(3.0f, /*freeze_middle=*/true);
  const std::vector<std::vector<float>> old = Grads(params);
  ASSERT_TRUE(ClipGradValue(Named(params), 0.5).ok());
  const std::vector<std::vector<float>> now = Grads(params);
  EXPECT_EQ(now[1], old[1]);  // Frozen.
  for (size_t p : {size_t{0}, size_t{2}}) {
    for (size_t i = 0; i < old[p].size(); ++i) {
      ASSERT_EQ(now[p][i], std::min(0.5f, std::max(-0.5f, old[p][i])))
          << p << " " << i;
    }
  }
}

TEST(ClipGradValueTest, RejectsBadClipValue) {
  std::vector<OwnedParam> params = MakeParams(1.0f);
  for (double c : {0.0, -0.5, std::nan("")}) {
    const absl::Status status = ClipGradValue(Named(params), c);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr("clip_value"));
  }
}

}  // namespace
}  // namespace simdnet
