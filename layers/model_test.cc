// Model tests: a conv-bn-relu-pool-residual-linear network gradient-checked end to end (with
// and without the loss) against a double-precision reference, names, modes, freezing, head
// replacement, input validation and the summary table.
#include "layers/model.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/gradient_check.h"
#include "layers/linear.h"
#include "layers/loss.h"
#include "layers/pooling.h"
#include "layers/reference.h"
#include "layers/residual.h"
#include "layers/sequential.h"

namespace simdnet {
namespace {

// The small network under test, per sample (3, 6, 6):
//   0 conv 4 k3 p1 -> (4, 6, 6); 1 bn; 2 relu; 3 maxpool k2 -> (4, 3, 3);
//   4 residual { conv 4 k3 p1; tanh } + identity; 5 flatten -> (36); 6 linear 5.
constexpr int64_t kC = 3, kH = 6, kW = 6, kF = 4, kClasses = 5;

std::unique_ptr<Model> MakeSmallNet(uint64_t seed) {
  Rng rng(seed);
  auto root = std::move(Sequential::Create(Shape({kC, kH, kW}))).value();
  Conv2dOptions conv;
  conv.out_channels = kF;
  conv.kernel_h = conv.kernel_w = 3;
  conv.pad_h = conv.pad_w = 1;
  EXPECT_TRUE(root->Add(Conv2d::Create(conv, root->OutputShape(), rng)).ok());
  EXPECT_TRUE(root->Add(BatchNorm2d::Create({}, root->OutputShape())).ok());
  EXPECT_TRUE(root->Add(Activation::Create({}, root->OutputShape())).ok());
  Pool2dOptions pool;
  EXPECT_TRUE(root->Add(Pool2d::Create(pool, root->OutputShape())).ok());
  auto main = std::move(Sequential::Create(root->OutputShape())).value();
  EXPECT_TRUE(main->Add(Conv2d::Create(conv, main->OutputShape(), rng)).ok());
  ActivationOptions tanh;
  tanh.kind = ActivationKind::kTanh;
  EXPECT_TRUE(main->Add(Activation::Create(tanh, main->OutputShape())).ok());
  EXPECT_TRUE(root->Add(Residual::Create(std::move(main), nullptr)).ok());
  EXPECT_TRUE(root->Add(Flatten::Create(root->OutputShape())).ok());
  LinearOptions linear;
  linear.out_features = kClasses;
  EXPECT_TRUE(root->Add(Linear::Create(linear, root->OutputShape(), rng)).ok());
  return std::move(Model::Create(std::move(root), kClasses)).value();
}

// Double reference of MakeSmallNet in training mode (batch statistics), params in Params()
// order: conv0 w, b; bn w, b; res conv w, b; linear w, b.
std::vector<double> RefSmallNet(const std::vector<double>& x,
                                const std::vector<std::vector<double>>& p, int64_t n) {
  reference::ConvDims d{n, kC, kH, kW, kF, 3, 3};
  d.ph = d.pw = 1;
  std::vector<double> a = reference::Conv2d(x, p[0], p[1], d);
  a = reference::BatchNormTrain(a, p[2], p[3], n, kF, kH * kW, 1e-5);
  for (double& v : a) v = std::max(v, 0.0);
  const int64_t h2 = kH / 2, w2 = kW / 2;
  std::vector<double> pooled(static_cast<size_t>(n * kF * h2 * w2));
  for (int64_t pl = 0; pl < n * kF; ++pl) {
    for (int64_t y = 0; y < h2; ++y) {
      for (int64_t xx = 0; xx < w2; ++xx) {
        double m = -1e300;
        for (int64_t ky = 0; ky < 2; ++ky) {
          for (int64_t kx = 0; kx < 2; ++kx) {
            m = std::max(m, a[static_cast<size_t>((pl * kH + 2 * y + ky) * kW + 2 * xx + kx)]);
          }
        }
        pooled[static_cast<size_t>((pl * h2 + y) * w2 + xx)] = m;
      }
    }
  }
  reference::ConvDims d2{n, kF, h2, w2, kF, 3, 3};
  d2.ph = d2.pw = 1;
  std::vector<double> r = reference::Conv2d(pooled, p[4], p[5], d2);
  for (size_t i = 0; i < r.size(); ++i) r[i] = std::tanh(r[i]) + pooled[i];
  return reference::Linear(r, p[6], p[7], n, kF * h2 * w2, kClasses);
}

TEST(ModelTest, SmallNetworkGradientsMatchDoubleReferenceEndToEnd) {
  auto model = MakeSmallNet(11);
  const int64_t n = 3;
  GradCheckOptions o;
  o.reference = [n](const std::vector<double>& x, const std::vector<std::vector<double>>& p) {
    return RefSmallNet(x, p, n);
  };
  // Float rounding through 7 layers (conv sums of 27-36 terms, BN normalization): forward
  // within 1e-4; gradients within 2e-3 abs + 2e-3 rel of the double central difference.
  o.forward_abs_tol = 1e-4;
  o.forward_rel_tol = 1e-4;
  o.grad_abs_tol = 2e-3;
  o.grad_rel_tol = 2e-3;
  EXPECT_TRUE(CheckLayerGradients(model->root(), n, o));
}

TEST(ModelTest, NetworkPlusLossGradientAtInputMatchesReference) {
  auto model = MakeSmallNet(12);
  const int64_t n = 2;
  const std::vector<int64_t> labels = {3, 0};
  std::vector<std::vector<double>> params;
  for (const NamedParameter& p : model->Params()) {
    params.emplace_back(p.param->value.data(), p.param->value.data() + p.param->value.size());
  }
  const LossUnderTest loss = [&](const Tensor& x, Tensor* dx) -> absl::StatusOr<float> {
    model->ZeroGrad();
    return model->ForwardBackward(
        x, [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, labels, dz); },
        nullptr, dx);
  };
  const ReferenceLoss reference = [&](const std::vector<double>& x) {
    const std::vector<double> z = RefSmallNet(x, params, n);
    double total = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      double m = -1e300, s = 0.0;
      for (int64_t k = 0; k < kClasses; ++k) m = std::max(m, z[i * kClasses + k]);
      for (int64_t k = 0; k < kClasses; ++k) s += std::exp(z[i * kClasses + k] - m);
      total += std::log(s) + m - z[i * kClasses + labels[i]];
    }
    return total / static_cast<double>(n);
  };
  GradCheckOptions o;
  o.forward_abs_tol = 1e-4;
  o.forward_rel_tol = 1e-4;
  o.grad_abs_tol = 1e-3;
  o.grad_rel_tol = 2e-3;
  EXPECT_TRUE(CheckLossGradients(loss, Shape({n, kC, kH, kW}), reference, o));
}

