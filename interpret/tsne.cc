// t-SNE (van der Maaten & Hinton 2008) with Barnes-Hut repulsion (van der Maaten 2014): exact
// kNN, perplexity calibration and sparse symmetric P (tsne_affinities.cc), PCA init, and the
// scikit-learn 1.2 gradient-descent schedule (momentum, gains, early exaggeration).
//
// Determinism: every per-point quantity is computed by one task from inputs that do not depend
// on the thread count, and every reduction over points sums per-point (or fixed-size per-chunk)
// partials in index order, so the embedding is bit-identical for any number of threads.
#include "interpret/tsne.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tensor/gemm.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

using detail::kPointChunk;
using detail::NumChunks;

// ---------------------------------------------------------------------------------------------
// Quadtree for the Barnes-Hut repulsion.

// One cell. A leaf holds the points perm[begin, end) (one point, or several that could not be
// separated within kMaxDepth levels, e.g. duplicates); an inner cell has num_children > 0
// children stored contiguously from first_child.
struct QuadNode {
  float cx, cy;         // Center of mass.
  float max_width_sq;   // Squared longest side of the cell (the "size" in the theta test).
  float count;          // Number of points below, as float for the force sums.
  int32_t first_child;  // -1 for a leaf.
  int32_t num_children;
  int32_t begin, end;  // Range in perm.
};

constexpr int kMaxDepth = 40;

class QuadTree {
 public:
  // Builds the tree over y (n, 2). Single-threaded: O(n log n), about a millisecond at n = 10^4,
  // i.e. well under 1% of an iteration's force computation.
  void Build(const float* y, int64_t n) {
    nodes_.clear();
    perm_.resize(static_cast<size_t>(n));
    scratch_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) perm_[i] = static_cast<int32_t>(i);
    float min_x = y[0], max_x = y[0], min_y = y[1], max_y = y[1];
    for (int64_t i = 1; i < n; ++i) {
      min_x = std::min(min_x, y[2 * i]);
      max_x = std::max(max_x, y[2 * i]);
      min_y = std::min(min_y, y[2 * i + 1]);
      max_y = std::max(max_y, y[2 * i + 1]);
    }
    // Slightly larger than the data so no point sits exactly on the outer boundary.
    const float hw_x = std::max(max_x - min_x, 1e-6f) * 0.5005f;
    const float hw_y = std::max(max_y - min_y, 1e-6f) * 0.5005f;
    nodes_.push_back(QuadNode{});
    BuildNode(y, 0, 0, static_cast<int32_t>(n), 0.5f * (min_x + max_x), 0.5f * (min_y + max_y),
              hw_x, hw_y, 0);
  }

  const std::vector<QuadNode>& nodes() const { return nodes_; }
  const std::vector<int32_t>& perm() const { return perm_; }

 private:
  void BuildNode(const float* y, int32_t node, int32_t begin, int32_t end, float box_x, float box_y,
                 float hw_x, float hw_y, int depth) {
    double sx = 0, sy = 0;
    for (int32_t t = begin; t < end; ++t) {
      sx += y[2 * perm_[t]];
      sy += y[2 * perm_[t] + 1];
    }
    const int32_t count = end - begin;
    const float width = 2.0f * std::max(hw_x, hw_y);
    QuadNode& nd = nodes_[node];
    nd.cx = static_cast<float>(sx / count);
    nd.cy = static_cast<float>(sy / count);
    nd.max_width_sq = width * width;
    nd.count = static_cast<float>(count);
    nd.first_child = -1;
    nd.num_children = 0;
    nd.begin = begin;
    nd.end = end;
    if (count == 1 || depth >= kMaxDepth) return;

    // Stable counting partition into quadrants q = (x >= box_x) + 2 * (y >= box_y).
    int32_t counts[4] = {0, 0, 0, 0};
    for (int32_t t = begin; t < end; ++t) {
      const int32_t i = perm_[t];
      ++counts[(y[2 * i] >= box_x) + 2 * (y[2 * i + 1] >= box_y)];
    }
    int32_t starts[5];
    starts[0] = begin;
    for (int q = 0; q < 4; ++q) starts[q + 1] = starts[q] + counts[q];
    int32_t cursor[4] = {starts[0], starts[1], starts[2], starts[3]};
    for (int32_t t = begin; t < end; ++t) {
      const int32_t i = perm_[t];
      scratch_[cursor[(y[2 * i] >= box_x) + 2 * (y[2 * i + 1] >= box_y)]++] = i;
    }
    std::copy(scratch_.begin() + begin, scratch_.begin() + end, perm_.begin() + begin);

    int num_children = 0;
    for (int q = 0; q < 4; ++q) num_children += counts[q] > 0;
    const int32_t first = static_cast<int32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + num_children);  // Invalidates nd.
    nodes_[node].first_child = first;
    nodes_[node].num_children = num_children;
    const float qx = 0.5f * hw_x, qy = 0.5f * hw_y;
    int32_t child = first;
    for (int q = 0; q < 4; ++q) {
      if (counts[q] == 0) continue;
      const float cx = box_x + ((q & 1) ? qx : -qx);
      const float cy = box_y + ((q & 2) ? qy : -qy);
      BuildNode(y, child++, starts[q], starts[q + 1], cx, cy, qx, qy, depth + 1);
    }
  }

  std::vector<QuadNode> nodes_;
  std::vector<int32_t> perm_;
  std::vector<int32_t> scratch_;
};

