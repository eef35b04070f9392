// Class visualization: images that maximize a class logit by gradient ascent on the pixels
// (Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional Networks", ICLR 2014 workshop),
// regularized as Yosinski et al., "Understanding Neural Networks Through Deep Visualization"
// (ICML 2015 DL workshop): jitter, L2 decay, periodic Gaussian blur and clipping of pixels with a
// small contribution. darknet's examples/nightmare.c is the same loop.
#ifndef SIMDNET_INTERPRET_CLASS_VISUALIZATION_H_
#define SIMDNET_INTERPRET_CLASS_VISUALIZATION_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "interpret/source.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace simdnet {

// The ascent works on z = pixel - m, centered on the data mean m the checkpoint normalizes with
// (per channel or per pixel; 0.5 without normalization), so that decay and clipping pull toward
// the average image rather than toward black (Fashion-MNIST's mean is a dark gray, 0.29): an
// unregularized pixel looks like "no evidence". The image is z + m, clamped to [0, 1].
struct ClassVisualizationOptions {
  int64_t steps = 200;         // >= 1
  float learning_rate = 0.05f;  // > 0: step of the normalized gradient (pixels per step)
  int64_t jitter = 2;           // >= 0: random roll by up to this many pixels, undone after
  float decay = 0.002f;         // in [0, 1): z *= 1 - decay each step (L2 decay)
  int64_t blur_every = 4;       // >= 0: Gaussian blur every this many steps (0 = never)
  float blur_sigma = 0.5f;      // >= 0: blur width in pixels
  // In [0, 100): each step, pixels whose contribution |z * g| (summed over channels) is below
  // this percentile of the image are set to gray (z = 0); 0 = off.
  float contribution_percentile = 10.0f;
  float init_std = 0.02f;      // >= 0: initial z ~ N(0, init_std^2)
  int64_t snapshot_every = 0;  // >= 0: keep z + 0.5 every this many steps (0 = none)
  uint64_t seed = 1;
  // < 0: center on the data mean (above); else on this pixel value in [0, 1], e.g. 0 for data
  // sets on a black background (Fashion-MNIST, MNIST), where "no evidence" is black.
  float center = -1.0f;
};

// One class's result.
struct ClassVisualization {
  int64_t class_index = 0;
  Tensor image;                  // (C, H, W), values in [0, 1]
  std::vector<float> scores;     // the class logit at each step's (jittered) forward pass
  float initial_score = 0.0f;    // logit of the initial image (unjittered)
  float final_score = 0.0f;      // logit of the final image (unjittered)
  std::vector<Tensor> snapshots;  // (C, H, W) each, at steps 0, S, 2S, ... and the last
  std::vector<int64_t> snapshot_steps;
};

// Returns InvalidArgument naming the flag (--steps, --lr, --jitter, --decay, --blur_every,
// --blur_sigma, --clip_percentile, --init_std, --snapshot_every) for an option out of range.
absl::Status ValidateClassVisualizationOptions(const ClassVisualizationOptions& options);

// Runs the ascent for every class of `classes` at once (one batched forward/backward per step,
// one image per class), each step: roll by a random (dy, dx) in [-jitter, jitter]; g = d
// logit_class / d pixels (PixelModel::InputGradient with one-hot dlogits); z += lr * g /
// (mean |g| + 1e-8); roll back; z *= 1 - decay; blur every blur_every steps; clip pixels with a
// small contribution; clamp z + m to [0, 1]. Deterministic for a seed (each class draws from
// its own Rng stream, so its result does not depend on the other classes asked for).
// Errors: option errors as above; --class naming the valid range for a class outside
// [0, num_classes); InvalidArgument unless the model takes (C, H, W) images.
absl::StatusOr<std::vector<ClassVisualization>> VisualizeClasses(
    PixelModel& model, const std::vector<int64_t>& classes,
    const ClassVisualizationOptions& options);

// Blurs every (H, W) plane of x (N, C, H, W) in place with a normalized Gaussian of `sigma`
// (radius ceil(3 sigma), edges clamped, so a constant plane stays constant). sigma <= 0: no-op.
void GaussianBlurPlanes(Tensor* x, float sigma);

// Rolls every (H, W) plane of sample n of x (N, C, H, W) cyclically by (dy[n], dx[n]) (positive:
// down / right). Rolling by (-dy, -dx) restores x. Requires: dy, dx have N entries.
void RollPlanes(Tensor* x, const std::vector<int64_t>& dy, const std::vector<int64_t>& dx);

}  // namespace simdnet

#endif  // SIMDNET_INTERPRET_CLASS_VISUALIZATION_H_