TEST(ModelTest, ParameterNamesAreHierarchical) {
  auto model = MakeSmallNet(1);
  std::vector<std::string> names;
  for (const NamedParameter& p : model->Params()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias",
                                             "4.0.weight", "4.0.bias", "6.weight", "6.bias"}));
  std::vector<std::string> buffers;
  for (const NamedBuffer& b : model->Buffers()) buffers.push_back(b.name);
  EXPECT_EQ(buffers, (std::vector<std::string>{"1.running_mean", "1.running_var"}));
  EXPECT_EQ(model->ParameterCount(), (4 * 27 + 4) + 8 + (4 * 36 + 4) + (5 * 36 + 5));
}

TEST(ModelTest, EvalModeIsDeterministicAndUsesRunningStatistics) {
  auto model = MakeSmallNet(2);
  Tensor x(Shape({4, kC, kH, kW}));
  Rng rng(9);
  rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
  Tensor train_logits, eval1, eval2, one;
  ASSERT_TRUE(model->Forward(x, &train_logits).ok());
  model->SetMode(Mode::kEval);
  EXPECT_EQ(model->mode(), Mode::kEval);
  EXPECT_EQ(model->root().layer(1).mode(), Mode::kEval);
  ASSERT_TRUE(model->Forward(x, &eval1).ok());
  ASSERT_TRUE(model->Forward(x, &eval2).ok());
  bool differs = false;
  for (int64_t i = 0; i < eval1.size(); ++i) {
    EXPECT_EQ(eval1[i], eval2[i]);
    differs |= eval1[i] != train_logits[i];
  }
  EXPECT_TRUE(differs) << "eval used batch statistics";
  // In eval each sample's logits do not depend on the rest of the batch.
  ASSERT_TRUE(model->Forward(x.Slice(0, 1).Clone(), &one).ok());
  for (int64_t k = 0; k < kClasses; ++k) EXPECT_NEAR(one[k], eval1[k], 1e-6);
}

