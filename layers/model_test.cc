// Model tests: a conv-bn-relu-pool-residual-linear network gradient-checked end to end (with
// and without the loss) against a double-precision reference, names, modes, freezing, head
// replacement, input validation and the summary table.
#include "layers/model.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
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
#include "tensor/status_macros.h"

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

// The double reference's intermediate results for MakeSmallNet.
struct RefStages {
  std::vector<double> pooled;    // output of layer "3"
  std::vector<double> res_conv;  // output of layer "4.0" (the residual's conv)
  std::vector<double> logits;    // output of the network
};

// Double reference of MakeSmallNet, params in Params() order: conv0 w, b; bn w, b; res conv
// w, b; linear w, b. Training mode (batch statistics) unless `running` holds the BN running
// mean and variance (evaluation mode).
RefStages RefSmallNetStages(const std::vector<double>& x,
                            const std::vector<std::vector<double>>& p, int64_t n,
                            const std::vector<std::vector<double>>* running = nullptr) {
  reference::ConvDims d{n, kC, kH, kW, kF, 3, 3};
  d.ph = d.pw = 1;
  std::vector<double> a = reference::Conv2d(x, p[0], p[1], d);
  a = running == nullptr
          ? reference::BatchNormTrain(a, p[2], p[3], n, kF, kH * kW, 1e-5)
          : reference::BatchNormEval(a, p[2], p[3], (*running)[0], (*running)[1], n, kF,
                                     kH * kW, 1e-5);
  for (double& v : a) v = std::max(v, 0.0);
  const int64_t h2 = kH / 2, w2 = kW / 2;
  RefStages out;
  out.pooled.resize(static_cast<size_t>(n * kF * h2 * w2));
  for (int64_t pl = 0; pl < n * kF; ++pl) {
    for (int64_t y = 0; y < h2; ++y) {
      for (int64_t xx = 0; xx < w2; ++xx) {
        double m = -1e300;
        for (int64_t ky = 0; ky < 2; ++ky) {
          for (int64_t kx = 0; kx < 2; ++kx) {
            m = std::max(m, a[static_cast<size_t>((pl * kH + 2 * y + ky) * kW + 2 * xx + kx)]);
          }
        }
        out.pooled[static_cast<size_t>((pl * h2 + y) * w2 + xx)] = m;
      }
    }
  }
  reference::ConvDims d2{n, kF, h2, w2, kF, 3, 3};
  d2.ph = d2.pw = 1;
  out.res_conv = reference::Conv2d(out.pooled, p[4], p[5], d2);
  std::vector<double> r(out.res_conv.size());
  for (size_t i = 0; i < r.size(); ++i) r[i] = std::tanh(out.res_conv[i]) + out.pooled[i];
  out.logits = reference::Linear(r, p[6], p[7], n, kF * h2 * w2, kClasses);
  return out;
}

std::vector<double> RefSmallNet(const std::vector<double>& x,
                                const std::vector<std::vector<double>>& p, int64_t n) {
  return RefSmallNetStages(x, p, n).logits;
}

