// The t-SNE subcommand: features -> embedding -> picture, CSV and optional .npy files.
#include "interpret/tsne_command.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "interpret/features.h"
#include "interpret/npy.h"
#include "interpret/source.h"
#include "interpret/tsne_plot.h"
#include "tensor/atomic_file.h"
#include "tensor/status_macros.h"
#include "tensor/thread_pool.h"

namespace simdnet {

absl::StatusOr<std::string> RunTsneCommand(const TsneCommandOptions& o) {
  if (o.samples < 10 || o.samples > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--samples=", o.samples, ": must be in [10, 100000]"));
  }
  SIMDNET_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModelForInterpretation(o.checkpoint));
  const std::string layer = o.layer.empty() ? PenultimateLayer(*loaded.model) : o.layer;
  {
    absl::StatusOr<Layer*> found = loaded.model->FindLayer(layer);
    if (!found.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--layer=", layer, ": ",
                                                     found.status().message()));
    }
  }
  SIMDNET_ASSIGN_OR_RETURN(InMemoryDataset data, LoadHeldOutImages(loaded, o.data));
  SIMDNET_ASSIGN_OR_RETURN(PixelModel pixels, loaded.Pixels());
  SIMDNET_RETURN_IF_ERROR(EnsureDirectory(o.out_dir));

  const auto t0 = std::chrono::steady_clock::now();
  FeatureOptions fo;
  fo.max_samples = o.samples;
  SIMDNET_ASSIGN_OR_RETURN(Features f, ExtractFeatures(pixels, data, layer, fo));
  const double feature_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t n = f.values.dim(0), dim = f.values.dim(1);
  if (3.0 * o.tsne.perplexity >= static_cast<double>(n - 1)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--perplexity=%g: too large for %d points (needs 3 * perplexity < N - 1)",
        o.tsne.perplexity, n));
  }
  ThreadPool& pool = DefaultThreadPool();
  absl::StatusOr<TsneResult> r = RunTsne(f.values.data(), n, dim, o.tsne, pool);
  if (!r.ok()) {
    return absl::Status(r.status().code(), absl::StrCat("tsne: ", r.status().message()));
  }
  std::vector<int64_t> labels64(f.labels.begin(), f.labels.end());
  const int64_t k = std::min<int64_t>(10, n - 1);
  const double agree_2d =
      NeighborLabelAgreement(r->embedding.data(), n, 2, labels64.data(), k, pool);
  const double agree_features =
      NeighborLabelAgreement(f.values.data(), n, dim, labels64.data(), k, pool);

  // The picture.
  ScatterOptions so;
  so.title = absl::StrFormat("t-SNE of %s (%d-D), %d images, KL %.3f", layer, dim, n,
                             r->kl_divergence);
  so.point_radius = n > 3000 ? 2 : 3;
  if (o.thumbnails) {
    so.thumb_channels = data.channels;
    so.thumb_height = data.height;
    so.thumb_width = data.width;
    so.thumbnails.assign(data.pixels.begin(), data.pixels.begin() + n * data.SampleBytes());
    so.thumbnail_scale = 1;
    so.max_thumbnails = 120;
  }
  const std::string png = o.out_dir + "/tsne.png";
  SIMDNET_RETURN_IF_ERROR(WriteScatterPng(png, r->embedding, f.labels, loaded.class_names, so));

  std::string csv = "index,label,predicted,x,y\n";
  for (int64_t i = 0; i < n; ++i) {
    absl::StrAppend(&csv, i, ",", f.labels[static_cast<size_t>(i)], ",",
                    f.predicted[static_cast<size_t>(i)], ",",
                    absl::StrFormat("%.6g,%.6g\n", r->embedding[static_cast<size_t>(2 * i)],
                                    r->embedding[static_cast<size_t>(2 * i + 1)]));
  }
  const std::string csv_path = o.out_dir + "/tsne.csv";
  SIMDNET_RETURN_IF_ERROR(WriteFileAtomically(csv_path, csv));
  std::string files = absl::StrCat(png, "\n  ", csv_path);
  if (o.save_features) {
    const std::string fp = o.out_dir + "/features.npy", lp = o.out_dir + "/labels.npy";
    SIMDNET_RETURN_IF_ERROR(WriteNpyFloat32(fp, f.values.span(), {n, dim}));
    SIMDNET_RETURN_IF_ERROR(WriteNpyInt32(lp, f.labels));
    absl::StrAppend(&files, "\n  ", fp, "\n  ", lp);
  }
  return absl::StrFormat(
      "t-SNE of layer %s: %d images x %d features (features in %.1f s)\n"
      "  perplexity %g, %d iterations, theta %g, learning rate %.1f, %d neighbours per point\n"
      "  time: %.1f s (kNN %.1f s, affinities %.1f s, optimization %.1f s, exact KL %.1f s)\n"
      "  final KL divergence: %.4f\n"
      "  10-NN label agreement: %.3f in the %d-D features, %.3f in 2-D\n"
      "wrote:\n  %s\n",
      layer, n, dim, feature_seconds, o.tsne.perplexity, r->iterations_run, o.tsne.theta,
      r->learning_rate, r->neighbors, r->seconds, r->knn_seconds, r->affinity_seconds,
      r->optimize_seconds, r->kl_seconds, r->kl_divergence, agree_features, dim, agree_2d,
      files);
}

}  // namespace simdnet
