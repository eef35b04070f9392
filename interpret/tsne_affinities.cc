// t-SNE input affinities: exact k-nearest neighbours by blocked GEMM, the perplexity
// calibration of each point's Gaussian, and the symmetric sparse joint probabilities P
// (van der Maaten & Hinton 2008; scikit-learn 1.2's _binary_search_perplexity). Deterministic
// for any thread count: every point is computed by one task from thread-independent inputs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "interpret/tsne.h"
#include "tensor/gemm.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace detail {

void ExactKnn(const float* x, int64_t n, int64_t dim, int64_t k, ThreadPool& pool,
              std::vector<int32_t>* indices, std::vector<float>* sq_distances) {
  SIMDNET_CHECK(k >= 1 && k <= n - 1);
  indices->assign(static_cast<size_t>(n * k), 0);
  sq_distances->assign(static_cast<size_t>(n * k), 0.0f);
  std::vector<float> norms(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t d = 0; d < dim; ++d) s += double{x[i * dim + d]} * x[i * dim + d];
    norms[i] = static_cast<float>(s);
  }
  // Query rows per block: the (rows, n) dot-product block stays at most ~16 MB per thread.
  const int64_t rows = std::clamp<int64_t>((int64_t{4} << 20) / n, 8, 256);
  // Candidates re-ranked with exactly computed distances, so that the GEMM's cancellation error
  // (|x|^2 + |y|^2 - 2 x.y) cannot change which of near-tied neighbours are chosen.
  const int64_t candidates = std::min(n - 1, k + 8);
  const size_t threads = pool.NumThreads();
  // One single-thread pool per worker: each block's GEMM is then computed the same way whatever
  // the outer thread count (the outer loop provides the parallelism).
  std::vector<std::unique_ptr<ThreadPool>> inner(threads);
  for (auto& p : inner) p = std::make_unique<ThreadPool>(1);
  std::vector<std::vector<float>> dots(threads);
  std::vector<std::vector<std::pair<float, int32_t>>> cand(threads);
  pool.ParallelFor(NumChunks(n, rows), [&](uint64_t block, size_t thread) {
    const int64_t r0 = static_cast<int64_t>(block) * rows;
    const int64_t m = std::min(rows, n - r0);
    std::vector<float>& dot = dots[thread];
    dot.resize(static_cast<size_t>(m * n));
    Sgemm(false, true, m, n, dim, 1.0f, x + r0 * dim, dim, x, dim, 0.0f, dot.data(), n,
          *inner[thread]);
    std::vector<std::pair<float, int32_t>>& c = cand[thread];
    for (int64_t r = 0; r < m; ++r) {
      const int64_t i = r0 + r;
      c.clear();
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        c.emplace_back(norms[i] + norms[j] - 2.0f * dot[r * n + j], static_cast<int32_t>(j));
      }
      std::nth_element(c.begin(), c.begin() + (candidates - 1), c.end());
      c.resize(static_cast<size_t>(candidates));
      for (auto& e : c) {
        const float* xi = x + i * dim;
        const float* xj = x + int64_t{e.second} * dim;
        double s = 0;
        for (int64_t d = 0; d < dim; ++d) {
          const double diff = double{xi[d]} - xj[d];
          s += diff * diff;
        }
        e.first = static_cast<float>(s);
      }
      std::sort(c.begin(), c.end());
      for (int64_t t = 0; t < k; ++t) {
        (*indices)[i * k + t] = c[t].second;
        (*sq_distances)[i * k + t] = c[t].first;
      }
    }
  });
}

std::vector<double> ConditionalProbabilities(const std::vector<float>& sq_distances, int64_t n,
                                             int64_t k, double perplexity, ThreadPool& pool) {
  SIMDNET_CHECK(static_cast<int64_t>(sq_distances.size()) == n * k && k >= 1);
  std::vector<double> p(static_cast<size_t>(n * k));
  const double desired_entropy = std::log(perplexity);
  constexpr double kTolerance = 1e-5;
  constexpr int kSteps = 100;
  pool.ParallelFor(NumChunks(n, kPointChunk), [&](uint64_t c, size_t) {
    for (int64_t i = c * kPointChunk; i < std::min(n, int64_t(c + 1) * kPointChunk); ++i) {
      const float* dist = &sq_distances[i * k];
      double* pi = &p[i * k];
      double beta = 1, beta_min = -std::numeric_limits<double>::infinity();
      double beta_max = std::numeric_limits<double>::infinity();
      for (int step = 0; step < kSteps; ++step) {
        double sum = 0;
        for (int64_t j = 0; j < k; ++j) {
          pi[j] = std::exp(-double{dist[j]} * beta);
          sum += pi[j];
        }
        if (sum == 0) sum = 1e-8;  // All underflowed: keep the entropy finite.
        double sum_dp = 0;
        for (int64_t j = 0; j < k; ++j) {
          pi[j] /= sum;
          sum_dp += dist[j] * pi[j];
        }
        // H = -sum p log p = log(sum) + beta * E_p[d].
        const double diff = std::log(sum) + beta * sum_dp - desired_entropy;
        if (std::fabs(diff) <= kTolerance) break;
        if (diff > 0) {  // Too flat: sharpen.
          beta_min = beta;
          beta = std::isinf(beta_max) ? beta * 2 : (beta + beta_max) / 2;
        } else {
          beta_max = beta;
          beta = std::isinf(beta_min) ? beta / 2 : (beta + beta_min) / 2;
        }
      }
    }
  });
  return p;
}

SparseP SymmetrizeAffinities(const std::vector<int32_t>& indices,
                             const std::vector<double>& conditional, int64_t n, int64_t k) {
  SparseP out;
  out.n = n;
  std::vector<int64_t> count(static_cast<size_t>(n), k);
  for (int64_t t = 0; t < n * k; ++t) ++count[indices[t]];
  std::vector<int64_t> start(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < n; ++i) start[i + 1] = start[i] + count[i];
  // Row i receives its own k entries, then the incoming ones in ascending source order.
  std::vector<std::pair<int32_t, double>> entries(static_cast<size_t>(start[n]));
  std::vector<int64_t> cursor(start.begin(), start.end() - 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < k; ++t)
      entries[cursor[i]++] = {indices[i * k + t], conditional[i * k + t]};
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < k; ++t) {
      const int32_t j = indices[i * k + t];
      entries[cursor[j]++] = {static_cast<int32_t>(i), conditional[i * k + t]};
    }
  }
  out.row_ptr.assign(static_cast<size_t>(n + 1), 0);
  std::vector<double> vals;
  vals.reserve(entries.size());
  out.cols.reserve(entries.size());
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto first = entries.begin() + start[i], last = entries.begin() + start[i + 1];
    // A column occurs at most twice (p_{j|i} and p_{i|j}); their sum is order-independent.
    std::sort(first, last, [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto it = first; it != last; ++it) {
      if (!out.cols.empty() && static_cast<int64_t>(out.cols.size()) > out.row_ptr[i] &&
          out.cols.back() == it->first) {
        vals.back() += it->second;
      } else {
        out.cols.push_back(it->first);
        vals.push_back(it->second);
      }
    }
    out.row_ptr[i + 1] = static_cast<int64_t>(out.cols.size());
  }
  for (double v : vals) total += v;
  total = std::max(total, std::numeric_limits<double>::epsilon());
  out.vals.resize(vals.size());
  for (size_t t = 0; t < vals.size(); ++t) out.vals[t] = static_cast<float>(vals[t] / total);
  return out;
}

}  // namespace detail
}  // namespace simdnet