std::vector<std::vector<double>> ParamValues(Model& model) {
  std::vector<std::vector<double>> params;
  for (const NamedParameter& p : model.Params()) {
    params.emplace_back(p.param->value.data(), p.param->value.data() + p.param->value.size());
  }
  return params;
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
  const std::vector<std::vector<double>> params = ParamValues(*model);
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

// Parameter gradients of one ForwardBackward, with or without the input gradient.
std::vector<std::vector<float>> StepGradients(Model& model, const Tensor& x, bool with_dx) {
  model.ZeroGrad();
  const std::vector<int64_t> labels = {1, 2, 0};
  Tensor dx;
  EXPECT_TRUE(model
                  .ForwardBackward(
                      x, [&](const Tensor& z, Tensor* dz) { return SoftmaxCrossEntropy(z, labels, dz); },
                      nullptr, with_dx ? &dx : nullptr)
                  .ok());
  std::vector<std::vector<float>> grads;
  for (const NamedParameter& p : model.Params()) {
    grads.emplace_back(p.param->grad.data(), p.param->grad.data() + p.param->grad.size());
  }
  return grads;
}

TEST(ModelTest, BackwardWithoutInputGradientStopsAtTheLowestLayerThatLearns) {
  Tensor x(Shape({3, kC, kH, kW}));
  Rng rng(3);
  rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
  // Nothing frozen: the same gradients, bit for bit.
  auto model = MakeSmallNet(6);
  EXPECT_EQ(StepGradients(*model, x, false), StepGradients(*model, x, true));
  // Everything but the residual block and the head frozen: layers 0-3 do not run backward.
  ASSERT_TRUE(model->Freeze("0").ok());
  ASSERT_TRUE(model->Freeze("1").ok());
  int below = 0, residual = 0;
  for (const char* name : {"0", "1", "2", "3"}) {
    (*model->FindLayer(name))->set_backward_hook([&](const Tensor&, Tensor*) { ++below; });
  }
  (*model->FindLayer("4"))->set_backward_hook([&](const Tensor&, Tensor*) { ++residual; });
  const auto with_dx = StepGradients(*model, x, true);
  EXPECT_EQ(below, 4);
  below = residual = 0;
  const auto params_only = StepGradients(*model, x, false);
  EXPECT_EQ(below, 0);
  EXPECT_EQ(residual, 1);
  EXPECT_EQ(params_only, with_dx);
  // Only the head learns: the backward pass is the head's alone.
  ASSERT_TRUE(model->Freeze("4").ok());
  below = residual = 0;
  EXPECT_EQ(StepGradients(*model, x, false), StepGradients(*model, x, true));
  EXPECT_EQ(residual, 1);  // the run with dx
  // Nothing learns: no backward at all, every gradient stays zero.
  ASSERT_TRUE(model->Freeze("").ok());
  below = residual = 0;
  for (const auto& g : StepGradients(*model, x, false)) {
    for (float v : g) EXPECT_EQ(v, 0.0f);
  }
  EXPECT_EQ(below + residual, 0);
}

TEST(ModelTest, FreezeListTakesPrefixesAndTheBackbone) {
  auto model = MakeSmallNet(8);
  EXPECT_EQ(model->HeadName(), "6");
  EXPECT_EQ(*model->FreezeList("0, 4"), 4);
  EXPECT_EQ(*model->Unfreeze(""), 8);
  EXPECT_EQ(*model->FreezeList("backbone"), 6);
  for (const NamedParameter& p : model->Params()) {
    EXPECT_EQ(p.param->frozen, p.name.rfind("6.", 0) != 0) << p.name;
  }
  auto bad = model->FreezeList("features");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("top-level layers: 0, 1, 2, 3, 4, 5, 6"),
            std::string::npos)
      << bad.status();
  EXPECT_EQ(model->FreezeList("0,,4").status().code(), absl::StatusCode::kInvalidArgument);
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
        "  4.0", "shortcut: identity", "Linear(36, 5)", "(5)",
        "Total params: 453", "Trainable params: 268", "Frozen params: 185",
        "Buffer scalars (not trained): 8", "Input shape (per sample): (3, 6, 6)",
        // conv 108 weights x 36 positions + conv 144 x 9 + linear 180.
        "Mult-adds", "Forward mult-adds per sample: 5,364"}) {
    EXPECT_NE(s.find(fragment), std::string::npos) << fragment << "\n" << s;
  }
}

// ---- Reaching inside the network ----

// Gives the BN layer non-trivial running statistics and every parameter gradient the value 7,
// so that a test can see whether an input-gradient-only backward touched them.
std::vector<std::vector<double>> PrepareForInterpretation(Model& model, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::vector<double>> running;
  for (const NamedBuffer& b : model.Buffers()) {
    if (b.name == "1.running_mean") rng.FillUniform(b.value->data(), b.value->size(), -0.5, 0.5);
    if (b.name == "1.running_var") rng.FillUniform(b.value->data(), b.value->size(), 0.5, 2.0);
    if (b.name == "1.running_mean" || b.name == "1.running_var") {
      running.emplace_back(b.value->data(), b.value->data() + b.value->size());
    }
  }
  for (const NamedParameter& p : model.Params()) p.param->grad.SetAll(7.0f);
  return running;
}

void ExpectGradientsUntouched(Model& model) {
  for (const NamedParameter& p : model.Params()) {
    for (int64_t i = 0; i < p.param->grad.size(); ++i) {
      ASSERT_EQ(p.param->grad[i], 7.0f) << p.name << "[" << i << "]";
    }
  }
}