// Repulsion on point i: z = sum_j 1/(1+d_ij^2) and f = sum_j (y_i - y_j)/(1+d_ij^2)^2, with
// cells whose max_width^2 < theta^2 * d^2 (d to their center of mass) summarized by their
// center of mass, as scikit-learn's QuadTree.summarize.
void RepulsionBarnesHut(const QuadTree& tree, const float* y, int32_t i, float theta_sq,
                        double* z_out, double* fx_out, double* fy_out) {
  const QuadNode* nodes = tree.nodes().data();
  const int32_t* perm = tree.perm().data();
  const float px = y[2 * i], py = y[2 * i + 1];
  // Float partial sums (as scikit-learn): a point meets a few hundred cells, well within float's
  // precision, and the double conversions cost ~15% of the walk.
  float z = 0, fx = 0, fy = 0;
  int32_t stack[4 * kMaxDepth + 8];
  int top = 0;
  stack[top++] = 0;
  while (top > 0) {
    const QuadNode& nd = nodes[stack[--top]];
    const float dx = px - nd.cx, dy = py - nd.cy;
    const float d2 = dx * dx + dy * dy;
    const bool leaf = nd.first_child < 0;
    if (leaf && nd.end - nd.begin > 1) {  // Unseparated points: sum them one by one.
      for (int32_t t = nd.begin; t < nd.end; ++t) {
        const int32_t j = perm[t];
        if (j == i) continue;
        const float ex = px - y[2 * j], ey = py - y[2 * j + 1];
        const float q = 1.0f / (1.0f + ex * ex + ey * ey);
        z += q;
        fx += q * q * ex;
        fy += q * q * ey;
      }
    } else if (leaf || nd.max_width_sq < theta_sq * d2) {
      // A single-point leaf's center of mass is the point itself (exact), so it needs no
      // access to y; only the self-interaction is skipped.
      if (leaf && perm[nd.begin] == i) continue;
      const float q = 1.0f / (1.0f + d2);
      const float cq = nd.count * q;
      z += cq;
      fx += cq * q * dx;
      fy += cq * q * dy;
    } else {
      for (int32_t c = nd.first_child + nd.num_children - 1; c >= nd.first_child; --c) {
        stack[top++] = c;
      }
    }
  }
  *z_out = z;
  *fx_out = fx;
  *fy_out = fy;
}

