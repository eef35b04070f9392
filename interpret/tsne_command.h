// `simdnet tsne`: t-SNE of a layer's features for a checkpoint's held-out images: a scatter
// plot colored by class (optionally with image thumbnails), the 2-D embedding as CSV, and the
// features themselves as .npy files for other tools (e.g. scikit-learn, bench/compare_tsne.sh).
#ifndef SIMDNET_INTERPRET_TSNE_COMMAND_H_
#define SIMDNET_INTERPRET_TSNE_COMMAND_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "interpret/tsne.h"
#include "train/commands.h"

namespace simdnet {

struct TsneCommandOptions {
  std::string checkpoint;  // --checkpoint: a checkpoint written by train / finetune
  DataOptions data;        // the data set whose held-out (test) split is embedded
  std::string layer;       // --layer: features of this layer ("" = the penultimate layer)
  int64_t samples = 10000; // --samples: the first N held-out images, in [10, 100000]
  TsneOptions tsne;        // --perplexity, --iterations, --theta, --seed
  bool thumbnails = true;  // --thumbnails: draw a non-overlapping subset of the images
  bool save_features = false;  // --save_features: also write features.npy and labels.npy
  std::string out_dir;     // --out
};

// Extracts the features, runs t-SNE and writes into out_dir: tsne.png (scatter, colored by
// the true class, with a legend), tsne.csv (index,label,predicted,x,y) and, with
// save_features, features.npy (N, D) float32 and labels.npy (N) int32. Returns the text the
// CLI prints: layer, N, D, the timings, the final KL divergence, the 10-NN label agreement in
// the feature space and in 2-D, and the files written. Errors name the flag.
absl::StatusOr<std::string> RunTsneCommand(const TsneCommandOptions& options);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_TSNE_COMMAND_H_