TEST(ModelTest, LayerNamesFollowTheModulePathsInForwardOrder) {
  auto model = MakeSmallNet(3);
  const std::vector<std::string> expected = {"0", "1", "2", "3", "4", "4.0", "4.1", "5", "6"};
  EXPECT_EQ(model->LayerNames(), expected);
  auto conv = model->FindLayer("4.0");
  ASSERT_TRUE(conv.ok()) << conv.status();
  EXPECT_EQ((*conv)->TypeName(), "conv2d");
  EXPECT_EQ((*conv)->OutputShape(), Shape({kF, 3, 3}));
}

TEST(ModelTest, FindLayerRejectsUnknownNamesListingTheValidOnes) {
  auto model = MakeSmallNet(3);
  for (const char* bad : {"7", "4.2", "4.0.1", "", "features", "4."}) {
    auto layer = model->FindLayer(bad);
    ASSERT_FALSE(layer.ok()) << bad;
    EXPECT_EQ(layer.status().code(), absl::StatusCode::kNotFound);
    const std::string msg(layer.status().message());
    EXPECT_NE(msg.find(absl::StrCat("'", bad, "'")), std::string::npos) << msg;
    EXPECT_NE(msg.find("0, 1, 2, 3, 4, 4.0, 4.1, 5, 6"), std::string::npos) << msg;
  }
}

TEST(ModelTest, ForwardWithOutputsKeepsInnerActivationsAndTheSameLogits) {
  auto model = MakeSmallNet(4);
  model->SetMode(Mode::kEval);
  const auto running = PrepareForInterpretation(*model, 5);
  const int64_t n = 2;
  Tensor x(Shape({n, kC, kH, kW}));
  Rng rng(6);
  rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
  Tensor plain, logits;
  ASSERT_TRUE(model->Forward(x, &plain).ok());
  std::vector<Tensor> outs;
  const std::vector<std::string> names = {"4.0", "3", "6", "4.0"};
  ASSERT_TRUE(model->ForwardWithOutputs(x, names, &logits, &outs).ok());
  ASSERT_EQ(outs.size(), 4u);
  EXPECT_EQ(outs[0].shape(), Shape({n, kF, 3, 3}));
  EXPECT_EQ(outs[1].shape(), Shape({n, kF, 3, 3}));
  for (int64_t i = 0; i < logits.size(); ++i) {
    EXPECT_EQ(logits[i], plain[i]);
    EXPECT_EQ(outs[2][i], logits[i]);
  }
  const std::vector<double> xd(x.data(), x.data() + x.size());
  const RefStages ref = RefSmallNetStages(xd, ParamValues(*model), n, &running);
  for (int64_t i = 0; i < outs[0].size(); ++i) {
    EXPECT_NEAR(outs[0][i], ref.res_conv[static_cast<size_t>(i)], 1e-4) << i;
    EXPECT_EQ(outs[3][i], outs[0][i]);
    EXPECT_NEAR(outs[1][i], ref.pooled[static_cast<size_t>(i)], 1e-4) << i;
  }
  // Hooks are removed afterwards: a plain Forward leaves the kept outputs alone.
  const float kept = outs[0][0];
  rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
  ASSERT_TRUE(model->Forward(x, &plain).ok());
  EXPECT_EQ(outs[0][0], kept);
  auto bad = model->ForwardWithOutputs(x, {"9"}, &logits, &outs);
  EXPECT_EQ(bad.code(), absl::StatusCode::kNotFound);
}