// The same sums over all j != i exactly.
void RepulsionExact(const float* y, int64_t n, int64_t i, double* z_out, double* fx_out,
                    double* fy_out) {
  const float px = y[2 * i], py = y[2 * i + 1];
  double z = 0, fx = 0, fy = 0;
  for (int64_t j = 0; j < n; ++j) {
    if (j == i) continue;
    const float dx = px - y[2 * j], dy = py - y[2 * j + 1];
    const float q = 1.0f / (1.0f + dx * dx + dy * dy);
    z += q;
    fx += q * q * dx;
    fy += q * q * dy;
  }
  *z_out = z;
  *fx_out = fx;
  *fy_out = fy;
}

// ---------------------------------------------------------------------------------------------
// PCA initialization.

// Returns the top-2 eigenvectors (dim, 2 column-major: v[0..dim), v[dim..2dim)) of the symmetric
// matrix c (dim, dim) by subspace iteration with a Rayleigh-Ritz step. Deterministic.
std::vector<double> TopTwoEigenvectors(const std::vector<double>& c, int64_t dim) {
  const int64_t b = std::min<int64_t>(dim, 10);  // Subspace width: 2 wanted + 8 for convergence.
  std::vector<double> v(static_cast<size_t>(dim * b)), w(v.size());
  Rng rng(0x7453'4e45, 1);  // Fixed start: the init must not depend on the seed.
  for (double& e : v) e = rng.Normal();
  auto orthonormalize = [&](std::vector<double>& m) {
    for (int64_t a = 0; a < b; ++a) {
      double* ca = &m[a * dim];
      for (int64_t p = 0; p < a; ++p) {
        const double* cp = &m[p * dim];
        double dot = 0;
        for (int64_t r = 0; r < dim; ++r) dot += ca[r] * cp[r];
        for (int64_t r = 0; r < dim; ++r) ca[r] -= dot * cp[r];
      }
      double norm = 0;
      for (int64_t r = 0; r < dim; ++r) norm += ca[r] * ca[r];
      norm = std::sqrt(norm);
      if (norm < 1e-300) {  // Rank-deficient: restart this column from a unit vector.
        for (int64_t r = 0; r < dim; ++r) ca[r] = (r == a % dim) ? 1.0 : 0.0;
        --a;  // Re-orthogonalize the replacement (terminates: dim >= b).
        continue;
      }
      for (int64_t r = 0; r < dim; ++r) ca[r] /= norm;
    }
  };
  auto multiply = [&](const std::vector<double>& in, std::vector<double>& out) {
    for (int64_t a = 0; a < b; ++a) {
      for (int64_t r = 0; r < dim; ++r) {
        double s = 0;
        const double* row = &c[r * dim];
        for (int64_t s_i = 0; s_i < dim; ++s_i) s += row[s_i] * in[a * dim + s_i];
        out[a * dim + r] = s;
      }
    }
  };
  orthonormalize(v);
  // Iterates until the two leading directions stop moving (|cos| of old vs new within 1e-13),
  // at most 300 times.
  for (int it = 0; it < 300; ++it) {
    multiply(v, w);
    w.swap(v);
    orthonormalize(v);
    double moved = 0;
    for (int64_t a = 0; a < std::min<int64_t>(2, b); ++a) {
      double dot = 0;
      for (int64_t r = 0; r < dim; ++r) dot += v[a * dim + r] * w[a * dim + r];
      moved = std::max(moved, 1 - std::fabs(dot));
    }
    if (moved < 1e-13) break;
  }
  // Rayleigh-Ritz: H = V^T C V (b, b), eigenvectors by cyclic Jacobi rotations.
  multiply(v, w);
  std::vector<double> h(static_cast<size_t>(b * b)), e(static_cast<size_t>(b * b), 0.0);
  for (int64_t a = 0; a < b; ++a) {
    e[a * b + a] = 1;
    for (int64_t p = 0; p < b; ++p) {
      double s = 0;
      for (int64_t r = 0; r < dim; ++r) s += v[a * dim + r] * w[p * dim + r];
      h[a * b + p] = s;
    }
  }
  for (int sweep = 0; sweep < 50; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < b; ++p)
      for (int64_t q = p + 1; q < b; ++q) off += h[p * b + q] * h[p * b + q];
    if (off < 1e-30) break;
    for (int64_t p = 0; p < b; ++p) {
      for (int64_t q = p + 1; q < b; ++q) {
        const double apq = h[p * b + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double tau = (h[q * b + q] - h[p * b + p]) / (2 * apq);
        const double t = (tau >= 0 ? 1 : -1) / (std::fabs(tau) + std::sqrt(1 + tau * tau));
        const double cs = 1 / std::sqrt(1 + t * t), sn = t * cs;
        for (int64_t k = 0; k < b; ++k) {  // Columns p, q.
          const double hkp = h[k * b + p], hkq = h[k * b + q];
          h[k * b + p] = cs * hkp - sn * hkq;
          h[k * b + q] = sn * hkp + cs * hkq;
        }
        for (int64_t k = 0; k < b; ++k) {  // Rows p, q.
          const double hpk = h[p * b + k], hqk = h[q * b + k];
          h[p * b + k] = cs * hpk - sn * hqk;
          h[q * b + k] = sn * hpk + cs * hqk;
        }
        for (int64_t k = 0; k < b; ++k) {
          const double ekp = e[k * b + p], ekq = e[k * b + q];
          e[k * b + p] = cs * ekp - sn * ekq;
          e[k * b + q] = sn * ekp + cs * ekq;
        }
      }
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(b));
  for (int64_t a = 0; a < b; ++a) order[a] = a;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t l, int64_t r) { return h[l * b + l] > h[r * b + r]; });
  std::vector<double> out(static_cast<size_t>(2 * dim), 0.0);
  for (int64_t comp = 0; comp < std::min<int64_t>(2, b); ++comp) {
    const int64_t col = order[comp];
    for (int64_t a = 0; a < b; ++a) {
      for (int64_t r = 0; r < dim; ++r) out[comp * dim + r] += e[a * b + col] * v[a * dim + r];
    }
  }
  return out;
}