TEST(ModelTest, ForwardRejectsWrongInputShape) {
  auto model = MakeSmallNet(3);
  Tensor logits;
  for (const Shape& s : {Shape({2, kC, kH, kW + 1}), Shape({kC, kH, kW}), Shape({0, kC, kH, kW})}) {
    const absl::Status status = model->Forward(Tensor(s), &logits);
    ASSERT_FALSE(status.ok()) << s.ToString();
    EXPECT_NE(status.message().find(s.ToString()), std::string::npos) << status;
    EXPECT_NE(status.message().find("(N, 3, 6, 6)"), std::string::npos) << status;
  }
}

TEST(ModelTest, ForwardBackwardReturnsLossErrorsBeforeTouchingGradients) {
  auto model = MakeSmallNet(4);
  model->ZeroGrad();
  Tensor x(Shape({2, kC, kH, kW}));
  x.SetAll(0.5f);
  const std::vector<int64_t> bad_labels = {0, 7};
  auto result = model->ForwardBackward(
      x, [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, bad_labels, dz); });
  ASSERT_FALSE(result.ok());
  for (const NamedParameter& p : model->Params()) {
    for (int64_t i = 0; i < p.param->grad.size(); ++i) ASSERT_EQ(p.param->grad[i], 0.0f);
  }
}

TEST(ModelTest, GradientsAccumulateUntilZeroGradAndRunsAreReproducible) {
  auto run = [](uint64_t seed, int steps) {
    auto model = MakeSmallNet(seed);
    Tensor x(Shape({2, kC, kH, kW}));
    Rng rng(seed + 1);
    rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
    const std::vector<int64_t> labels = {4, 1};
    model->ZeroGrad();
    for (int i = 0; i < steps; ++i) {
      EXPECT_TRUE(model
                      ->ForwardBackward(x,
                                        [&](const Tensor& z, Tensor* dz) {
                                          return SoftmaxCrossEntropy(z, labels, dz);
                                        })
                      .ok());
    }
    std::vector<float> grads;
    for (const NamedParameter& p : model->Params()) {
      grads.insert(grads.end(), p.param->grad.data(),
                   p.param->grad.data() + p.param->grad.size());
    }
    return grads;
  };
  const std::vector<float> once = run(8, 1), again = run(8, 1), twice = run(8, 2);
  EXPECT_EQ(once, again);  // fixed seed and thread count: bit-identical
  ASSERT_EQ(once.size(), twice.size());
  for (size_t i = 0; i < once.size(); ++i) {
    // The same input twice: batch statistics repeat, so the second backward adds the same
    // gradient (up to rounding of the running-average update, which the gradient ignores).
    EXPECT_NEAR(twice[i], 2.0f * once[i], 1e-5f + 1e-5f * std::abs(once[i])) << i;
  }
}

