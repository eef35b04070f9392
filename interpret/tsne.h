// t-SNE: 2-D embeddings of feature vectors (van der Maaten & Hinton, "Visualizing Data using
// t-SNE", JMLR 2008) with Barnes-Hut repulsion over a quadtree and sparse k-nearest-neighbour
// affinities (van der Maaten, "Accelerating t-SNE using Tree-Based Algorithms", JMLR 2014).
// The schedule and constants follow scikit-learn 1.2 (sklearn.manifold.TSNE) so that results
// are comparable with it.
#ifndef SIMDNET_INTERPRET_TSNE_H_
#define SIMDNET_INTERPRET_TSNE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace simdnet {

class ThreadPool;

struct TsneOptions {
  // Target perplexity of each point's conditional distribution. Requires: 1 <= perplexity < n-1
  // (scikit-learn accepts (0, n); a perplexity below 1 means a negative entropy, unreachable).
  // k = min(n - 1, floor(3 * perplexity + 1)) nearest neighbours carry the affinities.
  double perplexity = 30;
  // Total gradient-descent iterations, the exaggeration phase included. Requires: >= 1.
  int64_t iterations = 1000;
  // P is multiplied by this during the first `exaggeration_iterations`. Requires: > 0.
  double early_exaggeration = 12;
  // Requires: 0 <= exaggeration_iterations <= iterations.
  int64_t exaggeration_iterations = 250;
  // Step size; 0 = auto, max(n / early_exaggeration / 4, 50) as scikit-learn's "auto".
  // Requires: >= 0 and finite.
  double learning_rate = 0;
  // Barnes-Hut opening angle; 0 = exact O(n^2) repulsion. Requires: 0 <= theta, finite.
  // P stays the sparse kNN affinity either way (scikit-learn's method="exact" uses a dense P).
  double theta = 0.5;
  // Below this many points the exact O(n^2) repulsion is used whatever theta says: at n < 500 it
  // costs less than a millisecond per iteration and removes the approximation. Requires: >= 0.
  int64_t exact_below = 500;
  // "pca": the first two principal components, scaled so column 0 has standard deviation 1e-4
  // (scikit-learn's init="pca"); "random": i.i.d. N(0, 1e-4^2) drawn from `seed`.
  std::string init = "pca";
  uint64_t seed = 1;
  // Stop early when the (Barnes-Hut estimated) KL divergence, checked every 50 iterations, has
  // not improved for this many iterations after the exaggeration phase (scikit-learn's
  // n_iter_without_progress), or when the gradient norm falls to min_grad_norm.
  int64_t iterations_without_progress = 300;
  double min_grad_norm = 1e-7;
  // Prints the phases and the KL estimate every 50 iterations to stderr.
  bool verbose = false;
};

struct TsneResult {
  std::vector<float> embedding;  // (n, 2), row-major.
  // KL(P || Q) of the final embedding, computed exactly: sparse P, and Q normalized over all
  // n (n - 1) pairs (O(n^2) once, in parallel).
  double kl_divergence = 0;
  // The last Barnes-Hut estimate of the KL divergence (what scikit-learn reports as
  // kl_divergence_); 0 when no estimate was made.
  double kl_divergence_estimate = 0;
  int64_t iterations_run = 0;
  int64_t neighbors = 0;     // k of the affinity graph.
  double learning_rate = 0;  // The step size used (after "auto").
  // Wall time of the whole call and of its phases.
  double seconds = 0;
  double knn_seconds = 0;
  double affinity_seconds = 0;
  double optimize_seconds = 0;
  double kl_seconds = 0;
};

// Embeds the n points x (n, dim), row-major, in 2-D with t-SNE.
// Requires (else InvalidArgument naming the field): x != nullptr, n >= 2, dim >= 1, every value
// finite (the message names the first offending row), options as documented in TsneOptions.
// Ensures: the result is a function of (x, n, dim, options) only: bit-identical for any
// thread count of `pool` and from run to run.
absl::StatusOr<TsneResult> RunTsne(const float* x, int64_t n, int64_t dim,
                                   const TsneOptions& options, ThreadPool& pool);

// Returns the mean over points of the fraction of their k nearest neighbours (squared Euclidean
// in y (n, d), self excluded, ties by index) that share their label: the "k-NN label agreement"
// of an embedding. Requires: d >= 1, 1 <= k <= n - 1, labels has n entries.
double NeighborLabelAgreement(const float* y, int64_t n, int64_t d, const int64_t* labels,
                              int64_t k, ThreadPool& pool);

namespace detail {

// Points per ParallelFor task in the per-point loops: large enough to amortize the task
// overhead, small enough to balance 2+ threads on a few thousand points.
inline constexpr int64_t kPointChunk = 128;

// Returns the number of chunks of `chunk` points that cover n points.
inline uint64_t NumChunks(int64_t n, int64_t chunk) {
  return static_cast<uint64_t>((n + chunk - 1) / chunk);
}

// Sparse symmetric joint probabilities in CSR form: row i's neighbours are
// cols[row_ptr[i] .. row_ptr[i+1]), with values vals[...], columns ascending, no diagonal.
struct SparseP {
  int64_t n = 0;
  std::vector<int64_t> row_ptr;  // n + 1 entries.
  std::vector<int32_t> cols;
  std::vector<float> vals;
};

// Finds the k nearest neighbours (squared Euclidean, self excluded, ties broken by index) of
// every row of x (n, dim). Fills indices and sq_distances, both (n, k) row-major, each row sorted
// by ascending distance. Requires: 1 <= k <= n - 1.
void ExactKnn(const float* x, int64_t n, int64_t dim, int64_t k, ThreadPool& pool,
              std::vector<int32_t>* indices, std::vector<float>* sq_distances);

// Turns neighbour distances (n, k) into conditional probabilities p_{j|i} (n, k) by a binary
// search of each point's Gaussian precision beta_i so that the entropy (nats) of p_{.|i} is
// log(perplexity) within 1e-5 (at most 100 steps), as scikit-learn's _binary_search_perplexity.
// Requires: sq_distances has n * k entries, k >= 1.
std::vector<double> ConditionalProbabilities(const std::vector<float>& sq_distances, int64_t n,
                                             int64_t k, double perplexity, ThreadPool& pool);

// Returns P = (C + C^T) / sum(C + C^T) where C holds conditional probabilities (n, k) at the
// columns given by indices (n, k).
SparseP SymmetrizeAffinities(const std::vector<int32_t>& indices,
                             const std::vector<double>& conditional, int64_t n, int64_t k);

// Computes the t-SNE gradient dKL/dy (n, 2) at y (n, 2) for the sparse P multiplied by
// `exaggeration`; theta == 0 sums the repulsion over all pairs exactly, theta > 0 uses a
// Barnes-Hut quadtree. If kl_estimate is non-null it receives sum p log(p / q) with the (possibly
// approximate) normalization. Deterministic for any thread count. Requires: P.n == n >= 2.
void TsneGradient(const SparseP& p, double exaggeration, const float* y, int64_t n, double theta,
                  ThreadPool& pool, float* grad, double* kl_estimate);

// Returns KL(P || Q) for embedding y (n, 2) with Q normalized exactly over all pairs.
double ExactKlDivergence(const SparseP& p, const float* y, int64_t n, ThreadPool& pool);

}  // namespace detail
}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_TSNE_H_