// Fills y (n, 2) with the PCA projection of x scaled so column 0 has standard deviation 1e-4
// (scikit-learn: pca.fit_transform(X) / std(col 0) * 1e-4, signs fixed as svd_flip does: the
// entry of largest magnitude in each column is positive). Returns false if x has no variance.
bool PcaInit(const float* x, int64_t n, int64_t dim, ThreadPool& pool, float* y) {
  constexpr int64_t kRows = 256;
  const uint64_t chunks = NumChunks(n, kRows);
  std::vector<double> partial(chunks * dim, 0.0);
  pool.ParallelFor(chunks, [&](uint64_t c, size_t) {
    double* s = &partial[c * dim];
    for (int64_t i = c * kRows; i < std::min(n, int64_t(c + 1) * kRows); ++i)
      for (int64_t d = 0; d < dim; ++d) s[d] += x[i * dim + d];
  });
  std::vector<double> mean(static_cast<size_t>(dim), 0.0);
  for (uint64_t c = 0; c < chunks; ++c)
    for (int64_t d = 0; d < dim; ++d) mean[d] += partial[c * dim + d];
  for (double& m : mean) m /= static_cast<double>(n);

  // Covariance (upper triangle): each task owns a block of kRowsPerTask rows of the matrix and
  // sums over the points in order, so memory stays dim^2 and the result is thread-independent.
  constexpr int64_t kRowsPerTask = 8;
  std::vector<double> cov(static_cast<size_t>(dim * dim), 0.0);
  pool.ParallelFor(NumChunks(dim, kRowsPerTask), [&](uint64_t c, size_t) {
    const int64_t a0 = static_cast<int64_t>(c) * kRowsPerTask;
    const int64_t a1 = std::min(dim, a0 + kRowsPerTask);
    std::vector<double> row(static_cast<size_t>(dim));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t d = a0; d < dim; ++d) row[d] = x[i * dim + d] - mean[d];
      for (int64_t a = a0; a < a1; ++a) {
        const double ra = row[a];
        double* ca = &cov[a * dim];
        for (int64_t b = a; b < dim; ++b) ca[b] += ra * row[b];
      }
    }
  });
  for (int64_t a = 0; a < dim; ++a)
    for (int64_t b = 0; b < a; ++b) cov[a * dim + b] = cov[b * dim + a];
  const std::vector<double> v = TopTwoEigenvectors(cov, dim);

  std::vector<double> proj(static_cast<size_t>(2 * n));
  pool.ParallelFor(NumChunks(n, kRows), [&](uint64_t c, size_t) {
    for (int64_t i = c * kRows; i < std::min(n, int64_t(c + 1) * kRows); ++i) {
      double p0 = 0, p1 = 0;
      for (int64_t d = 0; d < dim; ++d) {
        const double xc = x[i * dim + d] - mean[d];
        p0 += xc * v[d];
        p1 += xc * v[dim + d];
      }
      proj[2 * i] = p0;
      proj[2 * i + 1] = p1;
    }
  });
  for (int comp = 0; comp < 2; ++comp) {
    int64_t arg = 0;
    for (int64_t i = 1; i < n; ++i)
      if (std::fabs(proj[2 * i + comp]) > std::fabs(proj[2 * arg + comp])) arg = i;
    if (proj[2 * arg + comp] < 0)
      for (int64_t i = 0; i < n; ++i) proj[2 * i + comp] = -proj[2 * i + comp];
  }
  double m0 = 0, ss = 0;
  for (int64_t i = 0; i < n; ++i) m0 += proj[2 * i];
  m0 /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) ss += (proj[2 * i] - m0) * (proj[2 * i] - m0);
  const double sd = std::sqrt(ss / static_cast<double>(n));
  if (!(sd > 1e-30)) return false;
  for (int64_t i = 0; i < 2 * n; ++i) y[i] = static_cast<float>(proj[i] / sd * 1e-4);
  return true;
}