TEST(ModelTest, FrozenParametersGetNoGradient) {
  auto model = MakeSmallNet(5);
  auto frozen = model->Freeze("0");
  ASSERT_TRUE(frozen.ok());
  EXPECT_EQ(*frozen, 2);
  EXPECT_EQ(*model->Freeze("4"), 2);  // "4" matches "4.0.weight", not "40..."
  EXPECT_EQ(model->TrainableParameterCount(), 8 + (5 * 36 + 5));
  EXPECT_EQ(model->Freeze("nothing").status().code(), absl::StatusCode::kNotFound);
  model->ZeroGrad();
  Tensor x(Shape({2, kC, kH, kW}));
  Rng rng(1);
  rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
  const std::vector<int64_t> labels = {1, 2};
  ASSERT_TRUE(model
                  ->ForwardBackward(x,
                                    [&](const Tensor& z, Tensor* dz) {
                                      return SoftmaxCrossEntropy(z, labels, dz);
                                    })
                  .ok());
  for (const NamedParameter& p : model->Params()) {
    float max_abs = 0.0f;
    for (int64_t i = 0; i < p.param->grad.size(); ++i) {
      max_abs = std::max(max_abs, std::abs(p.param->grad[i]));
    }
    if (p.param->frozen) {
      EXPECT_EQ(max_abs, 0.0f) << p.name;
    } else {
      EXPECT_GT(max_abs, 0.0f) << p.name;
    }
  }
  EXPECT_EQ(*model->Unfreeze(""), 8);
  EXPECT_EQ(model->TrainableParameterCount(), model->ParameterCount());
}

TEST(ModelTest, ReplaceHeadKeepsTheBodyAndChangesTheClassCount) {
  auto model = MakeSmallNet(6);
  const float body_w0 = model->Params()[0].param->value[0];
  ASSERT_TRUE(model->Freeze("0").ok());
  Rng rng(77);
  ASSERT_TRUE(model->ReplaceHead(3, rng).ok());
  EXPECT_EQ(model->num_classes(), 3);
  EXPECT_EQ(model->root().OutputShape(), Shape({3}));
  auto params = model->Params();
  EXPECT_EQ(params[0].param->value[0], body_w0);
  EXPECT_TRUE(params[0].param->frozen);
  EXPECT_EQ(params.back().name, "6.bias");
  EXPECT_EQ(params.back().param->value.shape(), Shape({3}));
  EXPECT_FALSE(params.back().param->frozen);
  Tensor x(Shape({2, kC, kH, kW})), logits;
  ASSERT_TRUE(model->Forward(x, &logits).ok());
  EXPECT_EQ(logits.shape(), Shape({2, 3}));
  EXPECT_EQ(model->ReplaceHead(0, rng).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ModelTest, ReplaceHeadRejectsANonLinearLastLayer) {
  auto root = std::move(Sequential::Create(Shape({4}))).value();
  ASSERT_TRUE(root->Add(Activation::Create({}, Shape({4}))).ok());
  auto model = std::move(Model::Create(std::move(root), 4)).value();
  Rng rng(1);
  const absl::Status s = model->ReplaceHead(2, rng);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("ReLU()"), std::string::npos) << s;
}

TEST(ModelTest, CreateRejectsOutputThatIsNotTheClassCount) {
  auto root = std::move(Sequential::Create(Shape({2, 3}))).value();
  auto model = Model::Create(std::move(root), 6);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("(2, 3)"), std::string::npos) << model.status();
  EXPECT_NE(model.status().message().find("(6)"), std::string::npos) << model.status();
  EXPECT_FALSE(Model::Create(nullptr, 3).ok());
}

TEST(ModelTest, SummaryListsLayersShapesAndTotals) {
  auto model = MakeSmallNet(7);
  ASSERT_TRUE(model->Freeze("6").ok());
  const std::string s = model->Summary();
  for (const char* fragment :
       {"Layer", "Output shape", "Param #", "Conv2d(3, 4", "(4, 6, 6)", "(4, 3, 3)",
        "  4.0", "  4.shortcut", "Identity()", "Linear(36, 5)", "(5)",
        "Total params: 453", "Trainable params: 268", "Frozen params: 185",
        "Buffer scalars (not trained): 8", "Input shape (per sample): (3, 6, 6)",
        // conv 108 weights x 36 positions + conv 144 x 9 + linear 180.
        "Mult-adds", "Forward mult-adds per sample: 5,364"}) {
    EXPECT_NE(s.find(fragment), std::string::npos) << fragment << "\n" << s;
  }
}

}  // namespace
}  // namespace simdnet
