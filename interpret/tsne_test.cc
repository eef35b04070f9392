// Tests of interpret/tsne: cluster separation, Barnes-Hut vs exact gradient, perplexity
// calibration, kNN and affinities against plain references, determinism across runs and thread
// counts, and every rejection of RunTsne.
#include "interpret/tsne.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tensor/rng.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

// `clusters` Gaussian blobs of `per_cluster` points in `dim` dimensions: centers N(0, spread^2)
// per coordinate, points N(center, 1). Labels are the cluster index.
void MakeClusters(int64_t clusters, int64_t per_cluster, int64_t dim, float spread, uint64_t seed,
                  std::vector<float>* x, std::vector<int64_t>* labels) {
  Rng rng(seed);
  std::vector<float> centers(static_cast<size_t>(clusters * dim));
  for (float& c : centers) c = spread * rng.Normal();
  x->clear();
  labels->clear();
  for (int64_t c = 0; c < clusters; ++c) {
    for (int64_t p = 0; p < per_cluster; ++p) {
      for (int64_t d = 0; d < dim; ++d) x->push_back(centers[c * dim + d] + rng.Normal());
      labels->push_back(c);
    }
  }
}

detail::SparseP MakeP(const std::vector<float>& x, int64_t n, int64_t dim, double perplexity,
                      ThreadPool& pool) {
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(3 * perplexity + 1));
  std::vector<int32_t> idx;
  std::vector<float> dist;
  detail::ExactKnn(x.data(), n, dim, k, pool, &idx, &dist);
  return detail::SymmetrizeAffinities(
      idx, detail::ConditionalProbabilities(dist, n, k, perplexity, pool), n, k);
}

TEST(TsneTest, SeparatesWellSeparatedClusters) {
  // 5 clusters x 60 points in 20-D, centers ~N(0, 4^2): a 2-D 10-NN label agreement of at least
  // 0.95 is required (a working t-SNE gives ~1.0 here; a broken gradient gives ~0.2-0.6).
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(5, 60, 20, 4.0f, 3, &x, &labels);
  const int64_t n = 300;
  ThreadPool pool(2);
  for (int64_t exact_below : {int64_t{500}, int64_t{0}}) {  // Exact and Barnes-Hut repulsion.
    TsneOptions options;
    options.exact_below = exact_below;
    absl::StatusOr<TsneResult> r = RunTsne(x.data(), n, 20, options, pool);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->embedding.size(), static_cast<size_t>(2 * n));
    for (float v : r->embedding) ASSERT_TRUE(std::isfinite(v));
    const double agreement =
        NeighborLabelAgreement(r->embedding.data(), n, 2, labels.data(), 10, pool);
    EXPECT_GE(agreement, 0.95) << "exact_below " << exact_below;
    EXPECT_EQ(r->iterations_run > 250, true);
    EXPECT_GT(r->kl_divergence, 0.0);
    EXPECT_LT(r->kl_divergence, 2.0);
    EXPECT_EQ(r->neighbors, 91);
    EXPECT_DOUBLE_EQ(r->learning_rate, 50.0);  // auto: max(300 / 12 / 4, 50).
  }
}