absl::Status ValidateOptions(const float* x, int64_t n, int64_t dim, const TsneOptions& o) {
  if (x == nullptr) return absl::InvalidArgumentError("RunTsne: x is null");
  if (n < 2) return absl::InvalidArgumentError(absl::StrCat("RunTsne: n must be >= 2, got ", n));
  if (dim < 1) {
    return absl::InvalidArgumentError(absl::StrCat("RunTsne: dim must be >= 1, got ", dim));
  }
  if (!(o.perplexity >= 1) || !(o.perplexity < static_cast<double>(n - 1))) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "RunTsne: perplexity must be >= 1 and < n - 1 = %d, got %g", n - 1, o.perplexity));
  }
  if (o.iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunTsne: iterations must be >= 1, got ", o.iterations));
  }
  if (!(o.early_exaggeration > 0) || !std::isfinite(o.early_exaggeration)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "RunTsne: early_exaggeration must be finite and > 0, got %g", o.early_exaggeration));
  }
  if (o.exaggeration_iterations < 0 || o.exaggeration_iterations > o.iterations) {
    return absl::InvalidArgumentError(
        absl::StrFormat("RunTsne: exaggeration_iterations must be in [0, iterations = %d], got %d",
                        o.iterations, o.exaggeration_iterations));
  }
  if (!(o.learning_rate >= 0) || !std::isfinite(o.learning_rate)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "RunTsne: learning_rate must be finite and >= 0 (0 = auto), got %g", o.learning_rate));
  }
  if (!(o.theta >= 0) || !std::isfinite(o.theta)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("RunTsne: theta must be finite and >= 0, got %g", o.theta));
  }
  if (o.exact_below < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RunTsne: exact_below must be >= 0, got ", o.exact_below));
  }
  if (o.init != "pca" && o.init != "random") {
    return absl::InvalidArgumentError(
        absl::StrCat("RunTsne: init must be \"pca\" or \"random\", got \"", o.init, "\""));
  }
  if (o.iterations_without_progress < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RunTsne: iterations_without_progress must be >= 1, got ", o.iterations_without_progress));
  }
  if (!(o.min_grad_norm >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("RunTsne: min_grad_norm must be >= 0, got %g", o.min_grad_norm));
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t d = 0; d < dim; ++d) {
      if (!std::isfinite(x[i * dim + d])) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "RunTsne: x row %d (column %d) is not finite (%g)", i, d, x[i * dim + d]));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace detail {

void TsneGradient(const SparseP& p, double exaggeration, const float* y, int64_t n, double theta,
                  ThreadPool& pool, float* grad, double* kl_estimate) {
  SIMDNET_CHECK(p.n == n && n >= 2);
  std::vector<double> z(static_cast<size_t>(n));
  std::vector<double> neg(static_cast<size_t>(2 * n));
  const uint64_t chunks = NumChunks(n, kPointChunk);
  if (theta > 0) {
    QuadTree tree;
    tree.Build(y, n);
    const float theta_sq = static_cast<float>(theta * theta);
    const int32_t* perm = tree.perm().data();
    // Points in tree order: neighbouring tasks walk similar paths, which keeps the nodes they
    // touch in cache. Each point's sums still depend only on the point.
    pool.ParallelFor(chunks, [&](uint64_t c, size_t) {
      for (int64_t t = c * kPointChunk; t < std::min(n, int64_t(c + 1) * kPointChunk); ++t) {
        const int32_t i = perm[t];
        RepulsionBarnesHut(tree, y, i, theta_sq, &z[i], &neg[2 * i], &neg[2 * i + 1]);
      }
    });
  } else {
    pool.ParallelFor(chunks, [&](uint64_t c, size_t) {
      for (int64_t i = c * kPointChunk; i < std::min(n, int64_t(c + 1) * kPointChunk); ++i) {
        RepulsionExact(y, n, i, &z[i], &neg[2 * i], &neg[2 * i + 1]);
      }
    });
  }
  double sum_q = 0;
  for (int64_t i = 0; i < n; ++i) sum_q += z[i];
  sum_q = std::max(sum_q, std::numeric_limits<double>::min());
  const double inv_sum_q = 1.0 / sum_q;
  std::vector<double> kl_part(kl_estimate != nullptr ? chunks : 0, 0.0);
  pool.ParallelFor(chunks, [&](uint64_t c, size_t) {
    double kl = 0;
    for (int64_t i = c * kPointChunk; i < std::min(n, int64_t(c + 1) * kPointChunk); ++i) {
      const float px = y[2 * i], py = y[2 * i + 1];
      double ax = 0, ay = 0;
      for (int64_t t = p.row_ptr[i]; t < p.row_ptr[i + 1]; ++t) {
        const int32_t j = p.cols[t];
        const float dx = px - y[2 * j], dy = py - y[2 * j + 1];
        const double q = 1.0 / (1.0 + double{dx * dx + dy * dy});
        const double pij = exaggeration * p.vals[t];
        ax += pij * q * dx;
        ay += pij * q * dy;
        if (kl_estimate != nullptr) {
          constexpr double kTiny = std::numeric_limits<float>::min();
          kl += pij * std::log(std::max(pij, kTiny) / std::max(q * inv_sum_q, kTiny));
        }
      }
      // dC/dy_i = 4 (sum_j p_ij q_ij Z (y_i - y_j) - sum_j q_ij^2 Z (y_i - y_j)).
      grad[2 * i] = static_cast<float>(4.0 * (ax - neg[2 * i] * inv_sum_q));
      grad[2 * i + 1] = static_cast<float>(4.0 * (ay - neg[2 * i + 1] * inv_sum_q));
    }
    if (kl_estimate != nullptr) kl_part[c] = kl;
  });
  if (kl_estimate != nullptr) {
    double kl = 0;
    for (double v : kl_part) kl += v;
    *kl_estimate = kl;
  }
}

double ExactKlDivergence(const SparseP& p, const float* y, int64_t n, ThreadPool& pool) {
  SIMDNET_CHECK(p.n == n && n >= 2);
  std::vector<double> z(static_cast<size_t>(n));
  const uint64_t chunks = NumChunks(n, kPointChunk);
  pool.ParallelFor(chunks, [&](uint64_t c, size_t) {
    for (int64_t i = c * kPointChunk; i < std::min(n, int64_t(c + 1) * kPointChunk); ++i) {
      const double px = y[2 * i], py = y[2 * i + 1];
      double s = 0;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double dx = px - y[2 * j], dy = py - y[2 * j + 1];
        s += 1.0 / (1.0 + dx * dx + dy * dy);
      }
      z[i] = s;
    }
  });
  double sum_z = 0;
  for (double v : z) sum_z += v;
  double kl = 0;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = p.row_ptr[i]; t < p.row_ptr[i + 1]; ++t) {
      const double pij = p.vals[t];
      if (pij <= 0) continue;
      const int32_t j = p.cols[t];
      const double dx = double{y[2 * i]} - y[2 * j], dy = double{y[2 * i + 1]} - y[2 * j + 1];
      const double q = 1.0 / (1.0 + dx * dx + dy * dy) / sum_z;
      kl += pij * std::log(pij / q);
    }
  }
  return kl;
}

}  // namespace detail

