// Tests for the initializers (distribution bounds and moments against the torch.nn.init
// formulas), the gain table, fan computation and the spec parser's acceptances and rejections.
#include "layers/init.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"

namespace simdnet {
namespace {

struct Moments {
  double mean = 0, std = 0, min = 1e30, max = -1e30;
};

Moments MomentsOf(const Tensor& t) {
  Moments m;
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < t.size(); ++i) {
    s += t[i];
    s2 += static_cast<double>(t[i]) * t[i];
    m.min = std::min(m.min, static_cast<double>(t[i]));
    m.max = std::max(m.max, static_cast<double>(t[i]));
  }
  const double n = static_cast<double>(t.size());
  m.mean = s / n;
  m.std = std::sqrt(s2 / n - m.mean * m.mean);
  return m;
}

void ExpectContains(const absl::Status& s, const std::string& what) {
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find(what), std::string::npos)
      << "message \"" << s.message() << "\" does not name \"" << what << "\"";
}

TEST(InitTest, GainsMatchTorchCalculateGain) {
  EXPECT_DOUBLE_EQ(InitGain(Nonlinearity::kLinear, 0), 1.0);
  EXPECT_DOUBLE_EQ(InitGain(Nonlinearity::kSigmoid, 0), 1.0);
  EXPECT_DOUBLE_EQ(InitGain(Nonlinearity::kTanh, 0), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(InitGain(Nonlinearity::kRelu, 0), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(InitGain(Nonlinearity::kLeakyRelu, 0.01), std::sqrt(2.0 / 1.0001));
  EXPECT_DOUBLE_EQ(InitGain(Nonlinearity::kLeakyRelu, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
}

TEST(InitTest, FansOfConvAndLinearWeights) {
  auto conv = ComputeFans(Shape({8, 3, 5, 5}));
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(conv->first, 75);
  EXPECT_EQ(conv->second, 200);
  auto linear = ComputeFans(Shape({10, 84}));
  ASSERT_TRUE(linear.ok());
  EXPECT_EQ(linear->first, 84);
  EXPECT_EQ(linear->second, 10);
  ExpectContains(ComputeFans(Shape({7})).status(), "(7)");
}

TEST(InitTest, ConstantFillsEveryElement) {
  InitSpec spec;
  spec.kind = InitKind::kConstant;
  spec.value = 0.25f;
  Tensor t(Shape({3, 7}));
  Rng rng(1);
  ASSERT_TRUE(InitTensor(spec, 1, 1, rng, &t).ok());
  for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(t[i], 0.25f);
}

TEST(InitTest, PyTorchDefaultIsUniformOneOverSqrtFanIn) {
  Tensor t(Shape({64, 100}));
  Rng rng(3);
  ASSERT_TRUE(InitTensor(PyTorchDefaultInit(), 100, 64, rng, &t).ok());
  const Moments m = MomentsOf(t);
  const double bound = 1.0 / std::sqrt(100.0);
  EXPECT_GE(m.min, -bound);
  EXPECT_LE(m.max, bound);
  EXPECT_GT(m.max, 0.95 * bound);  // 6400 draws reach close to the bound
  EXPECT_NEAR(m.std, bound / std::sqrt(3.0), 0.03 * bound);
  EXPECT_NEAR(m.mean, 0.0, 0.03 * bound);
}

TEST(InitTest, KaimingNormalFanOutRelu) {
  InitSpec spec;
  spec.kind = InitKind::kKaimingNormal;
  spec.fan_out = true;
  spec.nonlinearity = Nonlinearity::kRelu;
  Tensor t(Shape({20000}));
  Rng rng(4);
  ASSERT_TRUE(InitTensor(spec, /*fan_in=*/1000, /*fan_out=*/50, rng, &t).ok());
  const double expected = std::sqrt(2.0) / std::sqrt(50.0);
  EXPECT_NEAR(MomentsOf(t).std, expected, 0.02 * expected);
}

TEST(InitTest, KaimingUniformLeakyReluBound) {
  InitSpec spec;
  spec.kind = InitKind::kKaimingUniform;
  spec.a = 0.2f;
  Tensor t(Shape({20000}));
  Rng rng(5);
  ASSERT_TRUE(InitTensor(spec, 30, 1, rng, &t).ok());
  const double bound = std::sqrt(3.0) * std::sqrt(2.0 / (1.0 + 0.04)) / std::sqrt(30.0);
  const Moments m = MomentsOf(t);
  EXPECT_GE(m.min, -bound * (1 + 1e-6));
  EXPECT_LE(m.max, bound * (1 + 1e-6));
  EXPECT_GT(m.max, 0.99 * bound);
}

TEST(InitTest, XavierUniformAndNormalUseBothFans) {
  Tensor t(Shape({20000}));
  InitSpec spec;
  spec.kind = InitKind::kXavierUniform;
  spec.nonlinearity = Nonlinearity::kTanh;
  Rng rng(6);
  ASSERT_TRUE(InitTensor(spec, 40, 60, rng, &t).ok());
  const double stddev = (5.0 / 3.0) * std::sqrt(2.0 / 100.0);
  Moments m = MomentsOf(t);
  EXPECT_LE(m.max, std::sqrt(3.0) * stddev * (1 + 1e-6));
  EXPECT_NEAR(m.std, stddev, 0.02 * stddev);
  spec.kind = InitKind::kXavierNormal;
  spec.nonlinearity = Nonlinearity::kLinear;
  ASSERT_TRUE(InitTensor(spec, 40, 60, rng, &t).ok());
  m = MomentsOf(t);
  EXPECT_NEAR(m.std, std::sqrt(0.02), 0.02 * std::sqrt(0.02));
  EXPECT_NEAR(m.mean, 0.0, 0.01);
}

TEST(InitTest, NormalAndUniformUseTheirFields) {
  Tensor t(Shape({20000}));
  InitSpec spec;
  spec.kind = InitKind::kNormal;
  spec.std = 0.3f;
  Rng rng(7);
  ASSERT_TRUE(InitTensor(spec, 0, 0, rng, &t).ok());  // fans unused
  EXPECT_NEAR(MomentsOf(t).std, 0.3, 0.006);
  spec.kind = InitKind::kUniform;
  spec.low = 2.0f;
  spec.high = 3.0f;
  ASSERT_TRUE(InitTensor(spec, 0, 0, rng, &t).ok());
  const Moments m = MomentsOf(t);
  EXPECT_GE(m.min, 2.0);
  EXPECT_LT(m.max, 3.0);
  EXPECT_NEAR(m.mean, 2.5, 0.01);
}

TEST(InitTest, SameSeedSameValues) {
  Tensor a(Shape({5, 5})), b(Shape({5, 5}));
  Rng ra(11), rb(11);
  ASSERT_TRUE(InitTensor(PyTorchDefaultInit(), 25, 5, ra, &a).ok());
  ASSERT_TRUE(InitTensor(PyTorchDefaultInit(), 25, 5, rb, &b).ok());
  for (int64_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]);
}

TEST(InitTest, InitTensorRejectsBadFields) {
  Tensor t(Shape({4}));
  Rng rng(1);
  InitSpec spec;
  spec.kind = InitKind::kKaimingUniform;
  ExpectContains(InitTensor(spec, 0, 4, rng, &t), "fan_in");
  spec.fan_out = true;
  ExpectContains(InitTensor(spec, 4, 0, rng, &t), "fan_out");
  spec.kind = InitKind::kXavierNormal;
  ExpectContains(InitTensor(spec, 0, 3, rng, &t), "fan_in/fan_out");
  spec.kind = InitKind::kNormal;
  spec.std = -1.0f;
  ExpectContains(InitTensor(spec, 1, 1, rng, &t), "std");
  spec.kind = InitKind::kUniform;
  spec.low = 1.0f;
  spec.high = 0.0f;
  ExpectContains(InitTensor(spec, 1, 1, rng, &t), "low/high");
  spec.kind = InitKind::kConstant;
  spec.value = NAN;
  ExpectContains(InitTensor(spec, 1, 1, rng, &t), "value");
}

TEST(InitTest, ParsesExamples) {
  auto s = ParseInitSpec("xavier_uniform");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, InitKind::kXavierUniform);
  EXPECT_EQ(s->nonlinearity, Nonlinearity::kLinear);

  s = ParseInitSpec("kaiming_normal:fan_out:relu");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, InitKind::kKaimingNormal);
  EXPECT_TRUE(s->fan_out);
  EXPECT_EQ(s->nonlinearity, Nonlinearity::kRelu);

  s = ParseInitSpec("kaiming_uniform");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->fan_out);
  EXPECT_EQ(s->nonlinearity, Nonlinearity::kLeakyRelu);
  EXPECT_EQ(s->a, 0.0f);

  s = ParseInitSpec("kaiming_uniform:leaky_relu:a=0.2");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FLOAT_EQ(s->a, 0.2f);

  s = ParseInitSpec("normal:0.02");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, InitKind::kNormal);
  EXPECT_FLOAT_EQ(s->std, 0.02f);

  s = ParseInitSpec("constant:0");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->kind, InitKind::kConstant);
  EXPECT_EQ(s->value, 0.0f);

  s = ParseInitSpec("uniform:-0.1:0.2");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FLOAT_EQ(s->low, -0.1f);
  EXPECT_FLOAT_EQ(s->high, 0.2f);

  s = ParseInitSpec(" kaiming_normal : fan_out : relu ");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->fan_out);
  EXPECT_EQ(s->nonlinearity, Nonlinearity::kRelu);

  s = ParseInitSpec("pytorch_default");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FLOAT_EQ(s->a, std::sqrt(5.0f));
}