TEST(TsneTest, BarnesHutGradientMatchesExact) {
  // Relative L2 error of the Barnes-Hut gradient: <= 5% at theta 0.5 (van der Maaten 2014
  // reports errors of this order), <= 0.1% at theta 0.05.
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(4, 100, 10, 3.0f, 5, &x, &labels);
  const int64_t n = 400;
  ThreadPool pool(2);
  const detail::SparseP p = MakeP(x, n, 10, 20, pool);
  Rng rng(11);
  std::vector<float> y(2 * n);
  for (int64_t i = 0; i < n; ++i) {  // A clustered layout, as mid-optimization.
    y[2 * i] = 10.0f * static_cast<float>(labels[i] % 2) + 2.0f * rng.Normal();
    y[2 * i + 1] = 10.0f * static_cast<float>(labels[i] / 2) + 2.0f * rng.Normal();
  }
  std::vector<float> exact(2 * n), bh(2 * n);
  double kl_exact = 0, kl_bh = 0;
  detail::TsneGradient(p, 1.0, y.data(), n, 0.0, pool, exact.data(), &kl_exact);
  for (const auto& [theta, tol] : {std::pair<double, double>{0.5, 0.05}, {0.05, 1e-3}}) {
    detail::TsneGradient(p, 1.0, y.data(), n, theta, pool, bh.data(), &kl_bh);
    double err = 0, norm = 0;
    for (int64_t t = 0; t < 2 * n; ++t) {
      err += (double{bh[t]} - exact[t]) * (double{bh[t]} - exact[t]);
      norm += double{exact[t]} * exact[t];
    }
    EXPECT_LE(std::sqrt(err / norm), tol) << "theta " << theta;
    EXPECT_NEAR(kl_bh, kl_exact, 10 * tol * kl_exact) << "theta " << theta;
  }
  // The exact KL of the final evaluator equals the exact gradient's estimate.
  EXPECT_NEAR(detail::ExactKlDivergence(p, y.data(), n, pool), kl_exact, 1e-6 * kl_exact);
}

TEST(TsneTest, ExactGradientMatchesFiniteDifferences) {
  // dKL/dy by central differences of the exact KL in double: relative error <= 1e-3.
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(3, 10, 5, 3.0f, 9, &x, &labels);
  const int64_t n = 30;
  ThreadPool pool(1);
  const detail::SparseP p = MakeP(x, n, 5, 5, pool);
  Rng rng(2);
  std::vector<float> y(2 * n), grad(2 * n);
  for (float& v : y) v = 2.0f * rng.Normal();
  detail::TsneGradient(p, 1.0, y.data(), n, 0.0, pool, grad.data(), nullptr);
  for (int64_t t : {int64_t{0}, int64_t{7}, int64_t{31}, int64_t{59}}) {
    const float h = 1e-2f;
    std::vector<float> yp = y, ym = y;
    yp[t] += h;
    ym[t] -= h;
    const double fd = (detail::ExactKlDivergence(p, yp.data(), n, pool) -
                       detail::ExactKlDivergence(p, ym.data(), n, pool)) /
                      (double{yp[t]} - ym[t]);
    EXPECT_NEAR(grad[t], fd, 1e-3 * std::max(1.0, std::fabs(fd)) + 2e-4) << "coordinate " << t;
  }
}

TEST(TsneTest, PerplexityCalibrationHitsTargetEntropy) {
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(3, 70, 8, 2.0f, 4, &x, &labels);
  const int64_t n = 210, k = 91;
  const double perplexity = 30;
  ThreadPool pool(2);
  std::vector<int32_t> idx;
  std::vector<float> dist;
  detail::ExactKnn(x.data(), n, 8, k, pool, &idx, &dist);
  const std::vector<double> p = detail::ConditionalProbabilities(dist, n, k, perplexity, pool);
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0, h = 0;
    for (int64_t j = 0; j < k; ++j) {
      const double v = p[i * k + j];
      sum += v;
      if (v > 0) h -= v * std::log(v);
    }
    ASSERT_NEAR(sum, 1.0, 1e-12) << "row " << i;
    ASSERT_NEAR(h, std::log(perplexity), 1e-5) << "row " << i;
  }
}

TEST(TsneTest, KnnMatchesBruteForce) {
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(3, 37, 13, 2.0f, 8, &x, &labels);
  const int64_t n = 111, dim = 13, k = 9;
  ThreadPool pool(2);
  std::vector<int32_t> idx;
  std::vector<float> dist;
  detail::ExactKnn(x.data(), n, dim, k, pool, &idx, &dist);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<std::pair<double, int32_t>> all;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double s = 0;
      for (int64_t d = 0; d < dim; ++d) {
        const double diff = double{x[i * dim + d]} - x[j * dim + d];
        s += diff * diff;
      }
      all.emplace_back(s, static_cast<int32_t>(j));
    }
    std::sort(all.begin(), all.end());
    for (int64_t t = 0; t < k; ++t) {
      ASSERT_EQ(idx[i * k + t], all[t].second) << "row " << i << " rank " << t;
      ASSERT_NEAR(dist[i * k + t], all[t].first, 1e-5 * all[t].first);
    }
  }
}