double NeighborLabelAgreement(const float* y, int64_t n, int64_t d, const int64_t* labels,
                              int64_t k, ThreadPool& pool) {
  SIMDNET_CHECK(d >= 1 && k >= 1 && k <= n - 1);
  std::vector<int32_t> indices;
  std::vector<float> distances;
  detail::ExactKnn(y, n, d, k, pool, &indices, &distances);
  int64_t same = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t t = 0; t < k; ++t) same += labels[indices[i * k + t]] == labels[i];
  return static_cast<double>(same) / static_cast<double>(n * k);
}

absl::StatusOr<TsneResult> RunTsne(const float* x, int64_t n, int64_t dim,
                                   const TsneOptions& options, ThreadPool& pool) {
  SIMDNET_RETURN_IF_ERROR(ValidateOptions(x, n, dim, options));
  const Clock::time_point start = Clock::now();
  TsneResult result;
  const int64_t k =
      std::min<int64_t>(n - 1, static_cast<int64_t>(std::floor(3.0 * options.perplexity + 1)));
  result.neighbors = k;

  Clock::time_point t0 = Clock::now();
  std::vector<int32_t> indices;
  std::vector<float> distances;
  detail::ExactKnn(x, n, dim, k, pool, &indices, &distances);
  result.knn_seconds = SecondsSince(t0);

  t0 = Clock::now();
  const std::vector<double> conditional =
      detail::ConditionalProbabilities(distances, n, k, options.perplexity, pool);
  const detail::SparseP p = detail::SymmetrizeAffinities(indices, conditional, n, k);
  result.affinity_seconds = SecondsSince(t0);
  if (options.verbose) {
    std::fprintf(stderr, "[t-SNE] n=%lld dim=%lld k=%lld: kNN %.2fs, affinities %.2fs\n",
                 static_cast<long long>(n), static_cast<long long>(dim), static_cast<long long>(k),
                 result.knn_seconds, result.affinity_seconds);
  }

  t0 = Clock::now();
  std::vector<float> y(static_cast<size_t>(2 * n));
  bool initialized = false;
  if (options.init == "pca") initialized = PcaInit(x, n, dim, pool, y.data());
  if (!initialized) Rng(options.seed).FillNormal(y.data(), y.size(), 0.0f, 1e-4f);

  const double lr = options.learning_rate > 0
                        ? options.learning_rate
                        : std::max(static_cast<double>(n) / options.early_exaggeration / 4, 50.0);
  result.learning_rate = lr;
  const double theta = n < options.exact_below ? 0.0 : options.theta;
  const float lr_f = static_cast<float>(lr);
  std::vector<float> grad(y.size()), update(y.size()), gains(y.size());
  constexpr int64_t kCheckEvery = 50;

  // Runs iterations [first, last) with fresh momentum and gains (as scikit-learn, which
  // restarts _gradient_descent for each phase); returns the last iteration run.
  auto run_phase = [&](int64_t first, int64_t last, double exaggeration, float momentum,
                       int64_t without_progress) {
    std::fill(update.begin(), update.end(), 0.0f);
    std::fill(gains.begin(), gains.end(), 1.0f);
    double best_error = std::numeric_limits<double>::max();
    int64_t best_iter = first;
    int64_t i = first;
    for (; i < last; ++i) {
      const bool check = (i + 1) % kCheckEvery == 0;
      double error = 0;
      const bool want_error = check || i == last - 1;
      detail::TsneGradient(p, exaggeration, y.data(), n, theta, pool, grad.data(),
                           want_error ? &error : nullptr);
      if (want_error) result.kl_divergence_estimate = error;
      double grad_sq = 0;  // Of the gain-scaled gradient, as scikit-learn's grad_norm.
      for (size_t t = 0; t < y.size(); ++t) {
        // Gains (Jacobs 1988, as in van der Maaten's code): grow while the step keeps its
        // direction, shrink when it flips.
        float g = gains[t];
        g = (update[t] * grad[t] < 0.0f) ? g + 0.2f : g * 0.8f;
        g = std::max(g, 0.01f);
        gains[t] = g;
        grad_sq += double{grad[t] * g} * (grad[t] * g);
        update[t] = momentum * update[t] - lr_f * (grad[t] * g);
        y[t] += update[t];
      }
      if (check) {
        if (options.verbose) {
          std::fprintf(stderr, "[t-SNE] iteration %lld: KL estimate %.6f, grad norm %.3g\n",
                       static_cast<long long>(i + 1), error, std::sqrt(grad_sq));
        }
        if (error < best_error) {
          best_error = error;
          best_iter = i;
        } else if (i - best_iter > without_progress) {
          break;
        }
        if (std::sqrt(grad_sq) <= options.min_grad_norm) break;
      }
    }
    return std::min(i, last - 1);
  };

  const int64_t exag_end = options.exaggeration_iterations;
  int64_t last = -1;
  if (exag_end > 0) {
    last = run_phase(0, exag_end, options.early_exaggeration, 0.5f, exag_end);
  }
  if (last + 1 < options.iterations) {
    last = run_phase(last + 1, options.iterations, 1.0, 0.8f, options.iterations_without_progress);
  }
  result.iterations_run = last + 1;
  result.optimize_seconds = SecondsSince(t0);

  t0 = Clock::now();
  result.kl_divergence = detail::ExactKlDivergence(p, y.data(), n, pool);
  result.kl_seconds = SecondsSince(t0);
  result.embedding = std::move(y);
  result.seconds = SecondsSince(start);
  if (options.verbose) {
    std::fprintf(stderr, "[t-SNE] %lld iterations in %.2fs; exact KL %.6f\n",
                 static_cast<long long>(result.iterations_run), result.optimize_seconds,
                 result.kl_divergence);
  }
  return result;
}

}  // namespace simdnet