// The input gradient of L = sum(w * f(x)) for a layer output f (the logits, or an inner
// layer's output) in eval mode, against double central differences; no parameter gradient
// may change.
TEST(ModelTest, InputGradientMatchesDoubleReferenceInEvalMode) {
  auto model = MakeSmallNet(8);
  model->SetMode(Mode::kEval);
  const auto running = PrepareForInterpretation(*model, 9);
  const auto params = ParamValues(*model);
  const int64_t n = 2;
  for (const std::string& where : {std::string("logits"), std::string("4.0"), std::string("3")}) {
    SCOPED_TRACE(where);
    const int64_t size = where == "logits" ? n * kClasses : n * kF * 3 * 3;
    std::vector<double> w(static_cast<size_t>(size));
    Rng rng(10);
    for (double& v : w) v = rng.Uniform() * 2.0 - 1.0;
    const LossUnderTest loss = [&](const Tensor& x, Tensor* dx) -> absl::StatusOr<float> {
      Tensor logits;
      std::vector<Tensor> outs;
      const std::vector<std::string> names =
          where == "logits" ? std::vector<std::string>{} : std::vector<std::string>{where};
      SIMDNET_RETURN_IF_ERROR(model->ForwardWithOutputs(x, names, &logits, &outs));
      const Tensor& f = where == "logits" ? logits : outs[0];
      Tensor g(f.shape());
      double value = 0.0;
      for (int64_t i = 0; i < f.size(); ++i) {
        g[i] = static_cast<float>(w[static_cast<size_t>(i)]);
        value += w[static_cast<size_t>(i)] * f[i];
      }
      if (where == "logits") {
        SIMDNET_RETURN_IF_ERROR(model->InputGradient(g, dx));
      } else {
        SIMDNET_RETURN_IF_ERROR(model->InputGradientFrom(where, g, dx));
      }
      return static_cast<float>(value);
    };
    const ReferenceLoss reference = [&](const std::vector<double>& x) {
      const RefStages r = RefSmallNetStages(x, params, n, &running);
      const std::vector<double>& f =
          where == "logits" ? r.logits : where == "4.0" ? r.res_conv : r.pooled;
      double total = 0.0;
      for (size_t i = 0; i < f.size(); ++i) total += w[i] * f[i];
      return total;
    };
    GradCheckOptions o;
    // Max pooling's argmax is stable for inputs >= 1e-3 apart (U(-1, 1), n*C*H*W = 216 values
    // through a conv): the double differences use h = 1e-5.
    o.forward_abs_tol = 1e-4;
    o.forward_rel_tol = 1e-4;
    o.grad_abs_tol = 1e-3;
    o.grad_rel_tol = 2e-3;
    EXPECT_TRUE(CheckLossGradients(loss, Shape({n, kC, kH, kW}), reference, o));
    ExpectGradientsUntouched(*model);
  }
}

TEST(ModelTest, InputGradientFromAProjectionShortcutRunsOnlyTheLayersBelowIt) {
  // 0 conv 2->3 k3 p1; 1 residual { conv 3->3 k3 p1 } + shortcut { conv 3->3 k1 };
  // 2 flatten; 3 linear 4. The shortcut conv's output depends on x through conv0 only.
  Rng rng(21);
  auto root = std::move(Sequential::Create(Shape({2, 4, 4}))).value();
  Conv2dOptions c0;
  c0.out_channels = 3;
  c0.kernel_h = c0.kernel_w = 3;
  c0.pad_h = c0.pad_w = 1;
  ASSERT_TRUE(root->Add(Conv2d::Create(c0, root->OutputShape(), rng)).ok());
  auto main = std::move(Sequential::Create(root->OutputShape())).value();
  ASSERT_TRUE(main->Add(Conv2d::Create(c0, main->OutputShape(), rng)).ok());
  auto shortcut = std::move(Sequential::Create(root->OutputShape())).value();
  Conv2dOptions c1;
  c1.out_channels = 3;
  c1.kernel_h = c1.kernel_w = 1;
  ASSERT_TRUE(shortcut->Add(Conv2d::Create(c1, shortcut->OutputShape(), rng)).ok());
  ASSERT_TRUE(root->Add(Residual::Create(std::move(main), std::move(shortcut))).ok());
  ASSERT_TRUE(root->Add(Flatten::Create(root->OutputShape())).ok());
  LinearOptions lin;
  lin.out_features = 4;
  ASSERT_TRUE(root->Add(Linear::Create(lin, root->OutputShape(), rng)).ok());
  auto model = std::move(Model::Create(std::move(root), 4)).value();
  EXPECT_EQ(model->LayerNames(),
            (std::vector<std::string>{"0", "1", "1.0", "1.shortcut", "1.shortcut.0", "2", "3"}));
  for (const NamedParameter& p : model->Params()) p.param->grad.SetAll(7.0f);
  const auto params = ParamValues(*model);  // 0.w 0.b 1.0.w 1.0.b 1.shortcut.0.w .b 3.w 3.b
  const int64_t n = 2;
  std::vector<double> w(static_cast<size_t>(n * 3 * 4 * 4));
  for (double& v : w) v = rng.Uniform() * 2.0 - 1.0;
  const LossUnderTest loss = [&](const Tensor& x, Tensor* dx) -> absl::StatusOr<float> {
    Tensor logits;
    std::vector<Tensor> outs;
    SIMDNET_RETURN_IF_ERROR(model->ForwardWithOutputs(x, {"1.shortcut.0"}, &logits, &outs));
    Tensor g(outs[0].shape());
    double value = 0.0;
    for (int64_t i = 0; i < g.size(); ++i) {
      g[i] = static_cast<float>(w[static_cast<size_t>(i)]);
      value += w[static_cast<size_t>(i)] * outs[0][i];
    }
    SIMDNET_RETURN_IF_ERROR(model->InputGradientFrom("1.shortcut.0", g, dx));
    return static_cast<float>(value);
  };
  const ReferenceLoss reference = [&](const std::vector<double>& x) {
    reference::ConvDims d{n, 2, 4, 4, 3, 3, 3};
    d.ph = d.pw = 1;
    const std::vector<double> a = reference::Conv2d(x, params[0], params[1], d);
    reference::ConvDims d1{n, 3, 4, 4, 3, 1, 1};
    const std::vector<double> s = reference::Conv2d(a, params[4], params[5], d1);
    double total = 0.0;
    for (size_t i = 0; i < s.size(); ++i) total += w[i] * s[i];
    return total;
  };
  GradCheckOptions o;
  EXPECT_TRUE(CheckLossGradients(loss, Shape({n, 2, 4, 4}), reference, o));
  ExpectGradientsUntouched(*model);
}