TEST(TsneTest, AffinitiesAreSymmetricAndNormalized) {
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(2, 40, 6, 2.0f, 6, &x, &labels);
  const int64_t n = 80;
  ThreadPool pool(1);
  const detail::SparseP p = MakeP(x, n, 6, 5, pool);
  double total = 0;
  auto lookup = [&](int64_t i, int32_t j) {
    for (int64_t t = p.row_ptr[i]; t < p.row_ptr[i + 1]; ++t)
      if (p.cols[t] == j) return double{p.vals[t]};
    return -1.0;
  };
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = p.row_ptr[i]; t < p.row_ptr[i + 1]; ++t) {
      total += p.vals[t];
      ASSERT_NE(p.cols[t], i);
      if (t > p.row_ptr[i]) {
        ASSERT_LT(p.cols[t - 1], p.cols[t]);
      }
      ASSERT_EQ(lookup(p.cols[t], static_cast<int32_t>(i)), p.vals[t]);
    }
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(TsneTest, SameSeedAndAnyThreadCountGiveBitIdenticalEmbedding) {
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(4, 150, 16, 3.0f, 1, &x, &labels);
  const int64_t n = 600;
  TsneOptions options;
  options.iterations = 300;
  options.exaggeration_iterations = 100;
  for (const std::string init : {"pca", "random"}) {
    options.init = init;
    ThreadPool one(1), two(2), three(3);
    absl::StatusOr<TsneResult> a = RunTsne(x.data(), n, 16, options, two);
    absl::StatusOr<TsneResult> b = RunTsne(x.data(), n, 16, options, two);
    absl::StatusOr<TsneResult> c = RunTsne(x.data(), n, 16, options, one);
    absl::StatusOr<TsneResult> d = RunTsne(x.data(), n, 16, options, three);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
    EXPECT_EQ(a->embedding, b->embedding) << init;
    EXPECT_EQ(a->embedding, c->embedding) << init;
    EXPECT_EQ(a->embedding, d->embedding) << init;
    EXPECT_EQ(a->kl_divergence, c->kl_divergence) << init;
  }
  options.init = "random";
  options.seed = 2;
  ThreadPool pool(2);
  absl::StatusOr<TsneResult> other_seed = RunTsne(x.data(), n, 16, options, pool);
  options.seed = 1;
  absl::StatusOr<TsneResult> first_seed = RunTsne(x.data(), n, 16, options, pool);
  ASSERT_TRUE(other_seed.ok() && first_seed.ok());
  EXPECT_NE(other_seed->embedding, first_seed->embedding);
}

TEST(TsneTest, PcaInitHasScikitLearnScale) {
  // With zero iterations of movement (learning rate tiny), the embedding is the init: column 0
  // has standard deviation 1e-4.
  std::vector<float> x;
  std::vector<int64_t> labels;
  MakeClusters(3, 30, 4, 3.0f, 12, &x, &labels);
  TsneOptions options;
  options.iterations = 1;
  options.exaggeration_iterations = 0;
  options.learning_rate = 1e-30;
  ThreadPool pool(1);
  absl::StatusOr<TsneResult> r = RunTsne(x.data(), 90, 4, options, pool);
  ASSERT_TRUE(r.ok());
  double m = 0, ss = 0;
  for (int64_t i = 0; i < 90; ++i) m += r->embedding[2 * i];
  m /= 90;
  for (int64_t i = 0; i < 90; ++i) ss += (r->embedding[2 * i] - m) * (r->embedding[2 * i] - m);
  EXPECT_NEAR(std::sqrt(ss / 90), 1e-4, 1e-8);
  EXPECT_EQ(r->iterations_run, 1);
}

