// t-SNE end-to-end benchmark: runs RunTsne with scikit-learn-equivalent settings (perplexity 30,
// 1000 iterations, Barnes-Hut theta 0.5, PCA init, auto learning rate) on --features=F.npy
// (n, dim) float32 with --labels=L.npy, or on synthetic Gaussian clusters, and prints one JSON
// line: wall seconds, phase seconds, exact KL, 2-D 10-NN label agreement.
//
//   bazel run -c opt //bench:tsne_bench -- --features=/tmp/features.npy --labels=/tmp/labels.npy
//   flags: --embedding_out=E.npy --plot_out=P.png --class_names=a,b,...|fashion-mnist
//          --thumbnails_idx=t10k-images-idx3-ubyte.gz (thumbnails in the plot) --threads=T --n=N
//          --dim=D --clusters=C --iterations=I
//          --perplexity=P --theta=T --init=pca|random --seed=S --verbose
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "data/idx.h"
#include "interpret/npy.h"
#include "interpret/tsne.h"
#include "interpret/tsne_plot.h"
#include "tensor/rng.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {
namespace {

struct Flags {
  std::string features, labels, embedding_out, plot_out, thumbnails_idx;
  std::vector<std::string> class_names;
  int64_t n = 10000, dim = 128, clusters = 10;
  int64_t threads = 0;  // 0 = DefaultThreadCount().
  TsneOptions tsne;
};

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    auto int_flag = [&](int64_t* out) -> absl::Status {
      if (!absl::SimpleAtoi(value, out)) {
        return absl::InvalidArgumentError(absl::StrCat("flag ", key, ": not an integer: ", value));
      }
      return absl::OkStatus();
    };
    auto double_flag = [&](double* out) -> absl::Status {
      if (!absl::SimpleAtod(value, out)) {
        return absl::InvalidArgumentError(absl::StrCat("flag ", key, ": not a number: ", value));
      }
      return absl::OkStatus();
    };
    if (key == "--features") {
      f.features = value;
    } else if (key == "--labels") {
      f.labels = value;
    } else if (key == "--embedding_out") {
      f.embedding_out = value;
    } else if (key == "--plot_out") {
      f.plot_out = value;
    } else if (key == "--class_names") {
      f.class_names = value == "fashion-mnist"
                          ? FashionMnistClassNames()
                          : std::vector<std::string>(absl::StrSplit(value, ','));
    } else if (key == "--thumbnails_idx") {
      f.thumbnails_idx = value;
    } else if (key == "--n") {
      SIMDNET_RETURN_IF_ERROR(int_flag(&f.n));
    } else if (key == "--dim") {
      SIMDNET_RETURN_IF_ERROR(int_flag(&f.dim));
    } else if (key == "--clusters") {
      SIMDNET_RETURN_IF_ERROR(int_flag(&f.clusters));
    } else if (key == "--threads") {
      SIMDNET_RETURN_IF_ERROR(int_flag(&f.threads));
    } else if (key == "--iterations") {
      SIMDNET_RETURN_IF_ERROR(int_flag(&f.tsne.iterations));
    } else if (key == "--perplexity") {
      SIMDNET_RETURN_IF_ERROR(double_flag(&f.tsne.perplexity));
    } else if (key == "--theta") {
      SIMDNET_RETURN_IF_ERROR(double_flag(&f.tsne.theta));
    } else if (key == "--init") {
      f.tsne.init = value;
    } else if (key == "--seed") {
      int64_t seed = 0;
      SIMDNET_RETURN_IF_ERROR(int_flag(&seed));
      f.tsne.seed = static_cast<uint64_t>(seed);
    } else if (key == "--verbose") {
      f.tsne.verbose = true;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag: ", arg));
    }
  }
  if (f.features.empty() != f.labels.empty()) {
    return absl::InvalidArgumentError("--features and --labels must be given together");
  }
  if (f.n < 2 || f.dim < 1 || f.clusters < 1 || f.threads < 0) {
    return absl::InvalidArgumentError(
        "--n must be >= 2, --dim and --clusters >= 1, --threads >= 0");
  }
  return f;
}