TEST(ModelTest, PredictGivesForwardsLogitsAndKeepsNothingForBackward) {
  for (Mode mode : {Mode::kEval, Mode::kTrain}) {
    auto model = MakeSmallNet(14);
    model->SetMode(mode);
    Tensor x(Shape({3, kC, kH, kW}));
    Rng rng(15);
    rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
    Tensor forward, predicted, again, dx;
    ASSERT_TRUE(model->Forward(x, &forward).ok());
    ASSERT_TRUE(model->Predict(x, &predicted).ok());
    ASSERT_TRUE(model->Predict(x, &again).ok());  // reuses the pool's blocks
    ASSERT_EQ(predicted.shape(), forward.shape());
    for (int64_t i = 0; i < forward.size(); ++i) {
      if (mode == Mode::kEval) {
        // Eval mode folds Conv2d + BatchNorm (Sequential): equal up to float rounding.
        EXPECT_NEAR(predicted[i], forward[i], 1e-5 * (1.0 + std::fabs(forward[i]))) << i;
      } else {
        EXPECT_EQ(predicted[i], forward[i]) << i;
      }
      EXPECT_EQ(again[i], predicted[i]) << i;
    }
    Tensor g(Shape({3, kClasses}));
    g.SetAll(1.0f);
    EXPECT_EQ(model->InputGradient(g, &dx).code(), absl::StatusCode::kFailedPrecondition);
    // A Forward after Predict keeps its activations again: gradients work.
    ASSERT_TRUE(model->Forward(x, &forward).ok());
    EXPECT_TRUE(model->InputGradient(g, &dx).ok());
    EXPECT_EQ(model->Predict(Tensor(Shape({2, kC, kH, kH + 1})), &again).code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(ModelTest, PredictHoldsTwoActivationsOfADeepChainAtATime) {
  // Twelve same-shape convolutions and a projection residual: Forward keeps every output,
  // Predict ping-pongs between pooled blocks.
  Rng rng(16);
  auto root = std::move(Sequential::Create(Shape({4, 8, 8}))).value();
  Conv2dOptions c;
  c.out_channels = 4;
  c.kernel_h = c.kernel_w = 3;
  c.pad_h = c.pad_w = 1;
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(root->Add(Conv2d::Create(c, root->OutputShape(), rng)).ok());
  auto main = std::move(Sequential::Create(root->OutputShape())).value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(main->Add(Conv2d::Create(c, main->OutputShape(), rng)).ok());
  auto shortcut = std::move(Sequential::Create(root->OutputShape())).value();
  Conv2dOptions c1 = c;
  c1.kernel_h = c1.kernel_w = 1;
  c1.pad_h = c1.pad_w = 0;
  ASSERT_TRUE(shortcut->Add(Conv2d::Create(c1, shortcut->OutputShape(), rng)).ok());
  ASSERT_TRUE(root->Add(Residual::Create(std::move(main), std::move(shortcut))).ok());
  ASSERT_TRUE(root->Add(Flatten::Create(root->OutputShape())).ok());
  LinearOptions lin;
  lin.out_features = 3;
  ASSERT_TRUE(root->Add(Linear::Create(lin, root->OutputShape(), rng)).ok());
  auto model = std::move(Model::Create(std::move(root), 3)).value();
  model->SetMode(Mode::kEval);
  const int64_t n = 5;
  Tensor x(Shape({n, 4, 8, 8}));
  rng.FillUniform(x.data(), static_cast<size_t>(x.size()), -1.0f, 1.0f);
  Tensor forward, predicted;
  ASSERT_TRUE(model->Forward(x, &forward).ok());
  ASSERT_TRUE(model->Predict(x, &predicted).ok());
  for (int64_t i = 0; i < forward.size(); ++i) EXPECT_EQ(predicted[i], forward[i]) << i;
  const int64_t activation_bytes = n * 4 * 8 * 8 * 4;
  // Two blocks at the root; in the residual its branch outputs and the main branch's own two.
  EXPECT_LE(model->inference_tensors().bytes(), 6 * activation_bytes);
  EXPECT_GE(model->inference_tensors().bytes(), 2 * activation_bytes);
  const int64_t bytes = model->inference_tensors().bytes();
  ASSERT_TRUE(model->Predict(x, &predicted).ok());
  EXPECT_EQ(model->inference_tensors().bytes(), bytes);  // steady state: no new blocks
}

TEST(ModelTest, InputGradientRejectsMisuseWithClearErrors) {
  auto model = MakeSmallNet(12);
  Tensor dx;
  Tensor g(Shape({2, kClasses}));
  EXPECT_EQ(model->InputGradient(g, &dx).code(), absl::StatusCode::kFailedPrecondition);
  Tensor x(Shape({2, kC, kH, kW})), logits;
  ASSERT_TRUE(model->Forward(x, &logits).ok());
  Tensor wrong(Shape({3, kClasses}));
  auto s = model->InputGradient(wrong, &dx);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("(3, 5)"), std::string::npos) << s;
  Tensor inner(Shape({2, kF, 3, 2}));
  s = model->InputGradientFrom("4.0", inner, &dx);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find("(2, 4, 3, 3)"), std::string::npos) << s;
  EXPECT_EQ(model->InputGradientFrom("nope", inner, &dx).code(), absl::StatusCode::kNotFound);
}

TEST(ModelTest, BackwardHooksSeeAndMayRewriteTheGradient) {
  auto model = MakeSmallNet(13);
  model->SetMode(Mode::kEval);
  Tensor x(Shape({1, kC, kH, kW})), logits, dx, dx_clamped;
  Rng rng(14);
  rng.FillUniform(x.data(), x.size(), -1.0f, 1.0f);
  ASSERT_TRUE(model->Forward(x, &logits).ok());
  Tensor g(logits.shape());
  g.SetAll(1.0f);
  ASSERT_TRUE(model->InputGradient(g, &dx).ok());
  Layer* relu = *model->FindLayer("2");
  int calls = 0;
  relu->set_backward_hook([&](const Tensor& dy, Tensor* d) {
    ++calls;
    EXPECT_EQ(dy.shape(), d->shape());
    d->SetAll(0.0f);
  });
  ASSERT_TRUE(model->InputGradient(g, &dx_clamped).ok());
  relu->set_backward_hook(nullptr);
  EXPECT_EQ(calls, 1);
  for (int64_t i = 0; i < dx_clamped.size(); ++i) EXPECT_EQ(dx_clamped[i], 0.0f);
  ASSERT_TRUE(model->InputGradient(g, &dx_clamped).ok());
  for (int64_t i = 0; i < dx.size(); ++i) EXPECT_EQ(dx_clamped[i], dx[i]);
}

TEST(ModelTest, ScopedEvalModeRestoresTheMode) {
  auto model = MakeSmallNet(15);
  ASSERT_EQ(model->mode(), Mode::kTrain);
  {
    ScopedEvalMode eval(*model);
    EXPECT_EQ(model->mode(), Mode::kEval);
  }
  EXPECT_EQ(model->mode(), Mode::kTrain);
}

}  // namespace
}  // namespace simdnet
