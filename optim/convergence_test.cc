// Convergence sanity checks: every optimizer, driven by a cosine schedule,
// reaches the known optimum of a convex quadratic and of an L2-regularized
// logistic regression (optimum found by Newton's method in double) within a
// stated tolerance.
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "layers/layer.h"
#include "optim/lr_schedule.h"
#include "optim/make_optimizer.h"
#include "optim/optimizer.h"
#include "tensor/tensor.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

struct Case {
  const char* optimizer;
  int steps;
};

// Learning rates chosen per optimizer for these two well-conditioned problems.
const Case kCases[] = {
    {"sgd:lr=0.2", 400},
    {"sgd:lr=0.05,momentum=0.9", 400},
    {"sgd:lr=0.05,momentum=0.9,nesterov=1", 400},
    {"sgd:lr=0.05,momentum=0.9,form=pytorch", 400},
    {"sgd:lr=0.05,momentum=0.9,form=pytorch,nesterov=1", 400},
    {"sgd:lr=0.2,momentum=0.5,form=averaged", 400},
    {"adam:lr=0.05", 1500},
    {"adamw:lr=0.05,weight_decay=0", 1500},
    {"rmsprop:lr=0.01", 1500},
    {"rmsprop:lr=0.002,momentum=0.9", 1500},
    {"adagrad:lr=0.5", 1500},
};

// Runs `steps` full-batch steps with a cosine schedule (to 0) from x0;
// grad_fn(x, g) writes the gradient at x. Returns the final parameters.
template <class GradFn>
std::vector<double> Minimize(const std::string& spec, int steps,
                             const std::vector<float>& x0,
                             const GradFn& grad_fn) {
  auto opt = MakeOptimizer(spec);
  EXPECT_TRUE(opt.ok()) << opt.status();
  auto schedule = MakeSchedule("cosine:t_max=" + std::to_string(steps));
  EXPECT_TRUE(schedule.ok()) << schedule.status();
  Parameter p;
  p.value = Tensor(Shape({static_cast<int64_t>(x0.size())}));
  p.grad = Tensor(p.value.shape());
  for (size_t i = 0; i < x0.size(); ++i)
    p.value[static_cast<int64_t>(i)] = x0[i];
  std::vector<NamedParameter> params = {{"theta", &p}};
  ThreadPool pool(1);
  std::vector<double> x(x0.size()), g(x0.size());
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = p.value[static_cast<int64_t>(i)];
    grad_fn(x, &g);
    for (size_t i = 0; i < x.size(); ++i)
      p.grad[static_cast<int64_t>(i)] = static_cast<float>(g[i]);
    const double lr =
        schedule->LrAt((*opt)->base_lr(), (*opt)->iterations(), 1);
    EXPECT_TRUE((*opt)->Step(params, lr, pool).ok());
  }
  for (size_t i = 0; i < x.size(); ++i) x[i] = p.value[static_cast<int64_t>(i)];
  return x;
}

double MaxAbsDiff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// f(x) = 0.5 sum h_i (x_i - c_i)^2 with curvatures h in [0.5, 4] (condition
// number 8); the optimum is x = c.
TEST(ConvergenceTest, ConvexQuadraticReachesOptimum) {
  constexpr size_t kN = 16;
  constexpr double kTolerance =
      1e-5;  // max |x_i - c_i|, from |x0 - c| ~ 2 (seen: <= 5e-7).
  std::mt19937 gen(5);
  std::uniform_real_distribution<double> unif(-1, 1);
  std::vector<double> h(kN), c(kN);
  std::vector<float> x0(kN);
  for (size_t i = 0; i < kN; ++i) {
    h[i] = 0.5 + 3.5 * static_cast<double>(i) / (kN - 1);
    c[i] = unif(gen);
    x0[i] = static_cast<float>(c[i] + 2.0 * unif(gen));
  }
  for (const Case& cs : kCases) {
    const std::vector<double> x =
        Minimize(cs.optimizer, cs.steps, x0,
                 [&](const std::vector<double>& x, std::vector<double>* g) {
                   for (size_t i = 0; i < kN; ++i)
                     (*g)[i] = h[i] * (x[i] - c[i]);
                 });
    std::printf("quadratic  %-50s max |x - x*| = %.3g\n", cs.optimizer,
                MaxAbsDiff(x, c));
    EXPECT_LT(MaxAbsDiff(x, c), kTolerance) << cs.optimizer;
  }
}

// Mean logistic loss of 256 points drawn from a logistic model (non-separable)
// plus (lambda/2) |w|^2; theta = (w1, w2, b).
class LogisticProblem {
 public:
  LogisticProblem() {
    std::mt19937 gen(9);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> unif(0, 1);
    for (int i = 0; i < kPoints; ++i) {
      const double x1 = normal(gen), x2 = normal(gen);
      const double p = 1 / (1 + std::exp(-(1.5 * x1 - 2.0 * x2 + 0.5)));
      x_.push_back({x1, x2, 1.0});
      y_.push_back(unif(gen) < p ? 1.0 : 0.0);
    }
  }