// Synthetic data: `clusters` Gaussian blobs in `dim` dimensions with overlapping tails (centers
// N(0, 1.5^2) per coordinate, unit noise), labels = blob index.
void Synthetic(int64_t n, int64_t dim, int64_t clusters, std::vector<float>* x,
               std::vector<int64_t>* labels) {
  Rng rng(2024);
  std::vector<float> centers(static_cast<size_t>(clusters * dim));
  for (float& c : centers) c = 1.5f * rng.Normal();
  x->resize(static_cast<size_t>(n * dim));
  labels->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % clusters;
    (*labels)[i] = c;
    for (int64_t d = 0; d < dim; ++d) (*x)[i * dim + d] = centers[c * dim + d] + rng.Normal();
  }
}

absl::Status Main(int argc, char** argv) {
  SIMDNET_ASSIGN_OR_RETURN(Flags flags, ParseFlags(argc, argv));
  std::vector<float> x;
  std::vector<int64_t> labels;
  int64_t n = flags.n, dim = flags.dim;
  std::string source = "synthetic";
  if (!flags.features.empty()) {
    SIMDNET_ASSIGN_OR_RETURN(NpyFloatArray features, ReadNpyFloat32(flags.features));
    if (features.shape.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(flags.features, ": features must be 2-D (n, dim)"));
    }
    SIMDNET_ASSIGN_OR_RETURN(labels, ReadNpyLabels(flags.labels));
    n = features.shape[0];
    dim = features.shape[1];
    if (static_cast<int64_t>(labels.size()) != n) {
      return absl::InvalidArgumentError(absl::StrCat(flags.labels, ": has ", labels.size(),
                                                     " labels, features have ", n, " rows"));
    }
    x = std::move(features.data);
    source = flags.features;
  } else {
    Synthetic(n, dim, flags.clusters, &x, &labels);
  }
  if (flags.threads > 0) SetDefaultThreadCount(static_cast<size_t>(flags.threads));
  ThreadPool& pool = DefaultThreadPool();
  SIMDNET_ASSIGN_OR_RETURN(TsneResult r, RunTsne(x.data(), n, dim, flags.tsne, pool));
  const int64_t k = std::min<int64_t>(10, n - 1);
  const double agreement = NeighborLabelAgreement(r.embedding.data(), n, 2, labels.data(), k, pool);
  if (!flags.embedding_out.empty()) {
    const int64_t shape[2] = {n, 2};
    SIMDNET_RETURN_IF_ERROR(WriteNpyFloat32(flags.embedding_out, r.embedding, shape));
  }
  if (!flags.plot_out.empty()) {
    ScatterOptions plot;
    plot.title = absl::StrFormat("t-SNE of %d points (perplexity %g), 10-NN agreement %.3f", n,
                                 flags.tsne.perplexity, agreement);
    const std::vector<int32_t> labels32(labels.begin(), labels.end());
    if (!flags.thumbnails_idx.empty()) {
      SIMDNET_ASSIGN_OR_RETURN(IdxArray images, ReadIdxFile(flags.thumbnails_idx));
      if (images.dims.size() != 3 || images.dims[0] != n) {
        return absl::InvalidArgumentError(absl::StrCat(flags.thumbnails_idx, ": expected (", n,
                                                       ", H, W) images for the thumbnails"));
      }
      plot.thumbnails = std::move(images.data);
      plot.thumb_channels = 1;
      plot.thumb_height = images.dims[1];
      plot.thumb_width = images.dims[2];
    }
    SIMDNET_RETURN_IF_ERROR(
        WriteScatterPng(flags.plot_out, r.embedding, labels32, flags.class_names, plot));
  }
  std::printf(
      "{\"impl\": \"simdnet\", \"data\": \"%s\", \"n\": %lld, \"dim\": %lld, \"threads\": %zu, "
      "\"seconds\": %.3f, \"knn_seconds\": %.3f, \"affinity_seconds\": %.3f, "
      "\"optimize_seconds\": %.3f, \"kl_seconds\": %.3f, \"iterations\": %lld, "
      "\"kl_divergence\": %.6f, \"kl_divergence_estimate\": %.6f, \"knn10_agreement\": %.6f}\n",
      source.c_str(), static_cast<long long>(n), static_cast<long long>(dim), pool.NumThreads(),
      r.seconds, r.knn_seconds, r.affinity_seconds, r.optimize_seconds, r.kl_seconds,
      static_cast<long long>(r.iterations_run), r.kl_divergence, r.kl_divergence_estimate,
      agreement);
  return absl::OkStatus();
}

}  // namespace
}  // namespace simdnet

int main(int argc, char** argv) {
  const absl::Status status = simdnet::Main(argc, argv);
  if (!status.ok()) {
    std::fprintf(stderr, "tsne_bench: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