TEST(InitTest, FormatRoundTrips) {
  for (const char* text :
       {"constant:0.5", "normal:0.01", "uniform:-1:2", "xavier_normal:tanh",
        "kaiming_uniform:fan_out:relu:a=0", "kaiming_normal:fan_in:leaky_relu:a=0.100000001",
        "pytorch_default"}) {
    auto spec = ParseInitSpec(text);
    ASSERT_TRUE(spec.ok()) << text << ": " << spec.status();
    auto again = ParseInitSpec(FormatInitSpec(*spec));
    ASSERT_TRUE(again.ok()) << FormatInitSpec(*spec) << ": " << again.status();
    EXPECT_EQ(FormatInitSpec(*again), FormatInitSpec(*spec));
    EXPECT_EQ(again->a, spec->a);
    EXPECT_EQ(again->kind, spec->kind);
  }
}

TEST(InitTest, ParseRejectsWithTokenNamed) {
  ExpectContains(ParseInitSpec("").status(), "unknown init kind");
  ExpectContains(ParseInitSpec("gaussian").status(), "\"gaussian\"");
  ExpectContains(ParseInitSpec("constant").status(), "exactly one value");
  ExpectContains(ParseInitSpec("constant:abc").status(), "\"abc\"");
  ExpectContains(ParseInitSpec("constant:inf").status(), "finite");
  ExpectContains(ParseInitSpec("normal:-1").status(), "std must be >= 0");
  ExpectContains(ParseInitSpec("normal:1:2").status(), "\"2\"");
  ExpectContains(ParseInitSpec("uniform:1").status(), "both bounds");
  ExpectContains(ParseInitSpec("uniform:1:0").status(), "high must be >= low");
  ExpectContains(ParseInitSpec("xavier_uniform:swish").status(), "\"swish\"");
  ExpectContains(ParseInitSpec("kaiming_normal:fan_out:fan_in").status(), "fan mode given twice");
  ExpectContains(ParseInitSpec("kaiming_normal:relu:tanh").status(), "nonlinearity given twice");
  ExpectContains(ParseInitSpec("kaiming_normal:a=x").status(), "\"x\"");
  ExpectContains(ParseInitSpec("kaiming_normal:bogus").status(), "\"bogus\"");
  ExpectContains(ParseInitSpec("pytorch_default:1").status(), "no arguments");
}

}  // namespace
}  // namespace simdnet