void ExpectRejected(const float* x, int64_t n, int64_t dim, const TsneOptions& options,
                    const std::string& needle) {
  ThreadPool pool(1);
  absl::StatusOr<TsneResult> r = RunTsne(x, n, dim, options, pool);
  ASSERT_FALSE(r.ok()) << needle;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << needle;
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << "message \"" << r.status().message() << "\" lacks \"" << needle << "\"";
}

TEST(TsneTest, RejectsInvalidArguments) {
  std::vector<float> x(100 * 3, 0.5f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17);
  const TsneOptions ok;
  ExpectRejected(nullptr, 100, 3, ok, "x is null");
  ExpectRejected(x.data(), 1, 3, ok, "n must be >= 2");
  ExpectRejected(x.data(), 100, 0, ok, "dim must be >= 1");
  ExpectRejected(x.data(), 31, 3, ok, "perplexity must be >= 1 and < n - 1 = 30");
  TsneOptions o = ok;
  o.perplexity = 0.5;
  ExpectRejected(x.data(), 100, 3, o, "perplexity");
  o.perplexity = std::numeric_limits<double>::quiet_NaN();
  ExpectRejected(x.data(), 100, 3, o, "perplexity");
  o = ok;
  o.iterations = 0;
  ExpectRejected(x.data(), 100, 3, o, "iterations must be >= 1");
  o = ok;
  o.early_exaggeration = 0;
  ExpectRejected(x.data(), 100, 3, o, "early_exaggeration");
  o = ok;
  o.exaggeration_iterations = 1001;
  ExpectRejected(x.data(), 100, 3, o, "exaggeration_iterations");
  o.exaggeration_iterations = -1;
  ExpectRejected(x.data(), 100, 3, o, "exaggeration_iterations");
  o = ok;
  o.learning_rate = -1;
  ExpectRejected(x.data(), 100, 3, o, "learning_rate");
  o.learning_rate = std::numeric_limits<double>::infinity();
  ExpectRejected(x.data(), 100, 3, o, "learning_rate");
  o = ok;
  o.theta = -0.1;
  ExpectRejected(x.data(), 100, 3, o, "theta");
  o = ok;
  o.exact_below = -1;
  ExpectRejected(x.data(), 100, 3, o, "exact_below");
  o = ok;
  o.init = "spectral";
  ExpectRejected(x.data(), 100, 3, o, "init must be \"pca\" or \"random\", got \"spectral\"");
  o = ok;
  o.iterations_without_progress = 0;
  ExpectRejected(x.data(), 100, 3, o, "iterations_without_progress");
  o = ok;
  o.min_grad_norm = -1;
  ExpectRejected(x.data(), 100, 3, o, "min_grad_norm");
  x[42 * 3 + 1] = std::numeric_limits<float>::quiet_NaN();
  ExpectRejected(x.data(), 100, 3, ok, "x row 42 (column 1) is not finite");
  x[42 * 3 + 1] = 0;
  x[7 * 3] = -std::numeric_limits<float>::infinity();
  ExpectRejected(x.data(), 100, 3, ok, "x row 7 (column 0) is not finite");
}

TEST(TsneTest, HandlesDuplicatePointsAndTinyInputs) {
  // Many identical rows (zero distances, zero PCA variance) must still give a finite embedding.
  std::vector<float> x(64 * 3, 1.0f);
  for (int64_t i = 32; i < 64; ++i) x[i * 3] = 5.0f;
  ThreadPool pool(2);
  TsneOptions options;
  options.perplexity = 5;
  options.exact_below = 0;  // Barnes-Hut with coincident points.
  absl::StatusOr<TsneResult> r = RunTsne(x.data(), 64, 3, options, pool);
  ASSERT_TRUE(r.ok()) << r.status();
  for (float v : r->embedding) ASSERT_TRUE(std::isfinite(v));
  options.perplexity = 1;
  std::vector<float> three = {0, 0, 1, 0, 0, 1};
  r = RunTsne(three.data(), 3, 2, options, pool);
  ASSERT_TRUE(r.ok()) << r.status();
  for (float v : r->embedding) ASSERT_TRUE(std::isfinite(v));
}

}  // namespace
}  // namespace simdnet