  // Writes the gradient at theta.
  void Gradient(const std::vector<double>& theta,
                std::vector<double>* g) const {
    g->assign(3, 0.0);
    for (int i = 0; i < kPoints; ++i) {
      const double r = Sigmoid(theta, i) - y_[i];
      for (int j = 0; j < 3; ++j) (*g)[j] += r * x_[i][j] / kPoints;
    }
    for (int j = 0; j < 2; ++j) (*g)[j] += kLambda * theta[j];
  }

  // Returns the optimum by Newton's method (quadratic convergence; 50
  // iterations is plenty).
  std::vector<double> Optimum() const {
    std::vector<double> theta(3, 0.0), g;
    for (int it = 0; it < 50; ++it) {
      Gradient(theta, &g);
      double hess[3][4] = {};
      for (int i = 0; i < kPoints; ++i) {
        const double p = Sigmoid(theta, i);
        for (int a = 0; a < 3; ++a) {
          for (int b = 0; b < 3; ++b)
            hess[a][b] += p * (1 - p) * x_[i][a] * x_[i][b] / kPoints;
        }
      }
      for (int a = 0; a < 2; ++a) hess[a][a] += kLambda;
      for (int a = 0; a < 3; ++a) hess[a][3] = g[a];
      // Gaussian elimination (the Hessian is symmetric positive definite: no
      // pivoting needed).
      for (int a = 0; a < 3; ++a) {
        for (int b = a + 1; b < 3; ++b) {
          const double f = hess[b][a] / hess[a][a];
          for (int k = a; k < 4; ++k) hess[b][k] -= f * hess[a][k];
        }
      }
      double step[3];
      for (int a = 2; a >= 0; --a) {
        double s = hess[a][3];
        for (int k = a + 1; k < 3; ++k) s -= hess[a][k] * step[k];
        step[a] = s / hess[a][a];
      }
      for (int a = 0; a < 3; ++a) theta[a] -= step[a];
    }
    return theta;
  }

 private:
  static constexpr int kPoints = 256;
  static constexpr double kLambda = 0.01;

  double Sigmoid(const std::vector<double>& theta, int i) const {
    double z = 0;
    for (int j = 0; j < 3; ++j) z += theta[j] * x_[i][j];
    return 1 / (1 + std::exp(-z));
  }

  std::vector<std::vector<double>> x_;
  std::vector<double> y_;
};

TEST(ConvergenceTest, LogisticRegressionReachesNewtonOptimum) {
  constexpr double kTolerance =
      2e-3;  // max |theta_j - theta*_j|, with |theta*| ~ 2.
  const LogisticProblem problem;
  const std::vector<double> optimum = problem.Optimum();
  std::vector<double> g;
  problem.Gradient(optimum, &g);
  ASSERT_LT(std::abs(g[0]) + std::abs(g[1]) + std::abs(g[2]),
            1e-12);  // Newton converged.
  for (const Case& cs : kCases) {
    // Logistic curvature is smaller than the quadratic's: take 4x the steps.
    std::string spec = cs.optimizer;
    int steps = cs.steps * 4;
    const std::vector<double> theta =
        Minimize(spec, steps, {0.0f, 0.0f, 0.0f},
                 [&](const std::vector<double>& x, std::vector<double>* grad) {
                   problem.Gradient(x, grad);
                 });
    std::printf("logistic   %-50s max |x - x*| = %.3g\n", cs.optimizer,
                MaxAbsDiff(theta, optimum));
    EXPECT_LT(MaxAbsDiff(theta, optimum), kTolerance)
        << spec << ": got " << theta[0] << " " << theta[1] << " " << theta[2]
        << ", optimum " << optimum[0] << " " << optimum[1] << " " << optimum[2];
  }
}

// Coupled weight decay is L2 added to the gradient: SGD with weight_decay =
// lambda on the unregularized loss, with the bias excluded by its weight_decay
// flag, reaches the same optimum.
TEST(ConvergenceTest, CoupledWeightDecayEqualsL2Penalty) {
  constexpr double kLambda = 0.25;
  // f(w, b) = 0.5 (w - 2)^2 + 0.5 (b - 2)^2, plus (lambda/2) w^2 via the
  // optimizer: optimum w = 2 / (1 + lambda) = 1.6, b = 2.
  auto opt = MakeOptimizer("sgd:lr=0.1,momentum=0.9,weight_decay=0.25");
  ASSERT_TRUE(opt.ok());
  Parameter w, b;
  w.value = Tensor(Shape({1}));
  w.grad = Tensor(Shape({1}));
  b.value = Tensor(Shape({1}));
  b.grad = Tensor(Shape({1}));
  b.weight_decay = false;
  std::vector<NamedParameter> params = {{"w", &w}, {"b", &b}};
  for (int s = 0; s < 300; ++s) {
    w.grad[0] = w.value[0] - 2.0f;
    b.grad[0] = b.value[0] - 2.0f;
    ASSERT_TRUE((*opt)->Step(params, 0.1).ok());
  }
  EXPECT_NEAR(w.value[0], 2.0 / (1 + kLambda), 1e-5);
  EXPECT_NEAR(b.value[0], 2.0, 1e-5);
}

}  // namespace
}  // namespace simdnet
